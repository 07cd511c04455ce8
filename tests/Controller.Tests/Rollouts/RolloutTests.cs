using Grpc.Core;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Tests.Api;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;
using DomainRelease = OdooFleet.Controller.Domain.OdooRelease;

namespace OdooFleet.Controller.Tests.Rollouts;

/// <summary>
/// Rollouts end to end on the controller: the real FleetService and RolloutGrain in an Orleans
/// silo over real PostgreSQL and RabbitMQ, hosts answered by virtual agents through the store
/// AgentService.ReportConverge writes.
/// </summary>
public sealed class RolloutTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    // Generous: the box is shared, and a silo takeover under load takes its time; waits end as soon as the condition holds.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(180);
    private ScratchVhost? vhost;
    private FixtureSource? source;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FixtureSource Source => source!;

    public async ValueTask InitializeAsync()
    {
        vhost = await ScratchVhost.CreateAsync(Ct);
        source = await FixtureSource.CreateAsync();
    }

    public async ValueTask DisposeAsync()
    {
        source?.Dispose();
        if (vhost is not null)
        {
            await vhost.DisposeAsync();
        }
    }

    [Fact]
    public async Task StartRollout_CanaryThenBatches_EveryHostUpdatedOnceThenSecondRolloutChangesNothing()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 5);
        await using var agents = fleet.Agents;
        var target = await Source.CommitAsync("18.0");

        var started = await node.Fleet.StartRolloutAsync(Request(fleet, canary: 1, batch: "2"), ControllerNode.Admin, cancellationToken: Ct);

        Assert.Equal(RolloutState.Running, started.State);
        Assert.Equal(target, started.Release.Commit);
        Assert.Equal(Controller.Domain.Caller.BootstrapActor, started.CreatedBy);
        Assert.Equal([1, 2, 2], started.Batches.Select(b => b.Hosts));
        Assert.Equal(64, started.Artifact.Sha256.Length);
        Assert.Equal("2", started.Policy.Batch);
        Assert.Equal(0, started.Policy.MaxFailuresHosts);
        var done = await WaitForStateAsync(node, started.Id, RolloutState.Succeeded);

        Assert.All(done.Hosts, h =>
        {
            Assert.Equal(RolloutHostState.Succeeded, h.State);
            Assert.Equal(fleet.From, h.FromRelease.Commit);
            Assert.Equal("done", h.Phase);
            Assert.Equal(1200, h.UnavailableMs);
            Assert.Equal(["db1:web"], h.UpdatedModules);
        });
        Assert.All(done.Batches, b => Assert.Equal(RolloutBatchState.Done, b.State));
        // The history lists the same batch counts, without host rows.
        var listed = (await node.Fleet.ListRolloutsAsync(new ListRolloutsRequest { Limit = 1000 }, ControllerNode.Admin, cancellationToken: Ct)).Rollouts.Single(r => r.Id == started.Id);
        Assert.Empty(listed.Hosts);
        Assert.Equal(done.Batches, listed.Batches);
        await AssertBumpedOnceAsync(node, fleet, started.Id, target);
        var events = await EventsAsync(node, started.Id);
        Assert.Equal("RolloutStarted", events[0].Type);
        Assert.Equal("RolloutCompleted", events[^1].Type);
        Assert.Contains("succeeded", events[^1].DataJson, StringComparison.Ordinal);
        Assert.Equal(3, events.Count(e => e.Type == "RolloutBatchStarted"));
        Assert.Equal(5, events.Count(e => e.Type == "RolloutStepSucceeded"));
        // Batches strictly one after the other: batch k+1 starts after every step of batch k.
        var order = events.Where(e => e.Type is "RolloutBatchStarted" or "RolloutStepSucceeded").Select(e => e.Type[7]).ToArray();
        Assert.Equal("BSBSSBSS", new string(order));
        Assert.Empty(await fixture.Database.DataSource.CreateCommand($"SELECT host_id FROM host_leases WHERE rollout_id = '{started.Id}'").ExecuteScalarAsync(Ct) is string s ? [s] : Array.Empty<string>());

        var again = await node.Fleet.StartRolloutAsync(Request(fleet), ControllerNode.Admin, cancellationToken: Ct);
        var unchanged = await WaitForStateAsync(node, again.Id, RolloutState.Succeeded);

        Assert.All(unchanged.Hosts, h => Assert.Equal(RolloutHostState.Unchanged, h.State));
        await AssertBumpedOnceAsync(node, fleet, started.Id, target);
        Assert.Null(agents.Error);
    }

    [Fact]
    public async Task ReportStage_HostOfRunningRollout_RecordedAsStaged()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 2);
        await using var agents = fleet.Agents;
        foreach (var host in fleet.HostIds)
        {
            agents.Held[host] = true;
        }

        var target = await Source.CommitAsync("18.0");
        var started = await node.Fleet.StartRolloutAsync(Request(fleet, batch: "1"), ControllerNode.Admin, cancellationToken: Ct);
        var (client, channel) = node.AgentClient(fleet.Certificates[1]);
        using (channel)
        {
            var answer = await client.ReportStageAsync(new StageReport
            {
                HostId = fleet.HostIds[1],
                CommandId = "c-test",
                Release = new OdooRelease { Series = "18.0", Commit = target },
                Success = true,
                DurationMs = 1500,
            }, cancellationToken: Ct);
            Assert.True(answer.Accepted);
        }

        var view = await node.Fleet.GetRolloutAsync(new GetRolloutRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct);
        Assert.True(view.Hosts.Single(h => h.Id == fleet.HostIds[1]).Staged);
        Assert.False(view.Hosts.Single(h => h.Id == fleet.HostIds[0]).Staged);
        await node.Fleet.AbortRolloutAsync(new RolloutActionRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct);
    }

    [Fact]
    public async Task StartRollout_HostHeldByAnotherRollout_RefusedNamingHostAndHolder()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 2);
        await using var agents = fleet.Agents;
        foreach (var host in fleet.HostIds)
        {
            agents.Held[host] = true;
        }

        await Source.CommitAsync("18.0");
        var first = await node.Fleet.StartRolloutAsync(Request(fleet), ControllerNode.Admin, cancellationToken: Ct);

        var refused = await Assert.ThrowsAsync<RpcException>(() => node.Fleet.StartRolloutAsync(Request(fleet), ControllerNode.Admin, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains(fleet.Names[0], refused.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"held by rollout {first.Id}", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Single((await node.Fleet.ListRolloutsAsync(new ListRolloutsRequest(), ControllerNode.Admin, cancellationToken: Ct)).Rollouts, r => r.Policy.Selector["test"] == fleet.Tag);
        await node.Fleet.AbortRolloutAsync(new RolloutActionRequest { Id = first.Id }, ControllerNode.Admin, cancellationToken: Ct);
    }

    [Fact]
    public async Task StartRollout_FailuresBeyondMaxFailures_FailedLaterBatchesCancelledRevertedHostsPutBack()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 4, bad: 2);
        await using var agents = fleet.Agents;
        var target = await Source.CommitAsync("18.0");

        var started = await node.Fleet.StartRolloutAsync(Request(fleet, batch: "1", maxFailures: "1"), ControllerNode.Admin, cancellationToken: Ct);
        var failed = await WaitForStateAsync(node, started.Id, RolloutState.Failed);

        Assert.Equal(
            [RolloutHostState.Reverted, RolloutHostState.Reverted, RolloutHostState.Cancelled, RolloutHostState.Cancelled],
            failed.Hosts.OrderBy(h => h.Name).Select(h => h.State));
        Assert.Equal(
            [RolloutBatchState.Done, RolloutBatchState.Done, RolloutBatchState.Cancelled, RolloutBatchState.Cancelled],
            failed.Batches.Select(b => b.State));
        var reverted = failed.Hosts.First(h => h.State == RolloutHostState.Reverted);
        Assert.Equal("health", reverted.Phase);
        Assert.Contains("ERROR db1", reverted.LogTail, StringComparison.Ordinal);
        Assert.Equal(3400, reverted.UnavailableMs);
        Assert.Contains("max_failures 1", failed.Message, StringComparison.Ordinal);
        var hosts = node.Get<HostStore>();
        // Reverted hosts want what they run again; the cancelled ones were never touched.
        await WaitForAsync(async () =>
        {
            foreach (var id in fleet.HostIds)
            {
                var h = (await hosts.FindAsync(id, Ct))!;
                if (h.DesiredRelease!.Commit != fleet.From || h.RunningRelease!.Commit != fleet.From || h.AppliedGeneration != h.DesiredGeneration)
                {
                    return false;
                }
            }

            return true;
        }, "every host to want and run the old release again");
        foreach (var id in fleet.HostIds.Skip(2))
        {
            Assert.Equal(fleet.Generations[id], (await hosts.FindAsync(id, Ct))!.DesiredGeneration);
        }

        var events = await EventsAsync(node, started.Id);
        Assert.Equal(2, events.Count(e => e.Type == "RolloutStepReverted"));
        Assert.Equal("failed", System.Text.Json.JsonDocument.Parse(events[^1].DataJson).RootElement.GetProperty("status").GetString());
        Assert.DoesNotContain(events, e => e.Type == "RolloutStepSucceeded");
        _ = target;
    }

    [Fact]
    public async Task StartRollout_PauseAfterCanary_PausedUntilResumed()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 3);
        await using var agents = fleet.Agents;
        await Source.CommitAsync("18.0");

        var started = await node.Fleet.StartRolloutAsync(Request(fleet, canary: 1, batch: "100%", pause: true), ControllerNode.Admin, cancellationToken: Ct);
        var paused = await WaitForStateAsync(node, started.Id, RolloutState.Paused);

        Assert.Equal([RolloutHostState.Succeeded, RolloutHostState.Pending, RolloutHostState.Pending], paused.Hosts.OrderBy(h => h.Batch).ThenBy(h => h.Name).Select(h => h.State));
        Assert.Equal(RolloutBatchState.Pending, paused.Batches[1].State);

        var resumed = await node.Fleet.ResumeRolloutAsync(new RolloutActionRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct);
        Assert.Equal(RolloutState.Running, resumed.State);
        var done = await WaitForStateAsync(node, started.Id, RolloutState.Succeeded);

        Assert.All(done.Hosts, h => Assert.Equal(RolloutHostState.Succeeded, h.State));
        var types = (await EventsAsync(node, started.Id)).Select(e => e.Type).ToList();
        Assert.True(types.IndexOf("RolloutPaused") < types.IndexOf("RolloutResumed"));
        var again = await Assert.ThrowsAsync<RpcException>(() => node.Fleet.ResumeRolloutAsync(new RolloutActionRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
    }

    [Fact]
    public async Task PauseRollout_ThenAbort_UpdatingHostFinishesOthersCancelled()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 3);
        await using var agents = fleet.Agents;
        agents.Held[fleet.HostIds[0]] = true;
        await Source.CommitAsync("18.0");

        var started = await node.Fleet.StartRolloutAsync(Request(fleet, batch: "1"), ControllerNode.Admin, cancellationToken: Ct);
        await WaitForAsync(async () => (await GetAsync(node, started.Id)).Hosts.Any(h => h.State == RolloutHostState.Updating && h.Generation > 0), "the first host to be updating");
        var paused = await node.Fleet.PauseRolloutAsync(new RolloutActionRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct);
        Assert.Equal(RolloutState.Paused, paused.State);
        agents.Held.Clear();
        // The host already updating finishes; no new batch starts while paused.
        await WaitForAsync(async () => (await GetAsync(node, started.Id)).Hosts.Any(h => h.State == RolloutHostState.Succeeded), "the updating host to finish");
        var stillPaused = await GetAsync(node, started.Id);
        Assert.Equal(RolloutState.Paused, stillPaused.State);
        Assert.Equal(2, stillPaused.Hosts.Count(h => h.State == RolloutHostState.Pending));

        var aborted = await node.Fleet.AbortRolloutAsync(new RolloutActionRequest { Id = started.Id }, ControllerNode.Admin, cancellationToken: Ct);

        Assert.Equal(RolloutState.Aborted, aborted.State);
        Assert.Equal(2, aborted.Hosts.Count(h => h.State == RolloutHostState.Cancelled));
        Assert.NotNull(aborted.FinishedAt);
        var types = (await EventsAsync(node, started.Id)).Select(e => e.Type).ToList();
        Assert.Equal(["RolloutStarted", "RolloutBatchStarted", "RolloutPaused", "RolloutStepSucceeded", "RolloutAborted"], types);
        foreach (var id in fleet.HostIds.Skip(1))
        {
            Assert.Equal(fleet.Generations[id], (await node.Get<HostStore>().FindAsync(id, Ct))!.DesiredGeneration);
        }

        // The lease is gone: a new rollout may take the hosts.
        var next = await node.Fleet.StartRolloutAsync(Request(fleet, dryRun: true), ControllerNode.Admin, cancellationToken: Ct);
        Assert.Equal(RolloutState.Planned, next.State);
    }

    [Fact]
    public async Task RollbackRollout_FinishedRollout_NewRolloutMovesChangedHostsBack()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 3);
        await using var agents = fleet.Agents;
        var target = await Source.CommitAsync("18.0");
        var first = await node.Fleet.StartRolloutAsync(Request(fleet), ControllerNode.Admin, cancellationToken: Ct);
        await WaitForStateAsync(node, first.Id, RolloutState.Succeeded);

        var rollback = await node.Fleet.RollbackRolloutAsync(new RolloutActionRequest { Id = first.Id }, ControllerNode.Admin, cancellationToken: Ct);

        Assert.NotEqual(first.Id, rollback.Id);
        Assert.Equal(first.Id, rollback.RollbackOf);
        Assert.Equal(fleet.From, rollback.Release.Commit);
        var done = await WaitForStateAsync(node, rollback.Id, RolloutState.Succeeded);
        Assert.All(done.Hosts, h =>
        {
            Assert.Equal(RolloutHostState.Succeeded, h.State);
            Assert.Equal(target, h.FromRelease.Commit);
        });
        foreach (var id in fleet.HostIds)
        {
            var host = (await node.Get<HostStore>().FindAsync(id, Ct))!;
            Assert.Equal(fleet.From, host.DesiredRelease!.Commit);
            Assert.Equal(fleet.Generations[id] + 2, host.DesiredGeneration);
        }

        Assert.Contains(await EventsAsync(node, first.Id), e => e.Type == "RolloutRolledBack" && e.DataJson.Contains(rollback.Id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartRollout_DryRun_PlanReturnedAndNothingPersisted()
    {
        await using var node = await NodeAsync();
        var fleet = await FleetAsync(node, 4);
        await using var agents = fleet.Agents;
        var target = await Source.CommitAsync("18.0");
        var eventsBefore = await CountAsync("SELECT count(*) FROM events");

        var plan = await node.Fleet.StartRolloutAsync(Request(fleet, canary: 1, batch: "50%", dryRun: true), ControllerNode.Admin, cancellationToken: Ct);

        Assert.Equal(RolloutState.Planned, plan.State);
        Assert.Equal(target, plan.Release.Commit);
        Assert.Equal([1, 2, 1], plan.Batches.Select(b => b.Hosts));
        Assert.Equal(fleet.Names, plan.Hosts.Select(h => h.Name));
        Assert.All(plan.Hosts, h => Assert.Equal(RolloutHostState.Pending, h.State));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM rollouts WHERE id = '{plan.Id}'"));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM host_leases WHERE host_id = '{fleet.HostIds[0]}'"));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM releases WHERE commit = '{target}'"));
        Assert.Equal(eventsBefore, await CountAsync("SELECT count(*) FROM events"));
        var notFound = await Assert.ThrowsAsync<RpcException>(() => node.Fleet.GetRolloutAsync(new GetRolloutRequest { Id = plan.Id }, ControllerNode.Admin, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public async Task StartRollout_OfflineHostWithSkipPolicy_SkippedNotFailed()
    {
        await using var node = await NodeAsync(offlineAfterSeconds: 5);
        var fleet = await FleetAsync(node, 2);
        await using var agents = fleet.Agents;
        await agents.TakeOfflineAsync(fleet.HostIds[1], Ct);
        await fixture.Database.DataSource.CreateCommand($"UPDATE hosts SET last_seen = now() - interval '1 hour' WHERE id = '{fleet.HostIds[1]}'").ExecuteNonQueryAsync(Ct);
        await Source.CommitAsync("18.0");

        var started = await node.Fleet.StartRolloutAsync(Request(fleet), ControllerNode.Admin, cancellationToken: Ct);
        var done = await WaitForStateAsync(node, started.Id, RolloutState.Succeeded);

        Assert.Equal([RolloutHostState.Succeeded, RolloutHostState.Skipped], done.Hosts.OrderBy(h => h.Name).Select(h => h.State));
        Assert.Equal(1, done.Batches.Sum(b => b.Skipped));
        Assert.Equal(fleet.Generations[fleet.HostIds[1]], (await node.Get<HostStore>().FindAsync(fleet.HostIds[1], Ct))!.DesiredGeneration);
    }

    [Fact]
    public async Task StartRollout_OwningSiloKilledMidBatch_SurvivorFinishesAndBumpsEachHostOnce()
    {
        var cluster = new ClusterIdentity("test-" + Guid.NewGuid().ToString("N")[..12], "svc-" + Guid.NewGuid().ToString("N")[..12]);
        var first = await NodeAsync(cluster);
        await using var second = await NodeAsync(cluster);
        var fleet = await FleetAsync(second, 6);
        await using var agents = fleet.Agents;
        foreach (var id in fleet.HostIds)
        {
            agents.Held[id] = true;
        }

        var target = await Source.CommitAsync("18.0");
        // Started through the first controller: its silo places and runs the rollout grain.
        var started = await first.Fleet.StartRolloutAsync(Request(fleet, batch: "2"), ControllerNode.Admin, cancellationToken: Ct);
        await WaitForAsync(async () => (await GetAsync(second, started.Id)).Hosts.Count(h => h.State == RolloutHostState.Updating && h.Generation > 0) == 2,
            "the first batch to be dispatched");
        // Half of the batch answers, then the owner dies without handing anything off.
        agents.Held.TryRemove(fleet.HostIds[0], out _);
        await WaitForAsync(async () => (await GetAsync(second, started.Id)).Hosts.Any(h => h.State == RolloutHostState.Succeeded), "one step to finish");
        await first.KillAsync();
        await first.DisposeAsync();
        agents.Held.Clear();

        var done = await WaitForStateAsync(second, started.Id, RolloutState.Succeeded);

        Assert.All(done.Hosts, h => Assert.Equal(RolloutHostState.Succeeded, h.State));
        await AssertBumpedOnceAsync(second, fleet, started.Id, target);
        Assert.All(agents.Answered.Where(a => fleet.HostIds.Contains(a.Key.Host)), a => Assert.Equal(1, a.Value));
        Assert.Equal(6, (await EventsAsync(second, started.Id)).Count(e => e.Type == "RolloutStepSucceeded"));
    }

    private sealed record TestFleet(
        string Tag, List<string> HostIds, List<string> Names, List<System.Security.Cryptography.X509Certificates.X509Certificate2> Certificates,
        string From, Dictionary<string, long> Generations, VirtualAgents Agents);

    private async Task<ControllerNode> NodeAsync(ClusterIdentity? cluster = null, int offlineAfterSeconds = 3600) =>
        await ControllerNode.StartAsync(
            fixture.Database,
            cluster ?? new ClusterIdentity("test-" + Guid.NewGuid().ToString("N")[..12], "svc-" + Guid.NewGuid().ToString("N")[..12]),
            vhost!.Broker,
            Source.Repository,
            Source.NewDataDirectory(),
            offlineAfterSeconds);

    /// <summary>Hosts labelled with a tag of their own, running the current 18.0 head; the first <paramref name="bad"/> (by name) revert any release change.</summary>
    private async Task<TestFleet> FleetAsync(ControllerNode node, int count, int bad = 0)
    {
        var tag = "t" + Guid.NewGuid().ToString("N")[..10];
        var labels = new Dictionary<string, string> { ["test"] = tag };
        var ids = new List<string>();
        var names = new List<string>();
        var certificates = new List<System.Security.Cryptography.X509Certificates.X509Certificate2>();
        for (var i = 0; i < count; i++)
        {
            var name = $"{tag}-{i:D2}";
            var (id, certificate) = await node.EnrollAsync(name, labels);
            ids.Add(id);
            names.Add(name);
            certificates.Add(certificate);
        }

        var from = await Source.HeadAsync("18.0");
        var hosts = node.Get<HostStore>();
        foreach (var id in ids)
        {
            await hosts.SetDesiredReleaseAsync(id, new DomainRelease("18.0", from), "{}", DateTimeOffset.UtcNow, Ct);
        }

        var badHosts = ids.Take(bad).ToHashSet();
        var agents = new VirtualAgents(hosts, ids, id => badHosts.Contains(id) ? AgentOutcome.Reverted : AgentOutcome.Updated);
        var generations = new Dictionary<string, long>();
        await WaitForAsync(async () =>
        {
            foreach (var id in ids)
            {
                var h = (await hosts.FindAsync(id, Ct))!;
                if (h.AppliedGeneration != h.DesiredGeneration || h.LastSeen is null)
                {
                    return false;
                }

                generations[id] = h.DesiredGeneration;
            }

            return true;
        }, "the hosts to run the starting release");
        return new TestFleet(tag, ids, names, certificates, from, generations, agents);
    }

    private static StartRolloutRequest Request(TestFleet fleet, int canary = 0, string batch = "", string maxFailures = "", bool pause = false, bool dryRun = false) =>
        new()
        {
            Series = "18.0",
            Selector = { ["test"] = fleet.Tag },
            Canary = canary,
            Batch = batch,
            MaxFailures = maxFailures,
            PauseAfterCanary = pause,
            DryRun = dryRun,
            HealthTimeoutSeconds = 60,
            MinHealthySeconds = 5,
        };

    /// <summary>Each host's generation went up by exactly one for the rollout, and exactly one spec change names it.</summary>
    private async Task AssertBumpedOnceAsync(ControllerNode node, TestFleet fleet, string rolloutId, string target)
    {
        foreach (var id in fleet.HostIds)
        {
            var host = (await node.Get<HostStore>().FindAsync(id, Ct))!;
            Assert.Equal(fleet.Generations[id] + 1, host.DesiredGeneration);
            Assert.Equal(target, host.DesiredRelease!.Commit);
            Assert.Equal(rolloutId, host.DesiredGate!.RolloutId);
            Assert.Equal($"/releases/18.0-{target}.tar.gz", host.DesiredArtifact!.Path);
            Assert.Equal(1, await CountAsync($"SELECT count(*) FROM events WHERE type = 'HostSpecChanged' AND subject = '{id}' AND data->>'cause' = 'rollout {rolloutId}'"));
        }
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    private static async Task<List<FleetEventRecord>> EventsAsync(ControllerNode node, string rolloutId) =>
        [.. (await node.Fleet.ListEventsAsync(new ListEventsRequest { Subject = rolloutId, TypePrefix = "Rollout" }, ControllerNode.Admin, cancellationToken: Ct)).Events];

    private static async Task<Rollout> GetAsync(ControllerNode node, string id) =>
        await node.Fleet.GetRolloutAsync(new GetRolloutRequest { Id = id }, ControllerNode.Admin, cancellationToken: Ct);

    private static async Task<Rollout> WaitForStateAsync(ControllerNode node, string id, RolloutState state)
    {
        Rollout? last = null;
        await WaitForAsync(async () =>
        {
            last = await GetAsync(node, id);
            return last.State == state && last.Hosts.All(h => h.State != RolloutHostState.Updating);
        }, $"rollout {id} to be {state}", () => last?.ToString() ?? "");
        return last!;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what, Func<string>? describe = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Deadline);
        Exception? lastError = null;
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                lastError = e;
            }

            try
            {
                await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        Ct.ThrowIfCancellationRequested();
        throw new TimeoutException($"gave up after {Deadline.TotalSeconds} s waiting for {what}; last error {lastError?.Message}; {describe?.Invoke()}");
    }
}
