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

public sealed class RolloutStatusViewTests
{
    private static readonly DateTimeOffset Now = Samples.Now;

    [Fact]
    public void BatchRows_CanaryDoneBatchRunning_ProgressAndDurations()
    {
        var rows = RolloutView.BatchRows(Samples.BatchedRollout(), Now);

        Assert.Equal(
            [
                new RolloutBatchRow("canary", "yes", "done", "1/1", "0", "0", "2m"),
                new RolloutBatchRow("1", "no", "running", "1/2", "1", "0", "8m so far"),
                new RolloutBatchRow("2", "no", "pending", "0/1", "0", "0", "-"),
            ],
            rows);
    }

    [Fact]
    public void ToRows_Hosts_BatchPhaseUnavailableAndModules()
    {
        var rows = RolloutView.ToRows(Samples.BatchedRollout());

        Assert.Equal(new RolloutHostRow("web-01", "canary", "succeeded", "health", "4.2s", "acme:sale, acme:stock", ""), rows[0]);
        Assert.Equal(
            new RolloutHostRow("web-02", "1", "reverted", "revert", "1m5s", "acme:sale", "health gate: /web/login?db=acme answered 500 for 5m; reverted, databases restored"),
            rows[1]);
        Assert.Equal(new RolloutHostRow("web-03", "1", "updating", "migrate", "-", "-", ""), rows[2]);
        Assert.Equal(new RolloutHostRow("web-04", "2", "pending", "-", "-", "-", ""), rows[3]);
    }

    [Fact]
    public void Modules_MoreThanThree_CountsTheRest() =>
        Assert.Equal("a:x, a:y, b:x +2 more", RolloutView.Modules(["a:x", "a:y", "b:x", "b:y", "c:z"]));

    [Fact]
    public void Summary_RunningBatchedRollout_NamesTheBatchAndFailures() =>
        Assert.Equal("rollout r-abc123 of 18.0@3f2a9c1d: running, batch 1 of 2, 2/4 hosts done, 1 failed", RolloutView.Summary(Samples.BatchedRollout()));

    [Fact]
    public void LogTails_RevertedHost_MessageAndLinesWithoutControlCharacters()
    {
        var rollout = Samples.BatchedRollout();
        rollout.Hosts[1].LogTail = "line one\n\u001b[31mred\u001b[0m\n";

        var tail = Assert.Single(RolloutView.LogTails(rollout));

        Assert.Equal("web-02", tail.Name);
        Assert.Equal("reverted", tail.State);
        Assert.Equal(["line one", "?[31mred?[0m"], tail.Lines);
    }

    [Theory]
    [InlineData(RolloutState.Aborted, ExitCodes.Failed)]
    [InlineData(RolloutState.Paused, ExitCodes.Timeout)]
    public void ExitCode_AbortedOrPaused_DocumentedCode(RolloutState state, int exitCode) =>
        Assert.Equal(exitCode, RolloutView.ExitCode(Samples.BatchedRollout(state)));

    [Fact]
    public void Changes_BatchStartsAndHostReverts_BatchLineHostLinePhaseAndLogTail()
    {
        var before = Samples.BatchedRollout();
        before.Batches[1].State = RolloutBatchState.Pending;
        before.Hosts[1].State = RolloutHostState.Updating;
        before.Hosts[1].Phase = "health";
        before.Hosts[1].Message = "";
        before.Hosts[2].Phase = "switch";
        var after = Samples.BatchedRollout();

        var lines = RolloutView.Changes(before, after);

        Assert.Equal(
            [
                "batch 1: running on 2 host(s)",
                "  web-02: updating -> reverted (revert): health gate: /web/login?db=acme answered 500 for 5m; reverted, databases restored",
                "    | 2025-06-01 11:55:01,123 42 ERROR acme odoo.http: Exception during request handling.",
                "    | KeyError: 'x_new_field'",
                "  web-03: updating (migrate)",
            ],
            lines);
    }

    [Fact]
    public void ToJson_BatchedRollout_PolicyBatchesAndHostDetails()
    {
        var json = RolloutView.ToJson(Samples.BatchedRollout());

        Assert.Equal("50%", json.Policy!.Batch);
        Assert.Equal("skip", json.Policy.Offline);
        Assert.Equal("web", json.Policy.Selector["role"]);
        Assert.Equal(["done", "running", "pending"], json.Batches.Select(b => b.State));
        Assert.Equal(1, json.CurrentBatch);
        Assert.Equal(65_000, json.Hosts[1].UnavailableMs);
        Assert.Equal("revert", json.Hosts[1].Phase);
        Assert.Equal(["acme:sale", "acme:stock"], json.Hosts[0].UpdatedModules);
        Assert.Equal(120L << 20, json.Artifact!.SizeBytes);
    }
}
