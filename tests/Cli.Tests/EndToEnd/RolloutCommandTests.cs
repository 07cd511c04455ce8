using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet rollout` with every option, its subcommands and `fleet rollouts`, against a real in-process gRPC server.</summary>
public sealed class RolloutCommandTests
{
    private static Task<CliResult> RunAsync(params string[] args) => CliRun.RunAsync(args, time: new FakeTimeProvider(Samples.Now));

    [Fact]
    public async Task Rollout_EveryOption_MappedIntoTheRequest()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout();

        var result = await RunAsync(
            "--controller", controller.Address, "rollout", "--version", "18.0", "--revision", "3F2A9C1D",
            "--selector", "role=web", "--selector", "example.com/tier=gold", "--canary", "2", "--batch", "10%", "--max-failures", "3",
            "--health-timeout", "1h30m", "--min-healthy", "90s", "--pause-after-canary", "--no-backup", "--offline", "wait");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<StartRolloutRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal("18.0", sent.Series);
        Assert.Equal("3f2a9c1d", sent.Revision);
        Assert.Equal(new Dictionary<string, string> { ["role"] = "web", ["example.com/tier"] = "gold" }, sent.Selector);
        Assert.Equal((2, "10%", "3"), (sent.Canary, sent.Batch, sent.MaxFailures));
        Assert.Equal((5400, 90), (sent.HealthTimeoutSeconds, sent.MinHealthySeconds));
        Assert.Equal((true, true, false), (sent.PauseAfterCanary, sent.NoBackup, sent.DryRun));
        Assert.Equal(OfflinePolicy.Wait, sent.Offline);
        Assert.Equal(
            "rollout r-abc123 started: 18.0@3f2a9c1d on 4 host(s) in 3 batch(es)\nfollow it with: fleet rollout status r-abc123 --watch\n",
            result.Out);
    }

    [Fact]
    public async Task Rollout_NoOptions_DefaultsLeftToTheController()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout();

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(new StartRolloutRequest { Series = "18.0" }, controller.Service.Requests.Single());
    }

    [Fact]
    public async Task DryRun_PlanPrintedNothingStarted()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.RolloutPlan = Samples.PlannedRollout();

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--canary", "1", "--pause-after-canary", "--dry-run");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(Assert.IsType<StartRolloutRequest>(Assert.Single(controller.Service.Requests)).DryRun);
        Assert.StartsWith("dry run: 18.0@3f2a9c1d on 4 host(s) in 3 batch(es); nothing was changed\n", result.Out, StringComparison.Ordinal);
        Assert.Contains("canary batch: 1 host(s)\n  web-01  18.0@01234567 -> 18.0@3f2a9c1d\n", result.Out, StringComparison.Ordinal);
        Assert.Contains("  7. health gate: /web/health and each database's login page answer 200 without a break for 30s, within 5m\n", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("WatchRollout", string.Join(",", controller.Service.Calls), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_Json_PlannedStateWithBatchesAndHosts()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.RolloutPlan = Samples.PlannedRollout();

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--dry-run", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("planned", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal(3, doc.RootElement.GetProperty("batches").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("batches")[0].GetProperty("canary").GetBoolean());
        Assert.Equal([0, 1, 1, 2], doc.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("batch").GetInt32()));
    }

    [Theory]
    [InlineData(RolloutState.Failed, "error: rollout r-abc123 failed: web-02 reverted; more than 0 failures")]
    [InlineData(RolloutState.Aborted, "error: rollout r-abc123 was aborted: aborted by token:alice")]
    public async Task RolloutWait_EndsFailedOrAborted_Exit1WithReason(RolloutState end, string error)
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.BatchedRollout();
        var final = Samples.BatchedRollout(end);
        final.Message = end == RolloutState.Failed ? "web-02 reverted; more than 0 failures" : "aborted by token:alice";
        final.Batches[2].State = RolloutBatchState.Cancelled;
        final.Hosts[3].State = RolloutHostState.Cancelled;
        service.WatchUpdates.AddRange([service.Rollout, final]);

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--wait");

        Assert.Equal(ExitCodes.Failed, result.ExitCode);
        Assert.Contains(error, result.Err, StringComparison.Ordinal);
        Assert.Contains("batch 2: cancelled", result.Out, StringComparison.Ordinal);
        Assert.Contains("  web-04: pending -> cancelled", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RolloutWait_PausedThenSucceeds_HintOnStderrAndExit0()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Rollout = Samples.BatchedRollout();
        var paused = Samples.BatchedRollout(RolloutState.Paused);
        var done = Samples.BatchedRollout(RolloutState.Succeeded);
        service.WatchUpdates.AddRange([service.Rollout, paused, done]);

        var result = await RunAsync("--controller", controller.Address, "rollout", "--version", "18.0", "--wait", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("succeeded", JsonDocument.Parse(result.Out).RootElement.GetProperty("state").GetString());
        Assert.Contains("rollout r-abc123 is paused; still waiting. Resume it with: fleet rollout resume r-abc123", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_BatchedRollout_BatchTableHostRowsAndLogTail()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout();

        var result = await RunAsync("--controller", controller.Address, "rollout", "status", "r-abc123");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Out.Split('\n');
        Assert.Equal("rollout r-abc123 of 18.0@3f2a9c1d: running, batch 1 of 2, 2/4 hosts done, 1 failed", lines[0]);
        AssertRow(lines, "policy", "selector role=web, canary 1, batches of 50%, max failures 1 (1 host(s)), healthy for 30s within 5m");
        AssertRow(lines, "started", "2025-06-01T11:50:00Z by token:alice (k-3kq9t2mzpa)");
        AssertRow(lines, "running for", "10m");
        AssertRow(lines, "BATCH", "CANARY", "STATE", "DONE", "FAILED", "SKIPPED", "DURATION");
        AssertRow(lines, "canary", "yes", "done", "1/1", "0", "0", "2m");
        AssertRow(lines, " 1 ", "no", "running", "1/2", "1", "0", "8m so far");
        AssertRow(lines, "HOST", "BATCH", "STATE", "PHASE", "UNAVAILABLE", "UPDATED MODULES", "MESSAGE");
        AssertRow(lines, "web-01", "canary", "succeeded", "health", "4.2s", "acme:sale, acme:stock");
        AssertRow(lines, "web-02", "1", "reverted", "revert", "1m5s", "acme:sale", "health gate: /web/login?db=acme answered 500");
        AssertRow(lines, "web-03", "1", "updating", "migrate");
        AssertRow(lines, "web-02 reverted: health gate", "the end of its Odoo log:");
        AssertRow(lines, "  | KeyError: 'x_new_field'");
    }

    [Fact]
    public async Task StatusWatch_Json_EndsAbortedExit1()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout();
        controller.Service.WatchUpdates.Add(Samples.BatchedRollout(RolloutState.Aborted));

        var result = await RunAsync("--controller", controller.Address, "rollout", "status", "r-abc123", "--watch", "-o", "json");

        Assert.Equal(ExitCodes.Failed, result.ExitCode);
        Assert.Equal("aborted", JsonDocument.Parse(result.Out).RootElement.GetProperty("state").GetString());
        Assert.Equal(["GetRollout r-abc123", "WatchRollout r-abc123"], controller.Service.Calls);
    }

    [Theory]
    [InlineData("pause", "PauseRollout r-abc123", "rollout r-abc123 paused", "resume it with: fleet rollout resume r-abc123")]
    [InlineData("resume", "ResumeRollout r-abc123", "rollout r-abc123 resumed", "follow it with: fleet rollout status r-abc123 --watch")]
    [InlineData("abort", "AbortRollout r-abc123", "rollout r-abc123 aborted", "fleet rollout rollback r-abc123")]
    public async Task Action_RolloutId_CallsItAndSaysWhatNext(string action, string call, string first, string hint)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout();

        var result = await RunAsync("--controller", controller.Address, "rollout", action, "r-abc123");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([call], controller.Service.Calls);
        Assert.StartsWith(first + "\n", result.Out, StringComparison.Ordinal);
        Assert.Contains(hint, result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Action_UnknownRollout_Exit5()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "rollout", "pause", "r-nope");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Equal("error: rollout 'r-nope' not found\n", result.Err);
    }

    [Fact]
    public async Task Rollback_NoWait_PrintsTheNewRolloutId()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout(RolloutState.Succeeded);
        controller.Service.Rollback = RollbackOf("r-abc123", RolloutState.Running);

        var result = await RunAsync("--controller", controller.Address, "rollout", "rollback", "r-abc123");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["RollbackRollout r-abc123"], controller.Service.Calls);
        Assert.Equal(
            "rollback rollout r-back01 of r-abc123 started: 18.0@01234567 on 1 host(s) in 1 batch(es)\nfollow it with: fleet rollout status r-back01 --watch\n",
            result.Out);
    }

    [Theory]
    [InlineData(RolloutState.Succeeded, ExitCodes.Ok)]
    [InlineData(RolloutState.Failed, ExitCodes.Failed)]
    public async Task RollbackWait_FollowsTheNewRollout_ExitByItsEnd(RolloutState end, int exitCode)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Rollout = Samples.BatchedRollout(RolloutState.Succeeded);
        controller.Service.Rollback = RollbackOf("r-abc123", RolloutState.Running);
        controller.Service.WatchUpdates.Add(RollbackOf("r-abc123", end));

        var result = await RunAsync("--controller", controller.Address, "rollout", "rollback", "r-abc123", "--wait", "-o", "json");

        Assert.Equal(exitCode, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("r-back01", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("r-abc123", doc.RootElement.GetProperty("rollbackOf").GetString());
        Assert.Equal(["RollbackRollout r-abc123", "WatchRollout r-back01"], controller.Service.Calls);
        Assert.Contains("rollback rollout r-back01 of r-abc123 started", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollouts_History_TableNewestFirstWithCountsFromBatches()
    {
        await using var controller = await TestController.StartAsync();
        var back = RollbackOf("r-abc123", RolloutState.Succeeded);
        var failed = Samples.BatchedRollout(RolloutState.Failed);
        failed.FinishedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(Samples.Now.AddMinutes(-1));
        failed.Message = "web-02 reverted; more than 1 failure";
        failed.Hosts.Clear();
        controller.Service.History.AddRange([back, failed]);

        var result = await RunAsync("--controller", controller.Address, "rollouts", "--limit", "20");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(new ListRolloutsRequest { Limit = 20 }, controller.Service.Requests.Single());
        var lines = result.Out.Split('\n');
        AssertRow(lines, "ID", "STATE", "RELEASE", "STARTED", "DURATION", "HOSTS", "BY", "NOTE");
        AssertRow(lines, "r-back01", "succeeded", "18.0@01234567", "1 ok, 0 failed of 1", "rollback of r-abc123");
        AssertRow(lines, "r-abc123", "failed", "18.0@3f2a9c1d", "2025-06-01T11:50:00Z", "9m", "1 ok, 1 failed of 4", "token:alice", "web-02 reverted");
        Assert.True(
            Array.FindIndex(lines, l => l.TrimStart().StartsWith("r-back01", StringComparison.Ordinal))
                < Array.FindIndex(lines, l => l.TrimStart().StartsWith("r-abc123", StringComparison.Ordinal)),
            "the controller's order (newest first) is kept");
    }

    [Fact]
    public async Task Rollouts_Json_ArrayOfRollouts()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.History.Add(Samples.BatchedRollout(RolloutState.Succeeded));

        var result = await RunAsync("--controller", controller.Address, "rollouts", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("succeeded", doc.RootElement[0].GetProperty("state").GetString());
        Assert.Equal("50%", doc.RootElement[0].GetProperty("policy").GetProperty("batch").GetString());
    }

    [Fact]
    public async Task Rollouts_None_SaysHowToStart()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "rollouts");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("no rollouts yet", result.Out, StringComparison.Ordinal);
    }

    private static Rollout RollbackOf(string original, RolloutState state)
    {
        var rollout = new Rollout
        {
            Id = "r-back01",
            State = state,
            RollbackOf = original,
            Release = new OdooRelease { Series = "18.0", Commit = "0123456789abcdef0123456789abcdef01234567" },
            CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(Samples.Now.AddMinutes(-3)),
            Batches = { new RolloutBatch { Index = 0, State = RolloutBatchState.Done, Hosts = 1, Succeeded = 1 } },
            Hosts = { new RolloutHost { Id = "h-web01", Name = "web-01", State = state == RolloutState.Running ? RolloutHostState.Pending : RolloutHostState.Succeeded } },
        };
        if (state != RolloutState.Running)
        {
            rollout.FinishedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(Samples.Now.AddMinutes(-1));
        }

        return rollout;
    }

    /// <summary>Some line holds every cell, in order (table spacing is Spectre's business).</summary>
    private static void AssertRow(string[] lines, params string[] cells)
    {
        var found = lines.Any(line =>
        {
            var at = 0;
            foreach (var cell in cells)
            {
                at = line.IndexOf(cell, at, StringComparison.Ordinal);
                if (at < 0)
                {
                    return false;
                }

                at += cell.Length;
            }

            return true;
        });
        Assert.True(found, $"no line holds [{string.Join(" | ", cells)}] in order:\n{string.Join('\n', lines)}");
    }
}
