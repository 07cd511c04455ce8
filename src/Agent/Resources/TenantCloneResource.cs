using System.Globalization;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A tenant that starts as a copy of another one on this host: its database and filestore, and
/// with <see cref="Neutralize"/> Odoo's neutralization of the copy. FilestoreRoot is Odoo's
/// data_dir/filestore; WorkRoot keeps the dump while it is restored.
/// </summary>
internal sealed record TenantCloneSpec(
    string Name, string SourceName, bool Neutralize, string FilestoreRoot, string WorkRoot, string Python, string OdooBin, string ConfFile, string User)
{
    public const string DefaultWorkRoot = "/var/lib/odoofleet/tenant-clone";

    /// <summary>Beside the clone's filestore while it is copied; renamed when complete.</summary>
    public const string PartialFilestoreSuffix = ".clone-partial";

    /// <summary>Where the source's dump lies while it is restored (removed after).</summary>
    public static string DumpPathOf(string workRoot, string name) => $"{workRoot}/{name}.dump";

    /// <summary>
    /// The scratch database a clone is restored into before it is renamed to its name. Tenant names
    /// have no '_', so it is never another tenant's database, and '^%d$' never matches it.
    /// </summary>
    public string SeedDatabase => Name + "_clone";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (field, name) in new[] { ("name", Name), ("clone_of", SourceName) })
        {
            if (!Grammar.IsDatabaseName(name) || name.Contains('_', StringComparison.Ordinal))
            {
                errors.Add($"tenants.{Grammar.Printable(Name)}.{field}: '{Grammar.Printable(name)}' is not a tenant name (lowercase letters, digits and inner hyphens); fix the clone");
            }
        }

        if (Name == SourceName)
        {
            errors.Add($"tenants.{Grammar.Printable(Name)}.clone_of: a tenant cannot be a clone of itself; name another tenant");
        }

        foreach (var (field, path) in new[] { ("filestore", FilestoreRoot), ("work", WorkRoot), ("python", Python), ("odoo_bin", OdooBin), ("conf", ConfFile) })
        {
            if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/'))
            {
                errors.Add($"tenants.{Grammar.Printable(Name)}.{field}: '{Grammar.Printable(path)}' must be a plain absolute path without a trailing '/'");
            }
        }

        if (!Grammar.IsUnixName(User))
        {
            errors.Add($"tenants.{Grammar.Printable(Name)}.user: '{Grammar.Printable(User)}' is not a system user name");
        }

        return errors;
    }
}

/// <summary>
/// Seeds a clone's database once, while the source keeps serving: pg_dump -Fc of the source (one
/// consistent snapshot, no lock that stops Odoo; `createdb -T` would need the source idle), restored
/// in one transaction into a scratch database (NAME_clone) that the postgres role owns, so Odoo's
/// database list and cron runner never see it; a fresh database.uuid and database.secret (the copy
/// is another installation: no shared sessions, its own identity towards Odoo's services); with
/// neutralize, `odoo-bin neutralize` there; the source's filestore copied beside it and renamed into
/// place. Last, the scratch database is renamed to the tenant's and given to the Odoo role: the
/// rename is the one step that makes the clone exist, so an interrupted clone is never served, and
/// the next converge throws its leftovers away and starts again. Once the database exists the
/// resource is done, whatever becomes of the source.
/// </summary>
internal sealed class TenantCloneResource : Resource<TenantCloneResource.Observed>
{
    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly TenantCloneSpec spec;

    public TenantCloneResource(HostPaths paths, ICommandRunner runner, PostgresCluster cluster, TenantCloneSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        (this.paths, this.runner, this.spec) = (paths, runner, spec);
        psql = new Psql(runner, cluster);
    }

    public TimeSpan CopyTimeout { get; init; } = TimeSpan.FromHours(2);

    /// <param name="Exists">The clone's database exists: the clone is done.</param>
    /// <param name="SourceExists">The source's database is on this host.</param>
    /// <param name="Leftovers">What an interrupted clone left (scratch database, partial filestore or dump).</param>
    internal sealed record Observed(bool Exists, bool SourceExists, IReadOnlyList<string> Leftovers) : Observation;

    public override string Id => $"tenant-clone:{spec.Name}";

    public override string Kind => "tenant-clone";

    private string Port => psql.Cluster.Port.ToString(CultureInfo.InvariantCulture);

    private string DumpPath => paths.Resolve(TenantCloneSpec.DumpPathOf(spec.WorkRoot, spec.Name));

    private string SourceFilestore => paths.Resolve($"{spec.FilestoreRoot}/{spec.SourceName}");

    private string Filestore => paths.Resolve($"{spec.FilestoreRoot}/{spec.Name}");

    private string PartialFilestore => Filestore + TenantCloneSpec.PartialFilestoreSuffix;

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync(
            "SELECT datname FROM pg_database WHERE datname IN (:'name', :'source', :'seed');\n",
            new Dictionary<string, string> { ["name"] = spec.Name, ["source"] = spec.SourceName, ["seed"] = spec.SeedDatabase }, 1, ct);
        var databases = rows.Select(r => r[0]).ToHashSet(StringComparer.Ordinal);
        var leftovers = new List<string>();
        if (databases.Contains(spec.SeedDatabase))
        {
            leftovers.Add($"database {spec.SeedDatabase}");
        }

        if (Directory.Exists(PartialFilestore))
        {
            leftovers.Add($"{spec.FilestoreRoot}/{spec.Name}{TenantCloneSpec.PartialFilestoreSuffix}");
        }

        if (File.Exists(DumpPath))
        {
            leftovers.Add(TenantCloneSpec.DumpPathOf(spec.WorkRoot, spec.Name));
        }

        return new Observed(databases.Contains(spec.Name), databases.Contains(spec.SourceName), leftovers);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.Exists)
        {
            return null;
        }

        if (!observed.SourceExists)
        {
            throw new ResourceFailedException(
                $"clone {spec.Name}: the source database {spec.SourceName} is not on this host, so there is nothing to copy; "
                + $"delete the clone (fleet tenant delete {spec.Name} --yes) and clone a tenant that this host serves");
        }

        var redo = observed.Leftovers.Count == 0 ? "" : $"discard what an interrupted clone left ({string.Join(", ", observed.Leftovers)}), then ";
        var neutralize = spec.Neutralize ? "; odoo-bin neutralize (outgoing mail, crons and payment providers off)" : " (NOT neutralized: it sends mail and runs crons like the source)";
        return new Change(
            $"clone tenant {spec.SourceName} as {spec.Name}: {redo}pg_dump -Fc {spec.SourceName} | pg_restore into {spec.SeedDatabase}; "
            + $"a fresh database.uuid{neutralize}; copy its filestore; rename {spec.SeedDatabase} to {spec.Name}");
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        if (observed.Exists)
        {
            return $"database {spec.Name} exists meanwhile: nothing copied";
        }

        await DiscardLeftoversAsync(ct);
        var collation = await psql.QueryAsync(
            "SELECT datcollate, datctype FROM pg_database WHERE datname = :'source';\n", new Dictionary<string, string> { ["source"] = spec.SourceName }, 2, ct);
        if (collation is not [[var collate, var ctype]])
        {
            throw new ResourceFailedException($"clone {spec.Name}: the source database {spec.SourceName} disappeared; nothing was created");
        }

        // Owned by postgres until it is complete: Odoo lists (and runs crons in) only its own role's databases.
        await psql.ExecuteAsync(
            "CREATE DATABASE :\"seed\" WITH OWNER postgres ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE :'collate' LC_CTYPE :'ctype';\n",
            new Dictionary<string, string> { ["seed"] = spec.SeedDatabase, ["collate"] = collate, ["ctype"] = ctype }, TimeSpan.FromMinutes(10), ct);
        await CopyDatabaseAsync(ct);
        await psql.In(spec.SeedDatabase).ExecuteAsync(
            """
            DO $$
            BEGIN
                IF to_regclass('public.ir_config_parameter') IS NOT NULL THEN
                    UPDATE ir_config_parameter SET value = gen_random_uuid()::text WHERE key IN ('database.uuid', 'database.secret');
                END IF;
            END
            $$;

            """,
            new Dictionary<string, string>(), ct);
        if (spec.Neutralize)
        {
            await NeutralizeAsync(ct);
        }

        await CopyFilestoreAsync(ct);

        // The one step that makes the clone exist; the owner follows (a crash between them leaves
        // the database to the PostgreSQL database resource, which sets the owner).
        await psql.ExecuteAsync(
            "ALTER DATABASE :\"seed\" RENAME TO :\"name\";\nALTER DATABASE :\"name\" OWNER TO :\"owner\";\n",
            new Dictionary<string, string> { ["seed"] = spec.SeedDatabase, ["name"] = spec.Name, ["owner"] = spec.User }, ct);
        return spec.Neutralize
            ? $"tenant {spec.Name} cloned from {spec.SourceName} and neutralized (database.is_neutralized = true)"
            : $"tenant {spec.Name} cloned from {spec.SourceName} (not neutralized)";
    }

    private async Task DiscardLeftoversAsync(CancellationToken ct)
    {
        await runner.RunCheckedAsync(
            new CommandSpec("dropdb", ["--force", "--if-exists", "-p", Port, "--", spec.SeedDatabase])
            {
                Timeout = TimeSpan.FromMinutes(5),
                WorkingDirectory = "/",
            }.AsUser(Psql.OsUser),
            ct);
        if (Directory.Exists(PartialFilestore))
        {
            Directory.Delete(PartialFilestore, recursive: true);
        }

        AtomicFile.TryDelete(DumpPath);
    }

    private async Task CopyDatabaseAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(paths.Resolve(spec.WorkRoot), FileModes.Mode0700);
        try
        {
            var dump = new CommandSpec("pg_dump", ["-Fc", "-p", Port, $"--dbname={spec.SourceName}"])
            {
                Timeout = CopyTimeout,
                WorkingDirectory = "/",
                StandardOutputPath = DumpPath,
            }.AsUser(Psql.OsUser);
            var dumped = await runner.RunAsync(dump, ct);
            if (!dumped.Succeeded)
            {
                throw new ResourceFailedException($"clone {spec.Name}: pg_dump of {spec.SourceName} failed (the source is untouched): {dumped.Describe(dump)}");
            }

            // One transaction: a failed restore leaves an empty scratch database, never a half-filled one.
            var restore = new CommandSpec("pg_restore", ["--single-transaction", "--exit-on-error", "-p", Port, $"--dbname={spec.SeedDatabase}"])
            {
                Timeout = CopyTimeout,
                WorkingDirectory = "/",
                StandardInputPath = DumpPath,
            }.AsUser(Psql.OsUser);
            var restored = await runner.RunAsync(restore, ct);
            if (!restored.Succeeded)
            {
                throw new ResourceFailedException($"clone {spec.Name}: pg_restore into {spec.SeedDatabase} failed; the next converge starts again: {restored.Describe(restore)}");
            }
        }
        finally
        {
            AtomicFile.TryDelete(DumpPath);
        }
    }

    /// <summary>Odoo 16+'s own neutralization: every installed module's data/neutralize.sql, then database.is_neutralized = true.</summary>
    private async Task NeutralizeAsync(CancellationToken ct)
    {
        // odoo-bin runs as the Odoo role, which owns every table of the copy but not yet the database,
        // whose public schema belongs to the database owner (PostgreSQL 15+). While it runs it may
        // create there as in its own databases (the fixture Odoo creates ir_config_parameter where a
        // database lacks it); revoked after, as the rename hands it the database anyway.
        var owner = new Dictionary<string, string> { ["owner"] = spec.User };
        await psql.In(spec.SeedDatabase).ExecuteAsync("GRANT CREATE ON SCHEMA public TO :\"owner\";\n", owner, ct);
        var command = new CommandSpec(spec.Python, [spec.OdooBin, "neutralize", "-c", spec.ConfFile, "-d", spec.SeedDatabase])
        {
            Timeout = TimeSpan.FromMinutes(30),
            WorkingDirectory = "/",
        }.AsUser(spec.User);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException(
                $"clone {spec.Name}: odoo-bin neutralize failed, so the copy is not served; the next converge starts again: {result.Describe(command)}");
        }

        await psql.In(spec.SeedDatabase).ExecuteAsync("REVOKE CREATE ON SCHEMA public FROM :\"owner\";\n", owner, ct);
        var flag = await psql.In(spec.SeedDatabase).QueryAsync(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized';\n", new Dictionary<string, string>(), 1, ct);
        if (flag is not [["true" or "True"]])
        {
            throw new ResourceFailedException(
                $"clone {spec.Name}: odoo-bin neutralize succeeded but database.is_neutralized is not true in the copy, so it is not served; check the release's odoo-bin (Odoo 16 or later)");
        }
    }

    private async Task CopyFilestoreAsync(CancellationToken ct)
    {
        if (Directory.Exists(Filestore))
        {
            // Only an interrupted clone leaves it (a deleted tenant's filestore goes before its deletion is reported).
            Directory.Delete(Filestore, recursive: true);
        }

        if (!Directory.Exists(SourceFilestore))
        {
            return;
        }

        // cp -a keeps the Odoo user's ownership and modes; into a partial directory, renamed when complete.
        await runner.RunCheckedAsync(
            new CommandSpec("cp", ["-a", "--", SourceFilestore, PartialFilestore]) { Timeout = CopyTimeout, WorkingDirectory = "/" }, ct);
        Native.FsyncDirectory(PartialFilestore);
        Native.Rename(PartialFilestore, Filestore);
        Native.FsyncDirectory(Path.GetDirectoryName(Filestore)!);
    }
}
