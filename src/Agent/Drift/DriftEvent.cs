namespace OdooFleet.Agent.Drift;

/// <summary>What the agent did about one drift.</summary>
internal enum DriftAction
{
    /// <summary>Put back.</summary>
    Corrected,

    /// <summary>Policy report: left as found.</summary>
    Reported,

    /// <summary>Inside a maintenance window: left as found.</summary>
    Suppressed,

    /// <summary>Keeps coming back: correction backs off (CorrectedAt says whether this one was put back).</summary>
    Flapping,

    /// <summary>Correction was tried and failed (see Error).</summary>
    Failed,
}

/// <summary>
/// One drift of one resource measured against an applied generation: what the spec says, what was
/// found (summaries and a bounded diff, secrets already redacted by the resource), and the action.
/// </summary>
internal sealed record DriftEvent
{
    /// <summary>Largest diff kept in an event: a config file's diff fits, a runaway one is cut.</summary>
    public const int MaxDiffChars = 16 * 1024;

    /// <summary>Agent-made and unique: re-sending an event is harmless.</summary>
    public required string Id { get; init; }

    public required string ResourceId { get; init; }

    public required string Kind { get; init; }

    public required long Generation { get; init; }

    public required string Expected { get; init; }

    public required string Actual { get; init; }

    public string Diff { get; init; } = "";

    /// <summary>"file", "unit", "periodic", "startup" or "retry" (a backed-off correction coming due).</summary>
    public required string Trigger { get; init; }

    public required DateTimeOffset DetectedAt { get; init; }

    public required DriftAction Action { get; init; }

    public DateTimeOffset? CorrectedAt { get; init; }

    /// <summary>The same resource drifted before within the flapping window.</summary>
    public bool Recurred { get; init; }

    public string? Error { get; init; }

    /// <summary>The spec fields that would make the observed state desired (`fleet drift accept`); empty = not acceptable.</summary>
    public IReadOnlyList<DriftPatch> Accept { get; init; } = [];

    /// <summary>A diff cut to <see cref="MaxDiffChars"/>, saying how much was left out.</summary>
    public static string Bound(string? diff) =>
        diff is null ? ""
        : diff.Length <= MaxDiffChars ? diff
        : string.Concat(diff.AsSpan(0, MaxDiffChars), $"\n… ({diff.Length - MaxDiffChars} more characters not kept)\n");
}
