using System.Text.Json;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.Output;

public sealed class RolloutViewTests
{
    [Fact]
    public void ToJson_Rollout_StablePropertyNamesAndLowercaseStates()
    {
        var rollout = Samples.Rollout(RolloutState.Succeeded, ("h-1", "web-01", RolloutHostState.Succeeded), ("h-2", "web-02", RolloutHostState.Unchanged));
        rollout.Hosts[0].Message = "switched to 18.0@3f2a9c1d";

        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(RolloutView.ToJson(rollout), OutputJsonContext.Default.RolloutJson));

        var root = doc.RootElement;
        Assert.Equal(
            ["id", "state", "release", "createdAt", "finishedAt", "message", "hosts", "policy", "batches", "currentBatch", "rollbackOf", "createdBy", "artifact"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("succeeded", root.GetProperty("state").GetString());
        Assert.Equal("18.0", root.GetProperty("release").GetProperty("series").GetString());
        Assert.Equal("2025-06-01T12:05:00Z", root.GetProperty("finishedAt").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("message").ValueKind);
        var host = root.GetProperty("hosts")[0];
        Assert.Equal(
            ["id", "name", "state", "generation", "message", "updatedAt", "batch", "phase", "fromRelease", "unavailableMs", "updatedModules", "logTail", "staged"],
            host.EnumerateObject().Select(p => p.Name));
        Assert.Equal("succeeded", host.GetProperty("state").GetString());
        Assert.Equal("unchanged", root.GetProperty("hosts")[1].GetProperty("state").GetString());
    }

    [Fact]
    public void ToJson_RunningRollout_FinishedAtNull()
    {
        var json = RolloutView.ToJson(Samples.Rollout(RolloutState.Running));

        Assert.Equal("running", json.State);
        Assert.Null(json.FinishedAt);
    }

    [Theory]
    [InlineData(RolloutState.Running, "running")]
    [InlineData(RolloutState.Succeeded, "succeeded")]
    [InlineData(RolloutState.Failed, "failed")]
    [InlineData(RolloutState.Unspecified, "unknown")]
    public void State_Enum_Lowercase(RolloutState state, string expected) => Assert.Equal(expected, RolloutView.State(state));

    [Theory]
    [InlineData(RolloutHostState.Pending, "pending")]
    [InlineData(RolloutHostState.Updating, "updating")]
    [InlineData(RolloutHostState.Succeeded, "succeeded")]
    [InlineData(RolloutHostState.Failed, "failed")]
    [InlineData(RolloutHostState.Unchanged, "unchanged")]
    public void HostState_Enum_Lowercase(RolloutHostState state, string expected) => Assert.Equal(expected, RolloutView.HostState(state));

    [Theory]
    [InlineData(RolloutState.Succeeded, ExitCodes.Ok)]
    [InlineData(RolloutState.Failed, ExitCodes.Failed)]
    [InlineData(RolloutState.Running, ExitCodes.Timeout)]
    public void ExitCode_FinalState_DocumentedCode(RolloutState state, int exitCode) =>
        Assert.Equal(exitCode, RolloutView.ExitCode(Samples.Rollout(state)));

    [Fact]
    public void Changes_HostTransitions_OneLineEachThenSummaryOnStateChange()
    {
        var before = Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Updating), ("h-2", "web-02", RolloutHostState.Pending));
        var after = Samples.Rollout(RolloutState.Failed, ("h-1", "web-01", RolloutHostState.Failed), ("h-2", "web-02", RolloutHostState.Pending));
        after.Hosts[0].Message = "health check failed";
        after.Message = "max failures reached";

        var lines = RolloutView.Changes(before, after);

        Assert.Equal(
            [
                "  web-01: updating -> failed: health check failed",
                "rollout r-abc123 of 18.0@3f2a9c1d: failed, 1/2 hosts done, 1 failed (max failures reached)",
            ],
            lines);
    }

    [Fact]
    public void Changes_FirstUpdate_SummaryAndEveryHost()
    {
        var lines = RolloutView.Changes(null, Samples.Rollout(RolloutState.Running, ("h-1", "web-01", RolloutHostState.Pending)));

        Assert.Equal(["rollout r-abc123 of 18.0@3f2a9c1d: running, 0/1 hosts done", "  web-01: pending"], lines);
    }
}
