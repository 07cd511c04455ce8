using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// A tenant database's modules on a real scratch PostgreSQL. Odoo itself cannot run here: the
/// runner passes psql through and answers the odoo-bin call the way Odoo would leave the database
/// (ir_module_module with the modules installed), recording the exact command line.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class OdooDatabaseResourceTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    private static OdooDatabaseSpec Spec(string database, params string[] modules) =>
        new(database, modules, "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin", "/etc/odoo.conf", "odoo");

    [Fact]
    public async Task Converge_NewDatabase_OdooBinInstallsWithoutDemoThenSecondRunUnchanged()
    {
        SkipWithoutPostgres();
        var name = "oft-tenant-" + ScratchPostgres.Unique();
        var odoo = new FakeOdoo(postgres);
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));
        OdooDatabaseResource Resource() => new(odoo, postgres.Cluster, Spec(name, "base", "sale")) { DependsOn = [database.Id] };

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, database, Resource());
        Assert.Equal($"would install base, sale in database {name} (odoo-bin -i, without demo data)", check.Message);
        Assert.Empty(odoo.Calls);

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        var call = Assert.Single(odoo.Calls);
        Assert.Equal(
            ["-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin", "-c", "/etc/odoo.conf", "-d", name, "-i", "base,sale", "--without-demo=all", "--stop-after-init"],
            call);
    }

    [Fact]
    public async Task Converge_ModuleAddedToTheSpec_InstallsOnlyTheMissingOne()
    {
        SkipWithoutPostgres();
        var name = "oft_tenant_" + ScratchPostgres.Unique();
        var odoo = new FakeOdoo(postgres);
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, new OdooDatabaseResource(odoo, postgres.Cluster, Spec(name, "base")));

        var result = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, new OdooDatabaseResource(odoo, postgres.Cluster, Spec(name, "base", "crm")));

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal("crm", odoo.Calls[^1][odoo.Calls[^1].IndexOf("-i") + 1]);
    }

    [Fact]
    public async Task Converge_OdooBinFails_FailedWithItsOutput()
    {
        SkipWithoutPostgres();
        var name = "oft_tenant_" + ScratchPostgres.Unique();
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));

        var result = await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct, database, new OdooDatabaseResource(new FakeOdoo(postgres) { Fail = true }, postgres.Cluster, Spec(name, "base")));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains($"installing base in database {name} failed", result.Message, StringComparison.Ordinal);
        Assert.Contains("KeyError: 'nonexistent'", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Converge_NewDatabaseWithLangAndCountry_BaseWithTheLanguageThenTheCountryThenTheRestThenUnchanged()
    {
        SkipWithoutPostgres();
        var name = "oft-locale-" + ScratchPostgres.Unique();
        var odoo = new FakeOdoo(postgres);
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));
        OdooDatabaseResource Resource() => new(odoo, postgres.Cluster, Spec(name, "base", "sale") with { Lang = "fr_FR", Country = "FR" }) { DependsOn = [database.Id] };

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, database, Resource());
        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());

        Assert.Equal($"would install base, sale in database {name} (odoo-bin -i, without demo data, language fr_FR); set the main company's country of database {name} to FR", check.Message);
        Assert.Equal((ResourceStatus.Changed, ResourceStatus.Unchanged), (first.Status, second.Status));
        Assert.Equal(3, odoo.Calls.Count);
        Assert.Equal(
            ["-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin", "-c", "/etc/odoo.conf", "-d", name, "-i", "base", "--without-demo=all", "--load-language=fr_FR", "--stop-after-init"],
            odoo.Calls[0]);
        Assert.Equal(["-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin", "shell", "-c", "/etc/odoo.conf", "-d", name, "--log-level=warn"], odoo.Calls[1]);
        var shell = odoo.Specs[1];
        Assert.Equal(OdooDatabaseResource.CountryScript, shell.StandardInput);
        Assert.Equal("FR", shell.Environment["ODOOFLEET_COUNTRY"]);
        Assert.DoesNotContain("FR", shell.StandardInput, StringComparison.Ordinal);
        Assert.Equal(
            ["-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin", "-c", "/etc/odoo.conf", "-d", name, "-i", "sale", "--without-demo=all", "--stop-after-init"],
            odoo.Calls[2]);
    }

    [Fact]
    public async Task Converge_NewDatabaseWithLangOnly_OneRunLoadsTheLanguage()
    {
        SkipWithoutPostgres();
        var name = "oft-lang-" + ScratchPostgres.Unique();
        var odoo = new FakeOdoo(postgres);
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));

        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, new OdooDatabaseResource(odoo, postgres.Cluster, Spec(name, "base", "crm") with { Lang = "es_419" }));

        var call = Assert.Single(odoo.Calls);
        Assert.Equal(["-i", "base,crm", "--without-demo=all", "--load-language=es_419", "--stop-after-init"], call[^5..]);
    }

    [Fact]
    public async Task Converge_CountryStepFailedOnce_NextConvergeSetsItThenInstallsTheRestWithoutReloadingTheLanguage()
    {
        SkipWithoutPostgres();
        var name = "oft-resume-" + ScratchPostgres.Unique();
        var odoo = new FakeOdoo(postgres) { FailShell = true };
        var database = new PgDatabaseResource(ScratchPostgres.Runner, postgres.Cluster, new PgDatabaseSpec(name, "postgres"));
        OdooDatabaseResource Resource() => new(odoo, postgres.Cluster, Spec(name, "base", "sale") with { Lang = "sr@latin", Country = "RS" }) { DependsOn = [database.Id] };

        var failed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());
        odoo.FailShell = false;
        var resumed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, database, Resource());

        Assert.Equal(ResourceStatus.Failed, failed.Status);
        Assert.Contains($"setting the main company's country of database {name} to RS failed", failed.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Changed, resumed.Status);
        Assert.Equal(4, odoo.Calls.Count);
        Assert.Contains("shell", odoo.Calls[2]);
        Assert.Equal(["-i", "sale", "--without-demo=all", "--stop-after-init"], odoo.Calls[3][^4..]);
    }

    [Theory]
    [InlineData("fr-FR", null)]
    [InlineData("fr_FR --dev=all", null)]
    [InlineData("fr_FR", "fr")]
    [InlineData("fr_FR", "FRA")]
    public void Create_BadLangOrCountry_Refused(string lang, string? country) =>
        Assert.Throws<SpecValidationException>(() => new OdooDatabaseResource(
            new NothingMayRun(), PostgresCluster.Default, Spec("acme", "base") with { Lang = lang, Country = country }));

    [Theory]
    [InlineData("x;drop", "base")]
    [InlineData("acme", "base --dev=all")]
    [InlineData("acme", "")]
    public void Create_BadSpec_Refused(string database, string module) =>
        Assert.Throws<SpecValidationException>(() => new OdooDatabaseResource(new NothingMayRun(), PostgresCluster.Default, Spec(database, module)));

    /// <summary>psql runs for real; `runuser -u odoo -- python odoo-bin ...` is answered as Odoo would.</summary>
    private sealed class FakeOdoo(ScratchPostgres postgres) : ICommandRunner
    {
        public List<List<string>> Calls { get; } = [];

        public List<CommandSpec> Specs { get; } = [];

        public bool Fail { get; init; }

        public bool FailShell { get; set; }

        public async Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            if (spec.Program != "runuser" || !spec.Arguments.Contains("/opt/odoo/current/odoo-bin"))
            {
                return await ScratchPostgres.Runner.RunAsync(spec, ct);
            }

            var arguments = spec.Arguments.ToList();
            Calls.Add(arguments);
            Specs.Add(spec);
            if (Fail)
            {
                return new CommandResult(1, "", "KeyError: 'nonexistent'", false);
            }

            if (arguments.Contains("shell"))
            {
                if (FailShell)
                {
                    return new CommandResult(1, "", "psycopg2.OperationalError: server closed the connection", false);
                }

                // What the country script leaves behind in Odoo: its marker parameter.
                await postgres.Psql.In(arguments[arguments.IndexOf("-d") + 1]).ExecuteAsync(
                    "CREATE TABLE IF NOT EXISTS ir_config_parameter (key text PRIMARY KEY, value text);\n"
                    + "INSERT INTO ir_config_parameter VALUES ('odoofleet.country', :'country') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n",
                    new Dictionary<string, string> { ["country"] = spec.Environment["ODOOFLEET_COUNTRY"] }, ct);
                return new CommandResult(0, "", "", false);
            }

            var database = arguments[arguments.IndexOf("-d") + 1];
            var modules = arguments[arguments.IndexOf("-i") + 1].Split(',');
            await postgres.Psql.In(database).ExecuteAsync(
                "CREATE TABLE IF NOT EXISTS ir_module_module (name text PRIMARY KEY, state text NOT NULL);\n"
                + string.Concat(modules.Select(m => $"INSERT INTO ir_module_module VALUES ('{m}', 'installed') ON CONFLICT DO NOTHING;\n")),
                new Dictionary<string, string>(), ct);
            return new CommandResult(0, "", "", false);
        }
    }
}
