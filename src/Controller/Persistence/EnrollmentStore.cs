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
}

/// <summary>Bootstrap tokens and the enrollment transaction that spends one.</summary>
internal sealed class EnrollmentStore(NpgsqlDataSource db)
{
    public async Task CreateTokenAsync(string id, byte[] tokenHash, DateTimeOffset createdAt, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "INSERT INTO enrollment_tokens (id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)");
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(tokenHash);
        cmd.Parameters.AddWithValue(createdAt);
        cmd.Parameters.AddWithValue(expiresAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Spends the token and creates the host in one transaction, so a failure leaves the token
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

        await using (var spend = new NpgsqlCommand(
            """
            UPDATE enrollment_tokens SET used_at = $2, used_by_host = $3
            WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
            """, conn, tx))
        {
            spend.Parameters.AddWithValue(tokenHash);
            spend.Parameters.AddWithValue(now);
            spend.Parameters.AddWithValue(host.Id);
            if (await spend.ExecuteNonQueryAsync(ct) != 1)
            {
                await tx.RollbackAsync(ct);
                return await WhyNotRedeemableAsync(tokenHash, now, ct);
            }
        }

        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO hosts (id, name, address, queue, enrolled_at, facts, desired_generation)
            VALUES ($1, $2, $3, $4, $5, $6, 1)
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(host.Id);
            insert.Parameters.AddWithValue(host.Name);
            insert.Parameters.AddWithValue(host.Address);
            insert.Parameters.AddWithValue(host.Queue);
            insert.Parameters.AddWithValue(host.EnrolledAt);
            insert.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(host.Facts));
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

    private async Task<TokenRedemption> WhyNotRedeemableAsync(byte[] tokenHash, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT expires_at, used_at FROM enrollment_tokens WHERE token_hash = $1");
        cmd.Parameters.AddWithValue(tokenHash);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return TokenRedemption.Unknown;
        }

        if (!reader.IsDBNull(1))
        {
            return TokenRedemption.AlreadyUsed;
        }

        return reader.GetFieldValue<DateTimeOffset>(0) <= now ? TokenRedemption.Expired : TokenRedemption.Unknown;
    }

    public async Task<bool> HostNameExistsAsync(string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT 1 FROM hosts WHERE name = $1");
        cmd.Parameters.AddWithValue(name);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }
}
