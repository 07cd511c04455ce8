using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet drift`, `fleet drift show`, `fleet drift accept` and `fleet drift policy` against a real in-process gRPC server.</summary>
public sealed class DriftCommandTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static Task<CliResult> RunAsync(params string[] args) => CliRun.RunAsync(args, time: new FakeTimeProvider(Now));

    private static DriftRecord Record(string id, DriftAction action, bool recurred = false) => new()
    {
        HostId = "h-web01",
        HostName = "web-01",
        ReceivedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-4)),
        Event = new DriftEvent
        {
            Id = id,
            ResourceId = "file:/etc/odoo.conf",
            Kind = "file",
            Generation = 4,
            Expected = "workers = 5",
            Actual = "workers = 9",
            Diff = "--- a/etc/odoo.conf\n+++ b/etc/odoo.conf\n-workers = 5\n+workers = 9\n",
            Trigger = "file",
            DetectedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-5)),
            Action = action,
            CorrectedAt = action == DriftAction.Corrected ? Timestamp.FromDateTimeOffset(Now.AddMinutes(-5).AddSeconds(1)) : null,
            Recurred = recurred,
        },
    };

    [Fact]
    public async Task Drift_Records_TableWithTheIdShowTakes()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Record("d1", DriftAction.Corrected));
        controller.Service.DriftRecords.Add(Record("d2", DriftAction.Flapping, recurred: true));

        var result = await RunAsync("--controller", controller.Address, "drift", "--host", "web-01", "--since", "2h", "--limit", "50");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListDriftRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("web-01", 50, false), (sent.Host, sent.Limit, sent.OpenOnly));
        Assert.Equal(Now.AddHours(-2), sent.Since.ToDateTimeOffset());
        Assert.Contains("RECURRED", result.Out, StringComparison.Ordinal);
        Assert.Contains("h-web01/d1", result.Out, StringComparison.Ordinal);
        Assert.Contains("flapping", result.Out, StringComparison.Ordinal);
        Assert.Contains("file:/etc/odoo.conf", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_OpenWithoutSince_SendsNoTimeBoundAndSaysWhenNothingIsOpen()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "drift", "--open");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListDriftRequest>(Assert.Single(controller.Service.Requests));
        Assert.True(sent.OpenOnly);
        Assert.Null(sent.Since);
        Assert.Contains("no open drift", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_Json_StablePropertiesWithDiff()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Record("d1", DriftAction.Corrected));

        var result = await RunAsync("--controller", controller.Address, "drift", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var record = Assert.Single(JsonDocument.Parse(result.Out).RootElement.EnumerateArray().ToList());
        Assert.Equal("h-web01/d1", record.GetProperty("id").GetString());
        Assert.Equal("d1", record.GetProperty("eventId").GetString());
        Assert.Equal("corrected", record.GetProperty("action").GetString());
        Assert.Equal("workers = 9", record.GetProperty("actual").GetString());
        Assert.StartsWith("--- a/etc/odoo.conf", record.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.False(record.GetProperty("recurred").GetBoolean());
    }

    [Theory]
    [InlineData("--since", "yesterday")]
    [InlineData("--limit", "0")]
    [InlineData("-o", "yaml")]
    public async Task Drift_BadOption_UsageErrorNamingIt(string option, string value)
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "drift", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option == "-o" ? "--output" : option, result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("h-web01/d1")]
    [InlineData("web-01", "d1")]
    public async Task DriftShow_CompositeOrTwoArguments_ExpectedActualAndDiff(params string[] ids)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Record("d1", DriftAction.Reported));

        var result = await RunAsync(["--controller", controller.Address, "drift", "show", .. ids]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<GetDriftRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal("d1", sent.Id);
        Assert.Contains("Expected:", result.Out, StringComparison.Ordinal);
        Assert.Contains("workers = 5", result.Out, StringComparison.Ordinal);
        Assert.Contains("Actual:", result.Out, StringComparison.Ordinal);
        Assert.Contains("+workers = 9", result.Out, StringComparison.Ordinal);
        Assert.Contains("reported", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftShow_MalformedId_UsageErrorThatTeachesTheForm()
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "drift", "show", "d1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("HOST_ID/EVENT_ID", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftShow_Unknown_NotFoundExit5()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "drift", "show", "h-web01/nope");

        Assert.Equal(5, result.ExitCode);
        Assert.Contains("not found", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftPolicy_Settings_OneConfigureWithOnlyDriftFields()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync(
            "--controller", controller.Address, "drift", "policy", "web-01", "--mode", "report",
            "--resource", "kind:ufw=correct", "--resource", "file:/etc/odoo.conf=report", "--unset-resource", "kind:nginx",
            "--maintenance", "sat,sun 02:00 2h", "--maintenance", "* 23:30 30m", "--ignore", "file:/etc/motd", "--interval", "2m");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.Single(controller.Service.ConfigureRequests);
        Assert.Equal(DriftMode.Report, sent.DriftDefaultMode);
        Assert.Equal(DriftMode.Correct, sent.SetDriftModes["kind:ufw"]);
        Assert.Equal(DriftMode.Report, sent.SetDriftModes["file:/etc/odoo.conf"]);
        Assert.Equal(["kind:nginx"], sent.UnsetDriftModes);
        Assert.Equal(2, sent.DriftMaintenance.Windows.Count);
        Assert.Equal(("sat,sun", "02:00", 120), (sent.DriftMaintenance.Windows[0].Days, sent.DriftMaintenance.Windows[0].Start, sent.DriftMaintenance.Windows[0].DurationMinutes));
        Assert.Equal(30, sent.DriftMaintenance.Windows[1].DurationMinutes);
        Assert.Equal(["file:/etc/motd"], sent.DriftIgnore.Values);
        Assert.Equal(120, sent.DriftPeriodicIntervalSeconds);
        Assert.Null(sent.Domains);
        Assert.False(sent.HasWorkers);
        Assert.Contains("web-01: drift policy changed; desired generation is now 5", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftPolicy_Resets_SentAsTheWireDefaults()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync(
            "--controller", controller.Address, "drift", "policy", "web-01", "--mode", "default", "--no-maintenance", "--no-ignore", "--interval", "default", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.Single(controller.Service.ConfigureRequests);
        Assert.True(sent.HasDriftDefaultMode);
        Assert.Equal(DriftMode.Unspecified, sent.DriftDefaultMode);
        Assert.Empty(sent.DriftMaintenance.Windows);
        Assert.Empty(sent.DriftIgnore.Values);
        Assert.True(sent.HasDriftPeriodicIntervalSeconds);
        Assert.Equal(0, sent.DriftPeriodicIntervalSeconds);
        var json = JsonDocument.Parse(result.Out).RootElement;
        Assert.True(json.GetProperty("changed").GetBoolean());
        Assert.Equal("correct", json.GetProperty("policy").GetProperty("defaultMode").GetString());
        Assert.Equal(300, json.GetProperty("policy").GetProperty("periodicIntervalSeconds").GetInt32());
    }

    [Fact]
    public async Task DriftPolicy_NoSettings_ShowsThePolicyWithoutChangingIt()
    {
        await using var controller = await TestController.StartAsync();
        var host = Samples.OnlineHost();
        host.Profile = new HostProfile { Drift = new DriftPolicy { DefaultMode = DriftMode.Report, Ignore = { "file:/etc/motd" } } };
        controller.Service.Hosts.Add(host);

        var result = await RunAsync("--controller", controller.Address, "drift", "policy", "web-01");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(controller.Service.ConfigureRequests);
        Assert.Contains("GetHost web-01", controller.Service.Calls);
        Assert.Contains("report", result.Out, StringComparison.Ordinal);
        Assert.Contains("file:/etc/motd", result.Out, StringComparison.Ordinal);
        Assert.Contains("5m (default, jittered)", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--maintenance", "sat,sun 02:00")]
    [InlineData("--maintenance", "sat 02:00 90s")]
    [InlineData("--maintenance", "sat 02:00 2d")]
    [InlineData("--resource", "kind:ufw")]
    [InlineData("--resource", "kind:ufw=ignore")]
    [InlineData("--mode", "fix")]
    [InlineData("--interval", "soon")]
    public async Task DriftPolicy_BadValue_UsageErrorNothingSent(string option, string value)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync("--controller", controller.Address, "drift", "policy", "web-01", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.ConfigureRequests);
    }

    [Fact]
    public async Task DriftPolicy_ControllerRefuses_Exit2WithItsMessage()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());
        controller.Service.ConfigureRefusal = "drift_maintenance[0].days: 'sat,sat' names sat twice; give each day once";

        var result = await RunAsync("--controller", controller.Address, "drift", "policy", "web-01", "--maintenance", "sat,sat 02:00 1h");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("names sat twice", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drift_TokenWithoutRole_PermissionDeniedExit5()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Refusal = new RpcException(new Status(StatusCode.PermissionDenied, "ListDrift needs the viewer role; this token has none"));

        var result = await RunAsync("--controller", controller.Address, "drift");

        Assert.Equal(5, result.ExitCode);
        Assert.Contains("viewer role", result.Err, StringComparison.Ordinal);
    }

    private static DriftRecord Acceptable(string id)
    {
        var record = Record(id, DriftAction.Reported);
        record.Event.Accept.Add(new SpecPatch { Path = "odoo.workers", Value = "9" });
        return record;
    }

    [Theory]
    [InlineData("h-web01/d1")]
    [InlineData("web-01", "d1")]
    public async Task DriftAccept_CompositeOrTwoArguments_PrintsWhatChangedAndTheGeneration(params string[] ids)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Acceptable("d1"));

        var result = await RunAsync(["--controller", controller.Address, "drift", "accept", .. ids]);
        var again = await RunAsync(["--controller", controller.Address, "drift", "accept", .. ids]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<AcceptDriftRequest>(controller.Service.Requests[0]);
        Assert.Equal(("d1", ids.Length == 1 ? "h-web01" : "web-01"), (sent.Id, sent.Host));
        Assert.Contains("accepted d1: odoo.workers = 9; desired generation is now 8", result.Out, StringComparison.Ordinal);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("the spec already says so, desired generation stays 8", again.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftAccept_Json_AppliedPatchesAndGeneration()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Acceptable("d1"));

        var result = await RunAsync("--controller", controller.Address, "drift", "accept", "h-web01/d1", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.Out).RootElement;
        Assert.Equal("h-web01/d1", json.GetProperty("id").GetString());
        Assert.True(json.GetProperty("changed").GetBoolean());
        Assert.Equal(8, json.GetProperty("generation").GetInt64());
        var applied = Assert.Single(json.GetProperty("applied").EnumerateArray().ToList());
        Assert.Equal(("odoo.workers", "9"), (applied.GetProperty("path").GetString(), applied.GetProperty("value").GetString()));
    }

    [Fact]
    public async Task DriftAccept_NotAcceptable_Exit1WithWhatToDoInstead()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.DriftRecords.Add(Record("d1", DriftAction.Corrected));

        var result = await RunAsync("--controller", controller.Address, "drift", "accept", "web-01", "d1");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("fleet drift policy web-01 --resource file:/etc/odoo.conf=report", result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("d1")]
    [InlineData("h-web01/")]
    public async Task DriftAccept_MalformedId_UsageErrorNothingSent(string id)
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "drift", "accept", id);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("HOST_ID/EVENT_ID", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftShow_AcceptableAndAccepted_SaysSoWithTheCommand()
    {
        await using var controller = await TestController.StartAsync();
        var accepted = Acceptable("d2");
        accepted.AcceptedAt = Timestamp.FromDateTimeOffset(Now);
        accepted.AcceptedBy = "alice";
        controller.Service.DriftRecords.Add(Acceptable("d1"));
        controller.Service.DriftRecords.Add(accepted);

        var open = await RunAsync("--controller", controller.Address, "drift", "show", "h-web01/d1");
        var done = await RunAsync("--controller", controller.Address, "drift", "show", "h-web01/d2", "-o", "json");

        Assert.True(open.ExitCode == 0, open.ToString());
        Assert.Contains("odoo.workers = 9 (`fleet drift accept h-web01/d1` makes it desired)", open.Out, StringComparison.Ordinal);
        var json = JsonDocument.Parse(done.Out).RootElement;
        Assert.Equal("alice", json.GetProperty("acceptedBy").GetString());
        Assert.Equal("odoo.workers", json.GetProperty("accept")[0].GetProperty("path").GetString());
    }

    [Theory]
    [InlineData("drift accept", "fleet drift accept web-01 01hzx3k9a2 -o json")]
    [InlineData("drift", "fleet drift --open")]
    [InlineData("drift show", "fleet drift show web-01 01hzx3k9a2")]
    [InlineData("drift policy", "fleet drift policy web-01 --maintenance 'sat,sun 02:00 2h'")]
    public async Task Help_DriftCommands_HaveExamples(string command, string example)
    {
        var result = await RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Examples:", result.Out, StringComparison.Ordinal);
        Assert.Contains(example, result.Out, StringComparison.Ordinal);
    }
}
