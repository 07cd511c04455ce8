using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet` in-process against a real gRPC FleetService on a random local port.</summary>
public sealed class EndToEndTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Hosts_JsonOutput_ParsesBackToCannedHosts()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.AddRange([Samples.OnlineHost(), Samples.SilentHost()]);

        var result = await RunAsync("--controller", controller.Address, "hosts", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
        var web = doc.RootElement[0];
        Assert.Equal("h-web01", web.GetProperty("id").GetString());
        Assert.Equal("web-01", web.GetProperty("name").GetString());
        Assert.Equal("10.0.0.11", web.GetProperty("address").GetString());
        Assert.Equal("online", web.GetProperty("state").GetString());
        Assert.Equal(4, web.GetProperty("desiredGeneration").GetInt64());
        Assert.Equal(3, web.GetProperty("appliedGeneration").GetInt64());
        Assert.Equal("18.0", web.GetProperty("odoo").GetProperty("series").GetString());
        Assert.Equal(Samples.Commit, web.GetProperty("odoo").GetProperty("commit").GetString());
        Assert.Equal("2025-06-01T11:59:18Z", web.GetProperty("lastSeen").GetString());
        Assert.Equal(6L << 30, web.GetProperty("metrics").GetProperty("memoryAvailableBytes").GetInt64());
        Assert.Equal("offline", doc.RootElement[1].GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement[1].GetProperty("lastSeen").ValueKind);
        Assert.Equal("", result.Err);
    }

    [Fact]
    public async Task Hosts_TableOutput_RowPerHostWithRelativeLastSeen()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.AddRange([Samples.OnlineHost(), Samples.SilentHost()]);

        var result = await RunAsync(["hosts"], Environment(("FLEET_CONTROLLER", controller.Address)), new FakeTimeProvider(Samples.Now));

        Assert.True(result.ExitCode == 0, result.ToString());
        var web = result.Out.Split('\n').Single(l => l.Contains("web-01", StringComparison.Ordinal));
        Assert.Contains("18.0@3f2a9c1d", web, StringComparison.Ordinal);
        Assert.Contains("42s ago", web, StringComparison.Ordinal);
        Assert.Contains("3/4 *", web, StringComparison.Ordinal);
        Assert.Contains("never", result.Out.Split('\n').Single(l => l.Contains("db-01", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostShow_Json_OneHostWithFacts()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync("--controller", controller.Address, "host", "show", "web-01", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("h-web01", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("facts").GetProperty("cpuCores").GetInt32());
    }

    [Fact]
    public async Task HostShow_UnknownHost_Exit5WithServerMessage()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "host", "show", "nope");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Equal("error: host 'nope' not found; list hosts with `fleet hosts`\n", result.Err);
    }

    [Fact]
    public async Task TokenCreate_Json_TokenAndExpiryOnStdoutHintOnStderr()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "token", "create", "--ttl", "2h", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(
            ["token", "expiresAt", "id", "hostName", "labels", "caSha256", "enrollCommand"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("oft_canned-token", doc.RootElement.GetProperty("token").GetString());
        Assert.Equal("2025-06-01T13:00:00Z", doc.RootElement.GetProperty("expiresAt").GetString());
        Assert.Contains($"odoofleet-agent enroll --controller {controller.Address} --token oft_canned-token", result.Err, StringComparison.Ordinal);
        Assert.Equal(["CreateEnrollmentToken ttl=7200"], controller.Service.Calls);
    }

    [Fact]
    public async Task TokenCreate_TtlOver30Days_Exit2BeforeAnyCall()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "token", "create", "--ttl", "31d");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--ttl: '31d' is longer than the maximum of 30d", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task RolloutWait_StreamOfUpdatesToSucceeded_OneFinalJsonObjectExit0()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending), ("h-2", "web-02", RolloutHostState.Pending));
        service.WatchUpdates.AddRange(
        [
            service.Rollout,
            Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating), ("h-2", "web-02", RolloutHostState.Pending)),
            Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Succeeded), ("h-2", "web-02", RolloutHostState.Updating)),
            Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded), ("h-2", "web-02", RolloutHostState.Unchanged)),
        ]);

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--wait", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("r-abc123", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("succeeded", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal(Samples.Commit, doc.RootElement.GetProperty("release").GetProperty("commit").GetString());
        Assert.Equal(["succeeded", "unchanged"], doc.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("state").GetString()));
        Assert.Equal(["StartRollout 18.0", "WatchRollout r-abc123"], service.Calls);
    }

    [Fact]
    public async Task RolloutWait_PlainOutput_LinePerHostTransition()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));
        service.WatchUpdates.AddRange(
        [
            Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating)),
            Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded)),
        ]);

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--wait");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            [
                "rollout r-abc123 of 18.0@3f2a9c1d: running, 0/1 hosts done",
                "  web-01: pending",
                "  web-01: pending -> updating",
                "  web-01: updating -> succeeded",
                "rollout r-abc123 of 18.0@3f2a9c1d: succeeded, 1/1 hosts done",
            ],
            result.Out.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task RolloutWait_RolloutFails_Exit1WithReason()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));
        var failed = Samples.Rollout(RolloutState.Failed, ("h-1", "web-01", RolloutHostState.Failed));
        failed.Message = "web-01: health check failed; reverted";
        service.WatchUpdates.Add(failed);

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--wait", "-o", "json");

        Assert.Equal(ExitCodes.Failed, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("failed", doc.RootElement.GetProperty("state").GetString());
        Assert.Contains("error: rollout r-abc123 failed: web-01: health check failed; reverted", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RolloutWait_StreamBreaks_ReconnectsToNextControllerAndFinishes()
    {
        await using var first = await TestController.StartAsync();
        await using var second = await TestController.StartAsync();
        var running = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating));
        first.Service.Rollout = running;
        first.Service.WatchUpdates.Add(running);
        first.Service.WatchEnd = StreamEnd.BreakUnavailable;
        second.Service.WatchUpdates.Add(Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded)));
        var config = temp.Write("fleet.json", $$"""{"controllers": ["{{first.Address}}", "{{second.Address}}"]}""");

        var result = await RunAsync(["rollout", "--version", "18.0", "--wait", "-o", "json"], Environment(("FLEET_CONFIG", config)));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("succeeded", JsonDocument.Parse(result.Out).RootElement.GetProperty("state").GetString());
        Assert.Contains($"reconnecting to {second.Address}", result.Err, StringComparison.Ordinal);
        Assert.Equal(["StartRollout 18.0", "WatchRollout r-abc123"], first.Service.Calls);
        Assert.Equal(["WatchRollout r-abc123"], second.Service.Calls);
    }

    [Fact]
    public async Task StatusWatch_FirstControllerDown_FailsOverToSecond()
    {
        await using var second = await TestController.StartAsync();
        second.Service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating));
        second.Service.WatchUpdates.Add(Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded)));
        var config = temp.Write("fleet.json", $$"""{"controller": "{{TestController.UnusedAddress()}}", "controllers": ["{{second.Address}}"]}""");

        var result = await RunAsync(["rollout", "status", "r-abc123", "--watch", "-o", "json"], Environment(("FLEET_CONFIG", config)));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("succeeded", JsonDocument.Parse(result.Out).RootElement.GetProperty("state").GetString());
        Assert.Equal(["GetRollout r-abc123", "WatchRollout r-abc123"], second.Service.Calls);
    }

    [Fact]
    public async Task Status_NoWatch_CurrentStateExit0()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating));

        var result = await RunAsync("--controller", controller.Address, "rollout", "status", "r-abc123");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("rollout r-abc123 of 18.0@3f2a9c1d: running, 0/1 hosts done", result.Out, StringComparison.Ordinal);
        Assert.Contains("updating", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RolloutWait_StillRunningAtTimeout_Exit3WithLastState()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));
        service.WatchUpdates.Add(Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating)));
        service.WatchEnd = StreamEnd.Hang;
        var time = new FakeTimeProvider(Samples.Now);

        var run = RunAsync(["--controller", controller.Address, "rollout", "--version", "18.0", "--wait", "--timeout", "10m", "-o", "json"], Environment(), time);
        await service.UpdatesWritten.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromMinutes(10));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.True(result.ExitCode == ExitCodes.Timeout, result.ToString());
        Assert.Equal("running", JsonDocument.Parse(result.Out).RootElement.GetProperty("state").GetString());
        Assert.Contains("error: rollout r-abc123 is still running after 10m", result.Err, StringComparison.Ordinal);
        Assert.Contains("fleet rollout status r-abc123 --watch", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollout_NoWait_PrintsIdAndHowToFollow()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            "rollout r-abc123 started: 18.0@3f2a9c1d on 1 host(s)\nfollow it with: fleet rollout status r-abc123 --watch\n",
            result.Out);
    }

    [Fact]
    public async Task Rollout_NoWaitJson_StartedRolloutObject()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("r-abc123", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("running", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal(["StartRollout 18.0"], controller.Service.Calls);
    }

    [Fact]
    public async Task RolloutWait_Terminal_LiveViewEndsShowingFinalState()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending));
        controller.Service.WatchUpdates.Add(Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded)));
        using var output = new StringWriter();
        var host = new CliHost
        {
            Out = output,
            Err = TextWriter.Null,
            Environment = Environment(("FLEET_CONTROLLER", controller.Address)),
            SystemConfigPath = Path.Combine(temp.Path, "none.json"),
            OutputIsTerminal = true,
        };

        var exitCode = await Program.RunAsync(["rollout", "--version", "18.0", "--wait"], host, TestContext.Current.CancellationToken);

        Assert.Equal(0, exitCode);
        Assert.Contains("rollout r-abc123 of 18.0@3f2a9c1d: succeeded, 1/1 hosts done", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollout_SeriesTheControllerDoesNotKnow_Exit2WithServerMessage()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "99.0");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Equal("error: version: no Odoo series '99.0' in the source; available: 17.0, 18.0\n", result.Err);
    }

    [Theory]
    [InlineData("99")]
    [InlineData("eighteen")]
    public async Task Rollout_MalformedVersion_Exit2BeforeAnyCall(string version)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", version);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.StartsWith($"error: --version: '{version}' is not an Odoo series", result.Err, StringComparison.Ordinal);
        Assert.Contains("e.g. --version 18.0", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task Hosts_UnreachableController_Exit4NamingAddressAndFix()
    {
        var address = TestController.UnusedAddress();

        var result = await RunAsync("--controller", address, "hosts");

        Assert.Equal(ExitCodes.Unreachable, result.ExitCode);
        Assert.StartsWith($"error: cannot reach controller at {address}: ", result.Err, StringComparison.Ordinal);
        Assert.Contains("is it running? check --controller / FLEET_CONTROLLER", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Hosts_ApiTokenInConfig_SentAsBearerAndNeverPrinted()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.RequiredToken = "s3cret-token";
        controller.Service.Hosts.Add(Samples.OnlineHost());
        var config = temp.Write("home/.config/odoofleet/fleet.json", $$"""{"controller": "{{controller.Address}}", "apiToken": "s3cret-token"}""");

        var result = await RunAsync(["hosts", "-o", "json"], Environment(("HOME", Path.Combine(temp.Path, "home"))));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["Bearer s3cret-token"], controller.Service.Authorizations);
        Assert.DoesNotContain("s3cret-token", result.Out + result.Err, StringComparison.Ordinal);
        Assert.True(File.Exists(config));
    }

    [Fact]
    public async Task Hosts_ControllerRequiresTokenNoneConfigured_Exit5()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.RequiredToken = "s3cret-token";

        var result = await RunAsync("--controller", controller.Address, "hosts");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Contains("API token missing or wrong", result.Err, StringComparison.Ordinal);
        Assert.Contains("no apiToken is configured", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hosts_NoControllerAnywhere_Exit2TellingTheThreeWays()
    {
        var result = await RunAsync("hosts");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--controller", result.Err, StringComparison.Ordinal);
        Assert.Contains("FLEET_CONTROLLER", result.Err, StringComparison.Ordinal);
        Assert.Contains("fleet.json", result.Err, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Environment(params (string Name, string Value)[] variables) =>
        variables.ToDictionary(v => v.Name, v => (string?)v.Value);

    private static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, Environment());

    private static Task<CliResult> RunAsync(string[] args, Dictionary<string, string?> environment, TimeProvider? time = null) =>
        CliRun.RunAsync(args, environment, time);
}
