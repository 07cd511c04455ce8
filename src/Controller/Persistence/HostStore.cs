using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

/// <summary>A host's desired generation after a (batch) release change, whether it changed, and what the agent applied.</summary>
internal sealed record DesiredReleaseChange(long Generation, bool Changed, long AppliedGeneration)
{
    /// <summary>The agent must hear of it: the spec changed, or an unchanged one it has not applied yet (a lost command).</summary>
    public bool NeedsConverge => Changed || AppliedGeneration < Generation;
}

/// <summary>
/// What recording a converge report did: <see cref="Accepted"/> = recorded (not stale); <see cref="HostHasTenants"/> = the host
/// has tenant rows; <see cref="HostHasOpenMoves"/> = a tenant move that is not finished has the host as its source or target.
/// Both are read in the report's own statement, so hosts without tenants or moves (most of a rollout) need no further query.
/// </summary>
internal readonly record struct ReportRecorded(bool Accepted, bool HostHasTenants, bool HostHasOpenMoves = false);

/// <summary>A host as its spec needs it: <see cref="HasTenants"/> = tenant rows on it; <see cref="HasOpenMoves"/> = an unfinished tenant move involves it.</summary>
internal sealed record HostForSpec(HostRecord Host, bool HasTenants, bool HasOpenMoves);

/// <summary>One agent heartbeat: when it arrived, and the metrics, facts and address it carried, if any.</summary>
internal sealed record HeartbeatRecord(string HostId, DateTimeOffset SeenAt, HostMetrics? Metrics, HostFacts? Facts, string? Address);

/// <summary>The hosts table: the fleet-wide view that listings read.</summary>
internal sealed class HostStore(NpgsqlDataSource db)
{
    private const string Columns =
        """
        id, name, address, enrolled_at, last_seen, facts::text, metrics::text, desired_generation, desired_series,
        desired_commit, applied_generation, reported_generation, running_series, running_commit,
        last_converge_success, last_converge_error, queue, profile::text, labels::text, desired_artifact::text, desired_gate::text
        """;

    /// <summary>How many fields <see cref="Columns"/> reads: a query's own extra columns start at this index.</summary>
    private const int ColumnCount = 21;

    /// <summary>Whether the host $1 has tenant rows, and whether an unfinished tenant move involves it: two booleans.</summary>
    private const string TenantsAndOpenMoves =
        "EXISTS (SELECT 1 FROM tenants t WHERE t.host_id = $1), EXISTS (SELECT 1 FROM tenant_moves m WHERE " + TenantMoveStore.OpenForHost + ")";

    public async Task<IReadOnlyList<HostRecord>> ListAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM hosts ORDER BY name");
        var hosts = new List<HostRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            hosts.Add(Read(reader));
        }

        return hosts;
    }

    /// <summary>Finds a host by id or, failing that, by name.</summary>
    public async Task<HostRecord?> FindAsync(string idOrName, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM hosts WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1");
        cmd.Parameters.AddWithValue(idOrName);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>
    /// A host by id for its spec, with whether it has tenant rows and whether a tenant move that is not
    /// finished involves it, in one query: most hosts have neither, and their spec needs no further read.
    /// </summary>
    public async Task<HostForSpec?> FindForSpecAsync(string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            SELECT {Columns}, {TenantsAndOpenMoves}
            FROM hosts WHERE id = $1
            """);
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new HostForSpec(Read(reader), reader.GetBoolean(ColumnCount), reader.GetBoolean(ColumnCount + 1)) : null;
    }

    /// <summary>
    /// Deletes the host's row (its certificates and plans go with it) and records HostRemoved in the
    /// same transaction; false when no such row was there (already removed).
    /// </summary>
    public async Task<bool> RemoveAsync(string hostId, string eventJson, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var delete = new NpgsqlCommand("DELETE FROM hosts WHERE id = $1", conn, tx);
        delete.Parameters.AddWithValue(hostId);
        if (await delete.ExecuteNonQueryAsync(ct) != 1)
        {
            await tx.RollbackAsync(ct);
            return false;
        }

        await EventStore.AppendAsync(conn, tx, "HostRemoved", hostId, eventJson, now, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>The newest removed host with this id or name (from its HostRemoved event), or null if none was ever removed.</summary>
    public async Task<(string Id, string Name)?> FindRemovedAsync(string idOrName, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT subject, data->>'name' FROM events
            WHERE type = 'HostRemoved' AND (subject = $1 OR data->>'name' = $1)
            ORDER BY (subject = $1) DESC, id DESC LIMIT 1
            """);
        cmd.Parameters.AddWithValue(idOrName);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1)) : null;
    }

    /// <summary>Records a heartbeat; returns the host's desired generation (null: unknown host).</summary>
    public async Task<long?> RecordHeartbeatAsync(
        string hostId, DateTimeOffset now, HostMetrics? metrics, HostFacts? facts, string? address, CancellationToken ct) =>
        (await RecordHeartbeatsAsync([new HeartbeatRecord(hostId, now, metrics, facts, address)], ct)).TryGetValue(hostId, out var generation)
            ? generation
            : null;

    /// <summary>
    /// Records many heartbeats in one statement (last seen, and metrics, facts and address when
    /// sent) and returns each host's desired generation; removed hosts are missing from the result.
    /// A host heard twice keeps the later heartbeat. Rows are locked in id order, as every batch
    /// update of hosts does, so concurrent batches wait for each other instead of deadlocking.
    /// </summary>
    public async Task<Dictionary<string, long>> RecordHeartbeatsAsync(IReadOnlyList<HeartbeatRecord> heartbeats, CancellationToken ct)
    {
        var latest = new Dictionary<string, HeartbeatRecord>(StringComparer.Ordinal);
        foreach (var h in heartbeats)
        {
            latest[h.HostId] = h;
        }

        var rows = latest.Values.ToArray();
        await using var cmd = db.CreateCommand(
            """
            WITH locked AS MATERIALIZED (SELECT id FROM hosts WHERE id = ANY($1) ORDER BY id FOR UPDATE)
            UPDATE hosts h SET last_seen = u.seen,
                metrics = COALESCE(u.metrics::jsonb, h.metrics),
                facts = COALESCE(u.facts::jsonb, h.facts),
                address = COALESCE(u.address, h.address)
            FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[]) AS u (id, seen, metrics, facts, address)
            WHERE h.id = u.id AND h.id IN (SELECT id FROM locked)
            RETURNING h.id, h.desired_generation
            """);
        cmd.Parameters.AddWithValue(rows.Select(h => h.HostId).ToArray());
        cmd.Parameters.AddWithValue(rows.Select(h => h.SeenAt).ToArray());
        cmd.Parameters.Add(TextArray(rows.Select(h => h.Metrics is null ? null : Json.Serialize(h.Metrics))));
        cmd.Parameters.Add(TextArray(rows.Select(h => h.Facts is null ? null : Json.Serialize(h.Facts))));
        cmd.Parameters.Add(TextArray(rows.Select(h => h.Address)));
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetString(0)] = reader.GetInt64(1);
        }

        return result;
    }

    /// <summary>
    /// Makes <paramref name="release"/> the host's desired release. Bumps the generation only if
    /// the release differs, so repeating the call (a replayed rollout step) changes nothing.
    /// </summary>
    public Task<(long Generation, bool Changed)> SetDesiredReleaseAsync(
        string hostId, OdooRelease release, string eventJson, DateTimeOffset now, CancellationToken ct) =>
        SetDesiredReleaseAsync(hostId, release, null, null, eventJson, now, ct);

    /// <summary>
    /// Makes <paramref name="release"/> the host's desired release, fetched from
    /// <paramref name="artifact"/> (null = from the source) and applied under <paramref name="gate"/>.
    /// Only a different release bumps the generation (and replaces artifact and gate), so a replayed
    /// rollout step, or a second rollout to the release a host already wants, changes nothing.
    /// </summary>
    public async Task<(long Generation, bool Changed)> SetDesiredReleaseAsync(
        string hostId, OdooRelease release, ReleaseArtifact? artifact, ReleaseGate? gate, string eventJson, DateTimeOffset now, CancellationToken ct) =>
        (await SetDesiredReleasesAsync([hostId], release, artifact, gate, eventJson, now, ct)).TryGetValue(hostId, out var change)
            ? (change.Generation, change.Changed)
            : throw new InvalidOperationException($"host {hostId} does not exist");

    /// <summary>
    /// <see cref="SetDesiredReleaseAsync(string, OdooRelease, ReleaseArtifact?, ReleaseGate?, string, DateTimeOffset, CancellationToken)"/>
    /// for many hosts in one statement (a rollout batch): each host whose desired release differs gets
    /// its generation bumped and a HostSpecChanged event, atomically; the others are returned as they
    /// are. Hosts that no longer exist are missing from the result.
    /// </summary>
    public async Task<Dictionary<string, DesiredReleaseChange>> SetDesiredReleasesAsync(
        IReadOnlyCollection<string> hostIds, OdooRelease release, ReleaseArtifact? artifact, ReleaseGate? gate, string eventJson, DateTimeOffset now, CancellationToken ct)
    {
        // One statement: the data-modifying CTEs and the read of the unchanged rows share a snapshot,
        // so every host is either bumped (and evented) or reported with its stored generation.
        await using var cmd = db.CreateCommand(
            """
            WITH locked AS MATERIALIZED (SELECT id FROM hosts WHERE id = ANY($1) ORDER BY id FOR UPDATE),
            changed AS (
                UPDATE hosts SET desired_series = $2, desired_commit = $3, desired_generation = desired_generation + 1,
                    desired_artifact = $4, desired_gate = $5
                WHERE id IN (SELECT id FROM locked) AND (desired_series IS DISTINCT FROM $2 OR desired_commit IS DISTINCT FROM $3)
                RETURNING id, desired_generation, applied_generation
            ), recorded AS (
                INSERT INTO events (occurred_at, type, subject, data)
                SELECT $6, 'HostSpecChanged', id, $7 FROM changed ORDER BY id
            )
            SELECT id, desired_generation, applied_generation, true FROM changed
            UNION ALL
            SELECT id, desired_generation, applied_generation, false FROM hosts
            WHERE id = ANY($1) AND id NOT IN (SELECT id FROM changed)
            """);
        cmd.Parameters.AddWithValue(hostIds.ToArray());
        cmd.Parameters.AddWithValue(release.Series);
        cmd.Parameters.AddWithValue(release.Commit);
        cmd.Parameters.Add(JsonbOrNull(artifact));
        cmd.Parameters.Add(JsonbOrNull(gate));
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, eventJson);
        var result = new Dictionary<string, DesiredReleaseChange>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetString(0)] = new DesiredReleaseChange(reader.GetInt64(1), reader.GetBoolean(3), reader.GetInt64(2));
        }

        return result;
    }

    /// <summary>
    /// Applies a profile change in one transaction: the host row is locked, <paramref name="apply"/>
    /// merges the change into the stored profile (or refuses it), and only a real difference is
    /// written, bumps the desired generation and records HostSpecChanged. The same change twice
    /// bumps once.
    /// </summary>
    public async Task<ProfileUpdate> UpdateProfileAsync(
        string hostId,
        Func<HostProfile, (HostProfile? Profile, IReadOnlyList<string> Errors)> apply,
        string cause,
        DateTimeOffset now,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        HostProfile current;
        long generation;
        await using (var read = new NpgsqlCommand("SELECT profile::text, desired_generation FROM hosts WHERE id = $1 FOR UPDATE", conn, tx))
        {
            read.Parameters.AddWithValue(hostId);
            await using var reader = await read.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return ProfileUpdate.NotFound;
            }

            current = ReadProfile(reader.GetString(0));
            generation = reader.GetInt64(1);
        }

        var (next, errors) = apply(current);
        if (next is null || errors.Count > 0)
        {
            await tx.RollbackAsync(ct);
            return new ProfileUpdate(true, generation, false, [.. errors]);
        }

        if (next.IsEquivalentTo(current))
        {
            await tx.RollbackAsync(ct);
            return new ProfileUpdate(true, generation, false, []);
        }

        var profileJson = Json.Serialize(next);
        await using (var update = new NpgsqlCommand(
            "UPDATE hosts SET profile = $2, desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation", conn, tx))
        {
            update.Parameters.AddWithValue(hostId);
            update.Parameters.AddWithValue(NpgsqlDbType.Jsonb, profileJson);
            generation = (long)(await update.ExecuteScalarAsync(ct))!;
        }

        await EventStore.AppendAsync(
            conn, tx, "HostSpecChanged", hostId, Json.Serialize(new { generation, cause, profile = next }), now, ct);
        await tx.CommitAsync(ct);
        return new ProfileUpdate(true, generation, true, []);
    }

    /// <summary>
    /// Stores a converge report; one for an older generation than already stored, or for a
    /// generation the controller never issued, is ignored.
    /// </summary>
    /// <summary>
    /// Records a converge report unless it is stale (older than one already recorded, or a
    /// generation never issued). Also says whether the host has any tenant rows, so that the
    /// tenant bookkeeping after a report (two transactions) is skipped for the many hosts without one.
    /// </summary>
    public async Task<ReportRecorded> RecordReportAsync(ConvergeReport report, string eventType, string eventJson, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            $"""
            UPDATE hosts SET reported_generation = $2,
                applied_generation = CASE WHEN $3 THEN GREATEST(applied_generation, $2) ELSE applied_generation END,
                last_converge_success = $3, last_converge_error = $4, last_converge_at = $5,
                running_series = COALESCE($6, running_series), running_commit = COALESCE($7, running_commit),
                last_results = $8, last_transition = $9
            WHERE id = $1 AND reported_generation <= $2 AND $2 <= desired_generation
            RETURNING {TenantsAndOpenMoves}
            """, conn, tx);
        cmd.Parameters.AddWithValue(report.HostId);
        cmd.Parameters.AddWithValue(report.Generation);
        cmd.Parameters.AddWithValue(report.Success);
        cmd.Parameters.AddWithValue(report.Error);
        cmd.Parameters.AddWithValue(now);
        cmd.Parameters.Add(TextOrNull(report.RunningRelease?.Series));
        cmd.Parameters.Add(TextOrNull(report.RunningRelease?.Commit));
        cmd.Parameters.AddWithValue(NpgsqlDbType.Jsonb, Json.Serialize(report.Resources));
        cmd.Parameters.Add(JsonbOrNull(report.Transition));
        bool hasTenants, hasMoves;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                await reader.CloseAsync();
                await tx.RollbackAsync(ct);
                return new ReportRecorded(Accepted: false, HostHasTenants: false);
            }

            (hasTenants, hasMoves) = (reader.GetBoolean(0), reader.GetBoolean(1));
        }

        await EventStore.AppendAsync(conn, tx, eventType, report.HostId, eventJson, now, ct);
        await tx.CommitAsync(ct);
        return new ReportRecorded(Accepted: true, hasTenants, hasMoves);
    }

    /// <summary>Rollout progress of many hosts in one query (a rollout never fans out over grains to read).</summary>
    public async Task<Dictionary<string, Planning.HostProgress>> GetProgressAsync(string[] hostIds, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT id, reported_generation, applied_generation, last_converge_success, last_converge_error, running_series, running_commit,
                last_transition::text, last_seen
            FROM hosts WHERE id = ANY($1)
            """);
        cmd.Parameters.AddWithValue(hostIds);
        var result = new Dictionary<string, Planning.HostProgress>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetString(0)] = new Planning.HostProgress(
                reader.GetInt64(1), reader.GetInt64(2), reader.GetBoolean(3), reader.GetString(4), ReleaseOrNull(reader, 5, 6))
            {
                Transition = reader.IsDBNull(7) ? null : Json.Deserialize<ReleaseTransitionRecord>(reader.GetString(7)),
                LastSeen = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
            };
        }

        return result;
    }

    private static NpgsqlParameter TextArray(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static NpgsqlParameter TextOrNull(string? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    private static NpgsqlParameter JsonbOrNull<T>(T? value) where T : class =>
        new() { Value = value is null ? DBNull.Value : Json.Serialize(value), NpgsqlDbType = NpgsqlDbType.Jsonb };

    private static HostRecord Read(DbDataReader r) => new(
        Id: r.GetString(0),
        Name: r.GetString(1),
        Address: r.GetString(2),
        EnrolledAt: r.GetFieldValue<DateTimeOffset>(3),
        LastSeen: r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
        Facts: Json.Deserialize<HostFacts>(r.GetString(5)),
        Metrics: r.IsDBNull(6) ? null : Json.Deserialize<HostMetrics>(r.GetString(6)),
        DesiredGeneration: r.GetInt64(7),
        DesiredRelease: ReleaseOrNull(r, 8, 9),
        AppliedGeneration: r.GetInt64(10),
        ReportedGeneration: r.GetInt64(11),
        RunningRelease: ReleaseOrNull(r, 12, 13),
        LastConvergeSuccess: r.GetBoolean(14),
        LastConvergeError: r.GetString(15),
        Queue: r.GetString(16))
    {
        Profile = ReadProfile(r.GetString(17)),
        Labels = Json.Deserialize<SortedDictionary<string, string>>(r.GetString(18)) ?? [],
        DesiredArtifact = r.IsDBNull(19) ? null : Json.Deserialize<ReleaseArtifact>(r.GetString(19)),
        DesiredGate = r.IsDBNull(20) ? null : Json.Deserialize<ReleaseGate>(r.GetString(20)),
    };

    private static HostProfile ReadProfile(string json) => Json.Deserialize<HostProfile>(json) ?? HostProfile.Default;

    private static OdooRelease? ReleaseOrNull(DbDataReader r, int series, int commit) =>
        r.IsDBNull(series) || r.IsDBNull(commit) ? null : new OdooRelease(r.GetString(series), r.GetString(commit));
}
