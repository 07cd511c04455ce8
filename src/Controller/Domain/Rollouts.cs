namespace OdooFleet.Controller.Domain;

internal enum RolloutStatus
{
    Running,
    Paused,
    Succeeded,
    Failed,
    Aborted,

    /// <summary>Dry run only: never persisted.</summary>
    Planned,
}

internal enum RolloutBatchStatus
{
    Pending,
    Running,
    Done,
    Cancelled,
}

internal enum OfflinePolicy
{
    Skip,
    Wait,
}

internal enum TransitionOutcome
{
    Unspecified,
    Updated,
    Reverted,
    Failed,
}

/// <summary>A release artifact as the controller built and serves it.</summary>
[GenerateSerializer, Immutable]
internal sealed record ReleaseArtifact([property: Id(0)] string Path, [property: Id(1)] string Sha256, [property: Id(2)] long SizeBytes);

/// <summary>How a host applies a release change (ReleaseGate on the wire).</summary>
[GenerateSerializer, Immutable]
internal sealed record ReleaseGate(
    [property: Id(0)] string RolloutId, [property: Id(1)] bool SkipBackup, [property: Id(2)] int HealthTimeoutSeconds, [property: Id(3)] int MinHealthySeconds);

/// <summary>What the agent reported about the release change of one converge (ConvergeReport.transition).</summary>
internal sealed record ReleaseTransitionRecord(
    OdooRelease? From,
    OdooRelease? To,
    TransitionOutcome Outcome,
    string Phase,
    string Reason,
    string LogTail,
    long UnavailableMs,
    int Restarts,
    string RolloutId,
    IReadOnlyList<string> UpdatedModules);

/// <summary>A rollout's options with every default filled in.</summary>
internal sealed record RolloutPolicy(
    SortedDictionary<string, string> Selector,
    int Canary,
    string Batch,
    string MaxFailures,
    int MaxFailuresHosts,
    int HealthTimeoutSeconds,
    int MinHealthySeconds,
    bool PauseAfterCanary,
    bool NoBackup,
    OfflinePolicy Offline);

/// <summary>The rollout header as persisted.</summary>
internal sealed record RolloutRecord(
    string Id,
    OdooRelease Release,
    RolloutStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt,
    string Message,
    RolloutPolicy Policy,
    string? RollbackOf,
    string CreatedBy,
    int CurrentBatch,
    ReleaseArtifact? Artifact,
    long Version)
{
    public bool IsFinished => Status is RolloutStatus.Succeeded or RolloutStatus.Failed or RolloutStatus.Aborted;
}

internal sealed record RolloutBatchRecord(
    int Index, bool Canary, RolloutBatchStatus Status, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>A batch with its hosts counted by outcome (succeeded includes unchanged, failed includes reverted).</summary>
internal sealed record RolloutBatchCounts(RolloutBatchRecord Batch, int Hosts, int Succeeded, int Failed, int Skipped);

/// <summary>A rollout as listed: its header and batch counts, no host rows.</summary>
internal sealed record RolloutSummary(RolloutRecord Rollout, IReadOnlyList<RolloutBatchCounts> Batches);

/// <summary>One host's step of a rollout as persisted.</summary>
internal sealed record RolloutHostRecord(
    string HostId,
    string Name,
    int Batch,
    Planning.RolloutHostStatus Status,
    OdooRelease Target,
    OdooRelease? From,
    long TargetGeneration,
    string Message,
    DateTimeOffset UpdatedAt)
{
    public string Phase { get; init; } = "";

    public string LogTail { get; init; } = "";

    public long UnavailableMs { get; init; }

    public IReadOnlyList<string> UpdatedModules { get; init; } = [];

    public bool Staged { get; init; }

    /// <summary>Failed or reverted, and the host's desired release has not been put back to <see cref="From"/> yet.</summary>
    public bool RestorePending { get; init; }

    public DateTimeOffset? DispatchedAt { get; init; }

    public DateTimeOffset? LastSentAt { get; init; }
}

/// <summary>A rollout in full: header, batches and hosts.</summary>
internal sealed record RolloutView(RolloutRecord Rollout, IReadOnlyList<RolloutBatchRecord> Batches, IReadOnlyList<RolloutHostRecord> Hosts);
