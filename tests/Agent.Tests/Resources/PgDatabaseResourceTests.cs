using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

[Collection(ScratchPostgresGroup.Name)]
public sealed class PgDatabaseResourceTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    private PgDatabaseResource Database(PgDatabaseSpec spec) => new(ScratchPostgres.Runner, postgres.Cluster, spec);

    private async Task<string> CreateOwnerAsync()
    {
        var owner = "oft_owner_" + ScratchPostgres.Unique();
        await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct, new PgRoleResource(ScratchPostgres.Runner, postgres.Cluster, new PgRoleSpec(owner, Login: true, CreateDb: true)));
        return owner;
    }

    private Task<string> DescribeAsync(string name) => postgres.ScalarAsync(
        """
        SELECT concat_ws(',', pg_encoding_to_char(d.encoding), d.datcollate, r.rolname)
        FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = :'name';

        """,
        Ct, new Dictionary<string, string> { ["name"] = name });

    [Fact]
    public async Task Converge_NewDatabaseWithOdooName_CreatedThenSecondRunUnchanged()
    {
        SkipWithoutPostgres();
        var owner = await CreateOwnerAsync();

        // Uppercase and '-' are valid Odoo database names and need identifier quoting.
        var name = "Oft-Tenant_" + ScratchPostgres.Unique();
        var spec = new PgDatabaseSpec(name, owner);

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(spec));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(spec));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal($"create database {name} (owner {owner}, UTF8, template template0, LC_COLLATE C)", first.Message);
        Assert.Equal($"UTF8,C,{owner}", await DescribeAsync(name));
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Fact]
    public async Task Converge_OwnerChangedByHand_CheckReportsThenApplyPutsBack()
    {
        SkipWithoutPostgres();
        var owner = await CreateOwnerAsync();
        var name = "oft_owner_drift_" + ScratchPostgres.Unique();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(new PgDatabaseSpec(name, owner)));
        await postgres.Psql.ExecuteAsync("ALTER DATABASE :\"name\" OWNER TO postgres;\n", new Dictionary<string, string> { ["name"] = name }, Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Database(new PgDatabaseSpec(name, owner)));
        var stillDrifted = await DescribeAsync(name);
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(new PgDatabaseSpec(name, owner)));
        var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(new PgDatabaseSpec(name, owner)));

        Assert.Equal($"would change owner of database {name}: postgres -> {owner}", check.Message);
        Assert.EndsWith(",postgres", stillDrifted, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.EndsWith("," + owner, await DescribeAsync(name), StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
    }

    [Fact]
    public async Task Converge_ExistingDatabaseWithOtherEncoding_FailsAndLeavesItAlone()
    {
        SkipWithoutPostgres();
        var owner = await CreateOwnerAsync();
        var name = "oft_ascii_" + ScratchPostgres.Unique();
        await postgres.Psql.ExecuteAsync(
            "CREATE DATABASE :\"name\" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;\n",
            new Dictionary<string, string> { ["name"] = name }, Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Database(new PgDatabaseSpec(name, owner)));
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Database(new PgDatabaseSpec(name, owner)));

        Assert.Equal(ResourceStatus.Failed, check.Status);
        Assert.Equal(ResourceStatus.Failed, apply.Status);
        Assert.StartsWith($"database {name} exists with encoding SQL_ASCII, the spec wants UTF8", apply.Message, StringComparison.Ordinal);
        Assert.Equal("SQL_ASCII,C,postgres", await DescribeAsync(name));
    }

    [Fact]
    public async Task Converge_OwnerRoleMissing_FailsWithPostgresMessage()
    {
        SkipWithoutPostgres();
        var name = "oft_orphan_" + ScratchPostgres.Unique();

        var result = await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct, Database(new PgDatabaseSpec(name, "oft_no_such_role_" + ScratchPostgres.Unique())));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("role \"oft_no_such_role_", result.Message, StringComparison.Ordinal);
        Assert.Equal("", await DescribeAsync(name));
    }

    [Theory]
    [InlineData("db;drop", "odoo", "postgres.databases: name")]
    [InlineData("db\n", "odoo", "postgres.databases: name")]
    [InlineData("a'b", "odoo", "postgres.databases: name")]
    [InlineData("{db}", "odoo", "postgres.databases: name")]
    [InlineData("-db", "odoo", "postgres.databases: name")]
    [InlineData("_db", "odoo", "postgres.databases: name")]
    [InlineData("db.prod", "odoo", "postgres.databases: name")]
    [InlineData("prod", "odoo\"", "postgres.databases.prod.owner")]
    [InlineData("prod", "Odoo", "postgres.databases.prod.owner")]
    public void Constructor_HostileNames_RejectedBeforeAnythingRuns(string name, string owner, string field)
    {
        var runner = new NothingMayRun();

        var error = Assert.Throws<SpecValidationException>(() =>
            new PgDatabaseResource(runner, PostgresCluster.Default, new PgDatabaseSpec(name, owner)));

        Assert.StartsWith(field, Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Equal(0, runner.Calls);
    }

    [Theory]
    [InlineData("utf8", null, "encoding")]
    [InlineData("UTF8'", null, "encoding")]
    [InlineData("UTF8", "C'; DROP", "lc_collate")]
    [InlineData("UTF8", "en US", "lc_collate")]
    public void Validate_BadEncodingOrCollation_NamesTheField(string encoding, string? collate, string field)
    {
        var errors = (new PgDatabaseSpec("prod", "odoo", encoding) { LcCollate = collate }).Validate();

        Assert.StartsWith($"postgres.databases.prod.{field}:", Assert.Single(errors), StringComparison.Ordinal);
    }
}
