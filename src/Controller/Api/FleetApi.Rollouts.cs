using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using OdooFleet.Controller.Sources;
using OdooRelease = OdooFleet.Controller.Domain.OdooRelease;
using ReleaseArtifact = OdooFleet.Controller.Domain.ReleaseArtifact;

namespace OdooFleet.Controller.Api;

/// <summary>FleetService: rollouts and the events listing.</summary>
internal sealed partial class FleetApi
{
    private const int DefaultRolloutLimit = 50;
    private const int DefaultEventLimit = 200;
    private static readonly TimeSpan DefaultEventWindow = TimeSpan.FromHours(24);
    private static readonly TimeSpan WatchPollInterval = TimeSpan.FromMilliseconds(500);

    public override async Task<Rollout> StartRollout(StartRolloutRequest request, ServerCallContext context)
    {
        if (!Validation.IsSeries(request.Series))
        {
            throw Invalid($"version: '{Printable(request.Series)}' is not an Odoo series; use the form 18.0");
        }

        var selectorErrors = Labels.Validate(request.Selector);
        if (selectorErrors.Count > 0)
        {
            throw Invalid(string.Join("; ", selectorErrors.Select(e => "selector " + e)));
        }

        if (request.Offline is not (Contracts.V1.OfflinePolicy.Unspecified or Contracts.V1.OfflinePolicy.Skip or Contracts.V1.OfflinePolicy.Wait))
        {
            throw Invalid($"offline: {(int)request.Offline} is not an offline policy; use skip or wait");
        }

        var ct = context.CancellationToken;
        var all = await hosts.ListAsync(ct);
        if (all.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                "no hosts are enrolled; create a token with `fleet token create` and run `odoofleet-agent enroll` on a host"));
        }

        var options = new RolloutOptions(
            request.Selector, request.Canary, request.Batch, request.MaxFailures, request.HealthTimeoutSeconds, request.MinHealthySeconds,
            request.PauseAfterCanary, request.NoBackup, request.Offline == Contracts.V1.OfflinePolicy.Wait ? Domain.OfflinePolicy.Wait : Domain.OfflinePolicy.Skip);
        var selected = RolloutPlanner.Select(all.Select(h => new PlannableHost(h.Id, h.Name, h.Labels)), request.Selector);
        // Options first: a bad --batch is reported without a round trip to the source.
        var placeholder = new OdooRelease(request.Series, new string('0', 40));
        ThrowOnErrors(RolloutPlanner.Plan([.. selected.Select(h => new RolloutTarget(h.HostId, h.Name, placeholder))], options).Errors);

        OdooRelease release;
        try
        {
            // Resolved once, here: every host of this rollout gets the same commit.
            release = await releases.ResolveAsync(request.Series, request.Revision, ct);
        }
        catch (ReleaseResolutionException e)
        {
            throw new RpcException(new Status(e.SourceUnreachable ? StatusCode.Unavailable : StatusCode.InvalidArgument, e.Message));
        }

        var byId = all.ToDictionary(h => h.Id, StringComparer.Ordinal);
        var targets = selected.Select(h => new RolloutTarget(h.HostId, h.Name, release)).ToList();
        var (plan, _) = RolloutPlanner.Plan(targets, options);
        return await CreateRolloutAsync(plan!, release, targets, id => byId[id].RunningRelease, null, request.DryRun, context);
    }

    public override async Task<Rollout> RollbackRollout(RolloutActionRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var original = await LoadRolloutAsync(request.Id, ct);
        if (!original.Rollout.IsFinished)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"rollout {original.Rollout.Id} is {original.Rollout.Status.ToString().ToLowerInvariant()}; abort it first (`fleet rollout abort {original.Rollout.Id}`), then roll it back"));
        }

        // Failed and reverted hosts were already put back; only hosts the rollout moved go back.
        var changed = original.Hosts.Where(h => h.Status == RolloutHostStatus.Succeeded && h.From is not null).OrderBy(h => h.Name, StringComparer.Ordinal).ToList();
        if (changed.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"rollout {original.Rollout.Id} changed no host that had a release before it; there is nothing to roll back"));
        }

        var targets = changed.Select(h => new RolloutTarget(h.HostId, h.Name, h.From!)).ToList();
        var p = original.Rollout.Policy;
        var options = new RolloutOptions(p.Selector, 0, p.Batch, p.MaxFailures, p.HealthTimeoutSeconds, p.MinHealthySeconds, false, p.NoBackup, p.Offline);
        var (plan, errors) = RolloutPlanner.Plan(targets, options);
        ThrowOnErrors(errors);
        // The header names the release most of the hosts go back to; each host row has its own.
        var release = targets.GroupBy(t => t.Release).OrderByDescending(g => g.Count()).First().Key;
        var from = changed.ToDictionary(h => h.HostId, h => (OdooRelease?)h.Target, StringComparer.Ordinal);
        return await CreateRolloutAsync(plan!, release, targets, id => from[id], original.Rollout.Id, dryRun: false, context);
    }

    private async Task<Rollout> CreateRolloutAsync(
        RolloutPlan plan, OdooRelease release, List<RolloutTarget> targets, Func<string, OdooRelease?> fromOf, string? rollbackOf, bool dryRun, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var conflicts = await rollouts.ConflictsAsync([.. targets.Select(t => t.HostId)], ct);
        ThrowOnConflicts(conflicts);
        var id = Identifiers.New("r");
        var now = time.GetUtcNow();
        var actor = ApiTokenInterceptor.CallerOf(context).Actor;
        ReleaseArtifact? artifact = null;
        if (!dryRun)
        {
            try
            {
                // Built once, before any host is touched; every other release a rollback needs is built too.
                foreach (var r in targets.Select(t => t.Release).Distinct())
                {
                    var built = await builder.EnsureAsync(r, ct);
                    artifact = r == release ? built : artifact;
                }
            }
            catch (Exception e) when (e is ReleaseBuildException or ReleaseResolutionException)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, $"the release could not be staged on the controller: {e.Message}"));
            }
        }

        var header = new RolloutRecord(
            id, release, dryRun ? RolloutStatus.Planned : RolloutStatus.Running, now, null, dryRun ? "dry run: nothing was changed" : "",
            plan.Policy, rollbackOf, actor, -1, artifact, 1);
        var view = new RolloutView(
            header,
            [.. plan.Batches.Select(b => new RolloutBatchRecord(b.Index, b.Canary, RolloutBatchStatus.Pending, null, null))],
            [.. plan.Batches.SelectMany(b => b.Hosts.Select(t => new RolloutHostRecord(
                t.HostId, t.Name, b.Index, RolloutHostStatus.Pending, t.Release, fromOf(t.HostId), 0, "", now)))]);
        if (dryRun)
        {
            return view.ToProto();
        }

        var started = new OutboxEvent("RolloutStarted", id, Json.Serialize(new
        {
            release = release.ToString(),
            hosts = targets.Count,
            batches = plan.Batches.Count,
            policy = plan.Policy,
            createdBy = actor,
            rollbackOf,
        }));
        List<OutboxEvent> announced = rollbackOf is null
            ? [started]
            : [started, new OutboxEvent("RolloutRolledBack", rollbackOf, Json.Serialize(new { rollout = id, hosts = targets.Count, by = actor }))];
        ThrowOnConflicts(await rollouts.CreateAsync(view, announced, ct));
        LogRolloutStarted(logger, id, release.ToString(), targets.Count, plan.Batches.Count);
        await WakeAsync(id);
        return (await rollouts.LoadAsync(id, ct) ?? view).ToProto();
    }

    public override async Task<Rollout> GetRollout(GetRolloutRequest request, ServerCallContext context) =>
        (await LoadRolloutAsync(request.Id, context.CancellationToken)).ToProto();

    public override async Task WatchRollout(GetRolloutRequest request, IServerStreamWriter<Rollout> responseStream, ServerCallContext context)
    {
        // Ends when the controller stops; the CLI reconnects to another controller and carries on.
        using var streamEnd = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = streamEnd.Token;
        var view = await LoadRolloutAsync(request.Id, context.CancellationToken);
        long sent = -1;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (view.Rollout.Version != sent)
                {
                    await responseStream.WriteAsync(view.ToProto(), ct);
                    sent = view.Rollout.Version;
                }

                if (view.Rollout.IsFinished && view.Hosts.All(h => h.Status != RolloutHostStatus.Updating))
                {
                    return;
                }

                await Task.Delay(WatchPollInterval, time, ct);
                // Only the version is read each poll; the whole rollout only when it moved.
                if (await rollouts.VersionAsync(request.Id, ct) != sent)
                {
                    view = await rollouts.LoadAsync(request.Id, ct) ?? view;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away or the controller is stopping.
        }
    }

    public override async Task<ListRolloutsResponse> ListRollouts(ListRolloutsRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > RolloutStore.MaxListLimit)
        {
            throw Invalid($"limit: {request.Limit} is out of range; use 1-{RolloutStore.MaxListLimit} (e.g. --limit 20)");
        }

        var list = await rollouts.ListAsync(request.Limit == 0 ? DefaultRolloutLimit : request.Limit, context.CancellationToken);
        var response = new ListRolloutsResponse();
        response.Rollouts.AddRange(list.Select(r => r.ToProto()));
        return response;
    }

    public override Task<Rollout> PauseRollout(RolloutActionRequest request, ServerCallContext context) =>
        ActOnRolloutAsync(request.Id, "pause", (grain, actor) => grain.Pause(actor), context);

    public override Task<Rollout> ResumeRollout(RolloutActionRequest request, ServerCallContext context) =>
        ActOnRolloutAsync(request.Id, "resume", (grain, actor) => grain.Resume(actor), context);

    public override Task<Rollout> AbortRollout(RolloutActionRequest request, ServerCallContext context) =>
        ActOnRolloutAsync(request.Id, "abort", (grain, actor) => grain.Abort(actor), context);

    public override async Task<ListEventsResponse> ListEvents(ListEventsRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > EventStore.MaxListLimit)
        {
            throw Invalid($"limit: {request.Limit} is out of range; use 1-{EventStore.MaxListLimit} (e.g. --limit 100)");
        }

        if (request.TypePrefix.Length > 100 || request.Subject.Length > 200)
        {
            throw Invalid("type_prefix: at most 100 characters and subject at most 200 (e.g. --type Rollout --subject r-3kq9t2mzpa)");
        }

        var since = request.Since?.ToDateTimeOffset() ?? time.GetUtcNow() - DefaultEventWindow;
        var list = await events.ListAsync(
            since,
            request.TypePrefix.Length == 0 ? null : request.TypePrefix,
            request.Subject.Length == 0 ? null : request.Subject,
            request.Limit == 0 ? DefaultEventLimit : request.Limit,
            context.CancellationToken);
        var response = new ListEventsResponse();
        response.Events.AddRange(list.Select(e => e.ToProto()));
        return response;
    }

    private async Task<Rollout> ActOnRolloutAsync(string id, string verb, Func<IRolloutGrain, string, Task<string?>> act, ServerCallContext context)
    {
        var view = await LoadRolloutAsync(id, context.CancellationToken);
        var refusal = await act(grains.GetGrain<IRolloutGrain>(view.Rollout.Id), ApiTokenInterceptor.CallerOf(context).Actor);
        if (refusal is not null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"cannot {verb} rollout {view.Rollout.Id}: {refusal}"));
        }

        return (await LoadRolloutAsync(id, context.CancellationToken)).ToProto();
    }

    private async Task<RolloutView> LoadRolloutAsync(string id, CancellationToken ct)
    {
        if (!Validation.IsId(id, 'r'))
        {
            throw Invalid($"id: '{Printable(id.Length > 40 ? id[..40] : id)}' is not a rollout id (like r-3kq9t2mzpa); list them with `fleet rollouts`");
        }

        return await rollouts.LoadAsync(id, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"rollout '{id}' not found; list them with `fleet rollouts`"));
    }

    private async Task WakeAsync(string id)
    {
        try
        {
            await grains.GetGrain<IRolloutGrain>(id).Wake();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Persisted is what counts: the rollout keeper wakes it within a minute.
            LogWakeFailed(logger, id, e.Message);
        }
    }

    private static void ThrowOnErrors(IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
        {
            throw Invalid(string.Join("; ", errors));
        }
    }

    private static void ThrowOnConflicts(IReadOnlyList<LeaseConflict> conflicts)
    {
        if (conflicts.Count == 0)
        {
            return;
        }

        var held = conflicts.GroupBy(c => c.RolloutId)
            .Select(g => $"{string.Join(", ", g.Select(c => c.HostName).Take(10))}{(g.Count() > 10 ? $" and {g.Count() - 10} more" : "")} (held by rollout {g.Key})");
        throw new RpcException(new Status(StatusCode.FailedPrecondition,
            $"hosts are in another rollout: {string.Join("; ", held)}; wait for it, abort it (`fleet rollout abort ID`) or narrow --selector"));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} of {Release} started on {HostCount} host(s) in {Batches} batch(es)")]
    private static partial void LogRolloutStarted(ILogger logger, string rolloutId, string release, int hostCount, int batches);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout {RolloutId} was created but not woken now ({Error}); the rollout keeper wakes it")]
    private static partial void LogWakeFailed(ILogger logger, string rolloutId, string error);
}
