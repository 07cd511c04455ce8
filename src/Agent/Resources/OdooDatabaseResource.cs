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

    /// <summary>The language odoo-bin loads when it creates the database (--load-language); null = en_US only.</summary>
    public string? Lang { get; init; }

    /// <summary>ISO 3166-1 alpha-2 code of the main company's country, set at creation; null = none.</summary>
    public string? Country { get; init; }

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

        if (Lang is not null && !LangPattern().IsMatch(Lang))
        {
            errors.Add($"tenants.{Database}.lang: '{Grammar.Printable(Lang)}' is not an Odoo language code (e.g. fr_FR, es_419, sr@latin); fix the tenant");
        }

        if (Country is not null && !CountryPattern().IsMatch(Country))
        {
            errors.Add($"tenants.{Database}.country: '{Grammar.Printable(Country)}' is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. FR); fix the tenant");
        }

        return errors;
    }

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,63}\z")]
    private static partial Regex ModulePattern();

    [GeneratedRegex(@"^[a-z]{2,3}(?:_(?:[A-Z]{2}|[0-9]{3}))?(?:@[A-Za-z]{4,8})?\z")]
    private static partial Regex LangPattern();

    [GeneratedRegex(@"^[A-Z]{2}\z")]
    private static partial Regex CountryPattern();
}

/// <summary>
/// Installs the spec's modules that are not installed in the database, once, with Odoo itself:
/// `odoo-bin -c CONF -d DB -i MODULES --without-demo=all --stop-after-init` as the Odoo user
/// (production databases carry no demo data, SEED-ERRATA #17); the run that creates the database
/// also loads the spec's language (--load-language). With a country, creation goes as after Odoo's
/// database manager: base (and the language) first, then the main company's country and currency
/// through Odoo's ORM (`odoo-bin shell`, <see cref="CountryScript"/>), then the other modules, so
/// those that pick defaults from the company's country at install (account's chart of accounts)
/// see it. The country is recorded in ir_config_parameter (odoofleet.country) in the same
/// transaction: a creation interrupted before it sets it on the next converge, and a country an
/// operator changed later in Odoo is left alone. Observes through the local cluster; modules
/// installed later by people are left alone, and nothing is uninstalled.
/// </summary>
internal sealed class OdooDatabaseResource : Resource<OdooDatabaseResource.Observed>
{
    /// <summary>The ir_config_parameter key that says which country the agent set.</summary>
    public const string CountryParameter = "odoofleet.country";

    /// <summary>
    /// Run by `odoo-bin shell` (stdin, Odoo's ORM in `env`; the code comes in ODOOFLEET_COUNTRY, never
    /// spliced into the script): what Odoo 18's database manager does with a country_code
    /// (odoo/service/db.py, _initialize_db), and the marker the agent observes.
    /// </summary>
    public const string CountryScript =
        """
        import os
        code = os.environ['ODOOFLEET_COUNTRY']
        country = env['res.country'].search([('code', '=', code)], limit=1)
        if not country:
            raise SystemExit('Odoo has no country with the code %s' % code)
        values = {'country_id': country.id}
        if country.currency_id:
            values['currency_id'] = country.currency_id.id
        env.ref('base.main_company').write(values)
        env['ir.config_parameter'].sudo().set_param('odoofleet.country', code)
        env.cr.commit()

        """;

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

    /// <summary>
    /// The spec's modules not installed (all of them when the database or Odoo's tables are not there
    /// yet: <paramref name="Fresh"/>), and whether the spec's country is still to be set.
    /// </summary>
    internal sealed record Observed(IReadOnlyList<string> Missing, bool Fresh, bool CountryPending) : Observation;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);

    public override string Id => $"odoo-database:{spec.Database}";

    public override string Kind => "odoo-database";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var none = new Dictionary<string, string>();
        var fresh = new Observed(spec.Modules, true, spec.Country is not null);
        var exists = await psql.QueryAsync(
            "SELECT 1 FROM pg_database WHERE datname = :'name';\n", new Dictionary<string, string> { ["name"] = spec.Database }, 1, ct);
        if (exists.Count == 0)
        {
            return fresh;
        }

        var database = psql.In(spec.Database);
        var initialised = await database.QueryAsync("SELECT to_regclass('public.ir_module_module') IS NOT NULL;\n", none, 1, ct);
        if (initialised is not [["t"]])
        {
            return fresh;
        }

        var installed = (await database.QueryAsync("SELECT name FROM ir_module_module WHERE state = 'installed';\n", none, 1, ct))
            .Select(row => row[0])
            .ToHashSet(StringComparer.Ordinal);
        var countryPending = false;
        if (spec.Country is not null)
        {
            // Two statements: one naming a table that does not exist would fail as a whole.
            var parameters = await database.QueryAsync("SELECT to_regclass('public.ir_config_parameter') IS NOT NULL;\n", none, 1, ct);
            countryPending = parameters is not [["t"]]
                || (await database.QueryAsync(
                    "SELECT 1 FROM ir_config_parameter WHERE key = :'key';\n", new Dictionary<string, string> { ["key"] = CountryParameter }, 1, ct)).Count == 0;
        }

        return new Observed([.. spec.Modules.Where(m => !installed.Contains(m))], false, countryPending);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.Missing.Count == 0 && !observed.CountryPending)
        {
            return null;
        }

        var parts = new List<string>();
        if (observed.Missing.Count > 0)
        {
            parts.Add($"install {string.Join(", ", observed.Missing)} in database {spec.Database} (odoo-bin -i, without demo data"
                + (observed.Fresh && spec.Lang is not null ? $", language {spec.Lang})" : ")"));
        }

        if (observed.CountryPending)
        {
            parts.Add($"set the main company's country of database {spec.Database} to {spec.Country}");
        }

        return new Change(string.Join("; ", parts));
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        if (observed.Missing.Count == 0 && !observed.CountryPending)
        {
            return $"database {spec.Database}: the modules were installed meanwhile";
        }

        // Only the run that creates the database loads the language: an existing one is never re-localised.
        var loadLanguage = observed.Fresh;
        var missing = observed.Missing;
        if (observed.CountryPending)
        {
            if (observed.Fresh)
            {
                await InstallAsync(["base"], loadLanguage, ct);
                (missing, loadLanguage) = ([.. missing.Where(m => m != "base")], false);
            }

            await SetCountryAsync(ct);
        }

        if (missing.Count > 0)
        {
            await InstallAsync(missing, loadLanguage, ct);
        }

        return null;
    }

    private async Task InstallAsync(IReadOnlyList<string> modules, bool loadLanguage, CancellationToken ct)
    {
        List<string> arguments = [spec.OdooBin, "-c", spec.ConfFile, "-d", spec.Database, "-i", string.Join(',', modules), "--without-demo=all"];
        if (loadLanguage && spec.Lang is { } lang)
        {
            arguments.Add($"--load-language={lang}");
        }

        arguments.Add("--stop-after-init");
        var command = new CommandSpec(spec.Python, arguments) { Timeout = Timeout, WorkingDirectory = "/" }.AsUser(spec.User);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException($"installing {string.Join(", ", modules)} in database {spec.Database} failed: {result.Describe(command)}");
        }
    }

    private async Task SetCountryAsync(CancellationToken ct)
    {
        var command = new CommandSpec(spec.Python, [spec.OdooBin, "shell", "-c", spec.ConfFile, "-d", spec.Database, "--log-level=warn"])
        {
            Timeout = Timeout,
            WorkingDirectory = "/",
            StandardInput = CountryScript,
            Environment = new Dictionary<string, string> { ["ODOOFLEET_COUNTRY"] = spec.Country! },
        }.AsUser(spec.User);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException($"setting the main company's country of database {spec.Database} to {spec.Country} failed: {result.Describe(command)}");
        }
    }
}
