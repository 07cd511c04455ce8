using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

[Collection(ScratchPostgresGroup.Name)]
public sealed class PgSettingsResourceTests(ScratchPostgres postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void SkipWithoutPostgres() => Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");

    private PgSettingsResource Settings(params (string Name, string Value)[] settings) =>
        new(ScratchPostgres.Runner, postgres.Cluster, TimeProvider.System, new PgSettingsSpec(settings.ToDictionary(s => s.Name, s => s.Value)));

    private Task<string> ShowAsync(string name) =>
        postgres.ScalarAsync("SELECT current_setting(:'name');\n", Ct, new Dictionary<string, string> { ["name"] = name });

    private Task<string> StartTimeAsync() => postgres.ScalarAsync("SELECT pg_postmaster_start_time();\n", Ct);

    private async Task<string> AutoConfAsync() =>
        await File.ReadAllTextAsync(Path.Combine(await ShowAsync("data_directory"), "postgresql.auto.conf"), Ct);

    /// <summary>A value for <paramref name="name"/> that differs from the current one.</summary>
    private async Task<string> OtherThanCurrentAsync(string name, string one, string other) =>
        await ShowAsync(name) == one ? other : one;

    [Theory]
    [InlineData("4GB", "integer", "kB", "4194304")]
    [InlineData("4194304", "integer", "kB", "4194304")]
    [InlineData("1.5GB", "integer", "kB", "1572864")]
    [InlineData("2 MB", "integer", "kB", "2048")]
    [InlineData(" 64MB ", "integer", "kB", "65536")]
    [InlineData("128MB", "integer", "8kB", "16384")]
    [InlineData("16384", "integer", "8kB", "16384")]
    [InlineData("1GB", "integer", "MB", "1024")]
    [InlineData("1536kB", "integer", "MB", "2")]
    [InlineData("512kB", "integer", "MB", "0")]
    [InlineData("10s", "integer", "ms", "10000")]
    [InlineData("1min", "integer", "s", "60")]
    [InlineData("1500ms", "integer", "s", "2")]
    [InlineData("1d", "integer", "min", "1440")]
    [InlineData("-1", "integer", "ms", "-1")]
    [InlineData("100", "integer", "", "100")]
    [InlineData("0x10", "integer", "", "16")]
    [InlineData("0x1e", "integer", "", "30")]
    [InlineData("0x10", "real", "", "16")]
    [InlineData("010", "integer", "", "8")]
    [InlineData("1e3", "integer", "", "1000")]
    [InlineData("2.5", "integer", "", "2")]
    [InlineData("1.5555s", "real", "ms", "1556")]
    [InlineData("2ms", "real", "ms", "2")]
    [InlineData("0.9", "real", "", "0.9")]
    [InlineData("0.90", "real", "", "0.9")]
    [InlineData("0.123456789", "real", "", "0.123457")]
    [InlineData("on", "bool", "", "on")]
    [InlineData("TRUE", "bool", "", "on")]
    [InlineData("ye", "bool", "", "on")]
    [InlineData("1", "bool", "", "on")]
    [InlineData("of", "bool", "", "off")]
    [InlineData("No", "bool", "", "off")]
    [InlineData("0", "bool", "", "off")]
    [InlineData("REPLICA", "enum", "", "replica")]
    [InlineData("\"$user\", public", "string", "", "\"$user\", public")]
    [InlineData("ISO, MDY", "string", "", "ISO, MDY")]
    [InlineData("12XB", "integer", "8kB", null)]
    [InlineData("12kb", "integer", "kB", null)]
    [InlineData("10s", "integer", "kB", null)]
    [InlineData("10MB", "integer", "ms", null)]
    [InlineData("10MB", "integer", "", null)]
    [InlineData("1.5ms", "real", "", null)]
    [InlineData("08", "integer", "", null)]
    [InlineData("3000000000", "integer", "", null)]
    [InlineData("", "integer", "kB", null)]
    [InlineData("o", "bool", "", null)]
    [InlineData("maybe", "bool", "", null)]
    public void Normalize_Value_AsPostgresParsesIt(string value, string varType, string unit, string? expected) =>
        Assert.Equal(expected, PgSettingValue.Normalize(value, varType, unit));

    [Fact]
    public async Task Converge_WorkMem_ReloadsWithoutRestartThenUnchanged()
    {
        SkipWithoutPostgres();
        var value = await OtherThanCurrentAsync("work_mem", "37MB", "41MB");
        var started = await StartTimeAsync();

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));
        var effective = await ShowAsync("work_mem");
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal($"ALTER SYSTEM SET work_mem = {value}; reloaded (work_mem: a reload is enough)", first.Message);
        Assert.Equal(value, effective);
        Assert.Equal(started, await StartTimeAsync());
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Fact]
    public async Task Converge_MaxConnections_RestartsClusterAndNewValueIsEffective()
    {
        SkipWithoutPostgres();
        var value = await OtherThanCurrentAsync("max_connections", "90", "110");
        var started = await StartTimeAsync();

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Settings(("max_connections", value), ("work_mem", await ShowAsync("work_mem"))));
        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("max_connections", value)));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("max_connections", value)));

        Assert.Contains($"-> {value} (restart: context postmaster)", check.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("work_mem", check.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(
            $"ALTER SYSTEM SET max_connections = {value}; restarted PostgreSQL {postgres.Cluster} (max_connections has context postmaster)", first.Message);
        Assert.NotEqual(started, await StartTimeAsync());
        Assert.Equal(value, await ShowAsync("max_connections"));
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Fact]
    public async Task Converge_BadSize_FailsAndChangesNothing()
    {
        SkipWithoutPostgres();
        var autoConf = await AutoConfAsync();
        var sharedBuffers = await ShowAsync("shared_buffers");

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Settings(("shared_buffers", "12XB")));
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("shared_buffers", "12XB")));

        Assert.Contains("the agent cannot parse '12XB' as integer in 8kB, PostgreSQL will decide", check.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Failed, apply.Status);
        Assert.Contains("PostgreSQL refused the change, nothing was changed", apply.Message, StringComparison.Ordinal);
        Assert.Contains("invalid value for parameter \"shared_buffers\": \"12XB\"", apply.Message, StringComparison.Ordinal);
        Assert.Equal(autoConf, await AutoConfAsync());
        Assert.Equal(sharedBuffers, await ShowAsync("shared_buffers"));
    }

    [Fact]
    public async Task Converge_GoodValueBeforeBadOne_GoodOneIsUndone()
    {
        SkipWithoutPostgres();
        var autoConf = await AutoConfAsync();
        var naptime = await ShowAsync("autovacuum_naptime");

        // Names are applied in order: autovacuum_naptime is written, then work_mem is refused.
        var apply = await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct, Settings(("autovacuum_naptime", naptime == "77s" ? "78s" : "77s"), ("work_mem", "12XB")));

        Assert.Equal(ResourceStatus.Failed, apply.Status);
        Assert.Contains("invalid value for parameter \"work_mem\": \"12XB\"", apply.Message, StringComparison.Ordinal);
        // The same settings with the same values; the undo may re-set one another test left in the shared
        // scratch cluster, which moves its line (PostgreSQL appends what ALTER SYSTEM sets again).
        Assert.Equal(SortedLines(autoConf), SortedLines(await AutoConfAsync()));
        Assert.Equal(naptime, await ShowAsync("autovacuum_naptime"));
    }

    [Fact]
    public async Task Converge_UnknownSetting_CheckWarnsAndApplyReportsPostgresRefusal()
    {
        SkipWithoutPostgres();

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Settings(("oft_no_such_setting", "1")));
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("oft_no_such_setting", "1")));

        Assert.Equal("would set oft_no_such_setting = 1 (PostgreSQL does not know this setting: it will refuse it)", check.Message);
        Assert.Equal(ResourceStatus.Failed, apply.Status);
        Assert.Contains("unrecognized configuration parameter \"oft_no_such_setting\"", apply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Converge_AlterSystemByHandAndReloaded_CheckReportsThenApplyPutsBack()
    {
        SkipWithoutPostgres();
        var value = await OtherThanCurrentAsync("work_mem", "37MB", "41MB");
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));
        await postgres.ExecuteAsync("ALTER SYSTEM SET work_mem = '3MB';\n", Ct);
        await postgres.Psql.ReloadAsync(TimeProvider.System, Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Settings(("work_mem", value)));
        var stillDrifted = await ShowAsync("work_mem");
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));
        var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));

        Assert.Equal($"would set work_mem 3MB -> {value} (reload: context user)", check.Message);
        Assert.Equal("3MB", stillDrifted);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.Equal(value, await ShowAsync("work_mem"));
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
    }

    [Fact]
    public async Task Converge_AlterSystemByHandNotYetReloaded_IsDriftToo()
    {
        SkipWithoutPostgres();
        var value = await OtherThanCurrentAsync("work_mem", "37MB", "41MB");
        await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));
        await postgres.ExecuteAsync("ALTER SYSTEM SET work_mem = '3MB';\n", Ct);

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Settings(("work_mem", value)));
        var apply = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));
        var again = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("work_mem", value)));

        Assert.Equal($"would put back work_mem = {value} (ALTER SYSTEM has '3MB') (reload: context user)", check.Message);
        Assert.Equal(ResourceStatus.Changed, apply.Status);
        Assert.DoesNotContain("3MB", await AutoConfAsync(), StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Unchanged, again.Status);
    }

    [Fact]
    public async Task Converge_StringWithQuotesAndSemicolons_StoredVerbatim()
    {
        SkipWithoutPostgres();
        var prefix = $"%m [%p] it's \"{ScratchPostgres.Unique()}\"; DROP ROLE x; -- \\' ";

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("log_line_prefix", prefix)));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Settings(("log_line_prefix", prefix)));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(prefix, await ShowAsync("log_line_prefix"));
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
    }

    [Theory]
    [InlineData("work_mem;", "64MB", "postgres.settings: 'work_mem;' is not a setting name")]
    [InlineData("work mem", "64MB", "postgres.settings: 'work mem' is not a setting name")]
    [InlineData("Work_Mem", "64MB", "postgres.settings: 'Work_Mem' is not a setting name")]
    [InlineData("a'b", "1", "postgres.settings: 'a'b' is not a setting name")]
    [InlineData("{x}", "1", "postgres.settings: '{x}' is not a setting name")]
    [InlineData("x\n", "1", "postgres.settings: 'x?' is not a setting name")]
    [InlineData("work_mem", "64MB\nshared_buffers = '1TB'", "postgres.settings.work_mem: '64MB?shared_buffers = '1TB'' must be one line")]
    [InlineData("port", "5433", "postgres.settings.port: is part of how the agent reaches the cluster")]
    public void Constructor_HostileSetting_RejectedBeforeAnythingRuns(string name, string value, string expected)
    {
        var runner = new NothingMayRun();

        var error = Assert.Throws<SpecValidationException>(() => new PgSettingsResource(
            runner, PostgresCluster.Default, TimeProvider.System, new PgSettingsSpec(new Dictionary<string, string> { [name] = value })));

        Assert.StartsWith(expected, Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Equal(0, runner.Calls);
    }

    private static string[] SortedLines(string text) => [.. text.Split('\n').Order(StringComparer.Ordinal)];
}
