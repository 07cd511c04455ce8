namespace OdooFleet.Controller.Domain;

/// <summary>An Odoo release: a series and one commit of it.</summary>
[GenerateSerializer, Immutable]
internal sealed record OdooRelease([property: Id(0)] string Series, [property: Id(1)] string Commit)
{
    public string ShortCommit => Commit.Length > 12 ? Commit[..12] : Commit;

    public override string ToString() => $"{Series}@{ShortCommit}";
}

internal sealed record HostFacts(
    string Hostname,
    string OsId,
    string OsVersion,
    int CpuCores,
    long MemoryBytes,
    long DiskTotalBytes,
    IReadOnlyList<string> Addresses,
    string AgentVersion,
    string MachineId);

internal sealed record HostMetrics(
    double CpuPercent,
    long MemoryTotalBytes,
    long MemoryAvailableBytes,
    long DiskTotalBytes,
    long DiskFreeBytes,
    double Load1,
    double Load5,
    double Load15);

internal enum ResourceOutcome
{
    Unchanged,
    Changed,
    Failed,
    Skipped,
}

internal sealed record ResourceResult(string Id, string Kind, ResourceOutcome Outcome, string Message, long DurationMs)
{
    /// <summary>Multi-line detail of a change (a unified diff, secrets redacted by the agent); empty when none.</summary>
    public string Detail { get; init; } = "";
}

/// <summary>What an agent reports after converging one generation of its spec.</summary>
internal sealed record ConvergeReport(
    string HostId,
    long Generation,
    bool Success,
    string Error,
    OdooRelease? RunningRelease,
    IReadOnlyList<ResourceResult> Resources,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt)
{
    /// <summary>Set when this converge changed (or tried to change) the release.</summary>
    public ReleaseTransitionRecord? Transition { get; init; }
}

/// <summary>What an agent answers to a plan request: what converging its current spec would change.</summary>
internal sealed record PlanReport(
    string RequestId,
    string HostId,
    long Generation,
    bool Success,
    string Error,
    IReadOnlyList<string> Explanation,
    IReadOnlyList<ResourceResult> Resources,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt);

/// <summary>A plan request as stored: the report is null until the agent answers.</summary>
internal sealed record StoredPlan(string RequestId, string HostId, DateTimeOffset RequestedAt, DateTimeOffset? ReportedAt, PlanReport? Report);

/// <summary>A host as the fleet tables know it.</summary>
internal sealed record HostRecord(
    string Id,
    string Name,
    string Address,
    DateTimeOffset EnrolledAt,
    DateTimeOffset? LastSeen,
    HostFacts? Facts,
    HostMetrics? Metrics,
    long DesiredGeneration,
    OdooRelease? DesiredRelease,
    long AppliedGeneration,
    long ReportedGeneration,
    OdooRelease? RunningRelease,
    bool LastConvergeSuccess,
    string LastConvergeError,
    string Queue)
{
    /// <summary>The host's own profile settings (what `fleet host configure` set).</summary>
    public HostProfile Profile { get; init; } = HostProfile.Default;

    /// <summary>Labels from the enrollment token that enrolled the host.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Where the host fetches its desired release (null = clone from the source).</summary>
    public ReleaseArtifact? DesiredArtifact { get; init; }

    /// <summary>How the host applies a change of its desired release (null = the agent's defaults).</summary>
    public ReleaseGate? DesiredGate { get; init; }

    public bool IsOnline(DateTimeOffset now, TimeSpan offlineAfter) =>
        LastSeen is { } seen && now - seen <= offlineAfter;
}

/// <summary>The whole desired state of one host, as the agent fetches it.</summary>
internal sealed record HostSpec(string HostId, long Generation, OdooRelease? Release, string SourceUrl, int HttpPort, int GeventPort)
{
    /// <summary>The host's profile with the fleet defaults filled in.</summary>
    public HostProfile Profile { get; init; } = HostProfile.Default;

    /// <summary>Directory of Python wheels on every host (Fleet:Wheelhouse); null = hosts build from source.</summary>
    public string? Wheelhouse { get; init; }

    /// <summary>The host's Odoo master password hash (passlib pbkdf2-sha512); "" = the agent makes its own.</summary>
    public string AdminPasswdHash { get; init; } = "";

    public ReleaseArtifact? Artifact { get; init; }

    public ReleaseGate? Gate { get; init; }

    /// <summary>The tenants placed on the host, by name (their aliases included).</summary>
    public IReadOnlyList<TenantRecord> Tenants { get; init; } = [];

    /// <summary>Days the host keeps the final archive of a deleted tenant (Fleet:TenantArchiveRetentionDays).</summary>
    public int TenantArchiveRetentionDays { get; init; } = 30;
}
