using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using Npgsql;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Persistence;

internal enum TenantMoveStart
{
    /// <summary>Stored (step exporting) and on the source's spec (a new desired generation).</summary>
    Started,

    /// <summary>This tenant is being moved to that host already: nothing changed.</summary>
    AlreadyUnderWay,

    /// <summary>Another move of the tenant is under way (to another host, or cleaning up).</summary>
    Busy,

    NotFound,

    /// <summary>Only an active tenant moves (not creating, suspended, deleting or with a pending change).</summary>
    NotActive,

    /// <summary>The tenant is on that host already.</summary>
    SameHost,
}

internal sealed record TenantMoveStartResult(TenantMoveStart Outcome, TenantRecord? Tenant, TenantMoveRecord? Move);

internal enum ArchiveUpload
{
    /// <summary>Stored, sha256 checked; the move is importing and the target's spec carries the tenant.</summary>
    Stored,

    /// <summary>The same archive was stored already (a retried upload).</summary>
    AlreadyStored,

    NotFound,

    /// <summary>Only the move's source host may upload.</summary>
    WrongHost,

    /// <summary>The move no longer takes an archive (rolled back, or another archive stored).</summary>
    WrongStep,

    /// <summary>The body's sha256 is not the one the agent declared: nothing was stored.</summary>
    Corrupt,

    TooLarge,
}

internal sealed record ArchiveUploadResult(ArchiveUpload Outcome, TenantMoveRecord? Move, string Detail);

/// <summary>One step a move took because of a report or an upload, and the hosts (with generation) to tell.</summary>
internal sealed record TenantMoveTransition(TenantMoveRecord Move, IReadOnlyList<(string HostId, long Generation)> Tell);

/// <summary>
/// The tenant_moves table: the move state machine. Every transition is one transaction (the step,
/// the hosts' new desired generations, the tenant's host on the switch, an event), so a controller
/// killed anywhere leaves a move exactly at a step, and the next report or upload that reaches any
/// controller carries it on. Steps advance only on facts reported by hosts, never on timers.
/// </summary>
internal sealed class TenantMoveStore(NpgsqlDataSource db)
{
    public const int ChunkBytes = 1 << 20;

    private const string Columns =
        """
        m.id, m.tenant_id, t.name, m.source_host_id, COALESCE(hs.name, ''), m.target_host_id, COALESCE(ht.name, ''), m.step,
        m.source_generation, m.target_generation, m.archive_sha256, m.archive_bytes, m.error, m.created_at, m.updated_at
        """;

    private const string From =
        "FROM tenant_moves m JOIN tenants t ON t.id = m.tenant_id LEFT JOIN hosts hs ON hs.id = m.source_host_id LEFT JOIN hosts ht ON ht.id = m.target_host_id";

    /// <summary>The steps of a move that is not finished (SQL list).</summary>
    internal const string OpenSteps = "('exporting', 'importing', 'switched', 'rolling-back')";

    /// <summary>An unfinished move of which the host $1 is the source or the target (alias m for tenant_moves).</summary>
    internal const string OpenForHost = "(m.source_host_id = $1 OR m.target_host_id = $1) AND m.step IN " + OpenSteps;

    /// <summary>
    /// Starts moving an active tenant to <paramref name="targetHostId"/>: under the placement lock (so
    /// room checked by the caller is not taken meanwhile) the move is stored at step exporting and the
    /// source's desired generation bumped. Asking again for the move under way changes nothing.
    /// </summary>
    public async Task<TenantMoveStartResult> StartAsync(string moveId, string tenantNameOrId, string targetHostId, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", conn, tx))
        {
            lockCmd.Parameters.AddWithValue(TenantStore.PlacementLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        var tenant = await TenantStore.FindForUpdateAsync(conn, tx, tenantNameOrId, ct);
        if (tenant is null)
        {
            return new TenantMoveStartResult(TenantMoveStart.NotFound, null, null);
        }

        if (await FindAsync(conn, tx, $"{From} WHERE m.tenant_id = $1 AND m.step IN {OpenSteps}", tenant.Id, ct) is { } open)
        {
            await tx.RollbackAsync(ct);
            var same = open.TargetHostId == targetHostId && open.Step is TenantMoveStep.Exporting or TenantMoveStep.Importing;
            return new TenantMoveStartResult(same ? TenantMoveStart.AlreadyUnderWay : TenantMoveStart.Busy, tenant, open);
        }

        if (tenant.HostId == targetHostId)
        {
            await tx.RollbackAsync(ct);
            return new TenantMoveStartResult(TenantMoveStart.SameHost, tenant, null);
        }

        if (tenant.State != TenantState.Active || tenant.DesiredState != TenantDesiredState.Active)
        {
            await tx.RollbackAsync(ct);
            return new TenantMoveStartResult(TenantMoveStart.NotActive, tenant, null);
        }

        var sourceGeneration = await BumpAsync(conn, tx, tenant.HostId, ct);
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO tenant_moves (id, tenant_id, source_host_id, target_host_id, step, source_generation, target_generation, created_at, updated_at)
            VALUES ($1, $2, $3, $4, 'exporting', $5, 0, $6, $6)
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(moveId);
            insert.Parameters.AddWithValue(tenant.Id);
            insert.Parameters.AddWithValue(tenant.HostId);
            insert.Parameters.AddWithValue(targetHostId);
            insert.Parameters.AddWithValue(sourceGeneration);
            insert.Parameters.AddWithValue(now);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await EventStore.AppendAsync(
            conn, tx, "TenantMoveRequested", tenant.Id,
            Json.Serialize(new { move = moveId, name = tenant.Name, from = tenant.HostId, to = targetHostId, generation = sourceGeneration }), now, ct);
        var move = await FindAsync(conn, tx, $"{From} WHERE m.id = $1", moveId, ct);
        await tx.CommitAsync(ct);
        return new TenantMoveStartResult(TenantMoveStart.Started, tenant, move);
    }

    /// <summary>The move by id, or null.</summary>
    public async Task<TenantMoveRecord?> FindAsync(string moveId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await FindAsync(conn, null, $"{From} WHERE m.id = $1", moveId, ct);
    }

    /// <summary>The tenant's latest move, or null.</summary>
    public async Task<TenantMoveRecord?> LatestForTenantAsync(string tenantId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await FindAsync(conn, null, $"{From} WHERE m.tenant_id = $1 ORDER BY m.created_at DESC, m.id LIMIT 1", tenantId, ct);
    }

    /// <summary>
    /// Stores the archive the source uploads, in chunks, in one transaction with the step change: if
    /// the sha256 of what arrived is <paramref name="sha256"/>, the move goes to importing and the
    /// target's desired generation is bumped (its spec now carries the tenant with move_in); else
    /// nothing is kept. The same archive again (a retry after a lost answer) is accepted as it is.
    /// </summary>
    public async Task<ArchiveUploadResult> StoreArchiveAsync(
        string moveId, string hostId, Stream body, string sha256, long maxBytes, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var move = await FindAsync(conn, tx, $"{From} WHERE m.id = $1 FOR UPDATE OF m", moveId, ct);
        if (move is null)
        {
            return new ArchiveUploadResult(ArchiveUpload.NotFound, null, $"no move {moveId}");
        }

        if (move.SourceHostId != hostId)
        {
            return new ArchiveUploadResult(ArchiveUpload.WrongHost, move, $"move {moveId} is not from this host");
        }

        if (move.Step != TenantMoveStep.Exporting)
        {
            return move.ArchiveSha256 == sha256 && move.Step is TenantMoveStep.Importing or TenantMoveStep.Switched or TenantMoveStep.Done
                ? new ArchiveUploadResult(ArchiveUpload.AlreadyStored, move, "")
                : new ArchiveUploadResult(ArchiveUpload.WrongStep, move, $"move {moveId} is {TenantMoveRules.StepText(move.Step)}, it takes no archive now");
        }

        await using (var clear = new NpgsqlCommand("DELETE FROM tenant_move_chunks WHERE move_id = $1", conn, tx))
        {
            clear.Parameters.AddWithValue(moveId);
            await clear.ExecuteNonQueryAsync(ct);
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkBytes];
        long total = 0;
        var seq = 0;
        while (true)
        {
            var filled = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
            if (filled == 0)
            {
                break;
            }

            total += filled;
            if (total > maxBytes)
            {
                await tx.RollbackAsync(ct);
                return new ArchiveUploadResult(ArchiveUpload.TooLarge, move, $"the archive is larger than {maxBytes} bytes (Fleet:TenantMoveMaxArchiveBytes)");
            }

            hash.AppendData(buffer, 0, filled);
            await using var insert = new NpgsqlCommand("INSERT INTO tenant_move_chunks (move_id, seq, data) VALUES ($1, $2, $3)", conn, tx);
            insert.Parameters.AddWithValue(moveId);
            insert.Parameters.AddWithValue(seq++);
            insert.Parameters.AddWithValue(buffer.AsMemory(0, filled).ToArray());
            await insert.ExecuteNonQueryAsync(ct);
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != sha256)
        {
            await tx.RollbackAsync(ct);
            return new ArchiveUploadResult(ArchiveUpload.Corrupt, move, $"{total} bytes arrived with sha256 {actual}, the agent declared {sha256}");
        }

        var targetGeneration = await BumpAsync(conn, tx, move.TargetHostId, ct);
        await using (var update = new NpgsqlCommand(
            "UPDATE tenant_moves SET step = 'importing', archive_sha256 = $2, archive_bytes = $3, target_generation = $4, updated_at = $5 WHERE id = $1", conn, tx))
        {
            update.Parameters.AddWithValue(moveId);
            update.Parameters.AddWithValue(sha256);
            update.Parameters.AddWithValue(total);
            update.Parameters.AddWithValue(targetGeneration);
            update.Parameters.AddWithValue(now);
            await update.ExecuteNonQueryAsync(ct);
        }

        await EventStore.AppendAsync(
            conn, tx, "TenantMoveExported", move.TenantId,
            Json.Serialize(new { move = moveId, name = move.TenantName, from = move.SourceHostId, to = move.TargetHostId, bytes = total, sha256, generation = targetGeneration }),
            now, ct);
        await tx.CommitAsync(ct);
        return new ArchiveUploadResult(
            ArchiveUpload.Stored,
            move with { Step = TenantMoveStep.Importing, ArchiveSha256 = sha256, ArchiveBytes = total, TargetGeneration = targetGeneration, UpdatedAt = now },
            "");
    }

    /// <summary>
    /// Writes the stored archive to <paramref name="output"/> for the move's target while it imports.
    /// Returns null when served, else why not (nothing written).
    /// </summary>
    public async Task<string?> ReadArchiveAsync(string moveId, string hostId, Func<long, Stream> output, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var move = await FindAsync(conn, null, $"{From} WHERE m.id = $1", moveId, ct);
        if (move is null || move.TargetHostId != hostId)
        {
            return $"no move {moveId} to this host";
        }

        if (move.Step != TenantMoveStep.Importing || move.ArchiveBytes is not { } bytes)
        {
            return $"move {moveId} is {TenantMoveRules.StepText(move.Step)}: its archive is not served now";
        }

        var stream = output(bytes);
        await using var cmd = new NpgsqlCommand("SELECT data FROM tenant_move_chunks WHERE move_id = $1 ORDER BY seq", conn);
        cmd.Parameters.AddWithValue(moveId);
        await using var reader = await cmd.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        while (await reader.ReadAsync(ct))
        {
            await using var chunk = reader.GetStream(0);
            await chunk.CopyToAsync(stream, ct);
        }

        return null;
    }

    /// <summary>
    /// What a converge report of <paramref name="hostId"/> means for the moves it takes part in:
    /// the target converged the generation carrying the import (with a release running) → switched
    /// (the tenant is the target's, the source's spec carries it absent); the source converged the
    /// generation carrying the removal → done; the target converged the rollback → rolled back; a
    /// failed report from the source while exporting, or from the target while importing → rollback.
    /// Safe to call again with the same report: each rule needs the step it leaves.
    /// </summary>
    public async Task<IReadOnlyList<TenantMoveTransition>> ApplyReportAsync(
        string hostId, long generation, bool success, bool releaseRunning, string error, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var open = await ListAsync(
            conn, tx, $"{From} WHERE {OpenForHost} ORDER BY m.id FOR UPDATE OF m", hostId, ct);
        var transitions = new List<TenantMoveTransition>();
        foreach (var move in open)
        {
            var fromSource = move.SourceHostId == hostId && generation >= move.SourceGeneration;
            var fromTarget = move.TargetHostId == hostId && generation >= move.TargetGeneration;
            var why = error.Length == 0 ? "see `fleet hosts` for the host's last converge" : UntrustedText.Printable(error, 400);
            var transition = (move.Step, success) switch
            {
                (TenantMoveStep.Exporting, false) when fromSource =>
                    await RollBackAsync(conn, tx, move, $"exporting on {move.SourceHostName} failed: {why}", now, ct),
                (TenantMoveStep.Importing, false) when fromTarget =>
                    await RollBackAsync(conn, tx, move, $"importing on {move.TargetHostName} failed: {why}", now, ct),
                (TenantMoveStep.Importing, true) when fromTarget && releaseRunning =>
                    await SwitchAsync(conn, tx, move, now, ct),
                (TenantMoveStep.Switched, true) when fromSource =>
                    await FinishAsync(conn, tx, move, TenantMoveStep.Done, "TenantMoved", now, ct),
                (TenantMoveStep.RollingBack, true) when fromTarget =>
                    await FinishAsync(conn, tx, move, TenantMoveStep.RolledBack, "TenantMoveRolledBack", now, ct),
                _ => null,
            };
            if (transition is not null)
            {
                transitions.Add(transition);
            }
        }

        await tx.CommitAsync(ct);
        return transitions;
    }

    /// <summary>
    /// What the spec of <paramref name="hostId"/> carries because of moves: its own tenants that are
    /// moving away (suspended, with move_out), tenants moving in (with move_in), and tenants that
    /// moved away or whose import is rolled back (absent: archived and removed here).
    /// </summary>
    public async Task<IReadOnlyList<TenantRecord>> ApplyToSpecAsync(string hostId, IReadOnlyList<TenantRecord> placed, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var moves = await ListAsync(
            conn, null, $"{From} WHERE {OpenForHost} ORDER BY m.id", hostId, ct);
        if (moves.Count == 0)
        {
            return placed;
        }

        var byTenant = moves.ToDictionary(m => m.TenantId, StringComparer.Ordinal);
        var spec = new List<TenantRecord>(placed.Count + moves.Count);
        foreach (var tenant in placed)
        {
            spec.Add(byTenant.GetValueOrDefault(tenant.Id) is { Step: TenantMoveStep.Exporting or TenantMoveStep.Importing } away && away.SourceHostId == hostId
                ? tenant with { DesiredState = TenantDesiredState.Suspended, MoveOut = new TenantMoveOut(away.Id, away.ArchivePath) }
                : tenant);
        }

        var elsewhere = moves.Where(m => !placed.Any(t => t.Id == m.TenantId)).ToList();
        if (elsewhere.Count == 0)
        {
            return spec;
        }

        // Tenants whose row names another host: the one moving in (row still on the source) or away (row already on the target).
        var tenants = new TenantStore(db);
        foreach (var move in elsewhere)
        {
            var here = move switch
            {
                { Step: TenantMoveStep.Importing } when move.TargetHostId == hostId => TenantDesiredState.Active,
                { Step: TenantMoveStep.RollingBack } when move.TargetHostId == hostId => TenantDesiredState.Absent,
                { Step: TenantMoveStep.Switched } when move.SourceHostId == hostId => TenantDesiredState.Absent,
                _ => (TenantDesiredState?)null,
            };
            if (here is not { } desired || await tenants.FindAsync(move.TenantId, ct) is not { } tenant)
            {
                continue;
            }

            spec.Add(tenant with
            {
                DesiredState = desired,
                MoveIn = move.Step == TenantMoveStep.Importing ? new TenantMoveIn(move.Id, move.ArchivePath, move.ArchiveSha256 ?? "", move.ArchiveBytes ?? 0) : null,
            });
        }

        return [.. spec.OrderBy(t => t.Name, StringComparer.Ordinal)];
    }

    private static async Task<TenantMoveTransition> SwitchAsync(NpgsqlConnection conn, NpgsqlTransaction tx, TenantMoveRecord move, DateTimeOffset now, CancellationToken ct)
    {
        await using (var tenant = new NpgsqlCommand("UPDATE tenants SET host_id = $2, updated_at = $3 WHERE id = $1", conn, tx))
        {
            tenant.Parameters.AddWithValue(move.TenantId);
            tenant.Parameters.AddWithValue(move.TargetHostId);
            tenant.Parameters.AddWithValue(now);
            await tenant.ExecuteNonQueryAsync(ct);
        }

        var sourceGeneration = await BumpAsync(conn, tx, move.SourceHostId, ct);
        await SetStepAsync(conn, tx, move.Id, TenantMoveStep.Switched, sourceGeneration, move.TargetGeneration, null, now, ct);
        await EventStore.AppendAsync(
            conn, tx, "TenantMoveSwitched", move.TenantId,
            Json.Serialize(new { move = move.Id, name = move.TenantName, from = move.SourceHostId, to = move.TargetHostId, generation = sourceGeneration }), now, ct);
        return new TenantMoveTransition(
            move with { Step = TenantMoveStep.Switched, SourceGeneration = sourceGeneration, UpdatedAt = now }, [(move.SourceHostId, sourceGeneration)]);
    }

    /// <summary>
    /// Before the switch only. While exporting, the target was never told: the move is rolled back at
    /// once and the source serves again on its next generation. While importing, the target's spec
    /// carries the tenant absent (it removes what it restored) and the move waits for its report.
    /// </summary>
    private static async Task<TenantMoveTransition> RollBackAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, TenantMoveRecord move, string reason, DateTimeOffset now, CancellationToken ct)
    {
        var sourceGeneration = await BumpAsync(conn, tx, move.SourceHostId, ct);
        List<(string, long)> tell = [(move.SourceHostId, sourceGeneration)];
        var step = TenantMoveStep.RolledBack;
        var targetGeneration = move.TargetGeneration;
        if (move.Step == TenantMoveStep.Importing)
        {
            targetGeneration = await BumpAsync(conn, tx, move.TargetHostId, ct);
            tell.Add((move.TargetHostId, targetGeneration));
            step = TenantMoveStep.RollingBack;
        }

        await SetStepAsync(conn, tx, move.Id, step, sourceGeneration, targetGeneration, reason, now, ct);
        if (step == TenantMoveStep.RolledBack)
        {
            await DeleteChunksAsync(conn, tx, move.Id, ct);
        }

        await EventStore.AppendAsync(
            conn, tx, step == TenantMoveStep.RolledBack ? "TenantMoveRolledBack" : "TenantMoveFailed", move.TenantId,
            Json.Serialize(new { move = move.Id, name = move.TenantName, from = move.SourceHostId, to = move.TargetHostId, reason }), now, ct);
        return new TenantMoveTransition(
            move with { Step = step, SourceGeneration = sourceGeneration, TargetGeneration = targetGeneration, Error = reason, UpdatedAt = now }, tell);
    }

    private static async Task<TenantMoveTransition> FinishAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, TenantMoveRecord move, TenantMoveStep step, string eventType, DateTimeOffset now, CancellationToken ct)
    {
        await SetStepAsync(conn, tx, move.Id, step, move.SourceGeneration, move.TargetGeneration, null, now, ct);
        await DeleteChunksAsync(conn, tx, move.Id, ct);
        await EventStore.AppendAsync(
            conn, tx, eventType, move.TenantId,
            Json.Serialize(new { move = move.Id, name = move.TenantName, from = move.SourceHostId, to = move.TargetHostId, reason = move.Error }), now, ct);
        return new TenantMoveTransition(move with { Step = step, UpdatedAt = now }, []);
    }

    private static async Task SetStepAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string moveId, TenantMoveStep step, long sourceGeneration, long targetGeneration, string? error, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "UPDATE tenant_moves SET step = $2, source_generation = $3, target_generation = $4, error = COALESCE($5, error), updated_at = $6 WHERE id = $1", conn, tx);
        cmd.Parameters.AddWithValue(moveId);
        cmd.Parameters.AddWithValue(TenantMoveRules.StepText(step));
        cmd.Parameters.AddWithValue(sourceGeneration);
        cmd.Parameters.AddWithValue(targetGeneration);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.AddWithValue(now);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task DeleteChunksAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string moveId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM tenant_move_chunks WHERE move_id = $1", conn, tx);
        cmd.Parameters.AddWithValue(moveId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<long> BumpAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string hostId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE hosts SET desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation", conn, tx);
        cmd.Parameters.AddWithValue(hostId);
        return await cmd.ExecuteScalarAsync(ct) is long g
            ? g
            : throw new InvalidOperationException($"host {hostId} of a tenant move is not in the hosts table");
    }

    private static async Task<TenantMoveRecord?> FindAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string query, string key, CancellationToken ct) =>
        (await ListAsync(conn, tx, query, key, ct)).FirstOrDefault();

    private static async Task<List<TenantMoveRecord>> ListAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string query, string key, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} {query}", conn, tx);
        cmd.Parameters.AddWithValue(key);
        var moves = new List<TenantMoveRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            moves.Add(Read(reader));
        }

        return moves;
    }

    private static TenantMoveRecord Read(DbDataReader r) => new(
        Id: r.GetString(0),
        TenantId: r.GetString(1),
        TenantName: r.GetString(2),
        SourceHostId: r.GetString(3),
        SourceHostName: r.GetString(4),
        TargetHostId: r.GetString(5),
        TargetHostName: r.GetString(6),
        Step: TenantMoveRules.ParseStep(r.GetString(7)) ?? throw new InvalidOperationException($"tenant_moves: unknown step '{r.GetString(7)}'"),
        SourceGeneration: r.GetInt64(8),
        TargetGeneration: r.GetInt64(9),
        ArchiveSha256: r.IsDBNull(10) ? null : r.GetString(10),
        ArchiveBytes: r.IsDBNull(11) ? null : r.GetInt64(11),
        Error: r.GetString(12),
        CreatedAt: r.GetFieldValue<DateTimeOffset>(13),
        UpdatedAt: r.GetFieldValue<DateTimeOffset>(14));
}
