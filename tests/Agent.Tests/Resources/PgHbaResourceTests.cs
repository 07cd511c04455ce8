using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

[Collection(ScratchPostgresGroup.Name)]
public sealed class PgHbaResourceTests(ScratchPostgres postgres)
{
    /// <summary>
    /// What the tests converge to; keeps scram over 127.0.0.1 because other tests of the
    /// collection log in that way.
    /// </summary>
    private static readonly PgHbaSpec Spec = new(
    [
        new PgHbaRule("local", "all", "all", null, "peer"),
        new PgHbaRule("host", "all", "all", "127.0.0.1/32", "scram-sha-256"),
        new PgHbaRule("host", "all", "all", "::1/128", "scram-sha-256"),
        new PgHbaRule("hostssl", "tenant-a,tenant_b", "+odoo_users", "10.20.0.0/16", "cert"),
        new PgHbaRule("host", "all", "all", "all", "reject"),
    ]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    private PgHbaResource Hba(PgHbaSpec spec) => new(ScratchPostgres.Runner, postgres.Cluster, TimeProvider.System, spec);

    private Task<string> HbaFileAsync() => postgres.ScalarAsync("SHOW hba_file;\n", Ct);

    [Fact]
    public void Render_Rules_ByteStableWithAgentRuleFirst()
    {
        var text = PgHbaResource.Render(PostgresCluster.Default, Spec);

        Assert.Equal(
            """
            # pg_hba.conf of PostgreSQL 15/main, managed by OdooFleet: the agent rewrites this file
            # and reports lines added by hand as drift; change the host spec instead.
            # The first rule is the agent's own access (as postgres over the Unix socket).
            #
            # TYPE  DATABASE        USER            ADDRESS                 METHOD
            local   all             postgres                                peer
            local   all             all                                     peer
            host    all             all             127.0.0.1/32            scram-sha-256
            host    all             all             ::1/128                 scram-sha-256
            hostssl tenant-a,tenant_b +odoo_users     10.20.0.0/16            cert
            host    all             all             all                     reject

            """.ReplaceLineEndings("\n"),
            text);
        Assert.Equal(text, PgHbaResource.Render(PostgresCluster.Default, Spec));
    }

    [Theory]
    [InlineData("hosts", "all", "all", "10.0.0.0/8", "md5", "postgres.hba[0].type")]
    [InlineData("host", "all\n", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "db;x", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "a'b", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "\"all\"", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "{db}", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "db #", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "a,,b", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "@file", "all", "10.0.0.0/8", "md5", "postgres.hba[0].database")]
    [InlineData("host", "all", "odoo#", "10.0.0.0/8", "md5", "postgres.hba[0].user")]
    [InlineData("host", "all", "/^odoo", "10.0.0.0/8", "md5", "postgres.hba[0].user")]
    [InlineData("host", "all", "Odoo", "10.0.0.0/8", "md5", "postgres.hba[0].user")]
    [InlineData("host", "all", "all", "10.0.0.1/8", "md5", "postgres.hba[0].address: '10.0.0.1/8' is not in canonical form (write \"10.0.0.0/8\")")]
    [InlineData("host", "all", "all", "10.0.0.300/8", "md5", "postgres.hba[0].address: '10.0.0.300/8' is not an address/prefix")]
    [InlineData("host", "all", "all", "10.0.0.0", "md5", "postgres.hba[0].address")]
    [InlineData("host", "all", "all", "10.0.0.0/33", "md5", "postgres.hba[0].address")]
    [InlineData("host", "all", "all", "example.com", "md5", "postgres.hba[0].address")]
    [InlineData("host", "all", "all", null, "md5", "postgres.hba[0].address: is missing")]
    [InlineData("local", "all", "all", "127.0.0.1/32", "peer", "postgres.hba[0].address: local rules")]
    [InlineData("local", "all", "all", null, "trust", "postgres.hba[0].method")]
    [InlineData("local", "all", "all", null, "ident", "postgres.hba[0].method")]
    [InlineData("local", "all", "all", null, "peer map=x", "postgres.hba[0].method")]
    [InlineData("host", "all", "all", "10.0.0.0/8", "peer", "postgres.hba[0].method: peer works only for local")]
    [InlineData("host", "all", "all", "10.0.0.0/8", "cert", "postgres.hba[0].method: cert works only for hostssl")]
    public void Constructor_BadRule_RejectedBeforeAnythingRuns(string type, string database, string user, string? address, string method, string expected)
    {
        var runner = new NothingMayRun();

        var error = Assert.Throws<SpecValidationException>(() => new PgHbaResource(
            runner, PostgresCluster.Default, TimeProvider.System, new PgHbaSpec([new PgHbaRule(type, database, user, address, method)])));

        Assert.StartsWith(expected, Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Equal(0, runner.Calls);
    }

    [Fact]
    public async Task Converge_Spec_WrittenOwnedReloadedThenUnchanged()
    {
        SkipWithoutPostgres();
        var path = await HbaFileAsync();

        // Starts from a file the agent did not write, so the first run always rewrites it.
        await File.AppendAllTextAsync(path, "# a comment added by hand\n", Ct);
        var before = await File.ReadAllTextAsync(path, Ct);

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal($"update {path}: content; reloaded PostgreSQL {postgres.Cluster}", first.Message);
        Assert.Equal(PgHbaResource.Render(postgres.Cluster, Spec), await File.ReadAllTextAsync(path, Ct));
        Assert.Equal(before, await File.ReadAllTextAsync(path + ".previous", Ct));
        Assert.Equal(FileModes.Mode0640, File.GetUnixFileMode(path));
        Assert.Equal(new Ownership("postgres", "postgres"), await Ownership.ReadAsync(ScratchPostgres.Runner, path, Ct));
        Assert.Equal("0", await postgres.ScalarAsync("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL;\n", Ct));
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Fact]
    public async Task Converge_LineAddedByHand_CheckShowsDiffThenApplyRemovesIt()
    {
        SkipWithoutPostgres();
        var path = await HbaFileAsync();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));
        await File.AppendAllTextAsync(path, "host all all 0.0.0.0/0 trust\n", Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Hba(Spec));
        var afterCheck = await File.ReadAllTextAsync(path, Ct);
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));

        Assert.Equal($"would update {path}: content", check.Message);
        Assert.NotNull(check.Detail);
        Assert.StartsWith($"--- a{path}\n+++ b{path}\n@@ ", check.Detail, StringComparison.Ordinal);
        Assert.Contains("\n-host all all 0.0.0.0/0 trust\n", check.Detail, StringComparison.Ordinal);
        Assert.EndsWith("trust\n", afterCheck, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.Equal(PgHbaResource.Render(postgres.Cluster, Spec), await File.ReadAllTextAsync(path, Ct));
        Assert.Equal("0", await postgres.ScalarAsync("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust';\n", Ct));
    }

    [Fact]
    public async Task Converge_RulesPostgresRejects_PreviousFileBackAndPeerStillWorks()
    {
        SkipWithoutPostgres();
        var path = await HbaFileAsync();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));
        var good = await File.ReadAllBytesAsync(path, Ct);
        var loadedBefore = await postgres.ScalarAsync("SELECT pg_conf_load_time();\n", Ct);
        var broken = PgHbaResource.Render(postgres.Cluster, Spec)
            + "host    all             all             10.0.0.0/8              bogus\n"
            + "host    all             all             10.0.0.300/8            md5\n";

        var result = await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct, PgHbaResource.FromRenderedText(ScratchPostgres.Runner, postgres.Cluster, TimeProvider.System, broken));

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.StartsWith($"PostgreSQL rejected the new {path} (line 12 `host ", result.Message, StringComparison.Ordinal);
        Assert.Contains("bogus`: invalid authentication method \"bogus\"", result.Message, StringComparison.Ordinal);
        Assert.Contains("line 13 `", result.Message, StringComparison.Ordinal);
        Assert.Contains("the previous file is back and the server was not reloaded", result.Message, StringComparison.Ordinal);
        Assert.Equal(good, await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(FileModes.Mode0640, File.GetUnixFileMode(path));
        Assert.Equal(new Ownership("postgres", "postgres"), await Ownership.ReadAsync(ScratchPostgres.Runner, path, Ct));
        Assert.Equal(loadedBefore, await postgres.ScalarAsync("SELECT pg_conf_load_time();\n", Ct));
        Assert.Equal("1", await postgres.ScalarAsync("SELECT 1;\n", Ct));
        Assert.Equal(ResourceStatus.Unchanged, (await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec))).Status);
    }

    [Fact]
    public async Task Converge_ModeAndOwnerChangedByHand_FixedInPlaceWithoutRewrite()
    {
        SkipWithoutPostgres();
        var path = await HbaFileAsync();
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));
        var previous = await File.ReadAllBytesAsync(path + ".previous", Ct);
        File.SetUnixFileMode(path, FileModes.Mode0644);
        await new Ownership("root", "postgres").ApplyAsync(ScratchPostgres.Runner, path, Ct);

        var result = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Hba(Spec));

        Assert.Equal($"update {path}: mode 0644 -> 0640, owner root:postgres -> postgres:postgres", result.Message);
        Assert.Null(result.Detail);
        Assert.Equal(FileModes.Mode0640, File.GetUnixFileMode(path));
        Assert.Equal(new Ownership("postgres", "postgres"), await Ownership.ReadAsync(ScratchPostgres.Runner, path, Ct));
        Assert.Equal(previous, await File.ReadAllBytesAsync(path + ".previous", Ct));
    }
}
