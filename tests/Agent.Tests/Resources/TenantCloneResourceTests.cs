using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// Cloning a tenant on a real PostgreSQL cluster (pg_dump, pg_restore, dropdb, ALTER DATABASE) and
/// a real file system (cp -a of the filestore under a temp root). Odoo cannot run here: the runner
/// answers `odoo-bin neutralize` the way Odoo leaves a database (what the installed modules'
/// neutralize.sql do, then database.is_neutralized) and records the exact command line. Interrupted
/// runs are simulated by failing one step once.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantCloneResourceTests(ScratchPostgres postgres) : IDisposable
{
    private const string SourceUuid = "8d3b6f1e-0000-4000-8000-00000000c10e";
    private const string OdooBin = "/opt/odoo/current/odoo-bin";

    private readonly TempDirectory root = new();
    private readonly string source = "s" + ScratchPostgres.Unique();
    private readonly string clone = "c" + ScratchPostgres.Unique();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HostPaths Paths => new(root.Path);

    public void Dispose() => root.Dispose();

    private TenantCloneResource Resource(ICommandRunner runner, bool neutralize = false) => new(
        Paths, runner, postgres.Cluster,
        new TenantCloneSpec(clone, source, neutralize, "/var/lib/odoo/filestore", TenantCloneSpec.DefaultWorkRoot, "/opt/odoo/current/.venv/bin/python", OdooBin, "/etc/odoo.conf", "odoo"));

    private string FilestoreOf(string name) => Paths.Resolve($"/var/lib/odoo/filestore/{name}");

    private async Task<string> InAsync(string database, string sql) =>
        (await postgres.Psql.In(database).QueryAsync(sql, new Dictionary<string, string>(), 1, Ct)) is [[var value], ..] ? value : "";

    private async Task<IReadOnlyList<string>> DatabasesAsync() =>
        [.. (await postgres.Psql.QueryAsync(
                "SELECT datname FROM pg_database WHERE datname LIKE :'prefix' ORDER BY 1;\n", new Dictionary<string, string> { ["prefix"] = clone + "%" }, 1, Ct))
            .Select(r => r[0])];

    /// <summary>A source tenant with "live" rows (cron, mail server, payment provider), a data row, a uuid and a filestore file.</summary>
    private async Task CreateSourceAsync()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        await postgres.ExecuteAsync("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'odoo') THEN CREATE ROLE odoo LOGIN; END IF; END $$;\n", Ct);
        await postgres.ExecuteAsync($"CREATE DATABASE \"{source}\" OWNER odoo;\n", Ct);
        await postgres.Psql.In(source).ExecuteAsync(
            $"""
            SET ROLE odoo;
            CREATE TABLE ir_module_module (name text PRIMARY KEY, state text NOT NULL);
            INSERT INTO ir_module_module VALUES ('base', 'installed'), ('payment', 'installed');
            CREATE TABLE ir_cron (id serial PRIMARY KEY, active boolean NOT NULL);
            INSERT INTO ir_cron (active) VALUES (true), (true);
            CREATE TABLE ir_mail_server (id serial PRIMARY KEY, active boolean NOT NULL);
            INSERT INTO ir_mail_server (active) VALUES (true);
            CREATE TABLE payment_provider (id serial PRIMARY KEY, name text NOT NULL, state text NOT NULL);
            INSERT INTO payment_provider (name, state) VALUES ('Stripe', 'enabled'), ('Demo', 'test');
            CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text NOT NULL);
            INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', '{SourceUuid}'), ('database.secret', 'source-secret');
            CREATE TABLE res_partner (name text NOT NULL);
            INSERT INTO res_partner VALUES ('Acme');

            """,
            new Dictionary<string, string>(), Ct);
        var attachment = Path.Combine(FilestoreOf(source), "4f", "4f1c");
        Directory.CreateDirectory(Path.GetDirectoryName(attachment)!);
        await File.WriteAllTextAsync(attachment, "an attachment", Ct);
    }

    [Fact]
    public async Task Apply_Source_CopyHasDataFileAndFreshUuidSourceUntouchedAndSecondRunUnchanged()
    {
        await CreateSourceAsync();
        var runner = new CloneRunner(postgres);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Resource(runner));
        Assert.Contains($"would clone tenant {source} as {clone}", check.Message, StringComparison.Ordinal);
        Assert.Contains("NOT neutralized", check.Message, StringComparison.Ordinal);
        Assert.Empty(runner.Steps);

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Equal(["dropdb", "pg_dump", "pg_restore", "cp"], runner.Steps);
        Assert.Equal([clone], await DatabasesAsync());
        Assert.Equal("Acme", await InAsync(clone, "SELECT name FROM res_partner;\n"));
        Assert.Equal("odoo", await InAsync("postgres", $"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{clone}';\n"));
        var uuid = await InAsync(clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid';\n");
        Assert.Matches("^[0-9a-f-]{36}$", uuid);
        Assert.NotEqual(SourceUuid, uuid);
        Assert.NotEqual("source-secret", await InAsync(clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.secret';\n"));
        Assert.Equal("an attachment", await File.ReadAllTextAsync(Path.Combine(FilestoreOf(clone), "4f", "4f1c"), Ct));
        Assert.False(Directory.Exists(FilestoreOf(clone) + ".clone-partial"));
        Assert.Empty(Directory.GetFiles(Paths.Resolve(TenantCloneSpec.DefaultWorkRoot)));

        // Not neutralized: the copy's crons and mail server are live, as the command's help warns.
        Assert.Equal("2", await InAsync(clone, "SELECT count(*) FROM ir_cron WHERE active;\n"));
        Assert.Equal(SourceUuid, await InAsync(source, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid';\n"));
        Assert.Equal("an attachment", await File.ReadAllTextAsync(Path.Combine(FilestoreOf(source), "4f", "4f1c"), Ct));
    }

    [Fact]
    public async Task Apply_Neutralize_OdooBinNeutralizesTheScratchDatabaseBeforeItBecomesTheTenant()
    {
        await CreateSourceAsync();
        var runner = new CloneRunner(postgres);

        var result = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner, neutralize: true));

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains("neutralized (database.is_neutralized = true)", result.Message, StringComparison.Ordinal);
        Assert.Equal(["dropdb", "pg_dump", "pg_restore", "odoo-bin neutralize", "cp"], runner.Steps);
        var call = Assert.Single(runner.OdooCalls);
        Assert.Equal(
            ["-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", OdooBin, "neutralize", "-c", "/etc/odoo.conf", "-d", $"{clone}_clone"],
            call.Arguments);
        Assert.Equal([$"{clone}_clone"], call.DatabasesThen);

        Assert.Equal("0", await InAsync(clone, "SELECT count(*) FROM ir_cron WHERE active;\n"));
        Assert.Equal("0", await InAsync(clone, "SELECT count(*) FROM ir_mail_server WHERE active;\n"));
        Assert.Equal("Demo=test,Stripe=disabled", await InAsync(clone, "SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM payment_provider;\n"));
        Assert.Equal("true", await InAsync(clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized';\n"));

        // The source keeps serving as it was.
        Assert.Equal("2", await InAsync(source, "SELECT count(*) FROM ir_cron WHERE active;\n"));
        Assert.Equal("Demo=test,Stripe=enabled", await InAsync(source, "SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM payment_provider;\n"));
        Assert.Equal("0", await InAsync(source, "SELECT count(*) FROM ir_config_parameter WHERE key = 'database.is_neutralized';\n"));
    }

    [Fact]
    public async Task Apply_InterruptedAfterTheRestore_NeverServedAndTheNextConvergeStartsAgain()
    {
        await CreateSourceAsync();
        var runner = new CloneRunner(postgres) { FailOnce = "cp" };

        var interrupted = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner, neutralize: true));

        Assert.Equal(ResourceStatus.Failed, interrupted.Status);
        Assert.Equal([$"{clone}_clone"], await DatabasesAsync());
        Assert.False(Directory.Exists(FilestoreOf(clone)));

        // Half-made leftovers of another kind too: a partial filestore copy and a dump.
        Directory.CreateDirectory(Path.Combine(FilestoreOf(clone) + ".clone-partial", "4f"));
        await File.WriteAllTextAsync(Path.Combine(Paths.Resolve(TenantCloneSpec.DefaultWorkRoot), clone + ".dump"), "truncated", Ct);
        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Resource(runner, neutralize: true));
        Assert.Contains($"discard what an interrupted clone left (database {clone}_clone, /var/lib/odoo/filestore/{clone}.clone-partial", check.Message, StringComparison.Ordinal);

        runner.Clear();
        var resumed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner, neutralize: true));

        Assert.Equal(ResourceStatus.Changed, resumed.Status);
        Assert.Equal(["dropdb", "pg_dump", "pg_restore", "odoo-bin neutralize", "cp"], runner.Steps);
        Assert.Equal([clone], await DatabasesAsync());
        Assert.Equal("1", await InAsync(clone, "SELECT count(*) FROM res_partner;\n"));
        Assert.Equal("true", await InAsync(clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized';\n"));
        Assert.Equal("an attachment", await File.ReadAllTextAsync(Path.Combine(FilestoreOf(clone), "4f", "4f1c"), Ct));
        Assert.False(Directory.Exists(FilestoreOf(clone) + ".clone-partial"));
        Assert.Equal(ResourceStatus.Unchanged, (await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner, neutralize: true))).Status);
    }

    [Fact]
    public async Task Apply_NeutralizeFails_TheCopyIsNotServed()
    {
        await CreateSourceAsync();
        var runner = new CloneRunner(postgres) { FailOnce = "odoo-bin neutralize" };

        var failed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner, neutralize: true));

        Assert.Equal(ResourceStatus.Failed, failed.Status);
        Assert.Contains("odoo-bin neutralize failed, so the copy is not served", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(clone, await DatabasesAsync());
        Assert.False(Directory.Exists(FilestoreOf(clone)));
    }

    [Fact]
    public async Task Converge_SourceNotOnTheHost_FailsSayingSo()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var runner = new CloneRunner(postgres);

        var failed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Failed, failed.Status);
        Assert.Contains($"the source database {source} is not on this host", failed.Message, StringComparison.Ordinal);
        Assert.Empty(runner.Steps);
        Assert.Empty(await DatabasesAsync());
    }

    [Theory]
    [InlineData("acme", "acme")]
    [InlineData("acme_x", "beta")]
    [InlineData("acme", "beta;drop")]
    [InlineData("acme", "")]
    public void Create_BadSpec_Refused(string name, string sourceName)
    {
        var runner = new NothingMayRun();
        Assert.Throws<SpecValidationException>(() => new TenantCloneResource(
            new HostPaths("/"), runner, PostgresCluster.Default,
            new TenantCloneSpec(name, sourceName, false, "/var/lib/odoo/filestore", TenantCloneSpec.DefaultWorkRoot, "/usr/bin/python3", OdooBin, "/etc/odoo.conf", "odoo")));
        Assert.Equal(0, runner.Calls);
    }

    /// <summary>
    /// PostgreSQL programs and cp run for real; `runuser -u odoo -- python odoo-bin neutralize` is
    /// answered as Odoo's neutralize leaves a database (recording the call and which of the clone's
    /// databases existed at that moment). Each step is recorded; FailOnce fails one step once.
    /// </summary>
    private sealed class CloneRunner(ScratchPostgres postgres) : ICommandRunner
    {
        private readonly List<string> steps = [];

        public string? FailOnce { get; set; }

        public IReadOnlyList<string> Steps => steps;

        public List<(IReadOnlyList<string> Arguments, IReadOnlyList<string> DatabasesThen)> OdooCalls { get; } = [];

        public void Clear() => steps.Clear();

        public async Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            var program = spec.Program == "runuser" ? spec.Arguments[3] : spec.Program;
            if (program == "psql")
            {
                return await ScratchPostgres.Runner.RunAsync(spec, ct);
            }

            var isOdoo = spec.Program == "runuser" && spec.Arguments.Contains(OdooBin);
            var step = isOdoo ? $"odoo-bin {spec.Arguments[5]}" : program;
            steps.Add(step);
            if (FailOnce == step)
            {
                FailOnce = null;
                return new CommandResult(1, "", $"{step}: failed on purpose", false);
            }

            if (!isOdoo)
            {
                return await ScratchPostgres.Runner.RunAsync(spec, ct);
            }

            var database = spec.Arguments[spec.Arguments.ToList().IndexOf("-d") + 1];
            var then = (await postgres.Psql.QueryAsync(
                    "SELECT datname FROM pg_database WHERE datname LIKE :'prefix' ORDER BY 1;\n",
                    new Dictionary<string, string> { ["prefix"] = database.Split('_')[0] + "%" }, 1, ct))
                .Select(r => r[0]).ToList();
            OdooCalls.Add(([.. spec.Arguments], then));

            // As the Odoo role: base's and payment's neutralize.sql (the installed modules), as Odoo 18
            // ships them in substance, and the fixture's creation of ir_config_parameter where it lacks.
            await postgres.Psql.In(database).ExecuteAsync(
                """
                SET ROLE odoo;
                CREATE TABLE IF NOT EXISTS ir_config_parameter (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text NOT NULL);
                CREATE TABLE neutralize_probe (id int);
                DROP TABLE neutralize_probe;
                UPDATE ir_cron SET active = false;
                UPDATE ir_mail_server SET active = false;
                UPDATE payment_provider SET state = 'disabled' WHERE state NOT IN ('test', 'disabled');
                INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', true) ON CONFLICT (key) DO UPDATE SET value = true;

                """,
                new Dictionary<string, string>(), ct);
            return new CommandResult(0, "", "", false);
        }
    }
}
