using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Transport;
using HostSpec = OdooFleet.Contracts.V1.HostSpec;

namespace OdooFleet.Agent.Drift;

/// <summary>Where the monitor finds the applied spec and how it turns it into resources; timings.</summary>
internal sealed record DriftMonitorOptions
{
    public required string SpecCachePath { get; init; }

    public required HostPaths Paths { get; init; }

    /// <summary>The resource graph of a spec, the same one the converge ran (the profile in production).</summary>
    public required Func<DesiredHost, IReadOnlyList<IResource>> Compile { get; init; }

    /// <summary>Quiet time after a file event before the check: an editor's write and rename are one trigger.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often the managed units' state is polled (`systemctl is-active`), and the applied generation looked at.</summary>
    public TimeSpan UnitPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Where systemd keeps one "invocation:&lt;unit&gt;" link per running unit (removed when it stops):
    /// watched so a stopped unit is polled at once instead of at the next poll. Absent = polling only.
    /// </summary>
    public string UnitStateDirectory { get; init; } = "/run/systemd/units";

    /// <summary>Retry delay for a round that found the converge lock held.</summary>
    public TimeSpan BusyRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The resource whose observed options may be accepted into the spec (odoo.conf).</summary>
    public string OdooConfId { get; init; } = "file:" + OdooLayout.Default.ConfFile;

    public FlapSettings Flap { get; init; } = FlapSettings.Default;

    public Random Random { get; init; } = Random.Shared;
}

/// <summary>
/// Finds drift within seconds and puts it back per the host's policy. Triggers: changes of managed
/// files (a watch on their directories, debounced), managed units leaving "active" (polled), a
/// periodic full re-observe (the policy's interval, jittered) and one check at start. Every round
/// holds the host-wide converge lock and measures against the last spec that converged
/// successfully (SpecCache at the journal's applied generation): a spec not applied yet has no
/// drift, and a converge of a new generation (the coordinator holds the lock while it applies)
/// is intentional change, never drift. A check observes the affected resources in isolation; each
/// drifted one becomes an event (journaled, then reported), and those the policy lets the agent
/// correct are applied together with everything depending on them (a config file and the restart
/// it triggers). All work happens on one loop; watchers and timers only post signals to it.
/// </summary>
internal sealed partial class DriftMonitor(
    DriftMonitorOptions options,
    Journal journal,
    LocalConverger converger,
    ConvergeEngine engine,
    ICommandRunner runner,
    DriftJournal drift,
    TimeProvider time,
    ILogger<DriftMonitor> logger) : BackgroundService
{
    public const string TriggerFile = "file";
    public const string TriggerUnit = "unit";
    public const string TriggerPeriodic = "periodic";
    public const string TriggerStartup = "startup";
    public const string TriggerRetry = "retry";

    private const string PollSignal = "poll";

    private readonly Channel<Signal> signals = Channel.CreateUnbounded<Signal>();
    private readonly Dictionary<string, List<DriftDetection>> histories = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OpenDrift> open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ITimer> retries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> unitStates = new(StringComparer.Ordinal);
    private readonly List<FileSystemWatcher> watchers = [];
    private DriftTargets targets = DriftTargets.None;
    private long lastFileEventTicks;
    private long policyErrorsLoggedFor;
    private ITimer? periodic;
    private TimeSpan armedInterval;
    private ITimer? poll;
    private ITimer? busyRetry;
    private int rounds;

    /// <summary>A request for a round: the resources to check (null = all) and why, or a unit poll.</summary>
    private sealed record Signal(string Trigger, IReadOnlySet<string>? Ids);

    /// <summary>The last event recorded for a resource that is still drifted, so a drift found again is not recorded again.</summary>
    private sealed record OpenDrift(string Fingerprint, DriftAction Action, bool Corrected);

    /// <summary>Rounds finished so far (including those that found the lock held).</summary>
    public int Rounds => Volatile.Read(ref rounds);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        poll = time.CreateTimer(_ => Post(new Signal(PollSignal, null)), null, options.UnitPollInterval, options.UnitPollInterval);
        Post(new Signal(TriggerStartup, null));
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var signal = await signals.Reader.ReadAsync(stoppingToken);
                if (signal.Trigger == PollSignal)
                {
                    await PollAsync(stoppingToken);
                    continue;
                }

                if (signal.Trigger == TriggerFile)
                {
                    await DebounceAsync(stoppingToken);
                }

                // Everything that arrived meanwhile joins this round (one check covers them all).
                var batch = new Dictionary<string, string>(StringComparer.Ordinal);
                string? all = null;
                var pollToo = false;
                Merge(signal, batch, ref all);
                while (signals.Reader.TryRead(out var more))
                {
                    if (more.Trigger == PollSignal)
                    {
                        pollToo = true;
                    }
                    else
                    {
                        Merge(more, batch, ref all);
                    }
                }

                try
                {
                    await RoundAsync(batch, all, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    // One round going wrong must not stop drift detection; the periodic round comes back.
                    LogRoundFailed(logger, e);
                }
                finally
                {
                    Interlocked.Increment(ref rounds);
                }

                if (pollToo)
                {
                    await PollAsync(stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        DisposeTimersAndWatchers();
    }

    public override void Dispose()
    {
        DisposeTimersAndWatchers();
        base.Dispose();
    }

    private void Post(Signal signal) => signals.Writer.TryWrite(signal);

    private static void Merge(Signal signal, Dictionary<string, string> batch, ref string? all)
    {
        if (signal.Ids is null)
        {
            // Startup names the first round; otherwise periodic.
            all = all is null || signal.Trigger == TriggerStartup ? signal.Trigger : all;
            return;
        }

        foreach (var id in signal.Ids)
        {
            batch.TryAdd(id, signal.Trigger);
        }
    }

    private async Task DebounceAsync(CancellationToken ct)
    {
        while (true)
        {
            var quiet = time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref lastFileEventTicks), TimeSpan.Zero);
            if (quiet >= options.Debounce)
            {
                return;
            }

            await Task.Delay(options.Debounce - quiet, time, ct);
        }
    }

    /// <summary>Unit states, and whether a converge brought a new generation (new files and units to watch).</summary>
    private async Task PollAsync(CancellationToken ct)
    {
        if (journal.Current.AppliedGeneration != targets.Generation)
        {
            using var hostLock = converger.TryLock();
            if (hostLock is not null && await LoadAppliedAsync(ct) is { } applied)
            {
                Retarget(applied.Spec.Generation, applied.Resources, applied.Policy);
            }
        }

        if (targets.ResourceByUnit.Count == 0)
        {
            return;
        }

        var units = targets.ResourceByUnit.Keys.Order(StringComparer.Ordinal).ToList();
        var result = await runner.RunAsync(new CommandSpec("systemctl", ["is-active", "--", .. units]) { Timeout = TimeSpan.FromSeconds(15) }, ct);
        var states = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (result.TimedOut || states.Length != units.Count)
        {
            // systemctl missing or confused: the periodic round still observes every service.
            return;
        }

        var left = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < units.Count; i++)
        {
            var before = unitStates.GetValueOrDefault(units[i]);
            unitStates[units[i]] = states[i];
            // Transitional states come and go with every restart; only a unit that stopped or failed is news
            // (also one first seen stopped, e.g. stopped while a new generation was being applied: the check decides).
            if (before != states[i] && states[i] is not ("active" or "activating" or "reloading" or "deactivating"))
            {
                left.Add(targets.ResourceByUnit[units[i]]);
            }
        }

        if (left.Count > 0)
        {
            Post(new Signal(TriggerUnit, left));
        }
    }

    private sealed record Applied(HostSpec Spec, IReadOnlyList<IResource> Resources, DriftPolicy Policy);

    /// <summary>The spec of the applied generation compiled, or null when there is none (never converged, or a newer one not converged yet).</summary>
    private async Task<Applied?> LoadAppliedAsync(CancellationToken ct)
    {
        var generation = journal.Current.AppliedGeneration;
        if (generation == 0 || !File.Exists(options.SpecCachePath))
        {
            return null;
        }

        HostSpec spec;
        try
        {
            spec = await SpecCache.LoadAsync(options.SpecCachePath, ct);
        }
        catch (InvalidDataException e)
        {
            LogNoSpec(logger, e.Message);
            return null;
        }

        if (spec.Generation != generation)
        {
            // Fetched but not (successfully) converged yet: what is on the host is not measured against it.
            return null;
        }

        var policy = DriftPolicy.Create(spec.Drift.ToDomain(), out var errors);
        if (errors.Count > 0)
        {
            policy = DriftPolicy.ReportOnly;
            if (Interlocked.Exchange(ref policyErrorsLoggedFor, generation) != generation)
            {
                LogPolicyInvalid(logger, generation, string.Join("; ", errors));
            }
        }

        try
        {
            return new Applied(spec, options.Compile(spec.ToDomain()), policy);
        }
        catch (Exception e) when (e is SpecValidationException or InvalidOperationException)
        {
            LogNoSpec(logger, $"generation {generation}: {e.Message}");
            return null;
        }
    }

    private async Task RoundAsync(Dictionary<string, string> batch, string? all, CancellationToken ct)
    {
        using var hostLock = converger.TryLock();
        if (hostLock is null)
        {
            // A converge (or plan) is running: try again shortly with the same resources.
            LogBusy(logger);
            busyRetry?.Dispose();
            var ids = batch.Keys.ToHashSet(StringComparer.Ordinal);
            var trigger = all ?? batch.Values.FirstOrDefault() ?? TriggerPeriodic;
            busyRetry = time.CreateTimer(_ => Post(new Signal(trigger, all is null ? ids : null)), null, options.BusyRetryDelay, Timeout.InfiniteTimeSpan);
            return;
        }

        var applied = await LoadAppliedAsync(ct);
        if (applied is null)
        {
            ArmPeriodic(DriftPolicy.Default);
            return;
        }

        var (spec, resources, policy) = applied;
        Retarget(spec.Generation, resources, policy);
        if (all is not null)
        {
            ArmPeriodic(policy);
        }

        // Health checks wait for an answer and are not state: a failing service shows as the service.
        var scope = resources
            .Where(r => (all is not null || batch.ContainsKey(r.Id)) && !policy.IsIgnored(r.Id) && r.Kind != "health")
            .Select(r => r.Id)
            .ToHashSet(StringComparer.Ordinal);
        if (scope.Count == 0)
        {
            return;
        }

        var check = await engine.RunAsync(resources, ConvergeMode.Check, new ConvergeScope(scope) { Isolated = true }, ct);
        var now = time.GetUtcNow();
        var decided = new List<Decision>();
        foreach (var result in check.Results)
        {
            switch (result.Status)
            {
                case ResourceStatus.Unchanged:
                    open.Remove(result.Id);
                    break;
                case ResourceStatus.Changed:
                    decided.Add(Decide(result, policy, now, batch.GetValueOrDefault(result.Id) ?? all ?? TriggerPeriodic));
                    break;
                default:
                    LogNotObservable(logger, result.Id, result.Message);
                    break;
            }
        }

        if (decided.Count == 0)
        {
            return;
        }

        // What accepting each drift would set, read before a correction puts the old state back.
        var accept = new Dictionary<string, IReadOnlyList<DriftPatch>>(StringComparer.Ordinal);
        foreach (var decision in decided)
        {
            accept[decision.Result.Id] = await ProposeAcceptAsync(resources, decision.Result, ct);
        }

        var corrections = await CorrectAsync(resources, decided, ct);
        var events = new List<DriftEvent>();
        foreach (var decision in decided)
        {
            var drifted = decision.Result;
            var fingerprint = drifted.Message + "\n" + drifted.Detail;
            DriftAction action;
            DateTimeOffset? correctedAt = null;
            string? error = null;
            if (decision.Correct)
            {
                (action, correctedAt, error) = corrections[drifted.Id];
                if (action != DriftAction.Failed && decision.Flap.Flapping)
                {
                    action = DriftAction.Flapping;
                }
            }
            else
            {
                action = decision.Action;
            }

            FlapDetector.Record(History(drifted.Id), new DriftDetection(now, correctedAt is not null), options.Flap);
            if (!decision.Correct && open.TryGetValue(drifted.Id, out var last) && !last.Corrected && last.Fingerprint == fingerprint && last.Action == action)
            {
                // Still the same drift, still left as found: it was recorded already.
                continue;
            }

            open[drifted.Id] = new OpenDrift(fingerprint, action, correctedAt is not null);
            var evt = new DriftEvent
            {
                Id = NewId(now),
                ResourceId = drifted.Id,
                Kind = drifted.Kind,
                Generation = spec.Generation,
                Expected = $"{drifted.Id} as generation {spec.Generation} declares it",
                Actual = drifted.Message.StartsWith("would ", StringComparison.Ordinal) ? drifted.Message["would ".Length..] : drifted.Message,
                Diff = DriftEvent.Bound(drifted.Detail),
                Trigger = decision.Trigger,
                DetectedAt = now,
                Action = action,
                CorrectedAt = correctedAt,
                Recurred = decision.Flap.Recurred,
                Error = error,
                Accept = accept[drifted.Id],
            };
            events.Add(evt);
            LogDrift(logger, evt.ResourceId, evt.Action, evt.Trigger, evt.Generation, evt.Actual, evt.Error ?? "");
        }

        await drift.AddAsync(events, ct);
    }

    private async Task<IReadOnlyList<DriftPatch>> ProposeAcceptAsync(IReadOnlyList<IResource> resources, ResourceResult drifted, CancellationToken ct)
    {
        if (drifted.Id == options.OdooConfId)
        {
            return DriftAcceptance.FromOdooConf(drifted.Message, drifted.Detail);
        }

        if (resources.FirstOrDefault(r => r.Id == drifted.Id) is PgSettingsResource settings)
        {
            try
            {
                var observed = (PgSettingsResource.Observed)await settings.ObserveAsync(ct);
                return DriftAcceptance.FromPgSettings(observed, settings.Desired);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The drift is still recorded and corrected; it just cannot be accepted.
                LogNotObservable(logger, drifted.Id, e.Message);
            }
        }

        return [];
    }

    private sealed record Decision(ResourceResult Result, string Trigger, bool Correct, DriftAction Action, FlapDecision Flap);

    private Decision Decide(ResourceResult result, DriftPolicy policy, DateTimeOffset now, string trigger)
    {
        var flap = FlapDetector.Decide(History(result.Id), now, options.Flap);
        if (policy.ModeFor(result.Id, result.Kind) == DriftMode.Report)
        {
            return new Decision(result, trigger, false, DriftAction.Reported, flap with { Flapping = false });
        }

        if (policy.InMaintenance(now))
        {
            return new Decision(result, trigger, false, DriftAction.Suppressed, flap with { Flapping = false });
        }

        if (!flap.MayCorrect)
        {
            ScheduleRetry(result.Id, flap.NextCorrectionAt!.Value - now);
            return new Decision(result, trigger, false, DriftAction.Flapping, flap);
        }

        return new Decision(result, trigger, true, DriftAction.Corrected, flap);
    }

    /// <summary>Applies the resources to correct and their dependents; per corrected resource: action, when, error.</summary>
    private async Task<Dictionary<string, (DriftAction, DateTimeOffset?, string?)>> CorrectAsync(
        IReadOnlyList<IResource> resources, List<Decision> decided, CancellationToken ct)
    {
        var outcome = new Dictionary<string, (DriftAction, DateTimeOffset?, string?)>(StringComparer.Ordinal);
        var correct = decided.Where(d => d.Correct).Select(d => d.Result.Id).ToList();
        if (correct.Count == 0)
        {
            return outcome;
        }

        // What the policy says to leave as found stays out, even when it depends on a corrected resource.
        var leave = decided.Where(d => !d.Correct).Select(d => d.Result.Id).ToHashSet(StringComparer.Ordinal);
        var scope = ConvergeEngine.WithDependents(resources, correct).Where(id => !leave.Contains(id)).ToHashSet(StringComparer.Ordinal);
        var run = await engine.RunAsync(resources, ConvergeMode.Apply, new ConvergeScope(scope), ct);
        var results = run.Results.ToDictionary(r => r.Id, StringComparer.Ordinal);
        var correctedAt = time.GetUtcNow();
        foreach (var id in correct)
        {
            var own = results[id];
            if (own.Status is ResourceStatus.Failed or ResourceStatus.Skipped)
            {
                outcome[id] = (DriftAction.Failed, null, own.Message);
                continue;
            }

            // The correction is complete only when what reacts to it (a reload, a restart) worked too.
            var downstream = ConvergeEngine.WithDependents(resources, [id]);
            var failed = run.Results.FirstOrDefault(r => r.Id != id && downstream.Contains(r.Id) && r.Status is ResourceStatus.Failed);
            outcome[id] = failed is null
                ? (DriftAction.Corrected, correctedAt, null)
                : (DriftAction.Failed, correctedAt, $"put back, but {failed.Id} failed: {failed.Message}");
        }

        return outcome;
    }

    private List<DriftDetection> History(string id)
    {
        if (!histories.TryGetValue(id, out var history))
        {
            histories[id] = history = [];
        }

        return history;
    }

    private void ScheduleRetry(string id, TimeSpan delay)
    {
        if (retries.Remove(id, out var previous))
        {
            previous.Dispose();
        }

        var ids = new HashSet<string>([id], StringComparer.Ordinal);
        retries[id] = time.CreateTimer(_ => Post(new Signal(TriggerRetry, ids)), null, delay, Timeout.InfiniteTimeSpan);
    }

    private void ArmPeriodic(DriftPolicy policy)
    {
        // Up to 10 % earlier, so agents started together spread out and the interval is never exceeded.
        var interval = policy.PeriodicInterval * (1 - (0.1 * options.Random.NextDouble()));
        armedInterval = policy.PeriodicInterval;
        periodic?.Dispose();
        periodic = time.CreateTimer(_ => Post(new Signal(TriggerPeriodic, null)), null, interval, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Watches the files and units of <paramref name="generation"/> (no-op if already watching it).</summary>
    private void Retarget(long generation, IReadOnlyList<IResource> resources, DriftPolicy policy)
    {
        if (generation == targets.Generation)
        {
            return;
        }

        foreach (var watcher in watchers)
        {
            watcher.Dispose();
        }

        watchers.Clear();
        unitStates.Clear();
        targets = DriftTargets.For(generation, resources, options.Paths, policy);
        if (policy.PeriodicInterval != armedInterval)
        {
            // A new generation may carry a new interval: the timer armed under the old policy must not wait it out.
            ArmPeriodic(policy);
        }

        var watched = targets;
        foreach (var directory in watched.Directories)
        {
            if (!Directory.Exists(directory))
            {
                // Nothing to watch yet; the periodic round observes what would live here.
                continue;
            }

            var watcher = new FileSystemWatcher(directory)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite
                    | NotifyFilters.Attributes | NotifyFilters.Size | NotifyFilters.Security | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, e) => OnFileEvent(watched, e.FullPath);
            watcher.Created += (_, e) => OnFileEvent(watched, e.FullPath);
            watcher.Deleted += (_, e) => OnFileEvent(watched, e.FullPath);
            watcher.Renamed += (_, e) =>
            {
                OnFileEvent(watched, e.OldFullPath);
                OnFileEvent(watched, e.FullPath);
            };
            // Events were lost (queue overflow): check every watched resource.
            watcher.Error += (_, _) => OnFileEvent(watched, null);
            watcher.EnableRaisingEvents = true;
            watchers.Add(watcher);
        }

        var unitDirectory = options.Paths.Resolve(options.UnitStateDirectory);
        if (watched.ResourceByUnit.Count > 0 && Directory.Exists(unitDirectory))
        {
            // A managed unit started or stopped: poll now (the poll decides whether it is drift).
            var unitWatcher = new FileSystemWatcher(unitDirectory) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.FileName };
            unitWatcher.Created += (_, e) => OnUnitEvent(watched, e.Name);
            unitWatcher.Deleted += (_, e) => OnUnitEvent(watched, e.Name);
            unitWatcher.Error += (_, _) => Post(new Signal(PollSignal, null));
            unitWatcher.EnableRaisingEvents = true;
            watchers.Add(unitWatcher);
        }

        LogWatching(logger, generation, watched.ResourcesByPath.Count, watchers.Count, watched.ResourceByUnit.Count);
    }

    private void OnFileEvent(DriftTargets watched, string? path)
    {
        IReadOnlySet<string> ids;
        if (path is null)
        {
            ids = watched.ResourcesByPath.Values.SelectMany(v => v).ToHashSet(StringComparer.Ordinal);
        }
        else if (watched.ResourcesByPath.TryGetValue(path, out var owners))
        {
            ids = owners.ToHashSet(StringComparer.Ordinal);
        }
        else
        {
            return;
        }

        Interlocked.Exchange(ref lastFileEventTicks, time.GetUtcNow().UtcTicks);
        Post(new Signal(TriggerFile, ids));
    }

    private void OnUnitEvent(DriftTargets watched, string? name)
    {
        const string Prefix = "invocation:";
        if (name is not null && name.StartsWith(Prefix, StringComparison.Ordinal) && watched.ResourceByUnit.ContainsKey(name[Prefix.Length..]))
        {
            Post(new Signal(PollSignal, null));
        }
    }

    private static string NewId(DateTimeOffset now) =>
        $"d-{now.UtcDateTime:yyyyMMddTHHmmssfff}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";

    private void DisposeTimersAndWatchers()
    {
        periodic?.Dispose();
        poll?.Dispose();
        busyRetry?.Dispose();
        foreach (var timer in retries.Values)
        {
            timer.Dispose();
        }

        foreach (var watcher in watchers)
        {
            watcher.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift {ResourceId}: {Action} (trigger {Trigger}, generation {Generation}): {Summary} {Error}")]
    private static partial void LogDrift(ILogger logger, string resourceId, DriftAction action, string trigger, long generation, string summary, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "drift watch for generation {Generation}: {Files} file(s) in {Directories} directory watch(es), {Units} unit(s)")]
    private static partial void LogWatching(ILogger logger, long generation, int files, int directories, int units);

    [LoggerMessage(Level = LogLevel.Debug, Message = "drift check waits: a converge holds the lock")]
    private static partial void LogBusy(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift check of {ResourceId} could not observe it: {Message}")]
    private static partial void LogNotObservable(ILogger logger, string resourceId, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift policy of generation {Generation} is invalid, so drift is reported and not corrected: {Errors}")]
    private static partial void LogPolicyInvalid(ILogger logger, long generation, string errors);

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift check has no applied spec to measure against: {Reason}")]
    private static partial void LogNoSpec(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "drift round failed unexpectedly")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
