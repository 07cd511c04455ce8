using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Security;

namespace OdooFleet.Controller.Persistence;

internal enum TokenRedemption
{
    Redeemed,
    Unknown,
    Expired,
    AlreadyUsed,
    Revoked,
    BoundToOtherName,
}

internal enum TokenRevocation
{
    Revoked,
    NotFound,
    AlreadyUsed,
}

/// <summary>Bootstrap tokens and the enrollment transaction that spends one.</summary>
internal sealed class EnrollmentStore(NpgsqlDataSource db)
{
    private const string TokenColumns = "id, created_at, expires_at, host_name, labels::text, created_by, used_at, used_by_host, revoked_at";

    public async Task CreateTokenAsync(string id, byte[] tokenHash, DateTimeOffset createdAt, DateTimeOffset expiresAt, CancellationToken ct) =>
        await CreateTokenAsync(
            new EnrollmentTokenRecord(id, createdAt, expiresAt, null, new Dictionary<string, string>(), "", null, null, null), tokenHash, ct);

    public async Task CreateTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO enrollment_tokens (id, token_hash, created_at, expires_at, host_name, labels, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """);
        cmd.Parameters.AddWithValue(token.Id);
        cmd.Parameters.AddWithValue(tokenHash);
        cmd.Parameters.AddWithValue(token.CreatedAt);
        cmd.Parameters.AddWithValue(token.ExpiresAt);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)token.HostName ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(token.Labels));
        cmd.Parameters.AddWithValue(token.CreatedBy);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Pending tokens (unused, unrevoked, unexpired), or all of them; oldest first.</summary>
    public async Task<IReadOnlyList<EnrollmentTokenRecord>> ListTokensAsync(bool includeSpent, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            SELECT {TokenColumns} FROM enrollment_tokens
            WHERE $1 OR (used_at IS NULL AND revoked_at IS NULL AND expires_at > $2)
            ORDER BY created_at, id
            """);
        cmd.Parameters.AddWithValue(includeSpent);
        cmd.Parameters.AddWithValue(now);
        var tokens = new List<EnrollmentTokenRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tokens.Add(ReadToken(reader));
        }

        return tokens;
    }

    public async Task<EnrollmentTokenRecord?> FindTokenAsync(string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {TokenColumns} FROM enrollment_tokens WHERE id = $1");
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadToken(reader) : null;
    }

    /// <summary>
    /// Revokes an unused token (revoking twice keeps the first time). A used token has done its
    /// work: the host it enrolled is removed with RemoveHost instead.
    /// </summary>
    public async Task<(TokenRevocation Outcome, EnrollmentTokenRecord? Token)> RevokeTokenAsync(string id, DateTimeOffset now, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand(
            "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 AND used_at IS NULL"))
        {
            cmd.Parameters.AddWithValue(id);
            cmd.Parameters.AddWithValue(now);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        var token = await FindTokenAsync(id, ct);
        return token switch
        {
            null => (TokenRevocation.NotFound, null),
            { RevokedAt: not null } => (TokenRevocation.Revoked, token),
            _ => (TokenRevocation.AlreadyUsed, token),
        };
    }

    /// <summary>The host name a token is bound to; null when it is bound to none or unknown (redemption tells which).</summary>
    public async Task<string?> FindBoundHostNameAsync(byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT host_name FROM enrollment_tokens WHERE token_hash = $1");
        cmd.Parameters.AddWithValue(tokenHash);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>
    /// Spends the token and creates the host, with the token's labels, in one transaction, so a failure leaves the token
    /// unspent and no host behind; two concurrent enrollments with one token cannot both win.
    /// <paramref name="beforeCommit"/> runs once the token is known good, before the commit
    /// (the host's broker queue): a refused token never creates anything outside the database.
    /// <paramref name="certificate"/>, the host's first client certificate, is recorded with the host.
    /// </summary>
    public async Task<TokenRedemption> EnrollAsync(
        byte[] tokenHash, HostRecord host, HostCertificate? certificate, DateTimeOffset now, string eventJson,
        Func<CancellationToken, Task> beforeCommit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        string labels;
        await using (var spend = new NpgsqlCommand(
            """
            UPDATE enrollment_tokens SET used_at = $2, used_by_host = $3
            WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
                AND (host_name IS NULL OR host_name = $4)
            RETURNING labels::text
            """, conn, tx))
        {
            spend.Parameters.AddWithValue(tokenHash);
            spend.Parameters.AddWithValue(now);
            spend.Parameters.AddWithValue(host.Id);
            spend.Parameters.AddWithValue(host.Name);
            if (await spend.ExecuteScalarAsync(ct) is not string spent)
            {
                await tx.RollbackAsync(ct);
                return await WhyNotRedeemableAsync(tokenHash, host.Name, now, ct);
            }

            labels = spent;
        }

        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO hosts (id, name, address, queue, enrolled_at, facts, desired_generation, labels)
            VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(host.Id);
            insert.Parameters.AddWithValue(host.Name);
            insert.Parameters.AddWithValue(host.Address);
            insert.Parameters.AddWithValue(host.Queue);
            insert.Parameters.AddWithValue(host.EnrolledAt);
            insert.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(host.Facts));
            insert.Parameters.AddWithValue(NpgsqlDbType.Jsonb, labels);
            await insert.ExecuteNonQueryAsync(ct);
        }

        if (certificate is not null)
        {
            await HostCertificateStore.RecordAsync(conn, tx, host.Id, certificate, ct);
        }

        // Generation 1 is the production baseline without Odoo: the agent's first heartbeat sees it
        // ahead of its applied 0 and converges the host with no further typing.
        await beforeCommit(ct);
        await EventStore.AppendAsync(conn, tx, "HostEnrolled", host.Id, eventJson, now, ct);
        await tx.CommitAsync(ct);
        return TokenRedemption.Redeemed;
    }

    /// <summary>Why a token did not redeem; the reasons stay distinct so the refusal says what to do.</summary>
    private async Task<TokenRedemption> WhyNotRedeemableAsync(byte[] tokenHash, string hostName, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT expires_at, used_at, revoked_at, host_name FROM enrollment_tokens WHERE token_hash = $1");
        cmd.Parameters.AddWithValue(tokenHash);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return TokenRedemption.Unknown;
        }

        if (!reader.IsDBNull(2))
        {
            return TokenRedemption.Revoked;
        }

        if (!reader.IsDBNull(1))
        {
            return TokenRedemption.AlreadyUsed;
        }

        if (reader.GetFieldValue<DateTimeOffset>(0) <= now)
        {
            return TokenRedemption.Expired;
        }

        return !reader.IsDBNull(3) && reader.GetString(3) != hostName ? TokenRedemption.BoundToOtherName : TokenRedemption.Unknown;
    }

    public async Task<bool> HostNameExistsAsync(string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT 1 FROM hosts WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    private static EnrollmentTokenRecord ReadToken(System.Data.Common.DbDataReader r) => new(
        r.GetString(0),
        r.GetFieldValue<DateTimeOffset>(1),
        r.GetFieldValue<DateTimeOffset>(2),
        r.IsDBNull(3) ? null : r.GetString(3),
        Json.Deserialize<SortedDictionary<string, string>>(r.GetString(4)) ?? [],
        r.GetString(5),
        r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6),
        r.IsDBNull(7) ? null : r.GetString(7),
        r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8));
}
