using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

internal enum ApiTokenCreation
{
    Created,
    NameTaken,
}

/// <summary>The api_tokens table: people's and tools' credentials, kept as SHA-256 only.</summary>
internal sealed class ApiTokenStore(NpgsqlDataSource db)
{
    private const string Columns = "id, name, role, created_at, created_by, expires_at, revoked_at, last_used_at";

    public async Task<ApiTokenCreation> CreateAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO api_tokens (id, name, role, token_hash, created_at, created_by, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
            """);
        cmd.Parameters.AddWithValue(token.Id);
        cmd.Parameters.AddWithValue(token.Name);
        cmd.Parameters.AddWithValue(token.Role.ToText());
        cmd.Parameters.AddWithValue(tokenHash);
        cmd.Parameters.AddWithValue(token.CreatedAt);
        cmd.Parameters.AddWithValue(token.CreatedBy);
        cmd.Parameters.Add(TimeOrNull(token.ExpiresAt));
        return await cmd.ExecuteNonQueryAsync(ct) == 1 ? ApiTokenCreation.Created : ApiTokenCreation.NameTaken;
    }

    public async Task<ApiTokenRecord?> FindByHashAsync(byte[] tokenHash, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM api_tokens WHERE token_hash = $1");
        cmd.Parameters.AddWithValue(tokenHash);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>By id, or else by the name of the live (unrevoked) token.</summary>
    public async Task<ApiTokenRecord?> FindAsync(string idOrName, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {Columns} FROM api_tokens WHERE id = $1 OR (name = $1 AND revoked_at IS NULL) ORDER BY (id = $1) DESC LIMIT 1");
        cmd.Parameters.AddWithValue(idOrName);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<ApiTokenRecord>> ListAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM api_tokens ORDER BY created_at, id");
        var tokens = new List<ApiTokenRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tokens.Add(Read(reader));
        }

        return tokens;
    }

    /// <summary>Revokes the token; a token already revoked keeps its first revocation time. Null: no such token.</summary>
    public async Task<ApiTokenRecord?> RevokeAsync(string id, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING {Columns}");
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(now);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>Records use, at most once per <paramref name="resolution"/> whichever controller sees the call.</summary>
    public async Task TouchAsync(string id, DateTimeOffset now, TimeSpan resolution, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)");
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(now - resolution);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static NpgsqlParameter TimeOrNull(DateTimeOffset? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    private static DateTimeOffset? TimeOrNull(DbDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : r.GetFieldValue<DateTimeOffset>(ordinal);

    private static ApiTokenRecord Read(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        AccessRoles.Parse(r.GetString(2)),
        r.GetFieldValue<DateTimeOffset>(3),
        r.GetString(4),
        TimeOrNull(r, 5),
        TimeOrNull(r, 6),
        TimeOrNull(r, 7));
}
