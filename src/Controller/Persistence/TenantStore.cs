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
}

/// <summary>The outcome of a create; <see cref="Detail"/> names the conflicting domain or tenant.</summary>
internal sealed record TenantCreateResult(TenantCreation Outcome, TenantRecord? Tenant, PlacementDecision? Placement, string Detail, long Generation);

/// <summary>Which tenants a listing wants; empty = any. <see cref="Search"/> is a substring of a name or a domain.</summary>
internal sealed record TenantFilter(string? HostId, TenantState? State, string Search, int Limit);

/// <summary>The tenants and tenant_domains tables: what listings, placement and host specs read.</summary>
internal sealed class TenantStore(NpgsqlDataSource db)
{
    public const int MaxListLimit = 10_000;

    // One key for every placement: creates are serialised so two of them never both take the last room on a host.
    private const long PlacementLockKey = 0x7e_4a_47_00;

    private const string Columns =
        """
        t.id, t.name, t.host_id, COALESCE(h.name, ''), t.plan, t.state, t.database_name, t.primary_domain, t.modules,
        t.created_at, t.updated_at, t.database_bytes, t.filestore_bytes, t.last_backup_at
        """;

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
                var same = reader.GetBoolean(14);
                var generation = reader.GetInt64(15);
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

        var decision = place(await LoadsAsync(conn, tx, ct));
        if (decision.Chosen is not { } chosen)
        {
            await tx.RollbackAsync(ct);
            return new TenantCreateResult(TenantCreation.NoHostFits, null, decision, decision.Summary, 0);
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
            request.PrimaryDomain, request.Aliases, request.Modules, now, now);
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO tenants (id, name, host_id, plan, state, database_name, primary_domain, modules, request,
                spec_generation, created_at, updated_at)
            VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $10, $10)
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
            conn, tx, "TenantCreated", created.Id,
            Json.Serialize(new { name = created.Name, host = created.HostId, plan = created.Plan, domains = request.Domains, generation = bumped }),
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
            tenants.Add(Read(reader) with { Aliases = reader.GetFieldValue<string[]>(14) });
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

    private static async Task<IReadOnlyDictionary<string, TenantLoad>> LoadsAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT host_id, plan, count(*)::int FROM tenants GROUP BY host_id, plan", conn, tx);
        var loads = new Dictionary<string, TenantLoad>(StringComparer.Ordinal);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var plan = TenantPlan.Find(reader.GetString(1))
                ?? throw new InvalidOperationException($"tenants: unknown plan '{reader.GetString(1)}' in the table");
            var count = reader.GetInt32(2);
            var load = loads.GetValueOrDefault(reader.GetString(0), TenantLoad.None);
            loads[reader.GetString(0)] = new TenantLoad(
                load.Tenants + count, load.MemoryMiB + (count * plan.MemoryMiB), load.MilliWorkers + (count * plan.MilliWorkers), load.DiskMiB + (count * plan.DiskMiB));
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
    };
}
