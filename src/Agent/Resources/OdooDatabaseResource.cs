using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// An Odoo database with these modules installed: what `odoo-bin -d DB -i MODULES` leaves behind.
/// The database itself is a <see cref="PgDatabaseResource"/> this one depends on.
/// </summary>
internal sealed partial record OdooDatabaseSpec(string Database, IReadOnlyList<string> Modules, string Python, string OdooBin, string ConfFile, string User)
{
    public const int MaxModules = 50;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Database))
        {
            errors.Add($"tenants.database: '{Grammar.Printable(Database)}' is not an Odoo database name (letters, digits, '_' or '-', at most 63); fix the tenant");
            return errors;
        }

        if (Modules.Count is 0 or > MaxModules)
        {
            errors.Add($"tenants.{Database}.modules: {Modules.Count} given, 1-{MaxModules} allowed (e.g. base)");
        }

        foreach (var module in Modules.Where(m => !ModulePattern().IsMatch(m)))
        {
            errors.Add($"tenants.{Database}.modules: '{Grammar.Printable(module)}' is not an Odoo module name (lowercase letters, digits, '_'); fix the tenant");
        }

        foreach (var (field, path) in new[] { ("python", Python), ("odoo_bin", OdooBin), ("conf", ConfFile) })
        {
            if (!Grammar.IsSafeAbsolutePath(path))
            {
                errors.Add($"tenants.{Database}.{field}: '{Grammar.Printable(path)}' must be a plain absolute path");
            }
        }

        if (!Grammar.IsUnixName(User))
        {
            errors.Add($"tenants.{Database}.user: '{Grammar.Printable(User)}' is not a system user name");
        }

        return errors;
    }

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,63}\z")]
    private static partial Regex ModulePattern();
}

/// <summary>
/// Installs the spec's modules that are not installed in the database, once, with Odoo itself:
/// `odoo-bin -c CONF -d DB -i MODULES --without-demo=all --stop-after-init` as the Odoo user
/// (production databases carry no demo data, SEED-ERRATA #17). Observes ir_module_module through
/// the local cluster; modules installed later by people are left alone, and nothing is uninstalled.
/// </summary>
internal sealed class OdooDatabaseResource : Resource<OdooDatabaseResource.Observed>
{
    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly OdooDatabaseSpec spec;

    public OdooDatabaseResource(ICommandRunner runner, PostgresCluster cluster, OdooDatabaseSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.runner = runner;
        psql = new Psql(runner, cluster);
        this.spec = spec;
    }

    /// <summary>The spec's modules not installed (all of them when the database or Odoo's tables are not there yet).</summary>
    internal sealed record Observed(IReadOnlyList<string> Missing) : Observation;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);

    public override string Id => $"odoo-database:{spec.Database}";

    public override string Kind => "odoo-database";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var exists = await psql.QueryAsync(
            "SELECT 1 FROM pg_database WHERE datname = :'name';\n", new Dictionary<string, string> { ["name"] = spec.Database }, 1, ct);
        if (exists.Count == 0)
        {
            return new Observed(spec.Modules);
        }

        var database = psql.In(spec.Database);
        var initialised = await database.QueryAsync("SELECT to_regclass('public.ir_module_module') IS NOT NULL;\n", new Dictionary<string, string>(), 1, ct);
        if (initialised is not [["t"]])
        {
            return new Observed(spec.Modules);
        }

        var installed = (await database.QueryAsync(
                "SELECT name FROM ir_module_module WHERE state = 'installed';\n", new Dictionary<string, string>(), 1, ct))
            .Select(row => row[0])
            .ToHashSet(StringComparer.Ordinal);
        return new Observed([.. spec.Modules.Where(m => !installed.Contains(m))]);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
        observed.Missing.Count == 0
            ? null
            : new Change($"install {string.Join(", ", observed.Missing)} in database {spec.Database} (odoo-bin -i, without demo data)");

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var missing = (await ObserveTypedAsync(ct)).Missing;
        if (missing.Count == 0)
        {
            return $"database {spec.Database}: the modules were installed meanwhile";
        }

        var command = new CommandSpec(
            spec.Python,
            [spec.OdooBin, "-c", spec.ConfFile, "-d", spec.Database, "-i", string.Join(',', missing), "--without-demo=all", "--stop-after-init"])
        {
            Timeout = Timeout,
            WorkingDirectory = "/",
        }.AsUser(spec.User);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException($"installing {string.Join(", ", missing)} in database {spec.Database} failed: {result.Describe(command)}");
        }

        return null;
    }
}
