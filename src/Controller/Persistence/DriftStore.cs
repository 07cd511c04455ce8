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
        d.detected_at, d.action, d.corrected_at, d.recurred, d.error, d.received_at,
        d.accept::text, d.accepted_at, d.accepted_by, d.accepted_generation
        """;

    /// <summary>
    /// Stores the events that are new and, in the same transaction, one domain event for each, named
    /// by what the agent did (<see cref="EventType"/>; never the diff). A re-sent event stores and
    /// announces nothing. Null when the host no longer exists.
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
                        detected_at, action, corrected_at, recurred, error, received_at, accept)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
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
                insert.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(e.Accept));
                if (await insert.ExecuteNonQueryAsync(ct) == 0)
                {
                    continue;
                }

                inserted.Add(e.Id);
                await EventStore.AppendAsync(
                    conn,
                    tx,
                    EventType(e.Action),
                    hostId,
                    Json.Serialize(new
                    {
                        id = e.Id, resource = e.ResourceId, action = ActionText(e.Action), trigger = e.Trigger, generation = e.Generation,
                        recurred = e.Recurred, acceptable = e.Accept.Count > 0,
                    }),
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

    /// <summary>
    /// The newest record of the same host and resource detected after this one, or null: a drift
    /// found again later (put back, changed again) supersedes what this record observed.
    /// </summary>
    public async Task<string?> NewerOfSameResourceAsync(StoredDrift record, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT id FROM drift_events
            WHERE host_id = $1 AND resource_id = $2 AND (detected_at, id) > ($3, $4)
            ORDER BY detected_at DESC, id DESC LIMIT 1
            """);
        cmd.Parameters.AddWithValue(record.HostId);
        cmd.Parameters.AddWithValue(record.Event.ResourceId);
        cmd.Parameters.AddWithValue(record.Event.DetectedAt);
        cmd.Parameters.AddWithValue(record.Event.Id);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>
    /// Marks a record accepted (its observed value became the host's desired value at
    /// <paramref name="generation"/>) and, in the same transaction, appends DriftAccepted. Only the
    /// first acceptance counts: false when the record was accepted already (or is gone).
    /// </summary>
    public async Task<bool> MarkAcceptedAsync(
        string hostId, string eventId, string actor, long generation, IReadOnlyList<DriftPatch> applied, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string resource;
        await using (var update = new NpgsqlCommand(
            """
            UPDATE drift_events SET accepted_at = $3, accepted_by = $4, accepted_generation = $5
            WHERE host_id = $1 AND id = $2 AND accepted_at IS NULL
            RETURNING resource_id
            """, conn, tx))
        {
            update.Parameters.AddWithValue(hostId);
            update.Parameters.AddWithValue(eventId);
            update.Parameters.AddWithValue(now);
            update.Parameters.AddWithValue(actor);
            update.Parameters.AddWithValue(generation);
            if (await update.ExecuteScalarAsync(ct) is not string updated)
            {
                await tx.RollbackAsync(ct);
                return false;
            }

            resource = updated;
        }

        await EventStore.AppendAsync(
            conn, tx, "DriftAccepted", hostId,
            Json.Serialize(new { id = eventId, resource, by = actor, generation, applied }), now, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>The domain event type of a stored drift record: what the agent did about it.</summary>
    public static string EventType(DriftOutcome action) => action switch
    {
        DriftOutcome.Corrected => "DriftCorrected",
        DriftOutcome.Reported => "DriftReported",
        DriftOutcome.Suppressed => "DriftSuppressed",
        DriftOutcome.Flapping => "DriftFlapping",
        DriftOutcome.Failed => "DriftCorrectionFailed",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown drift action"),
    };

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
            Error: r.GetString(14))
        {
            Accept = Json.Deserialize<List<DriftPatch>>(r.GetString(16)) ?? [],
        },
        r.GetFieldValue<DateTimeOffset>(15))
    {
        AcceptedAt = r.IsDBNull(17) ? null : r.GetFieldValue<DateTimeOffset>(17),
        AcceptedBy = r.GetString(18),
        AcceptedGeneration = r.GetInt64(19),
    };
}
