using OdooFleet.Cli.Input;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>One table row of a rollout's hosts.</summary>
internal sealed record RolloutHostRow(string Name, string Batch, string State, string Phase, string Unavailable, string Updated, string Message);

/// <summary>One table row of a rollout's batches.</summary>
internal sealed record RolloutBatchRow(string Batch, string Canary, string State, string Done, string Failed, string Skipped, string Duration);

/// <summary>One row of `fleet rollouts`.</summary>
internal sealed record RolloutHistoryRow(string Id, string State, string Release, string Created, string Duration, string Hosts, string By, string Note);

/// <summary>A failed or reverted host's reason and the end of its Odoo log.</summary>
internal sealed record HostLogTail(string Name, string State, string Message, IReadOnlyList<string> Lines);

/// <summary>Rollout (proto) → JSON object, table rows, progress lines and exit code. Pure.</summary>
internal static class RolloutView
{
    /// <summary>The controller's defaults for unset options (StartRolloutRequest: 0 = 300 and 10).</summary>
    public static readonly TimeSpan DefaultHealthTimeout = TimeSpan.FromSeconds(300);

    public static readonly TimeSpan DefaultMinHealthy = TimeSpan.FromSeconds(10);

    private const int ModulesShown = 3;

    public static string State(RolloutState state) => state switch
    {
        RolloutState.Running => "running",
        RolloutState.Succeeded => "succeeded",
        RolloutState.Failed => "failed",
        RolloutState.Paused => "paused",
        RolloutState.Aborted => "aborted",
        RolloutState.Planned => "planned",
        _ => "unknown",
    };

    public static string HostState(RolloutHostState state) => state switch
    {
        RolloutHostState.Pending => "pending",
        RolloutHostState.Updating => "updating",
        RolloutHostState.Succeeded => "succeeded",
        RolloutHostState.Failed => "failed",
        RolloutHostState.Unchanged => "unchanged",
        RolloutHostState.Reverted => "reverted",
        RolloutHostState.Skipped => "skipped",
        RolloutHostState.Cancelled => "cancelled",
        _ => "unknown",
    };

    public static string BatchState(RolloutBatchState state) => state switch
    {
        RolloutBatchState.Pending => "pending",
        RolloutBatchState.Running => "running",
        RolloutBatchState.Done => "done",
        RolloutBatchState.Cancelled => "cancelled",
        _ => "unknown",
    };

    public static string Offline(OfflinePolicy policy) => policy == OfflinePolicy.Wait ? "wait" : "skip";

    public static bool IsFinished(Rollout rollout) => rollout.State is RolloutState.Succeeded or RolloutState.Failed or RolloutState.Aborted;

    public static bool IsFinished(RolloutHostState state) =>
        state is RolloutHostState.Succeeded or RolloutHostState.Unchanged or RolloutHostState.Failed or RolloutHostState.Reverted
            or RolloutHostState.Skipped or RolloutHostState.Cancelled;

    public static bool IsFailure(RolloutHostState state) => state is RolloutHostState.Failed or RolloutHostState.Reverted;

    /// <summary>0 succeeded; 1 failed or aborted; 3 not finished (a wait or watch that gave up).</summary>
    public static int ExitCode(Rollout rollout) => rollout.State switch
    {
        RolloutState.Succeeded => ExitCodes.Ok,
        RolloutState.Failed or RolloutState.Aborted => ExitCodes.Failed,
        _ => ExitCodes.Timeout,
    };

    public static RolloutJson ToJson(Rollout rollout) =>
        new(
            rollout.Id,
            State(rollout.State),
            Formats.Release(rollout.Release),
            Formats.Iso(rollout.CreatedAt),
            Formats.Iso(rollout.FinishedAt),
            Formats.NullIfEmpty(rollout.Message),
            [.. rollout.Hosts.Select(h => new RolloutHostJson(
                h.Id,
                h.Name,
                HostState(h.State),
                h.Generation,
                Formats.NullIfEmpty(h.Message),
                Formats.Iso(h.UpdatedAt),
                h.Batch,
                Formats.NullIfEmpty(h.Phase),
                Formats.Release(h.FromRelease),
                h.UnavailableMs,
                [.. h.UpdatedModules],
                Formats.NullIfEmpty(h.LogTail),
                h.Staged))],
            rollout.Policy is { } p
                ? new RolloutPolicyJson(
                    new SortedDictionary<string, string>(p.Selector, StringComparer.Ordinal),
                    p.Canary,
                    p.Batch,
                    p.MaxFailures,
                    p.MaxFailuresHosts,
                    p.HealthTimeoutSeconds,
                    p.MinHealthySeconds,
                    p.PauseAfterCanary,
                    p.NoBackup,
                    Offline(p.Offline))
                : null,
            [.. rollout.Batches.Select(b => new RolloutBatchJson(
                b.Index, b.Canary, BatchState(b.State), b.Hosts, b.Succeeded, b.Failed, b.Skipped, Formats.Iso(b.StartedAt), Formats.Iso(b.FinishedAt)))],
            rollout.CurrentBatch >= 0 && rollout.Batches.Count > 0 ? rollout.CurrentBatch : null,
            Formats.NullIfEmpty(rollout.RollbackOf),
            Formats.NullIfEmpty(rollout.CreatedBy),
            rollout.Artifact is { Sha256.Length: > 0 } a ? new ArtifactJson(a.Sha256, a.SizeBytes) : null);

    /// <summary>"canary" for the canary batch, else its number counted from 1 after the canary.</summary>
    public static string BatchLabel(Rollout rollout, int index)
    {
        var batch = rollout.Batches.FirstOrDefault(b => b.Index == index);
        if (batch?.Canary == true)
        {
            return "canary";
        }

        var hasCanary = rollout.Batches.Any(b => b.Canary);
        return Formats.Invariant($"{(hasCanary ? index : index + 1)}");
    }

    public static IReadOnlyList<RolloutHostRow> ToRows(Rollout rollout) =>
        [.. rollout.Hosts.Select(h => new RolloutHostRow(
            Name(h),
            rollout.Batches.Count > 0 ? BatchLabel(rollout, h.Batch) : "-",
            HostState(h.State),
            h.Phase.Length > 0 ? PlanView.Printable(h.Phase) : "-",
            Unavailable(h),
            Modules(h.UpdatedModules),
            FirstLine(h.Message)))];

    public static IReadOnlyList<RolloutBatchRow> BatchRows(Rollout rollout, DateTimeOffset now) =>
        [.. rollout.Batches.OrderBy(b => b.Index).Select(b => new RolloutBatchRow(
            BatchLabel(rollout, b.Index),
            b.Canary ? "yes" : "no",
            BatchState(b.State),
            Formats.Invariant($"{b.Succeeded + b.Failed + b.Skipped}/{b.Hosts}"),
            Formats.Invariant($"{b.Failed}"),
            Formats.Invariant($"{b.Skipped}"),
            BatchDuration(b, now)))];

    public static string BatchDuration(RolloutBatch batch, DateTimeOffset now)
    {
        if (batch.StartedAt is null)
        {
            return "-";
        }

        var end = batch.FinishedAt?.ToDateTimeOffset() ?? now;
        var text = ShortDuration(end - batch.StartedAt.ToDateTimeOffset());
        return batch.FinishedAt is null ? text + " so far" : text;
    }

    /// <summary>How long Odoo did not serve; "-" while that is not known yet.</summary>
    public static string Unavailable(RolloutHost host) =>
        host.UnavailableMs == 0 && host.State is not (RolloutHostState.Succeeded or RolloutHostState.Failed or RolloutHostState.Reverted)
            ? "-"
            : ShortDuration(TimeSpan.FromMilliseconds(host.UnavailableMs));

    /// <summary>"4.2s" under a minute (tenths matter for unavailability), else "1h30m".</summary>
    public static string ShortDuration(TimeSpan duration) =>
        duration < TimeSpan.FromMinutes(1)
            ? Formats.Invariant($"{Math.Max(0, duration.TotalSeconds):0.0}s")
            : DurationParser.Format(duration);

    /// <summary>"acme:sale, acme:stock, beta:sale +2 more", or "-".</summary>
    public static string Modules(IReadOnlyCollection<string> modules)
    {
        if (modules.Count == 0)
        {
            return "-";
        }

        var shown = string.Join(", ", modules.Take(ModulesShown).Select(PlanView.Printable));
        return modules.Count > ModulesShown ? Formats.Invariant($"{shown} +{modules.Count - ModulesShown} more") : shown;
    }

    public static IReadOnlyList<HostLogTail> LogTails(Rollout rollout) =>
        [.. rollout.Hosts
            .Where(h => IsFailure(h.State) && h.LogTail.Length > 0)
            .Select(h => new HostLogTail(
                Name(h),
                HostState(h.State),
                PlanView.Printable(h.Message),
                [.. PlanView.Printable(h.LogTail).TrimEnd('\n').Split('\n')]))];

    /// <summary>"rollout r-1 of 18.0@3f2a9c1d: running, batch 2 of 3, 2/5 hosts done, 1 failed".</summary>
    public static string Summary(Rollout rollout)
    {
        var done = rollout.Hosts.Count(h => IsFinished(h.State));
        var failed = rollout.Hosts.Count(h => IsFailure(h.State));
        var text = Formats.Invariant($"rollout {rollout.Id} of {Formats.ShortRelease(rollout.Release)}: {State(rollout.State)}");
        if (rollout.State is RolloutState.Running or RolloutState.Paused && rollout.CurrentBatch >= 0 && rollout.Batches.Count > 0)
        {
            var label = BatchLabel(rollout, rollout.CurrentBatch);
            var numbered = rollout.Batches.Count(b => !b.Canary);
            text += label == "canary" ? ", canary batch" : $", batch {label} of {numbered}";
        }

        text += Formats.Invariant($", {done}/{rollout.Hosts.Count} hosts done");
        if (failed > 0)
        {
            text += Formats.Invariant($", {failed} failed");
        }

        return rollout.Message.Length > 0 ? $"{text} ({PlanView.Printable(rollout.Message)})" : text;
    }

    /// <summary>The policy in one line: "canary 1, batches of 25%, max failures 0 (0 hosts), ...".</summary>
    public static string PolicyText(RolloutPolicy policy)
    {
        var parts = new List<string>();
        if (policy.Selector.Count > 0)
        {
            parts.Add("selector " + string.Join(",", policy.Selector.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}")));
        }
        else
        {
            parts.Add("every host");
        }

        parts.Add(policy.Canary > 0 ? Formats.Invariant($"canary {policy.Canary}") : "no canary");
        parts.Add($"batches of {policy.Batch}");
        parts.Add(Formats.Invariant($"max failures {policy.MaxFailures} ({policy.MaxFailuresHosts} host(s))"));
        parts.Add($"healthy for {DurationParser.Format(MinHealthy(policy))} within {DurationParser.Format(HealthTimeout(policy))}");
        parts.Add(policy.NoBackup ? "no backup" : "backup first");
        parts.Add(policy.Offline == OfflinePolicy.Wait ? "offline hosts waited for" : "offline hosts skipped");
        if (policy.PauseAfterCanary)
        {
            parts.Add("pause after canary");
        }

        return PlanView.Printable(string.Join(", ", parts));
    }

    public static TimeSpan HealthTimeout(RolloutPolicy policy) =>
        policy.HealthTimeoutSeconds > 0 ? TimeSpan.FromSeconds(policy.HealthTimeoutSeconds) : DefaultHealthTimeout;

    public static TimeSpan MinHealthy(RolloutPolicy policy) =>
        policy.MinHealthySeconds > 0 ? TimeSpan.FromSeconds(policy.MinHealthySeconds) : DefaultMinHealthy;

    /// <summary>Label and value pairs under the summary of `fleet rollout status`.</summary>
    public static IReadOnlyList<(string Label, string Value)> Details(Rollout rollout, DateTimeOffset now)
    {
        var details = new List<(string, string)>();
        if (Formats.Release(rollout.Release) is { } release)
        {
            var artifact = rollout.Artifact is { Sha256.Length: > 0 } a
                ? $" (release sha256 {a.Sha256[..Math.Min(12, a.Sha256.Length)]}, {Formats.Bytes(a.SizeBytes)})"
                : "";
            details.Add(("release", $"{release.Series} @ {release.Commit}{artifact}"));
        }

        if (rollout.Policy is { } policy)
        {
            details.Add(("policy", PolicyText(policy)));
        }

        if (rollout.RollbackOf.Length > 0)
        {
            details.Add(("rollback of", rollout.RollbackOf));
        }

        if (rollout.State == RolloutState.Paused)
        {
            details.Add(("paused", $"resume with: fleet rollout resume {rollout.Id}"));
        }

        if (rollout.CreatedAt is not null)
        {
            var by = rollout.CreatedBy.Length > 0 ? $" by {PlanView.Printable(rollout.CreatedBy)}" : "";
            details.Add(("started", $"{Formats.Iso(rollout.CreatedAt)}{by}"));
        }

        if (rollout.FinishedAt is not null)
        {
            details.Add(("finished", $"{Formats.Iso(rollout.FinishedAt)} (took {RolloutDuration(rollout, now)})"));
        }
        else if (rollout.CreatedAt is not null && rollout.State != RolloutState.Planned)
        {
            details.Add(("running for", RolloutDuration(rollout, now)));
        }

        return details;
    }

    public static string RolloutDuration(Rollout rollout, DateTimeOffset now) =>
        rollout.CreatedAt is null
            ? "-"
            : ShortDuration((rollout.FinishedAt?.ToDateTimeOffset() ?? now) - rollout.CreatedAt.ToDateTimeOffset());

    /// <summary>`fleet rollouts`: hosts are omitted there, so progress comes from the batch counters.</summary>
    public static RolloutHistoryRow ToHistoryRow(Rollout rollout, DateTimeOffset now)
    {
        var total = rollout.Batches.Sum(b => b.Hosts);
        var succeeded = rollout.Batches.Sum(b => b.Succeeded);
        var failed = rollout.Batches.Sum(b => b.Failed);
        var skipped = rollout.Batches.Sum(b => b.Skipped);
        var hosts = Formats.Invariant($"{succeeded} ok, {failed} failed") + (skipped > 0 ? Formats.Invariant($", {skipped} skipped") : "") + Formats.Invariant($" of {total}");
        var note = rollout.RollbackOf.Length > 0 ? $"rollback of {rollout.RollbackOf}" : "";
        if (rollout.Message.Length > 0)
        {
            note = note.Length > 0 ? $"{note}; {FirstLine(rollout.Message)}" : FirstLine(rollout.Message);
        }

        return new RolloutHistoryRow(
            rollout.Id,
            State(rollout.State),
            Formats.ShortRelease(rollout.Release),
            Formats.Iso(rollout.CreatedAt) ?? "-",
            RolloutDuration(rollout, now) + (IsFinished(rollout) ? "" : " so far"),
            total == 0 && rollout.Batches.Count == 0 ? "-" : hosts,
            rollout.CreatedBy.Length > 0 ? PlanView.Printable(rollout.CreatedBy) : "-",
            note.Length > 0 ? note : "-");
    }

    /// <summary>What changed since the previous update, one plain line each: the non-terminal progress display.</summary>
    public static IReadOnlyList<string> Changes(Rollout? before, Rollout after)
    {
        var lines = new List<string>();
        if (before is null)
        {
            lines.Add(Summary(after));
        }

        var previousBatches = before?.Batches.ToDictionary(b => b.Index) ?? [];
        foreach (var batch in after.Batches.OrderBy(b => b.Index))
        {
            if (before is not null && (!previousBatches.TryGetValue(batch.Index, out var old) || old.State != batch.State))
            {
                lines.Add(BatchLine(after, batch));
            }
        }

        var previous = before?.Hosts.ToDictionary(h => h.Id) ?? [];
        foreach (var host in after.Hosts)
        {
            var name = Name(host);
            var phase = host.Phase.Length > 0 ? $" ({PlanView.Printable(host.Phase)})" : "";
            var message = host.Message.Length > 0 ? $": {PlanView.Printable(host.Message)}" : "";
            if (!previous.TryGetValue(host.Id, out var old))
            {
                lines.Add($"  {name}: {HostState(host.State)}{phase}{message}");
            }
            else if (old.State != host.State)
            {
                lines.Add($"  {name}: {HostState(old.State)} -> {HostState(host.State)}{phase}{message}");
                if (IsFailure(host.State) && host.LogTail.Length > 0)
                {
                    lines.AddRange(PlanView.Printable(host.LogTail).TrimEnd('\n').Split('\n').Select(l => "    | " + l));
                }
            }
            else if (old.Phase != host.Phase || old.Message != host.Message)
            {
                lines.Add($"  {name}: {HostState(host.State)}{phase}{message}");
            }
        }

        // A change of the rollout's own state closes the host lines that led to it.
        if (before is not null && before.State != after.State)
        {
            lines.Add(Summary(after));
        }

        return lines;
    }

    public static string BatchLine(Rollout rollout, RolloutBatch batch)
    {
        var label = BatchLabel(rollout, batch.Index);
        var name = label == "canary" ? "canary batch" : $"batch {label}";
        return batch.State switch
        {
            RolloutBatchState.Running => Formats.Invariant($"{name}: running on {batch.Hosts} host(s)"),
            RolloutBatchState.Done => Formats.Invariant($"{name}: done, {batch.Succeeded} succeeded, {batch.Failed} failed, {batch.Skipped} skipped"),
            _ => $"{name}: {BatchState(batch.State)}",
        };
    }

    public static string Name(RolloutHost host) => PlanView.Printable(host.Name.Length > 0 ? host.Name : host.Id);

    private static string FirstLine(string text)
    {
        var printable = PlanView.Printable(text);
        var newline = printable.IndexOf('\n', StringComparison.Ordinal);
        return newline < 0 ? printable : printable[..newline] + " ...";
    }
}
