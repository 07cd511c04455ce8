using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// The host_plans table: a plan request is written before its command goes to the host, the
/// agent's report fills it, and the PlanHost call that asked waits for it here, so any controller
/// process may receive the report. Rows older than the retention are pruned as new ones arrive.
/// </summary>
internal sealed class PlanStore(NpgsqlDataSource db)
{
    /// <summary>How long answered and unanswered requests are kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    /// <summary>Records a new request and prunes expired ones; returns how many were pruned.</summary>
    public async Task<int> CreateAsync(string requestId, string hostId, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand("INSERT INTO host_plans (request_id, host_id, requested_at) VALUES ($1, $2, $3)", conn, tx))
        {
            insert.Parameters.AddWithValue(requestId);
            insert.Parameters.AddWithValue(hostId);
            insert.Parameters.AddWithValue(now);
            await insert.ExecuteNonQueryAsync(ct);
        }

        int pruned;
        await using (var prune = new NpgsqlCommand("DELETE FROM host_plans WHERE requested_at < $1", conn, tx))
        {
            prune.Parameters.AddWithValue(now - Retention);
            pruned = await prune.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return pruned;
    }

    /// <summary>
    /// Stores the agent's answer. False when the request is unknown (pruned, never made), belongs to
    /// another host, or was answered already: a report never overwrites one.
    /// </summary>
    public async Task<bool> RecordAsync(PlanReport report, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE host_plans SET reported_at = $3, report = $4
            WHERE request_id = $1 AND host_id = $2 AND reported_at IS NULL
            """);
        cmd.Parameters.AddWithValue(report.RequestId);
        cmd.Parameters.AddWithValue(report.HostId);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(report));
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<StoredPlan?> FindAsync(string requestId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT request_id, host_id, requested_at, reported_at, report::text FROM host_plans WHERE request_id = $1");
        cmd.Parameters.AddWithValue(requestId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        return new StoredPlan(
            reader.GetString(0),
            reader.GetString(1),
            reader.GetFieldValue<DateTimeOffset>(2),
            reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
            reader.IsDBNull(4) ? null : Json.Deserialize<PlanReport>(reader.GetString(4)));
    }

    /// <summary>
    /// Polls for the report until <paramref name="deadline"/> (on <paramref name="time"/>'s clock);
    /// null when none arrived by then.
    /// </summary>
    public async Task<StoredPlan?> WaitForReportAsync(
        string requestId, DateTimeOffset deadline, TimeProvider time, TimeSpan pollInterval, CancellationToken ct)
    {
        while (true)
        {
            var stored = await FindAsync(requestId, ct);
            if (stored?.Report is not null)
            {
                return stored;
            }

            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            await Task.Delay(left < pollInterval ? left : pollInterval, time, ct);
        }
    }
}
