using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>One table row of a rollout's hosts.</summary>
internal sealed record RolloutHostRow(string Name, string Id, string State, string Generation, string Message);

/// <summary>Rollout (proto) → JSON object, table rows, progress lines and exit code. Pure.</summary>
internal static class RolloutView
{
    public static string State(RolloutState state) => state switch
    {
        RolloutState.Running => "running",
        RolloutState.Succeeded => "succeeded",
        RolloutState.Failed => "failed",
        _ => "unknown",
    };

    public static string HostState(RolloutHostState state) => state switch
    {
        RolloutHostState.Pending => "pending",
        RolloutHostState.Updating => "updating",
        RolloutHostState.Succeeded => "succeeded",
        RolloutHostState.Failed => "failed",
        RolloutHostState.Unchanged => "unchanged",
        _ => "unknown",
    };

    public static bool IsFinished(Rollout rollout) => rollout.State is RolloutState.Succeeded or RolloutState.Failed;

    public static int ExitCode(Rollout rollout) => rollout.State switch
    {
        RolloutState.Succeeded => ExitCodes.Ok,
        RolloutState.Failed => ExitCodes.Failed,
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
                h.Id, h.Name, HostState(h.State), h.Generation, Formats.NullIfEmpty(h.Message), Formats.Iso(h.UpdatedAt)))]);

    public static IReadOnlyList<RolloutHostRow> ToRows(Rollout rollout) =>
        [.. rollout.Hosts.Select(h => new RolloutHostRow(
            h.Name.Length > 0 ? h.Name : h.Id,
            h.Id,
            HostState(h.State),
            h.Generation > 0 ? Formats.Invariant($"{h.Generation}") : "-",
            h.Message))];

    /// <summary>"rollout r-1 of 18.0@3f2a9c1d: running, 2/5 hosts done, 1 failed".</summary>
    public static string Summary(Rollout rollout)
    {
        var done = rollout.Hosts.Count(h => h.State is RolloutHostState.Succeeded or RolloutHostState.Unchanged or RolloutHostState.Failed);
        var failed = rollout.Hosts.Count(h => h.State == RolloutHostState.Failed);
        var text = Formats.Invariant(
            $"rollout {rollout.Id} of {Formats.ShortRelease(rollout.Release)}: {State(rollout.State)}, {done}/{rollout.Hosts.Count} hosts done");
        if (failed > 0)
        {
            text += Formats.Invariant($", {failed} failed");
        }

        return rollout.Message.Length > 0 ? $"{text} ({rollout.Message})" : text;
    }

    /// <summary>What changed since the previous update, one plain line each: the non-terminal progress display.</summary>
    public static IReadOnlyList<string> Changes(Rollout? before, Rollout after)
    {
        var lines = new List<string>();
        if (before is null)
        {
            lines.Add(Summary(after));
        }

        var previous = before?.Hosts.ToDictionary(h => h.Id) ?? [];
        foreach (var host in after.Hosts)
        {
            var name = host.Name.Length > 0 ? host.Name : host.Id;
            var message = host.Message.Length > 0 ? $": {host.Message}" : "";
            if (!previous.TryGetValue(host.Id, out var old))
            {
                lines.Add($"  {name}: {HostState(host.State)}{message}");
            }
            else if (old.State != host.State || old.Message != host.Message)
            {
                lines.Add($"  {name}: {HostState(old.State)} -> {HostState(host.State)}{message}");
            }
        }

        // A change of the rollout's own state closes the host lines that led to it.
        if (before is not null && before.State != after.State)
        {
            lines.Add(Summary(after));
        }

        return lines;
    }
}
