using Npgsql;
using NpgsqlTypes;

namespace OdooFleet.Controller.Persistence;

/// <summary>One audit row. <see cref="DetailJson"/> never holds a secret value.</summary>
internal sealed record AuditRecord(
    DateTimeOffset At, string Actor, string Role, string Action, string Target, string Result, string Address, string DetailJson = "{}")
{
    public long Id { get; init; }
}

/// <summary>The append-only audit log (migration 0005): every mutating call, allowed or refused, and every refused agent call.</summary>
internal sealed class AuditStore(NpgsqlDataSource db)
{
    public const int MaxLimit = 10_000;

    public async Task AppendAsync(AuditRecord record, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "INSERT INTO audit_log (at, actor, role, action, target, result, address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        cmd.Parameters.AddWithValue(record.At);
        cmd.Parameters.AddWithValue(Bounded(record.Actor, 200));
        cmd.Parameters.AddWithValue(Bounded(record.Role, 20));
        cmd.Parameters.AddWithValue(Bounded(record.Action, 100));
        cmd.Parameters.AddWithValue(Bounded(record.Target, 200));
        cmd.Parameters.AddWithValue(Bounded(record.Result, 1000));
        cmd.Parameters.AddWithValue(Bounded(record.Address, 100));
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, record.DetailJson);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Entries at or after <paramref name="since"/>, oldest first, at most <paramref name="limit"/> (the newest ones when there are more).</summary>
    public async Task<IReadOnlyList<AuditRecord>> ListAsync(DateTimeOffset since, int limit, string? actor, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT id, at, actor, role, action, target, result, address, detail::text FROM (
                SELECT * FROM audit_log WHERE at >= $1 AND ($2::text IS NULL OR actor = $2)
                ORDER BY id DESC LIMIT $3) newest
            ORDER BY id
            """);
        cmd.Parameters.AddWithValue(since);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)actor ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.AddWithValue(Math.Clamp(limit, 1, MaxLimit));
        var entries = new List<AuditRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            entries.Add(new AuditRecord(
                reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8))
            {
                Id = reader.GetInt64(0),
            });
        }

        return entries;
    }

    /// <summary>Control characters become '?', and the text is cut to a bounded length: callers pass what attackers sent.</summary>
    private static string Bounded(string value, int max) => Domain.UntrustedText.Clean(value, max);
}
