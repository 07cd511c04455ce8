using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using Orleans.Hosting;

namespace OdooFleet.Controller.Grains;

internal enum RolloutStatus
{
    None,
    Running,
    Succeeded,
    Failed,
}

[GenerateSerializer]
internal sealed class RolloutHost
{
    [Id(0)] public string HostId { get; set; } = "";
    [Id(1)] public string Name { get; set; } = "";
    [Id(2)] public RolloutHostStatus Status { get; set; }
    [Id(3)] public long TargetGeneration { get; set; }
    [Id(4)] public string Message { get; set; } = "";
    [Id(5)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(6)] public DateTimeOffset DispatchedAt { get; set; }
    [Id(7)] public DateTimeOffset LastSentAt { get; set; }
}

[GenerateSerializer]
internal sealed class RolloutState
{
    [Id(0)] public string Id { get; set; } = "";
    [Id(1)] public string Series { get; set; } = "";
    [Id(2)] public string Commit { get; set; } = "";
    [Id(3)] public RolloutStatus Status { get; set; }
    [Id(4)] public DateTimeOffset CreatedAt { get; set; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; set; }
    [Id(6)] public string Message { get; set; } = "";
    [Id(7)] public List<RolloutHost> Hosts { get; set; } = [];
    /// <summary>Bumped on every persisted change, so watchers send only real updates.</summary>
    [Id(8)] public long Version { get; set; }
}

[GenerateSerializer, Immutable]
internal sealed record RolloutTarget([property: Id(0)] string HostId, [property: Id(1)] string Name);

internal interface IRolloutGrain : IGrainWithStringKey
{
    /// <summary>Starts the rollout; a repeated call with the same id returns the existing rollout.</summary>
    Task<RolloutState> Start(OdooRelease release, IReadOnlyList<RolloutTarget> targets);

    /// <summary>The rollout as persisted; <see cref="RolloutStatus.None"/> if it was never started.</summary>
    Task<RolloutState> Get();
}

/// <summary>
/// A persisted state machine. Every tick reads host progress from the fleet tables, decides
/// (pure <see cref="RolloutStep"/>), persists, and only then acts. A reminder re-activates it on
/// a surviving silo if its silo dies, and host updates are idempotent, so a crash at any point
/// neither loses a step nor updates a host twice.
/// </summary>
[Orleans.Placement.PreferLocalPlacement]
internal sealed partial class RolloutGrain(
    [PersistentState("rollout", "fleet")] IPersistentState<RolloutState> state,
    HostStore hosts,
    EventStore events,
    IOptions<FleetOptions> options,
    IOptions<ReminderOptions> reminderOptions,
    TimeProvider time,
    ILogger<RolloutGrain> logger) : Grain, IRolloutGrain, IRemindable
{
    private const string ReminderName = "tick";
    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);
    private IGrainTimer? timer;

    private RolloutState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Status == RolloutStatus.Running)
        {
            LogResumed(logger, S.Id);
            StartTicking();
        }

        await base.OnActivateAsync(cancellationToken);
    }

    public async Task<RolloutState> Start(OdooRelease release, IReadOnlyList<RolloutTarget> targets)
    {
        if (S.Status != RolloutStatus.None)
        {
            return S;
        }

        // The reminder exists before the rollout does: whatever dies after this point, a silo
        // wakes the rollout again. Dispatch happens on the timer, not inside this call.
        var period = reminderOptions.Value.MinimumReminderPeriod;
        await this.RegisterOrUpdateReminder(ReminderName, period, period);
        var now = time.GetUtcNow();
        S.Id = this.GetPrimaryKeyString();
        S.Series = release.Series;
        S.Commit = release.Commit;
        S.CreatedAt = now;
        S.Status = RolloutStatus.Running;
        S.Hosts = targets.Select(t => new RolloutHost { HostId = t.HostId, Name = t.Name, Status = RolloutHostStatus.Pending, UpdatedAt = now }).ToList();
        await PersistAsync();
        StartTicking();
        await events.AppendAsync("RolloutStarted", S.Id, Json.Serialize(new { S.Series, S.Commit, hosts = targets.Count }), now, CancellationToken.None);
        return S;
    }

    public Task<RolloutState> Get() => Task.FromResult(S);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (S.Status != RolloutStatus.Running)
        {
            await UnregisterReminderAsync();
            return;
        }

        StartTicking();
    }

    private void StartTicking() =>
        timer ??= this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TickPeriod) { KeepAlive = true });

    private async Task TickAsync(CancellationToken ct)
    {
        if (S.Status != RolloutStatus.Running)
        {
            return;
        }

        try
        {
            await DispatchPendingAsync(ct);
            await AdvanceUpdatingAsync(ct);
            await FinishIfDoneAsync();
        }
        catch (Orleans.Storage.InconsistentStateException e)
        {
            // Another activation wrote this rollout: this one is stale and must go.
            LogTickFailed(logger, S.Id, e.Message);
            DeactivateOnIdle();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Transient (database or broker down): drop unsaved changes so memory never runs
            // ahead of what is persisted; the next tick retries from there.
            LogTickFailed(logger, S.Id, e.Message);
            try
            {
                await state.ReadStateAsync(ct);
            }
            catch (Exception reload) when (reload is not OperationCanceledException)
            {
                LogTickFailed(logger, S.Id, reload.Message);
            }
        }
    }

    private async Task DispatchPendingAsync(CancellationToken ct)
    {
        var pending = S.Hosts.Where(h => h.Status == RolloutHostStatus.Pending).ToList();
        if (pending.Count == 0)
        {
            return;
        }

        var release = new OdooRelease(S.Series, S.Commit);
        var progress = await hosts.GetProgressAsync(pending.Select(h => h.HostId).ToArray(), ct);
        foreach (var host in pending)
        {
            if (!progress.TryGetValue(host.HostId, out var p))
            {
                // Removed from the fleet (`fleet host remove`) before its turn: nothing to update.
                host.Status = RolloutHostStatus.Failed;
                host.Message = "host was removed from the fleet before its step";
                host.UpdatedAt = time.GetUtcNow();
                continue;
            }

            var change = await GrainFactory.GetGrain<IHostGrain>(host.HostId).SetDesiredRelease(release, $"rollout {S.Id}");
            var now = time.GetUtcNow();
            host.TargetGeneration = change.Generation;
            host.DispatchedAt = now;
            host.LastSentAt = now;
            host.UpdatedAt = now;
            if (!change.Changed && p.Running == release && p.AppliedGeneration >= change.Generation)
            {
                host.Status = RolloutHostStatus.Unchanged;
                host.Message = $"already running {release} (generation {change.Generation})";
            }
            else
            {
                // An unchanged spec the host has not applied yet (e.g. a crash between dispatch and
                // persist of an earlier tick) is waited for like a fresh one, never sent as new work.
                host.Status = RolloutHostStatus.Updating;
                host.Message = change.Changed ? $"sent generation {change.Generation}" : $"waiting for generation {change.Generation}";
            }
        }

        // Once per tick, not per host: a crash before this write replays the dispatch, which
        // is idempotent (the spec is already desired, so no generation is bumped twice).
        await PersistAsync();
    }

    private async Task AdvanceUpdatingAsync(CancellationToken ct)
    {
        var updating = S.Hosts.Where(h => h.Status == RolloutHostStatus.Updating).ToList();
        if (updating.Count == 0)
        {
            return;
        }

        var progress = await hosts.GetProgressAsync(updating.Select(h => h.HostId).ToArray(), ct);
        var o = options.Value;
        var changed = false;
        var announcements = new List<(string Type, string Json)>();
        foreach (var host in updating)
        {
            var now = time.GetUtcNow();
            progress.TryGetValue(host.HostId, out var p);
            var decision = RolloutStep.Decide(
                host.Status, host.TargetGeneration, host.DispatchedAt, host.LastSentAt, p, now,
                TimeSpan.FromSeconds(o.ConvergeResendSeconds), TimeSpan.FromSeconds(o.ConvergeTimeoutSeconds));
            if (decision.Resend)
            {
                await GrainFactory.GetGrain<IHostGrain>(host.HostId).ResendConverge();
                host.LastSentAt = now;
                changed = true;
            }

            if (decision.Status != host.Status)
            {
                host.Status = decision.Status;
                host.Message = decision.Message;
                host.UpdatedAt = now;
                changed = true;
                announcements.Add((
                    host.Status == RolloutHostStatus.Failed ? "RolloutStepFailed" : "RolloutStepSucceeded",
                    Json.Serialize(new { host.HostId, status = host.Status, host.Message })));
            }
        }

        if (changed)
        {
            await PersistAsync();
        }

        foreach (var (type, json) in announcements)
        {
            await events.AppendAsync(type, S.Id, json, time.GetUtcNow(), ct);
        }
    }

    private async Task FinishIfDoneAsync()
    {
        if (S.Hosts.Any(h => h.Status is RolloutHostStatus.Pending or RolloutHostStatus.Updating))
        {
            return;
        }

        var failed = S.Hosts.Count(h => h.Status == RolloutHostStatus.Failed);
        var now = time.GetUtcNow();
        S.Status = failed == 0 ? RolloutStatus.Succeeded : RolloutStatus.Failed;
        S.FinishedAt = now;
        var unchanged = S.Hosts.Count(h => h.Status == RolloutHostStatus.Unchanged);
        S.Message = failed == 0
            ? $"{S.Hosts.Count - unchanged} host(s) updated, {unchanged} already at {S.Series}@{S.Commit[..12]}"
            : $"{failed} of {S.Hosts.Count} host(s) failed";
        await PersistAsync();
        await events.AppendAsync("RolloutCompleted", S.Id, Json.Serialize(new { status = S.Status, S.Message }), now, CancellationToken.None);
        LogFinished(logger, S.Id, S.Status, S.Message);
        timer?.Dispose();
        timer = null;
        await UnregisterReminderAsync();
    }

    private async Task UnregisterReminderAsync()
    {
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private Task PersistAsync()
    {
        S.Version++;
        return state.WriteStateAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} resumed from persisted state")]
    private static partial void LogResumed(ILogger logger, string rolloutId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout {RolloutId} tick failed, retrying: {Error}")]
    private static partial void LogTickFailed(ILogger logger, string rolloutId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout {RolloutId} finished {Status}: {Summary}")]
    private static partial void LogFinished(ILogger logger, string rolloutId, RolloutStatus status, string summary);
}
