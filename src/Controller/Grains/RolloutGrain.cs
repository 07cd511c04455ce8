using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using Orleans.Hosting;

namespace OdooFleet.Controller.Grains;

internal interface IRolloutGrain : IGrainWithStringKey
{
    /// <summary>Makes sure a persisted rollout is moving (timer and reminder); harmless when it already is or has ended.</summary>
    Task Wake();

    /// <summary>Null when done, else why not (the rollout is not in a state that allows it).</summary>
    Task<string?> Pause(string actor);

    Task<string?> Resume(string actor);

    Task<string?> Abort(string actor);
}

/// <summary>
/// A persisted state machine over the rollouts tables. Each tick reads the rollout's hosts'
/// progress from the fleet tables in one query, decides (pure <see cref="RolloutStep"/>), writes
/// every change with its events in one transaction, and only then acts (desired releases, stage
/// commands). A reminder (and <see cref="RolloutKeeper"/>) wakes it on a surviving silo if its
/// silo dies; host updates are idempotent (a release already desired bumps no generation), so a
/// crash at any point neither loses a step nor updates a host twice.
/// </summary>
[Orleans.Placement.PreferLocalPlacement]
internal sealed partial class RolloutGrain(
    RolloutStore store,
    ReleaseStore releases,
    HostStore hosts,
    HostCommandPublisher commands,
    IOptions<FleetOptions> options,
    IOptions<ReminderOptions> reminderOptions,
    TimeProvider time,
    ILogger<RolloutGrain> logger) : Grain, IRolloutGrain, IRemindable
{
    private const string ReminderName = "tick";
    private const int Parallelism = 32;
    private const int MaxStepsPerTick = 8;
    /// <summary>A batch ends at the first tick after its last host reported: short, since a tick is one indexed query.</summary>
    private static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(250);

    private IGrainTimer? timer;
    private bool reminderKnown;
    private RolloutRecord? header;
    private List<RolloutBatchRecord> batches = [];
    private Dictionary<string, RolloutHostRecord> rows = new(StringComparer.Ordinal);
    private readonly Dictionary<OdooRelease, ReleaseArtifact?> artifacts = [];

    private string Id => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        if (NeedsTicks)
        {
            LogResumed(logger, Id);
            StartTicking();
        }

        await base.OnActivateAsync(cancellationToken);
    }

    public async Task Wake()
    {
        header ??= (await store.LoadAsync(Id, CancellationToken.None))?.Rollout;
        if (header is null)
        {
            return;
        }

        if (rows.Count == 0)
        {
            await LoadAsync(CancellationToken.None);
        }

        if (NeedsTicks)
        {
            await EnsureReminderAsync();
            StartTicking();
        }
    }

    public Task<string?> Pause(string actor) => ActAsync(actor, RolloutStatus.Running, RolloutStatus.Paused, "RolloutPaused", "pause");

    public Task<string?> Resume(string actor) => ActAsync(actor, RolloutStatus.Paused, RolloutStatus.Running, "RolloutResumed", "resume");

    public async Task<string?> Abort(string actor)
    {
        if (header is null)
        {
            return "not found";
        }

        if (header.Status is not (RolloutStatus.Running or RolloutStatus.Paused))
        {
            return $"it is {header.Status.ToString().ToLowerInvariant()}; only a running or paused rollout can be aborted";
        }

        var now = time.GetUtcNow();
        var step = new Step(now);
        CancelRemaining(step, "rollout aborted");
        header = header with { Status = RolloutStatus.Aborted, FinishedAt = now, Message = $"aborted by {actor}" };
        step.Events.Add(new OutboxEvent("RolloutAborted", Id, Json.Serialize(new { by = actor })));
        step.HeaderChanged = true;
        SettleCurrentBatch(step);
        await PersistAsync(step);
        LogFinished(logger, Id, header.Status, header.Message);
        return null;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        reminderKnown = true;
        if (header is null || !NeedsTicks)
        {
            await UnregisterReminderAsync();
            return;
        }

        StartTicking();
    }

    private bool NeedsTicks =>
        header is not null
        && (header.Status is RolloutStatus.Running or RolloutStatus.Paused
            || rows.Values.Any(h => h.Status == RolloutHostStatus.Updating || h.RestorePending));

    private async Task<string?> ActAsync(string actor, RolloutStatus from, RolloutStatus to, string eventType, string verb)
    {
        if (header is null)
        {
            return "not found";
        }

        if (header.Status != from)
        {
            return $"it is {header.Status.ToString().ToLowerInvariant()}; only a {from.ToString().ToLowerInvariant()} rollout can {verb}";
        }

        var step = new Step(time.GetUtcNow()) { HeaderChanged = true };
        header = header with { Status = to, Message = $"{(to == RolloutStatus.Paused ? "paused" : "resumed")} by {actor}" };
        step.Events.Add(new OutboxEvent(eventType, Id, Json.Serialize(new { by = actor, batch = header.CurrentBatch })));
        await PersistAsync(step);
        if (to == RolloutStatus.Running)
        {
            await EnsureReminderAsync();
            StartTicking();
        }

        return null;
    }

    private void StartTicking() =>
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TickPeriod) { KeepAlive = true });

    private async Task EnsureReminderAsync()
    {
        if (reminderKnown)
        {
            return;
        }

        // The reminder exists while the rollout moves: whatever dies, a silo wakes the rollout again.
        var period = reminderOptions.Value.MinimumReminderPeriod;
        await this.RegisterOrUpdateReminder(ReminderName, period, period);
        reminderKnown = true;
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        var view = await store.LoadAsync(Id, ct);
        header = view?.Rollout;
        batches = view is null ? [] : [.. view.Batches];
        rows = view is null ? new(StringComparer.Ordinal) : view.Hosts.ToDictionary(h => h.HostId, StringComparer.Ordinal);
    }

    private async Task TickAsync(CancellationToken ct)
    {
        if (header is null)
        {
            return;
        }

        try
        {
            // A step that changed something is followed by another at once (the next batch starts
            // without waiting a period); a quiet step waits for the timer.
            for (var i = 0; i < MaxStepsPerTick && await StepAsync(ct); i++)
            {
            }

            if (!NeedsTicks)
            {
                timer?.Dispose();
                timer = null;
                await UnregisterReminderAsync();
            }
        }
        catch (RolloutConcurrencyException e)
        {
            // Another activation wrote this rollout: this one is stale. Drop it; the reminder wakes the live one.
            LogTickFailed(logger, Id, e.Message);
            DeactivateOnIdle();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Transient (database or broker down): drop unsaved changes so memory never runs
            // ahead of what is persisted; the next tick retries from there.
            LogTickFailed(logger, Id, e.Message);
            try
            {
                await LoadAsync(ct);
            }
            catch (Exception reload) when (reload is not OperationCanceledException)
            {
                LogTickFailed(logger, Id, reload.Message);
            }
        }
    }

    /// <summary>One decide-persist-act pass; true if anything changed.</summary>
    private async Task<bool> StepAsync(CancellationToken ct)
    {
        var step = new Step(time.GetUtcNow());
        await RestoreFailedHostsAsync(step);
        await DispatchAsync(step, ct);
        await AdvanceAsync(step, ct);
        var stage = await PlanBatchesAsync(step, ct);
        if (!step.Changed)
        {
            return false;
        }

        await PersistAsync(step);
        // Announced only once persisted: staging is an optimisation, a lost one costs a converge its download.
        await StageAsync(stage, ct);
        return true;
    }

    /// <summary>Failed or reverted hosts go back to the release they ran (spec = what runs; the agent's converge is a no-op).</summary>
    private async Task RestoreFailedHostsAsync(Step step)
    {
        var pending = rows.Values.Where(h => h.RestorePending).ToList();
        await ForEachAsync(pending, async h =>
        {
            await GrainFactory.GetGrain<IHostGrain>(h.HostId).SetDesiredRelease(h.From!, await ArtifactAsync(h.From!), null, $"rollout {Id}: put back after {h.Status.ToString().ToLowerInvariant()}");
            return h with { RestorePending = false, UpdatedAt = step.Now };
        }, step);
    }

    /// <summary>
    /// Hosts marked updating but not yet given their desired release (the mark was persisted first).
    /// The whole batch's desired releases are written in one statement, then each agent is told:
    /// one database round trip per batch instead of one transaction per host.
    /// </summary>
    private async Task DispatchAsync(Step step, CancellationToken ct)
    {
        var due = rows.Values.Where(h => h.Status == RolloutHostStatus.Updating && h.TargetGeneration == 0).ToList();
        if (due.Count == 0)
        {
            return;
        }

        var progress = await hosts.GetProgressAsync([.. due.Select(h => h.HostId)], ct);
        var p = header!.Policy;
        var gate = new ReleaseGate(Id, p.NoBackup, p.HealthTimeoutSeconds, p.MinHealthySeconds);
        var cause = $"rollout {Id}";
        foreach (var group in due.GroupBy(h => h.Target))
        {
            var release = group.Key;
            var present = group.Where(h => progress.ContainsKey(h.HostId)).ToList();
            var changes = present.Count == 0
                ? []
                : await hosts.SetDesiredReleasesAsync(
                    [.. present.Select(h => h.HostId)], release, await ArtifactAsync(release), gate,
                    Json.Serialize(new { release.Series, release.Commit, cause }), step.Now, CancellationToken.None);
            // Persisted above, announced below.
            await ForEachAsync([.. group], async h =>
            {
                if (!progress.TryGetValue(h.HostId, out var current) || !changes.TryGetValue(h.HostId, out var change))
                {
                    var skipped = h with { Status = RolloutHostStatus.Skipped, Message = "removed from the fleet before its step", UpdatedAt = step.Now };
                    step.Event(this, "RolloutStepSkipped", skipped, skipped.Message);
                    return skipped;
                }

                if (change.NeedsConverge)
                {
                    // Not sent now: AdvanceAsync resends it, and heartbeat acks carry the generation.
                    await commands.TrySendConvergeAsync(h.HostId, change.Generation, CancellationToken.None);
                }

                var next = h with { TargetGeneration = change.Generation, DispatchedAt = step.Now, LastSentAt = step.Now, UpdatedAt = step.Now };
                if (!change.Changed && current.Running == h.Target && current.AppliedGeneration >= change.Generation)
                {
                    next = next with { Status = RolloutHostStatus.Unchanged, Message = $"already running {h.Target} (generation {change.Generation})" };
                    step.Event(this, "RolloutStepSucceeded", next, next.Message);
                    return next;
                }

                // An unchanged spec the host has not applied yet (e.g. a crash between dispatch and
                // persist of an earlier step) is waited for like a fresh one, never sent as new work.
                return next with { Message = change.Changed ? $"sent generation {change.Generation}" : $"waiting for generation {change.Generation}" };
            }, step);
        }
    }

    private async Task AdvanceAsync(Step step, CancellationToken ct)
    {
        var updating = rows.Values.Where(h => h.Status == RolloutHostStatus.Updating && h.TargetGeneration > 0).ToList();
        if (updating.Count == 0)
        {
            return;
        }

        var progress = await hosts.GetProgressAsync([.. updating.Select(h => h.HostId)], ct);
        var o = options.Value;
        var timeout = TimeSpan.FromSeconds(Math.Max(o.ConvergeTimeoutSeconds, 2 * header!.Policy.HealthTimeoutSeconds));
        var resend = new List<RolloutHostRecord>();
        foreach (var h in updating)
        {
            progress.TryGetValue(h.HostId, out var p);
            var decision = RolloutStep.Decide(
                h.Status, h.TargetGeneration, h.DispatchedAt ?? step.Now, h.LastSentAt ?? step.Now, p, step.Now,
                TimeSpan.FromSeconds(o.ConvergeResendSeconds), timeout);
            if (decision.Resend)
            {
                resend.Add(h);
            }

            if (decision.Status == h.Status)
            {
                continue;
            }

            var t = p?.Transition;
            var next = h with
            {
                Status = decision.Status,
                Message = decision.Message,
                UpdatedAt = step.Now,
                Phase = t?.Phase ?? h.Phase,
                LogTail = t?.LogTail ?? "",
                UnavailableMs = t?.UnavailableMs ?? 0,
                UpdatedModules = t?.UpdatedModules ?? [],
                RestorePending = RolloutStep.IsFailure(decision.Status) && h.From is not null,
            };
            step.Set(rows, next);
            step.Event(this, decision.Status switch
            {
                RolloutHostStatus.Reverted => "RolloutStepReverted",
                RolloutHostStatus.Failed => "RolloutStepFailed",
                _ => "RolloutStepSucceeded",
            }, next, decision.Message);
        }

        if (resend.Count > 0)
        {
            await ForEachAsync(resend, async h =>
            {
                await GrainFactory.GetGrain<IHostGrain>(h.HostId).ResendConverge();
                return rows[h.HostId] with { LastSentAt = step.Now };
            }, step);
        }
    }

    /// <summary>Failure budget, batch boundaries, pause after the canary, completion. Returns the batches to stage.</summary>
    private async Task<IReadOnlyList<int>> PlanBatchesAsync(Step step, CancellationToken ct)
    {
        var stage = new List<int>();
        SettleCurrentBatch(step);
        if (header!.Status is not (RolloutStatus.Running or RolloutStatus.Paused))
        {
            return stage;
        }

        var failures = rows.Values.Count(h => RolloutStep.IsFailure(h.Status));
        if (failures > header.Policy.MaxFailuresHosts)
        {
            CancelRemaining(step, "rollout stopped: too many failures");
            Finish(step, RolloutStatus.Failed, $"{failures} host(s) failed, more than max_failures {header.Policy.MaxFailures} ({header.Policy.MaxFailuresHosts} host(s)); later batches cancelled");
            return stage;
        }

        if (header.Status == RolloutStatus.Paused)
        {
            return stage;
        }

        var current = header.CurrentBatch >= 0 ? batches[header.CurrentBatch] : null;
        if (current is { Status: RolloutBatchStatus.Running })
        {
            await StartWaitingHostsAsync(step, current, ct);
            return stage;
        }

        if (current is { Canary: true, Status: RolloutBatchStatus.Done } && header.Policy.PauseAfterCanary && step.FinishedCanary)
        {
            header = header with { Status = RolloutStatus.Paused, Message = "paused after the canary; resume with `fleet rollout resume " + Id + "`" };
            step.HeaderChanged = true;
            step.Events.Add(new OutboxEvent("RolloutPaused", Id, Json.Serialize(new { by = "policy", reason = "pause_after_canary", batch = current.Index })));
            return stage;
        }

        var next = batches.FirstOrDefault(b => b.Status == RolloutBatchStatus.Pending);
        if (next is null)
        {
            var unchanged = rows.Values.Count(h => h.Status == RolloutHostStatus.Unchanged);
            var skipped = rows.Values.Count(h => h.Status == RolloutHostStatus.Skipped);
            Finish(step, RolloutStatus.Succeeded,
                $"{rows.Values.Count(h => h.Status == RolloutHostStatus.Succeeded)} host(s) updated, {unchanged} unchanged, {failures} failed, {skipped} skipped");
            return stage;
        }

        await StartBatchAsync(step, next, ct);
        if (next.Index == 0)
        {
            stage.Add(0);
        }

        stage.Add(next.Index + 1);
        return stage;
    }

    private async Task StartBatchAsync(Step step, RolloutBatchRecord batch, CancellationToken ct)
    {
        var started = batch with { Status = RolloutBatchStatus.Running, StartedAt = step.Now };
        step.Set(batches, started);
        header = header! with { CurrentBatch = batch.Index };
        step.HeaderChanged = true;
        step.Events.Add(new OutboxEvent("RolloutBatchStarted", Id, Json.Serialize(new
        {
            batch = batch.Index,
            batch.Canary,
            hosts = rows.Values.Count(h => h.Batch == batch.Index),
        })));
        await StartWaitingHostsAsync(step, started, ct);
    }

    /// <summary>Pending hosts of the running batch: online ones start, offline ones are skipped or waited for, by policy.</summary>
    private async Task StartWaitingHostsAsync(Step step, RolloutBatchRecord batch, CancellationToken ct)
    {
        var pending = rows.Values.Where(h => h.Batch == batch.Index && h.Status == RolloutHostStatus.Pending).ToList();
        if (pending.Count == 0)
        {
            return;
        }

        var progress = await hosts.GetProgressAsync([.. pending.Select(h => h.HostId)], ct);
        var offlineAfter = TimeSpan.FromSeconds(options.Value.OfflineAfterSeconds);
        var policy = header!.Policy;
        foreach (var h in pending)
        {
            progress.TryGetValue(h.HostId, out var p);
            var online = p?.LastSeen is { } seen && step.Now - seen <= offlineAfter;
            if (online)
            {
                step.Set(rows, h with { Status = RolloutHostStatus.Updating, Message = "starting", UpdatedAt = step.Now });
                continue;
            }

            var why = p is null ? "removed from the fleet" : "offline";
            if (p is null || policy.Offline == OfflinePolicy.Skip)
            {
                var skipped = h with { Status = RolloutHostStatus.Skipped, Message = $"{why} when its batch started", UpdatedAt = step.Now };
                step.Set(rows, skipped);
                step.Event(this, "RolloutStepSkipped", skipped, skipped.Message);
            }
            else if (step.Now - (batch.StartedAt ?? step.Now) >= TimeSpan.FromSeconds(policy.HealthTimeoutSeconds))
            {
                var failed = h with { Status = RolloutHostStatus.Failed, Message = $"offline for the whole wait ({policy.HealthTimeoutSeconds} s)", UpdatedAt = step.Now };
                step.Set(rows, failed);
                step.Event(this, "RolloutStepFailed", failed, failed.Message);
            }
        }
    }

    /// <summary>The current batch is done once every host in it has settled.</summary>
    private void SettleCurrentBatch(Step step)
    {
        if (header!.CurrentBatch < 0)
        {
            return;
        }

        var current = batches[header.CurrentBatch];
        if (current.Status != RolloutBatchStatus.Running || rows.Values.Any(h => h.Batch == current.Index && !RolloutStep.IsTerminal(h.Status)))
        {
            return;
        }

        step.Set(batches, current with { Status = RolloutBatchStatus.Done, FinishedAt = step.Now });
        step.FinishedCanary |= current.Canary;
    }

    private void CancelRemaining(Step step, string why)
    {
        foreach (var h in rows.Values.Where(h => h.Status == RolloutHostStatus.Pending).ToList())
        {
            step.Set(rows, h with { Status = RolloutHostStatus.Cancelled, Message = why, UpdatedAt = step.Now });
        }

        foreach (var b in batches.Where(b => b.Status == RolloutBatchStatus.Pending).ToList())
        {
            step.Set(batches, b with { Status = RolloutBatchStatus.Cancelled, FinishedAt = step.Now });
        }
    }

    private void Finish(Step step, RolloutStatus status, string message)
    {
        header = header! with { Status = status, FinishedAt = step.Now, Message = message };
        step.HeaderChanged = true;
        step.Events.Add(new OutboxEvent("RolloutCompleted", Id, Json.Serialize(new { status = status.ToString().ToLowerInvariant(), message })));
        LogFinished(logger, Id, status, message);
    }

    private async Task PersistAsync(Step step)
    {
        var release = header!.IsFinished && !rows.Values.Any(h => h.Status == RolloutHostStatus.Updating || h.RestorePending);
        var version = await store.SaveAsync(
            header, header.Version, [.. step.Batches.Values], [.. step.Hosts.Values], step.Events, release, step.Now, CancellationToken.None);
        header = header with { Version = version };
    }

    private async Task StageAsync(IReadOnlyList<int> batchIndexes, CancellationToken ct)
    {
        var targets = rows.Values.Where(h => batchIndexes.Contains(h.Batch) && h.Status is RolloutHostStatus.Pending or RolloutHostStatus.Updating && !h.Staged).ToList();
        foreach (var chunk in targets.Chunk(Parallelism))
        {
            await Task.WhenAll(chunk.Select(async h =>
            {
                if (await ArtifactAsync(h.Target) is not { } artifact)
                {
                    return;
                }

                try
                {
                    await commands.SendStageAsync(h.HostId, h.Target, artifact, Id, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogStageNotSent(logger, Id, h.HostId, e.Message);
                }
            }));
        }
    }

    private async Task<ReleaseArtifact?> ArtifactAsync(OdooRelease release)
    {
        if (!artifacts.TryGetValue(release, out var artifact))
        {
            var recorded = await releases.FindAsync(release, CancellationToken.None);
            artifact = recorded is null ? null : new ReleaseArtifact(Sources.ReleaseBuilder.UrlPath(release), recorded.Sha256, recorded.SizeBytes);
            artifacts[release] = artifact;
        }

        return artifact;
    }

    /// <summary>Runs host work a few dozen at a time (each is its own grain call) and records each result in the step.</summary>
    private async Task ForEachAsync(IReadOnlyList<RolloutHostRecord> items, Func<RolloutHostRecord, Task<RolloutHostRecord>> work, Step step)
    {
        foreach (var chunk in items.Chunk(Parallelism))
        {
            var results = await Task.WhenAll(chunk.Select(work));
            foreach (var result in results)
            {
                step.Set(rows, result);
            }
        }
    }

    private async Task UnregisterReminderAsync()
    {
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }

        reminderKnown = false;
    }

    /// <summary>What one pass changed: written together, with its events, in one transaction.</summary>
    private sealed class Step(DateTimeOffset now)
    {
        public DateTimeOffset Now { get; } = now;

        public Dictionary<string, RolloutHostRecord> Hosts { get; } = new(StringComparer.Ordinal);

        public Dictionary<int, RolloutBatchRecord> Batches { get; } = [];

        public List<OutboxEvent> Events { get; } = [];

        public bool HeaderChanged { get; set; }

        public bool FinishedCanary { get; set; }

        public bool Changed => HeaderChanged || Hosts.Count > 0 || Batches.Count > 0 || Events.Count > 0;

        public void Set(Dictionary<string, RolloutHostRecord> rows, RolloutHostRecord row)
        {
            rows[row.HostId] = row;
            Hosts[row.HostId] = row;
        }

        public void Set(List<RolloutBatchRecord> batches, RolloutBatchRecord batch)
        {
            batches[batch.Index] = batch;
            Batches[batch.Index] = batch;
        }

        public void Event(RolloutGrain grain, string type, RolloutHostRecord h, string message) =>
            Events.Add(new OutboxEvent(type, grain.Id, Json.Serialize(new
            {
                hostId = h.HostId,
                host = h.Name,
                batch = h.Batch,
                status = h.Status.ToString().ToLowerInvariant(),
                generation = h.TargetGeneration,
                release = h.Target.ToString(),
                message,
            })));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} resumed from persisted state")]
    private static partial void LogResumed(ILogger logger, string rolloutId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout {RolloutId} step failed, retrying: {Error}")]
    private static partial void LogTickFailed(ILogger logger, string rolloutId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} finished {Status}: {Summary}")]
    private static partial void LogFinished(ILogger logger, string rolloutId, RolloutStatus status, string summary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout {RolloutId}: stage command for host {HostId} not sent ({Error}); its converge stages the release itself")]
    private static partial void LogStageNotSent(ILogger logger, string rolloutId, string hostId, string error);
}
