using System.Data.Common;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Planning;

namespace OdooFleet.Controller.Persistence;

internal enum TenantCreation
{
    /// <summary>Placed, stored and on its host's spec (a new desired generation).</summary>
    Created,

    /// <summary>A tenant of that name was created with the same arguments: nothing changed.</summary>
    AlreadyExists,

    /// <summary>A tenant of that name exists with other arguments.</summary>
    NameTaken,

    /// <summary>Another tenant serves one of the domains.</summary>
    DomainTaken,

    /// <summary>No host fits (the placement says why for each).</summary>
    NoHostFits,

    /// <summary>A clone's source tenant does not exist.</summary>
    SourceNotFound,

    /// <summary>A clone's source is being created or deleted, or is no longer on the host the clone was placed on.</summary>
    SourceNotReady,
}

/// <summary>The outcome of a create; <see cref="Detail"/> names the conflicting domain or tenant.</summary>
internal sealed record TenantCreateResult(TenantCreation Outcome, TenantRecord? Tenant, PlacementDecision? Placement, string Detail, long Generation);

internal enum TenantChange
{
    /// <summary>Stored as the tenant's desired state, on its host's spec (a new desired generation).</summary>
    Changed,

    /// <summary>That is already the tenant's desired state: nothing changed.</summary>
    Unchanged,

    /// <summary>No tenant of that name or id.</summary>
    NotFound,

    /// <summary>Not in the tenant's current state (suspend or resume while it is created or deleted).</summary>
    NotNow,

    /// <summary>The tenant is being moved (fleet tenant move): one operation per tenant at a time.</summary>
    Moving,
}

/// <summary>The outcome of a suspend, resume or delete; <see cref="Generation"/> is the host's generation that carries the desired state.</summary>
internal sealed record TenantChangeResult(TenantChange Outcome, TenantRecord? Tenant, long Generation);

/// <summary>Which tenants a listing wants; empty = any. <see cref="Search"/> is a substring of a name or a domain.</summary>
internal sealed record TenantFilter(string? HostId, TenantState? State, string Search, int Limit);

/// <summary>The tenants and tenant_domains tables: what listings, placement and host specs read.</summary>
internal sealed class TenantStore(NpgsqlDataSource db)
{
    public const int MaxListLimit = 10_000;

    // One key for every placement (creates and moves): serialised so two of them never both take the last room on a host.
    internal const long PlacementLockKey = 0x7e_4a_47_00;

    private const string Columns =
        """
        t.id, t.name, t.host_id, COALESCE(h.name, ''), t.plan, t.state, t.database_name, t.primary_domain, t.modules,
        t.created_at, t.updated_at, t.database_bytes, t.filestore_bytes, t.last_backup_at, t.desired_state, t.sizes_measured_at,
        t.lang, t.country, t.clone_of, t.neutralize
        """;

    /// <summary>How many fields <see cref="Columns"/> reads: a query's own extra columns start at this index.</summary>
    private const int ColumnCount = 20;

    /// <summary>
    /// Places and stores a tenant in one transaction: under the placement lock it reads what every
    /// host's tenants reserve, asks <paramref name="place"/> (pure) for a host, stores the tenant and
    /// its domains, bumps the host's desired generation and records TenantCreated. The same request
    /// again (same name, same arguments) returns the stored tenant and changes nothing.
    /// </summary>
    public async Task<TenantCreateResult> CreateAsync(
        string id,
        TenantRequest request,
        Func<IReadOnlyDictionary<string, TenantLoad>, PlacementDecision> place,
        DateTimeOffset now,
        CancellationToken ct)
    {
        var requestJson = Json.Serialize(request);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", conn, tx))
        {
            lockCmd.Parameters.AddWithValue(PlacementLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        await using (var existing = new NpgsqlCommand(
            $"SELECT {Columns}, t.request = $2, t.spec_generation FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE t.name = $1", conn, tx))
        {
            existing.Parameters.AddWithValue(request.Name);
            existing.Parameters.AddWithValue(NpgsqlDbType.Jsonb, requestJson);
            await using var reader = await existing.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var same = reader.GetBoolean(ColumnCount);
                var generation = reader.GetInt64(ColumnCount + 1);
                var tenant = Read(reader);
                await reader.CloseAsync();
                await tx.RollbackAsync(ct);
                return same
                    ? new TenantCreateResult(TenantCreation.AlreadyExists, await WithAliasesAsync(tenant, ct), null, "", generation)
                    : new TenantCreateResult(TenantCreation.NameTaken, tenant, null, request.Name, 0);
            }
        }

        if (await OwnerOfAnyAsync(conn, tx, request.Domains, ct) is { } taken)
        {
            await tx.RollbackAsync(ct);
            return new TenantCreateResult(TenantCreation.DomainTaken, null, null, taken, 0);
        }

        string? sourceHost = null;
        if (request.CloneOf is { } source)
        {
            // Read under the placement lock and kept (FOR SHARE) until commit: the source cannot be deleted or moved meanwhile.
            await using var find = new NpgsqlCommand("SELECT host_id, state, desired_state FROM tenants WHERE name = $1 FOR SHARE", conn, tx);
            find.Parameters.AddWithValue(source);
            await using var reader = await find.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                await reader.CloseAsync();
                await tx.RollbackAsync(ct);
                return new TenantCreateResult(TenantCreation.SourceNotFound, null, null, source, 0);
            }

            sourceHost = reader.GetString(0);
            var (state, desired) = (reader.GetString(1), reader.GetString(2));
            await reader.CloseAsync();
            if (state is "creating" or "deleting" || desired == "absent")
            {
                await tx.RollbackAsync(ct);
                return new TenantCreateResult(TenantCreation.SourceNotReady, null, null, $"tenant {source} is {(desired == "absent" ? "deleting" : state)}", 0);
            }
        }

        var decision = place(await LoadsAsync(conn, tx, ct));
        if (decision.Chosen is not { } chosen)
        {
            await tx.RollbackAsync(ct);
            return new TenantCreateResult(TenantCreation.NoHostFits, null, decision, decision.Summary, 0);
        }

        if (sourceHost is not null && chosen.HostId != sourceHost)
        {
            await tx.RollbackAsync(ct);
            return new TenantCreateResult(TenantCreation.SourceNotReady, null, decision, $"tenant {request.CloneOf} is on another host now (it was moved)", 0);
        }

        long bumped;
        await using (var host = new NpgsqlCommand(
            "UPDATE hosts SET desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation", conn, tx))
        {
            host.Parameters.AddWithValue(chosen.HostId);
            bumped = await host.ExecuteScalarAsync(ct) is long g
                ? g
                : throw new InvalidOperationException($"host {chosen.HostId} was removed while a tenant was placed on it");
        }

        var created = new TenantRecord(
            id, request.Name, chosen.HostId, chosen.Name, request.Plan, TenantState.Creating, TenantRules.DatabaseNameOf(request.Name),
            request.PrimaryDomain, request.Aliases, request.Modules, now, now)
        {
            Lang = request.Lang,
            Country = request.Country,
            CloneOf = request.CloneOf,
            Neutralize = request.Neutralize,
        };
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO tenants (id, name, host_id, plan, state, database_name, primary_domain, modules, request,
                spec_generation, state_generation, created_at, updated_at, lang, country, clone_of, neutralize)
            VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $9, $10, $10, $11, $12, $13, $14)
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(created.Id);
            insert.Parameters.AddWithValue(created.Name);
            insert.Parameters.AddWithValue(created.HostId);
            insert.Parameters.AddWithValue(created.Plan);
            insert.Parameters.AddWithValue(created.DatabaseName);
            insert.Parameters.AddWithValue(created.PrimaryDomain);
            insert.Parameters.AddWithValue(created.Modules.ToArray());
            insert.Parameters.AddWithValue(NpgsqlDbType.Jsonb, requestJson);
            insert.Parameters.AddWithValue(bumped);
            insert.Parameters.AddWithValue(now);
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)created.Lang ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)created.Country ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.AddWithValue(NpgsqlDbType.Text, (object?)created.CloneOf ?? DBNull.Value);
            insert.Parameters.AddWithValue(created.Neutralize);
            await insert.ExecuteNonQueryAsync(ct);
        }

        await using (var domains = new NpgsqlCommand(
            "INSERT INTO tenant_domains (domain, tenant_id, position) SELECT d, $2, p - 1 FROM unnest($1::text[]) WITH ORDINALITY AS x(d, p)", conn, tx))
        {
            domains.Parameters.AddWithValue(request.Domains.ToArray());
            domains.Parameters.AddWithValue(created.Id);
            try
            {
                await domains.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // Only a writer outside the placement lock can get here; the constraint is what guarantees it.
                await tx.RollbackAsync(ct);
                return new TenantCreateResult(TenantCreation.DomainTaken, null, null, await OwnerOfAnyAsync(request.Domains, ct) ?? "", 0);
            }
        }

        await EventStore.AppendAsync(
            conn, tx, created.CloneOf is null ? "TenantCreated" : "TenantCloneRequested", created.Id,
            created.CloneOf is null
                ? Json.Serialize(new { name = created.Name, host = created.HostId, plan = created.Plan, domains = request.Domains, generation = bumped })
                : Json.Serialize(new
                {
                    name = created.Name, host = created.HostId, plan = created.Plan, domains = request.Domains, generation = bumped,
                    cloneOf = created.CloneOf, neutralize = created.Neutralize,
                }),
            now, ct);
        await tx.CommitAsync(ct);
        return new TenantCreateResult(TenantCreation.Created, created, decision, "", bumped);
    }

    /// <summary>What the tenants of each host reserve, by their plans (hosts without tenants are absent).</summary>
    public async Task<IReadOnlyDictionary<string, TenantLoad>> LoadsAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await LoadsAsync(conn, null, ct);
    }

    /// <summary>Tenants by name, filtered; at most <see cref="TenantFilter.Limit"/> (+1, so callers can say the list was cut).</summary>
    public async Task<IReadOnlyList<TenantRecord>> ListAsync(TenantFilter filter, CancellationToken ct)
    {
        var sql = new StringBuilder($"SELECT {Columns} FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE true");
        await using var cmd = db.CreateCommand();
        if (filter.HostId is { } hostId)
        {
            cmd.Parameters.AddWithValue(hostId);
            sql.Append(" AND t.host_id = $").Append(cmd.Parameters.Count);
        }

        if (filter.State is { } state)
        {
            cmd.Parameters.AddWithValue(StateText(state));
            sql.Append(" AND t.state = $").Append(cmd.Parameters.Count);
        }

        if (filter.Search.Length > 0)
        {
            // A substring of the name or of any domain; both columns have trigram indexes.
            cmd.Parameters.AddWithValue("%" + EscapeLike(filter.Search.ToLowerInvariant()) + "%");
            var p = cmd.Parameters.Count;
            sql.Append(" AND t.id IN (SELECT id FROM tenants WHERE name LIKE $").Append(p)
                .Append(" UNION SELECT tenant_id FROM tenant_domains WHERE domain LIKE $").Append(p).Append(')');
        }

        cmd.Parameters.AddWithValue(Math.Clamp(filter.Limit, 1, MaxListLimit) + 1);
        sql.Append(" ORDER BY t.name LIMIT $").Append(cmd.Parameters.Count);
        cmd.CommandText = sql.ToString();
        var tenants = new List<TenantRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tenants.Add(Read(reader));
        }

        return tenants;
    }

    /// <summary>One tenant by name or id, with its aliases.</summary>
    public async Task<TenantRecord?> FindAsync(string nameOrId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {Columns} FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE t.name = $1 OR t.id = $1 ORDER BY (t.name = $1) DESC LIMIT 1");
        cmd.Parameters.AddWithValue(nameOrId);
        TenantRecord tenant;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct))
            {
                return null;
            }

            tenant = Read(reader);
        }

        return await WithAliasesAsync(tenant, ct);
    }

    /// <summary>The tenant row locked for the rest of <paramref name="tx"/> (no aliases), or null.</summary>
    internal static async Task<TenantRecord?> FindForUpdateAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string nameOrId, CancellationToken ct)
    {
        await using var find = new NpgsqlCommand(
            $"SELECT {Columns} FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE t.name = $1 OR t.id = $1 ORDER BY (t.name = $1) DESC LIMIT 1 FOR UPDATE OF t", conn, tx);
        find.Parameters.AddWithValue(nameOrId);
        await using var reader = await find.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>Every tenant placed on a host with its aliases, by name: what the host's spec carries.</summary>
    public async Task<IReadOnlyList<TenantRecord>> ForHostAsync(string hostId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            SELECT {Columns}, COALESCE((SELECT array_agg(d.domain ORDER BY d.position) FROM tenant_domains d WHERE d.tenant_id = t.id AND d.position > 0), ARRAY[]::text[])
            FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id WHERE t.host_id = $1 ORDER BY t.name
            """);
        cmd.Parameters.AddWithValue(hostId);
        var tenants = new List<TenantRecord>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            tenants.Add(Read(reader) with { Aliases = reader.GetFieldValue<string[]>(ColumnCount) });
        }

        return tenants;
    }

    /// <summary>
    /// A successful converge of <paramref name="generation"/> made every tenant it carried real on
    /// the host: those still creating become active. Returns their names.
    /// </summary>
    public async Task<IReadOnlyList<string>> MarkCreatedAsync(string hostId, long generation, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE tenants SET state = 'active', updated_at = $3
            WHERE host_id = $1 AND state = 'creating' AND spec_generation <= $2 RETURNING name
            """);
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(generation);
        cmd.Parameters.AddWithValue(now);
        var names = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// Stores the sizes a host's agent measured at <paramref name="measuredAt"/>, in one statement for
    /// the whole report: nothing at all when any name is a tenant placed on another host (a host may
    /// only report its own); otherwise every tenant of the host it names, unless a newer measurement
    /// is already stored. Rows are locked in id order, so two reports of one host wait for each other.
    /// </summary>
    public async Task<TenantSizesOutcome> RecordSizesAsync(string hostId, DateTimeOffset measuredAt, IReadOnlyList<TenantSizeRecord> sizes, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            WITH reported AS (
                SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS u (name, database_bytes, filestore_bytes)
            ), foreign_names AS (
                SELECT t.name FROM tenants t JOIN reported r ON r.name = t.name WHERE t.host_id <> $1
            ), own AS (
                SELECT t.name FROM tenants t JOIN reported r ON r.name = t.name WHERE t.host_id = $1
            ), locked AS MATERIALIZED (
                SELECT t.id FROM tenants t JOIN reported r ON r.name = t.name
                WHERE t.host_id = $1 AND NOT EXISTS (SELECT 1 FROM foreign_names) ORDER BY t.id FOR UPDATE OF t
            ), updated AS (
                UPDATE tenants t SET database_bytes = r.database_bytes, filestore_bytes = r.filestore_bytes, sizes_measured_at = $5
                FROM reported r
                WHERE t.name = r.name AND t.id IN (SELECT id FROM locked) AND (t.sizes_measured_at IS NULL OR t.sizes_measured_at <= $5)
                RETURNING t.name
            )
            SELECT 'foreign', name FROM foreign_names
            UNION ALL SELECT 'own', name FROM own
            UNION ALL SELECT 'updated', name FROM updated
            """);
        cmd.Parameters.AddWithValue(hostId);
        cmd.Parameters.AddWithValue(sizes.Select(s => s.Name).ToArray());
        cmd.Parameters.AddWithValue(sizes.Select(s => s.DatabaseBytes).ToArray());
        cmd.Parameters.AddWithValue(sizes.Select(s => s.FilestoreBytes).ToArray());
        cmd.Parameters.AddWithValue(measuredAt);
        var (foreign, own) = (new List<string>(), new HashSet<string>(StringComparer.Ordinal));
        var recorded = 0;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            switch (reader.GetString(0))
            {
                case "foreign": foreign.Add(reader.GetString(1)); break;
                case "own": own.Add(reader.GetString(1)); break;
                default: recorded++; break;
            }
        }

        foreign.Sort(StringComparer.Ordinal);
        var unknown = sizes.Select(s => s.Name).Where(n => !own.Contains(n) && !foreign.Contains(n)).Order(StringComparer.Ordinal).ToList();
        return new TenantSizesOutcome(foreign, foreign.Count > 0 ? 0 : recorded, unknown);
    }

    /// <summary>
    /// Makes <paramref name="desired"/> the tenant's desired state on its host's spec, in one
    /// transaction: the host's desired generation is bumped and an event recorded. Deleting marks the
    /// tenant deleting at once (placement still counts it; its domains stay taken until the host
    /// confirms). Asking for what is already desired changes nothing and returns the generation that
    /// carries it, so a caller can tell the host again.
    /// </summary>
    public async Task<TenantChangeResult> SetDesiredStateAsync(string nameOrId, TenantDesiredState desired, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        TenantRecord tenant;
        long stateGeneration;
        await using (var find = new NpgsqlCommand(
            $"""
            SELECT {Columns}, t.state_generation FROM tenants t LEFT JOIN hosts h ON h.id = t.host_id
            WHERE t.name = $1 OR t.id = $1 ORDER BY (t.name = $1) DESC LIMIT 1 FOR UPDATE OF t
            """, conn, tx))
        {
            find.Parameters.AddWithValue(nameOrId);
            await using var reader = await find.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                return new TenantChangeResult(TenantChange.NotFound, null, 0);
            }

            tenant = Read(reader);
            stateGeneration = reader.GetInt64(ColumnCount);
        }

        await using (var moving = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM tenant_moves WHERE tenant_id = $1 AND step IN ('exporting', 'importing', 'switched', 'rolling-back'))", conn, tx))
        {
            moving.Parameters.AddWithValue(tenant.Id);
            if (await moving.ExecuteScalarAsync(ct) is true)
            {
                await tx.RollbackAsync(ct);
                return new TenantChangeResult(TenantChange.Moving, await WithAliasesAsync(tenant, ct), stateGeneration);
            }
        }

        if (tenant.DesiredState == desired)
        {
            await tx.RollbackAsync(ct);
            return new TenantChangeResult(TenantChange.Unchanged, await WithAliasesAsync(tenant, ct), stateGeneration);
        }

        // Suspending or resuming keeps a database that must exist: not while it is created or deleted.
        if (desired != TenantDesiredState.Absent && tenant.State is TenantState.Creating or TenantState.Deleting)
        {
            await tx.RollbackAsync(ct);
            return new TenantChangeResult(TenantChange.NotNow, await WithAliasesAsync(tenant, ct), stateGeneration);
        }

        long bumped;
        await using (var host = new NpgsqlCommand(
            "UPDATE hosts SET desired_generation = desired_generation + 1 WHERE id = $1 RETURNING desired_generation", conn, tx))
        {
            host.Parameters.AddWithValue(tenant.HostId);
            bumped = await host.ExecuteScalarAsync(ct) is long g
                ? g
                : throw new InvalidOperationException($"host {tenant.HostId} of tenant {tenant.Name} is not in the hosts table");
        }

        var state = desired == TenantDesiredState.Absent ? TenantState.Deleting : tenant.State;
        await using (var update = new NpgsqlCommand(
            "UPDATE tenants SET desired_state = $2, state = $3, state_generation = $4, updated_at = $5 WHERE id = $1", conn, tx))
        {
            update.Parameters.AddWithValue(tenant.Id);
            update.Parameters.AddWithValue(DesiredStateText(desired));
            update.Parameters.AddWithValue(StateText(state));
            update.Parameters.AddWithValue(bumped);
            update.Parameters.AddWithValue(now);
            await update.ExecuteNonQueryAsync(ct);
        }

        var type = desired switch
        {
            TenantDesiredState.Suspended => "TenantSuspendRequested",
            TenantDesiredState.Active => "TenantResumeRequested",
            _ => "TenantDeleteRequested",
        };
        await EventStore.AppendAsync(conn, tx, type, tenant.Id, Json.Serialize(new { name = tenant.Name, host = tenant.HostId, generation = bumped }), now, ct);
        await tx.CommitAsync(ct);
        var changed = tenant with { DesiredState = desired, State = state, UpdatedAt = now };
        return new TenantChangeResult(TenantChange.Changed, await WithAliasesAsync(changed, ct), bumped);
    }

    /// <summary>
    /// A successful converge of <paramref name="generation"/> made the desired state of every tenant
    /// it carried real: suspended and resumed tenants take their desired state, absent ones (archived
    /// and removed on the host) are deleted with their domains, which frees the domains. Creation has
    /// its own step (<see cref="MarkCreatedAsync"/>: it needs a running release). Returns each
    /// tenant's name and new state ("deleted" for removed ones).
    /// </summary>
    public async Task<IReadOnlyList<(string Name, string Outcome)>> ApplyConvergedAsync(string hostId, long generation, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var outcomes = new List<(string Id, string Name, string Outcome)>();
        await using (var moved = new NpgsqlCommand(
            """
            UPDATE tenants SET state = desired_state, updated_at = $3
            WHERE host_id = $1 AND state IN ('active', 'suspended') AND desired_state IN ('active', 'suspended')
              AND state <> desired_state AND state_generation <= $2
            RETURNING id, name, state
            """, conn, tx))
        {
            moved.Parameters.AddWithValue(hostId);
            moved.Parameters.AddWithValue(generation);
            moved.Parameters.AddWithValue(now);
            await using var reader = await moved.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                outcomes.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        await using (var deleted = new NpgsqlCommand(
            "DELETE FROM tenants WHERE host_id = $1 AND desired_state = 'absent' AND state_generation <= $2 RETURNING id, name", conn, tx))
        {
            deleted.Parameters.AddWithValue(hostId);
            deleted.Parameters.AddWithValue(generation);
            await using var reader = await deleted.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                outcomes.Add((reader.GetString(0), reader.GetString(1), "deleted"));
            }
        }

        foreach (var (id, name, outcome) in outcomes)
        {
            var type = outcome switch
            {
                "suspended" => "TenantSuspended",
                "active" => "TenantResumed",
                _ => "TenantDeleted",
            };
            await EventStore.AppendAsync(conn, tx, type, id, Json.Serialize(new { name, host = hostId, generation }), now, ct);
        }

        await tx.CommitAsync(ct);
        return [.. outcomes.Select(o => (o.Name, o.Outcome))];
    }

    public static string DesiredStateText(TenantDesiredState state) => state switch
    {
        TenantDesiredState.Active => "active",
        TenantDesiredState.Suspended => "suspended",
        _ => "absent",
    };

    public static TenantDesiredState? ParseDesiredState(string text) => text switch
    {
        "active" => TenantDesiredState.Active,
        "suspended" => TenantDesiredState.Suspended,
        "absent" => TenantDesiredState.Absent,
        _ => null,
    };

    public static string StateText(TenantState state) => state switch
    {
        TenantState.Creating => "creating",
        TenantState.Active => "active",
        TenantState.Suspended => "suspended",
        _ => "deleting",
    };

    public static TenantState? ParseState(string text) => text switch
    {
        "creating" => TenantState.Creating,
        "active" => TenantState.Active,
        "suspended" => TenantState.Suspended,
        "deleting" => TenantState.Deleting,
        _ => null,
    };

    /// <summary>
    /// What each host's tenants reserve by their plans, except that a tenant whose measured database
    /// and filestore outgrew its plan's disk reserves what it measured (rounded up to MiB).
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, TenantLoad>> LoadsAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            """
            SELECT t.host_id, t.plan, count(*)::int,
                COALESCE(sum(GREATEST(p.disk_mib, ceil((COALESCE(t.database_bytes, 0) + COALESCE(t.filestore_bytes, 0)) / 1048576.0)::bigint)), 0)::bigint
            FROM tenants t LEFT JOIN unnest($1::text[], $2::bigint[]) AS p (plan, disk_mib) ON p.plan = t.plan
            GROUP BY t.host_id, t.plan
            """, conn, tx);
        cmd.Parameters.AddWithValue(TenantPlan.All.Select(p => p.Name).ToArray());
        cmd.Parameters.AddWithValue(TenantPlan.All.Select(p => p.DiskMiB).ToArray());
        var loads = new Dictionary<string, TenantLoad>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var plan = TenantPlan.Find(reader.GetString(1))
                ?? throw new InvalidOperationException($"tenants: unknown plan '{reader.GetString(1)}' in the table");
            var count = reader.GetInt32(2);
            var load = loads.GetValueOrDefault(reader.GetString(0), TenantLoad.None);
            loads[reader.GetString(0)] = new TenantLoad(
                load.Tenants + count, load.MemoryMiB + (count * plan.MemoryMiB), load.MilliWorkers + (count * plan.MilliWorkers), load.DiskMiB + reader.GetInt64(3));
        }

        return loads;
    }

    /// <summary>"domain (tenant NAME)" for the first of <paramref name="domains"/> a tenant already has, or null.</summary>
    private static async Task<string?> OwnerOfAnyAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, IReadOnlyList<string> domains, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT d.domain, t.name FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = ANY($1) ORDER BY d.domain LIMIT 1", conn, tx);
        cmd.Parameters.AddWithValue(domains.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? $"{reader.GetString(0)} (tenant {reader.GetString(1)})" : null;
    }

    private async Task<string?> OwnerOfAnyAsync(IReadOnlyList<string> domains, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await OwnerOfAnyAsync(conn, null, domains, ct);
    }

    private async Task<TenantRecord> WithAliasesAsync(TenantRecord tenant, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT domain FROM tenant_domains WHERE tenant_id = $1 AND position > 0 ORDER BY position");
        cmd.Parameters.AddWithValue(tenant.Id);
        var aliases = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            aliases.Add(reader.GetString(0));
        }

        return tenant with { Aliases = aliases };
    }

    private static string EscapeLike(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    private static TenantRecord Read(DbDataReader r) => new(
        Id: r.GetString(0),
        Name: r.GetString(1),
        HostId: r.GetString(2),
        HostName: r.GetString(3),
        Plan: r.GetString(4),
        State: ParseState(r.GetString(5)) ?? throw new InvalidOperationException($"tenants: unknown state '{r.GetString(5)}'"),
        DatabaseName: r.GetString(6),
        PrimaryDomain: r.GetString(7),
        Aliases: [],
        Modules: r.GetFieldValue<string[]>(8),
        CreatedAt: r.GetFieldValue<DateTimeOffset>(9),
        UpdatedAt: r.GetFieldValue<DateTimeOffset>(10))
    {
        DatabaseBytes = r.IsDBNull(11) ? null : r.GetInt64(11),
        FilestoreBytes = r.IsDBNull(12) ? null : r.GetInt64(12),
        LastBackupAt = r.IsDBNull(13) ? null : r.GetFieldValue<DateTimeOffset>(13),
        DesiredState = ParseDesiredState(r.GetString(14)) ?? throw new InvalidOperationException($"tenants: unknown desired state '{r.GetString(14)}'"),
        SizesMeasuredAt = r.IsDBNull(15) ? null : r.GetFieldValue<DateTimeOffset>(15),
        Lang = r.IsDBNull(16) ? null : r.GetString(16),
        Country = r.IsDBNull(17) ? null : r.GetString(17),
        CloneOf = r.IsDBNull(18) ? null : r.GetString(18),
        Neutralize = r.GetBoolean(19),
    };
}
