using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// The drift_events table: what agents found drifted and what they did about it. Agents re-send
/// until acknowledged, so a record is keyed by (host, event id) and a re-send stores nothing and
/// announces nothing. "Open" drift: the newest record of its (host, resource) is not CORRECTED.
/// </summary>
internal sealed class DriftStore(NpgsqlDataSource db)
{
    public const int MaxLimit = 10_000;

    private const string Columns =
        """
        d.host_id, h.name, d.id, d.resource_id, d.kind, d.generation, d.expected, d.actual, d.diff, d.trigger,
        d.detected_at, d.action, d.corrected_at, d.recurred, d.error, d.received_at
        """;

    /// <summary>
    /// Stores the events that are new and, in the same transaction, one domain event for each
    /// (DriftCorrected or DriftDetected; never the diff). Null when the host no longer exists.
    /// </summary>
    public async Task<DriftRecording?> RecordAsync(string hostId, IReadOnlyList<DriftEventRecord> events, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var inserted = new List<string>();
        try
        {
            foreach (var e in events)
            {
                await using var insert = new NpgsqlCommand(
                    """
                    INSERT INTO drift_events (host_id, id, resource_id, kind, generation, expected, actual, diff, trigger,
                        detected_at, action, corrected_at, recurred, error, received_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                    ON CONFLICT (host_id, id) DO NOTHING
                    """, conn, tx);
                insert.Parameters.AddWithValue(hostId);
                insert.Parameters.AddWithValue(e.Id);
                insert.Parameters.AddWithValue(e.ResourceId);
                insert.Parameters.AddWithValue(e.Kind);
                insert.Parameters.AddWithValue(e.Generation);
                insert.Parameters.AddWithValue(e.Expected);
                insert.Parameters.AddWithValue(e.Actual);
                insert.Parameters.AddWithValue(e.Diff);
                insert.Parameters.AddWithValue(e.Trigger);
                insert.Parameters.AddWithValue(e.DetectedAt);
                insert.Parameters.AddWithValue(ActionText(e.Action));
                insert.Parameters.Add(new NpgsqlParameter { Value = e.CorrectedAt is { } at ? at : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                insert.Parameters.AddWithValue(e.Recurred);
                insert.Parameters.AddWithValue(e.Error);
                insert.Parameters.AddWithValue(now);
                if (await insert.ExecuteNonQueryAsync(ct) == 0)
                {
                    continue;
                }

                inserted.Add(e.Id);
                await EventStore.AppendAsync(
                    conn,
                    tx,
                    e.Action == DriftOutcome.Corrected ? "DriftCorrected" : "DriftDetected",
                    hostId,
                    Json.Serialize(new { id = e.Id, resource = e.ResourceId, action = ActionText(e.Action), trigger = e.Trigger, generation = e.Generation, recurred = e.Recurred }),
                    now,
                    ct);
            }
        }
        catch (PostgresException x) when (x.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // The host was removed between authentication and this write.
            await tx.RollbackAsync(CancellationToken.None);
            return null;
        }

        await tx.CommitAsync(ct);
        // A conflict means the row is there already: every id of the report is stored now.
        return new DriftRecording([.. events.Select(e => e.Id).Distinct(StringComparer.Ordinal)], inserted);
    }

    /// <summary>
    /// The newest <paramref name="limit"/> records detected at or after <paramref name="since"/>
    /// (no bound when null), of one host or all, optionally only open ones; returned oldest first.
    /// </summary>
    public async Task<IReadOnlyList<StoredDrift>> ListAsync(string? hostId, DateTimeOffset? since, bool openOnly, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            SELECT {Columns} FROM drift_events d JOIN hosts h ON h.id = d.host_id
            WHERE ($1::text IS NULL OR d.host_id = $1)
              AND ($2::timestamptz IS NULL OR d.detected_at >= $2)
              AND (NOT $3 OR (d.action <> 'corrected' AND NOT EXISTS (
                    SELECT 1 FROM drift_events n
                    WHERE n.host_id = d.host_id AND n.resource_id = d.resource_id
                      AND (n.detected_at, n.id) > (d.detected_at, d.id))))
            ORDER BY d.detected_at DESC, d.host_id DESC, d.id DESC
            LIMIT $4
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)hostId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = since is { } s ? s : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.AddWithValue(openOnly);
        cmd.Parameters.AddWithValue(limit);
        var records = new List<StoredDrift>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            records.Add(Read(reader));
        }

        records.Reverse();
        return records;
    }

    public async Task<StoredDrift?> GetAsync(string hostId, string eventId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {Columns} FROM drift_events d JOIN hosts h ON h.id = d.host_id WHERE d.host_id = $1 AND d.id = $2");
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(eventId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    private static string ActionText(DriftOutcome action) => action switch
    {
        DriftOutcome.Corrected => "corrected",
        DriftOutcome.Reported => "reported",
        DriftOutcome.Suppressed => "suppressed",
        DriftOutcome.Flapping => "flapping",
        DriftOutcome.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown drift action"),
    };

    private static DriftOutcome ParseAction(string text) => text switch
    {
        "corrected" => DriftOutcome.Corrected,
        "reported" => DriftOutcome.Reported,
        "suppressed" => DriftOutcome.Suppressed,
        "flapping" => DriftOutcome.Flapping,
        "failed" => DriftOutcome.Failed,
        _ => throw new InvalidOperationException($"drift_events holds an unknown action '{text}'"),
    };

    private static StoredDrift Read(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        new DriftEventRecord(
            Id: r.GetString(2),
            ResourceId: r.GetString(3),
            Kind: r.GetString(4),
            Generation: r.GetInt64(5),
            Expected: r.GetString(6),
            Actual: r.GetString(7),
            Diff: r.GetString(8),
            Trigger: r.GetString(9),
            DetectedAt: r.GetFieldValue<DateTimeOffset>(10),
            Action: ParseAction(r.GetString(11)),
            CorrectedAt: r.IsDBNull(12) ? null : r.GetFieldValue<DateTimeOffset>(12),
            Recurred: r.GetBoolean(13),
            Error: r.GetString(14)),
        r.GetFieldValue<DateTimeOffset>(15));
}
