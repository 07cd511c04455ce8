using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Planning;

namespace OdooFleet.Controller.Persistence;

/// <summary>An event to append in the same transaction as the state change it announces.</summary>
internal sealed record OutboxEvent(string Type, string Subject, string DataJson);

/// <summary>Hosts another rollout holds: (host name, holding rollout id).</summary>
internal sealed record LeaseConflict(string HostName, string RolloutId);

/// <summary>Another writer changed the rollout since it was read: reload and decide again.</summary>
internal sealed class RolloutConcurrencyException(string rolloutId)
    : Exception($"rollout {rolloutId} was changed by another writer");

/// <summary>
/// Rollouts in PostgreSQL: header, batches, one row per host, host leases. Every write is one
/// transaction with its events (the outbox), set-based over arrays so a 5,000-host rollout costs a
/// few statements per tick, and guarded by the header's version so two activations of one rollout
/// (a silo presumed dead that was not) can never both write.
/// </summary>
internal sealed class RolloutStore(NpgsqlDataSource db)
{
    public const int MaxListLimit = 1000;

    private const string HeaderColumns =
        "id, series, commit, state, created_at, finished_at, message, policy::text, rollback_of, created_by, current_batch, artifact_sha256, artifact_size, version";

    private const string HostColumns =
        """
        host_id, name, batch, state, target_series, target_commit, from_series, from_commit, target_generation, message, phase, log_tail,
        unavailable_ms, updated_modules, staged, restore_pending, dispatched_at, last_sent_at, updated_at
        """;

    /// <summary>
    /// Creates the rollout and leases its hosts in one transaction; if another rollout holds any of
    /// them, nothing is written and the conflicts are returned.
    /// </summary>
    public async Task<IReadOnlyList<LeaseConflict>> CreateAsync(RolloutView rollout, IReadOnlyList<OutboxEvent> events, CancellationToken ct)
    {
        var r = rollout.Rollout;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var header = new NpgsqlCommand(
            """
            INSERT INTO rollouts (id, series, commit, state, created_at, finished_at, message, policy, rollback_of, created_by, current_batch,
                artifact_sha256, artifact_size, version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)
            """, conn, tx))
        {
            header.Parameters.AddWithValue(r.Id);
            header.Parameters.AddWithValue(r.Release.Series);
            header.Parameters.AddWithValue(r.Release.Commit);
            header.Parameters.AddWithValue(Text(r.Status));
            header.Parameters.AddWithValue(r.CreatedAt);
            header.Parameters.Add(TimeOrNull(r.FinishedAt));
            header.Parameters.AddWithValue(r.Message);
            header.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(r.Policy));
            header.Parameters.Add(new NpgsqlParameter { Value = (object?)r.RollbackOf ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            header.Parameters.AddWithValue(r.CreatedBy);
            header.Parameters.AddWithValue(r.CurrentBatch);
            header.Parameters.AddWithValue(r.Artifact?.Sha256 ?? "");
            header.Parameters.AddWithValue(r.Artifact?.SizeBytes ?? 0L);
            await header.ExecuteNonQueryAsync(ct);
        }

        var hostIds = rollout.Hosts.Select(h => h.HostId).ToArray();
        await using (var lease = new NpgsqlCommand(
            """
            INSERT INTO host_leases (host_id, rollout_id, acquired_at)
            SELECT h, $2, $3 FROM unnest($1::text[]) AS h ON CONFLICT (host_id) DO NOTHING
            """, conn, tx))
        {
            lease.Parameters.AddWithValue(hostIds);
            lease.Parameters.AddWithValue(r.Id);
            lease.Parameters.AddWithValue(r.CreatedAt);
            if (await lease.ExecuteNonQueryAsync(ct) != hostIds.Length)
            {
                await tx.RollbackAsync(ct);
                return await ConflictsAsync(hostIds, ct);
            }
        }

        await WriteBatchesAsync(conn, tx, r.Id, rollout.Batches, insert: true, ct);
        await using (var hosts = new NpgsqlCommand(
            """
            INSERT INTO rollout_hosts (rollout_id, host_id, name, batch, state, target_series, target_commit, from_series, from_commit,
                target_generation, message, updated_at)
            SELECT $1, h.* FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                $10::bigint[], $11::text[], $12::timestamptz[]) AS h
            """, conn, tx))
        {
            var rows = rollout.Hosts;
            hosts.Parameters.AddWithValue(r.Id);
            hosts.Parameters.AddWithValue(hostIds);
            hosts.Parameters.AddWithValue(rows.Select(h => h.Name).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.Batch).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => Text(h.Status)).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.Target.Series).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.Target.Commit).ToArray());
            hosts.Parameters.AddWithValue(NpgsqlDbType.Array | NpgsqlDbType.Text, rows.Select(h => h.From?.Series).ToArray());
            hosts.Parameters.AddWithValue(NpgsqlDbType.Array | NpgsqlDbType.Text, rows.Select(h => h.From?.Commit).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.TargetGeneration).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.Message).ToArray());
            hosts.Parameters.AddWithValue(rows.Select(h => h.UpdatedAt).ToArray());
            await hosts.ExecuteNonQueryAsync(ct);
        }

        await AppendEventsAsync(conn, tx, events, r.CreatedAt, ct);
        await tx.CommitAsync(ct);
        return [];
    }

    /// <summary>Hosts among <paramref name="hostIds"/> that a rollout holds, with the holder.</summary>
    public async Task<IReadOnlyList<LeaseConflict>> ConflictsAsync(string[] hostIds, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT COALESCE(h.name, l.host_id), l.rollout_id FROM host_leases l LEFT JOIN hosts h ON h.id = l.host_id
            WHERE l.host_id = ANY($1) ORDER BY 1
            """);
        cmd.Parameters.AddWithValue(hostIds);
        var conflicts = new List<LeaseConflict>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            conflicts.Add(new LeaseConflict(reader.GetString(0), reader.GetString(1)));
        }

        return conflicts;
    }

    public async Task<RolloutView?> LoadAsync(string id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        RolloutRecord header;
        await using (var cmd = new NpgsqlCommand($"SELECT {HeaderColumns} FROM rollouts WHERE id = $1", conn))
        {
            cmd.Parameters.AddWithValue(id);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            header = ReadHeader(reader);
        }

        var batches = new List<RolloutBatchRecord>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT batch_index, canary, state, started_at, finished_at FROM rollout_batches WHERE rollout_id = $1 ORDER BY batch_index", conn))
        {
            cmd.Parameters.AddWithValue(id);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                batches.Add(new RolloutBatchRecord(
                    reader.GetInt32(0), reader.GetBoolean(1), Parse<RolloutBatchStatus>(reader.GetString(2)),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4)));
            }
        }

        var hosts = new List<RolloutHostRecord>();
        await using (var cmd = new NpgsqlCommand($"SELECT {HostColumns} FROM rollout_hosts WHERE rollout_id = $1 ORDER BY batch, name", conn))
        {
            cmd.Parameters.AddWithValue(id);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                hosts.Add(ReadHost(reader));
            }
        }

        return new RolloutView(header, batches, hosts);
    }

    /// <summary>The newest rollouts first: headers and per-batch host counts (no host rows).</summary>
    public async Task<IReadOnlyList<RolloutSummary>> ListAsync(int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var headers = new List<RolloutRecord>();
        await using (var cmd = new NpgsqlCommand($"SELECT {HeaderColumns} FROM rollouts ORDER BY created_at DESC, id DESC LIMIT $1", conn))
        {
            cmd.Parameters.AddWithValue(limit);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                headers.Add(ReadHeader(reader));
            }
        }

        var batches = new Dictionary<string, List<RolloutBatchCounts>>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT b.rollout_id, b.batch_index, b.canary, b.state, b.started_at, b.finished_at,
                   count(h.host_id),
                   count(h.host_id) FILTER (WHERE h.state IN ('succeeded', 'unchanged')),
                   count(h.host_id) FILTER (WHERE h.state IN ('failed', 'reverted')),
                   count(h.host_id) FILTER (WHERE h.state = 'skipped')
            FROM rollout_batches b
            LEFT JOIN rollout_hosts h ON h.rollout_id = b.rollout_id AND h.batch = b.batch_index
            WHERE b.rollout_id = ANY($1)
            GROUP BY b.rollout_id, b.batch_index, b.canary, b.state, b.started_at, b.finished_at
            ORDER BY b.rollout_id, b.batch_index
            """, conn))
        {
            cmd.Parameters.AddWithValue(headers.Select(h => h.Id).ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var batch = new RolloutBatchRecord(
                    reader.GetInt32(1), reader.GetBoolean(2), Parse<RolloutBatchStatus>(reader.GetString(3)),
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
                var id = reader.GetString(0);
                if (!batches.TryGetValue(id, out var list))
                {
                    batches[id] = list = [];
                }

                list.Add(new RolloutBatchCounts(batch, (int)reader.GetInt64(6), (int)reader.GetInt64(7), (int)reader.GetInt64(8), (int)reader.GetInt64(9)));
            }
        }

        return [.. headers.Select(h => new RolloutSummary(h, batches.TryGetValue(h.Id, out var b) ? b : []))];
    }

    /// <summary>The header's version alone: watchers poll this and load the rollout only when it moved.</summary>
    public async Task<long?> VersionAsync(string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT version FROM rollouts WHERE id = $1");
        cmd.Parameters.AddWithValue(id);
        return await cmd.ExecuteScalarAsync(ct) is long version ? version : null;
    }

    /// <summary>
    /// Writes a step of the rollout in one transaction: the header (only if it is still at
    /// <paramref name="expectedVersion"/>), the changed batches and hosts, the events, and, when
    /// <paramref name="releaseLeases"/> (the rollout ended and no host is still updating), the release of its leases. Returns the new version.
    /// </summary>
    public async Task<long> SaveAsync(
        RolloutRecord header,
        long expectedVersion,
        IReadOnlyCollection<RolloutBatchRecord> batches,
        IReadOnlyCollection<RolloutHostRecord> hosts,
        IReadOnlyList<OutboxEvent> events,
        bool releaseLeases,
        DateTimeOffset now,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long version;
        await using (var cmd = new NpgsqlCommand(
            """
            UPDATE rollouts SET state = $3, finished_at = $4, message = $5, current_batch = $6, version = version + 1
            WHERE id = $1 AND version = $2 RETURNING version
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue(header.Id);
            cmd.Parameters.AddWithValue(expectedVersion);
            cmd.Parameters.AddWithValue(Text(header.Status));
            cmd.Parameters.Add(TimeOrNull(header.FinishedAt));
            cmd.Parameters.AddWithValue(header.Message);
            cmd.Parameters.AddWithValue(header.CurrentBatch);
            version = await cmd.ExecuteScalarAsync(ct) is long v ? v : throw new RolloutConcurrencyException(header.Id);
        }

        if (batches.Count > 0)
        {
            await WriteBatchesAsync(conn, tx, header.Id, batches, insert: false, ct);
        }

        if (hosts.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                """
                UPDATE rollout_hosts r SET state = u.state, target_generation = u.generation, message = u.message, phase = u.phase,
                    log_tail = u.log_tail, unavailable_ms = u.unavailable_ms,
                    updated_modules = ARRAY(SELECT jsonb_array_elements_text(u.modules::jsonb)),
                    restore_pending = u.restore_pending, dispatched_at = u.dispatched_at, last_sent_at = u.last_sent_at, updated_at = u.updated_at
                FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::boolean[],
                    $11::timestamptz[], $12::timestamptz[], $13::timestamptz[])
                    AS u (host_id, state, generation, message, phase, log_tail, unavailable_ms, modules, restore_pending, dispatched_at, last_sent_at, updated_at)
                WHERE r.rollout_id = $1 AND r.host_id = u.host_id
                """, conn, tx);
            cmd.Parameters.AddWithValue(header.Id);
            cmd.Parameters.AddWithValue(hosts.Select(h => h.HostId).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => Text(h.Status)).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.TargetGeneration).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.Message).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.Phase).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.LogTail).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.UnavailableMs).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => Json.Serialize(h.UpdatedModules)).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.RestorePending).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.DispatchedAt).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.LastSentAt).ToArray());
            cmd.Parameters.AddWithValue(hosts.Select(h => h.UpdatedAt).ToArray());
            await cmd.ExecuteNonQueryAsync(ct);
        }

        if (releaseLeases)
        {
            await using var release = new NpgsqlCommand("DELETE FROM host_leases WHERE rollout_id = $1", conn, tx);
            release.Parameters.AddWithValue(header.Id);
            await release.ExecuteNonQueryAsync(ct);
        }

        await AppendEventsAsync(conn, tx, events, now, ct);
        await tx.CommitAsync(ct);
        return version;
    }

    /// <summary>Records a host's ReportStage for the rollouts holding it that move it to <paramref name="release"/>.</summary>
    public async Task<bool> MarkStagedAsync(string hostId, OdooRelease release, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE rollout_hosts r SET staged = true
            FROM host_leases l
            WHERE l.host_id = $1 AND r.rollout_id = l.rollout_id AND r.host_id = $1 AND r.target_series = $2 AND r.target_commit = $3
            """);
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(release.Series);
        cmd.Parameters.AddWithValue(release.Commit);
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Ids of rollouts that should be moving (running, paused, or with hosts still to settle).</summary>
    public async Task<IReadOnlyList<string>> ActiveIdsAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT id FROM rollouts r WHERE state IN ('running', 'paused')
               OR EXISTS (SELECT 1 FROM rollout_hosts h WHERE h.rollout_id = r.id AND (h.state = 'updating' OR h.restore_pending))
            """);
        var ids = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private static async Task WriteBatchesAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string rolloutId, IReadOnlyCollection<RolloutBatchRecord> batches, bool insert, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            insert
                ? """
                  INSERT INTO rollout_batches (rollout_id, batch_index, canary, state, started_at, finished_at)
                  SELECT $1, b.* FROM unnest($2::int[], $3::boolean[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS b
                  """
                : """
                  UPDATE rollout_batches r SET state = b.state, started_at = b.started_at, finished_at = b.finished_at
                  FROM unnest($2::int[], $3::boolean[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS b (batch_index, canary, state, started_at, finished_at)
                  WHERE r.rollout_id = $1 AND r.batch_index = b.batch_index
                  """, conn, tx);
        cmd.Parameters.AddWithValue(rolloutId);
        cmd.Parameters.AddWithValue(batches.Select(b => b.Index).ToArray());
        cmd.Parameters.AddWithValue(batches.Select(b => b.Canary).ToArray());
        cmd.Parameters.AddWithValue(batches.Select(b => Text(b.Status)).ToArray());
        cmd.Parameters.AddWithValue(batches.Select(b => b.StartedAt).ToArray());
        cmd.Parameters.AddWithValue(batches.Select(b => b.FinishedAt).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task AppendEventsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<OutboxEvent> events, DateTimeOffset now, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return;
        }

        // One statement for every event of the step; ordinality keeps their order in the id sequence.
        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO events (occurred_at, type, subject, data)
            SELECT $1, e.type, e.subject, e.data::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e (type, subject, data, n)
            ORDER BY e.n
            """, conn, tx);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(events.Select(e => e.Type).ToArray());
        cmd.Parameters.AddWithValue(events.Select(e => e.Subject).ToArray());
        cmd.Parameters.AddWithValue(events.Select(e => e.DataJson).ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static RolloutRecord ReadHeader(DbDataReader r) => new(
        Id: r.GetString(0),
        Release: new OdooRelease(r.GetString(1), r.GetString(2)),
        Status: Parse<RolloutStatus>(r.GetString(3)),
        CreatedAt: r.GetFieldValue<DateTimeOffset>(4),
        FinishedAt: r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5),
        Message: r.GetString(6),
        Policy: Json.Deserialize<RolloutPolicy>(r.GetString(7))!,
        RollbackOf: r.IsDBNull(8) ? null : r.GetString(8),
        CreatedBy: r.GetString(9),
        CurrentBatch: r.GetInt32(10),
        Artifact: r.GetString(11).Length == 0
            ? null
            : new ReleaseArtifact(Sources.ReleaseBuilder.UrlPath(new OdooRelease(r.GetString(1), r.GetString(2))), r.GetString(11), r.GetInt64(12)),
        Version: r.GetInt64(13));

    private static RolloutHostRecord ReadHost(DbDataReader r) => new(
        HostId: r.GetString(0),
        Name: r.GetString(1),
        Batch: r.GetInt32(2),
        Status: Parse<RolloutHostStatus>(r.GetString(3)),
        Target: new OdooRelease(r.GetString(4), r.GetString(5)),
        From: r.IsDBNull(6) || r.IsDBNull(7) ? null : new OdooRelease(r.GetString(6), r.GetString(7)),
        TargetGeneration: r.GetInt64(8),
        Message: r.GetString(9),
        UpdatedAt: r.GetFieldValue<DateTimeOffset>(18))
    {
        Phase = r.GetString(10),
        LogTail = r.GetString(11),
        UnavailableMs = r.GetInt64(12),
        UpdatedModules = r.GetFieldValue<string[]>(13),
        Staged = r.GetBoolean(14),
        RestorePending = r.GetBoolean(15),
        DispatchedAt = r.IsDBNull(16) ? null : r.GetFieldValue<DateTimeOffset>(16),
        LastSentAt = r.IsDBNull(17) ? null : r.GetFieldValue<DateTimeOffset>(17),
    };

    private static string Text<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static T Parse<T>(string text) where T : struct, Enum => Enum.Parse<T>(text, ignoreCase: true);

    private static NpgsqlParameter TimeOrNull(DateTimeOffset? value) =>
        new() { Value = value is { } v ? v : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };
}
