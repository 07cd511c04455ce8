using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet tenant move` against a real in-process gRPC server.</summary>
public sealed class TenantMoveCommandTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static Tenant Active(string name) => new()
    {
        Id = "n-3kq9t2mzpa",
        Name = name,
        HostId = "h-web01",
        HostName = "web-01",
        Plan = "small",
        State = TenantState.Active,
        Database = name,
        PrimaryDomain = $"{name}.erp.example.com",
        Url = $"https://{name}.erp.example.com/",
        CreatedAt = Timestamp.FromDateTimeOffset(Now),
        UpdatedAt = Timestamp.FromDateTimeOffset(Now),
    };

    [Fact]
    public async Task Move_SendsNameAndHost_SaysWhatHappensAndShowShowsTheMove()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Active("acme"));

        var result = await CliRun.RunAsync(["--controller", controller.Address, "tenant", "move", "acme", "--to", "web-02"], time: new FakeTimeProvider(Now));
        var show = await CliRun.RunAsync(["--controller", controller.Address, "tenant", "show", "acme"], time: new FakeTimeProvider(Now));

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<MoveTenantRequest>(controller.Service.Requests[0]);
        Assert.Equal(("acme", "web-02"), (sent.Name, sent.ToHost));
        Assert.Contains("acme: moving from web-01 to web-02", result.Out, StringComparison.Ordinal);
        Assert.Contains("m-3kq9t2mzpa from web-01 to web-02: exporting (source serves a maintenance page)", result.Out, StringComparison.Ordinal);
        Assert.Contains("last move:", show.Out, StringComparison.Ordinal);
        Assert.Contains("m-3kq9t2mzpa from web-01 to web-02: exporting", show.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MoveWait_FollowsEveryStepUntilDone_Exit0()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Active("acme"));
        foreach (var step in new[] { TenantMoveStep.Importing, TenantMoveStep.Switched, TenantMoveStep.Done })
        {
            controller.Service.MoveProgress.Enqueue(step);
        }

        // Real time: the command polls once a second, and the fake moves one step per poll.
        var result = await CliRun.RunAsync(["--controller", controller.Address, "tenant", "move", "acme", "--to", "web-02", "--wait", "-o", "json"], time: TimeProvider.System);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("done", json.RootElement.GetProperty("step").GetString());
        Assert.Equal("web-02", json.RootElement.GetProperty("to").GetString());
        Assert.Equal(3, controller.Service.Calls.Count(c => c == "GetTenant"));
    }

    [Fact]
    public async Task MoveWait_RolledBack_Exit1WithTheReason()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Active("acme"));
        controller.Service.MoveProgress.Enqueue(TenantMoveStep.RolledBack);

        var result = await CliRun.RunAsync(["--controller", controller.Address, "tenant", "move", "acme", "--to", "web-02", "--wait"], time: TimeProvider.System);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("rolled back", result.Out, StringComparison.Ordinal);
        Assert.Contains("importing on web-02 failed: pg_restore: error", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no --to", new[] { "tenant", "move", "acme" }, "--to")]
    [InlineData("bad name", new[] { "tenant", "move", "Acme", "--to", "web-02" }, "name:")]
    [InlineData("bad host", new[] { "tenant", "move", "acme", "--to", "web 02" }, "--to:")]
    [InlineData("timeout without wait", new[] { "tenant", "move", "acme", "--to", "web-02", "--timeout", "5m" }, "--timeout only applies with --wait")]
    public async Task Move_BadInput_UsageNamingTheFieldWithoutACall(string why, string[] args, string expected)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Active("acme"));

        var result = await CliRun.RunAsync(["--controller", controller.Address, .. args], time: new FakeTimeProvider(Now));

        Assert.True(result.ExitCode == 2, $"{why}: {result}");
        Assert.Contains(expected, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Requests);
    }
}
