using System.Text.Json;
using System.Text.Json.Serialization;

namespace OdooFleet.Cli.Output;

// The `-o json` shapes. Property names are a stable interface for scripts: add, never rename.

/// <summary>A tenant; sizes and last backup are null until its host reports them.</summary>
internal sealed record TenantJson(
    string Id,
    string Name,
    string HostId,
    string HostName,
    string Plan,
    string State,
    string Database,
    string PrimaryDomain,
    IReadOnlyList<string> Aliases,
    IReadOnlyList<string> Modules,
    string Url,
    long? DatabaseBytes,
    long? FilestoreBytes,
    string? LastBackupAt,
    string? CreatedAt,
    string? UpdatedAt)
{
    /// <summary>The state it is on its way to (suspended, active) until its host has converged; null when none.</summary>
    public string? PendingState { get; init; }

    /// <summary>When its host's agent measured the sizes (every 10 minutes); null until it has.</summary>
    public string? SizesMeasuredAt { get; init; }

    /// <summary>Language loaded at creation; null = en_US only.</summary>
    public string? Lang { get; init; }

    /// <summary>Main company's country set at creation (ISO 3166-1 alpha-2); null = none.</summary>
    public string? Country { get; init; }

    /// <summary>The tenant it was cloned from; null when it was created, not cloned.</summary>
    public string? CloneOf { get; init; }

    /// <summary>A clone made with --neutralize: outgoing mail, crons and payment providers disabled in the copy.</summary>
    public bool Neutralized { get; init; }

    /// <summary>Its latest move (fleet tenant move); null when it never moved.</summary>
    public TenantLastMoveJson? LastMove { get; init; }
}

/// <summary>A tenant's latest move: step is exporting, importing, switched, done, rolling-back or rolled-back.</summary>
internal sealed record TenantLastMoveJson(string Id, string From, string To, string Step, string Error, long ArchiveBytes, string ArchiveSha256, string? UpdatedAt);

internal sealed record TenantListJson(IReadOnlyList<TenantJson> Tenants, bool Truncated);

/// <summary>Placement's verdict on one host: headroom is the smallest fraction of any budget left after placing.</summary>
internal sealed record PlacementJson(string HostId, string HostName, bool Fits, double Headroom, IReadOnlyList<string> Reasons);

/// <summary>What `fleet tenant move` did: started is false when that move was under way already.</summary>
internal sealed record TenantMoveJson(string Id, string Tenant, string From, string To, string Step, string Error, long ArchiveBytes, string ArchiveSha256, bool Started, string Summary);

/// <summary>What `fleet tenant suspend|resume|delete` did: changed is false when the tenant was already so (or on its way).</summary>
internal sealed record TenantActionJson(string Action, bool Changed, long Generation, string Summary, TenantJson Tenant);

internal sealed record TenantCreateJson(bool DryRun, bool Created, string ChosenHost, string Summary, long Generation, TenantJson? Tenant, IReadOnlyList<PlacementJson> Placement);
internal sealed record ReleaseJson(string Series, string Commit);

internal sealed record MetricsJson(
    double CpuPercent,
    long MemoryTotalBytes,
    long MemoryAvailableBytes,
    long DiskTotalBytes,
    long DiskFreeBytes,
    double Load1,
    double Load5,
    double Load15);

internal sealed record FactsJson(
    string Hostname,
    string OsId,
    string OsVersion,
    int CpuCores,
    long MemoryBytes,
    long DiskTotalBytes,
    IReadOnlyList<string> Addresses,
    string AgentVersion,
    string MachineId);

internal sealed record HostJson(
    string Id,
    string Name,
    string Address,
    string State,
    long DesiredGeneration,
    long AppliedGeneration,
    ReleaseJson? Odoo,
    string? LastSeen,
    string? EnrolledAt,
    bool LastConvergeSuccess,
    string? LastConvergeError,
    MetricsJson? Metrics)
{
    /// <summary>Tenants placed on the host.</summary>
    public int Tenants { get; init; }

    /// <summary>Small tenants that still fit by placement's rules; null before the host reported its capacity.</summary>
    public int? TenantRoom { get; init; }

    /// <summary>Only in `fleet host show`.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public FactsJson? Facts { get; init; }

    /// <summary>Only in `fleet host show` and `fleet host configure`.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProfileJson? Profile { get; init; }
}

/// <summary>A host's profile settings; null = the default ("auto" for tuning, the fleet's value otherwise).</summary>
internal sealed record ProfileJson(
    IReadOnlyList<string> Domains,
    string Tls,
    string? AcmeEmail,
    string DatabaseManager,
    int? Workers,
    int? CronThreads,
    IReadOnlyDictionary<string, string> OdooOptions,
    string? LogLevel,
    PostgresJson Postgres,
    int? LoginMaxRetry,
    int? LoginFindTimeSeconds,
    int? LoginBanSeconds,
    bool UnattendedUpgrades);

/// <summary>"local" (host etc. null) or "remote". The password is never part of it.</summary>
internal sealed record PostgresJson(string Mode, string? Host, int? Port, string? User, string? Sslmode);

internal sealed record ConfigureJson(bool Changed, HostJson Host);

internal sealed record PlanResourceJson(string Id, string Kind, string Status, string? Message, string? Detail);

internal sealed record PlanJson(
    string RequestId,
    string HostId,
    string HostName,
    long Generation,
    bool Success,
    string? Error,
    int Changes,
    int Unchanged,
    int Failed,
    IReadOnlyList<string> Explanation,
    IReadOnlyList<PlanResourceJson> Resources,
    string? RequestedAt,
    string? FinishedAt);

internal sealed record RolloutHostJson(
    string Id,
    string Name,
    string State,
    long Generation,
    string? Message,
    string? UpdatedAt,
    int Batch,
    string? Phase,
    ReleaseJson? FromRelease,
    long UnavailableMs,
    IReadOnlyList<string> UpdatedModules,
    string? LogTail,
    bool Staged);

/// <summary>The rollout's options with the controller's defaults filled in.</summary>
internal sealed record RolloutPolicyJson(
    IReadOnlyDictionary<string, string> Selector,
    int Canary,
    string Batch,
    string MaxFailures,
    int MaxFailuresHosts,
    int HealthTimeoutSeconds,
    int MinHealthySeconds,
    bool PauseAfterCanary,
    bool NoBackup,
    string Offline);

internal sealed record RolloutBatchJson(
    int Index,
    bool Canary,
    string State,
    int Hosts,
    int Succeeded,
    int Failed,
    int Skipped,
    string? StartedAt,
    string? FinishedAt);

internal sealed record ArtifactJson(string Sha256, long SizeBytes);

internal sealed record RolloutJson(
    string Id,
    string State,
    ReleaseJson? Release,
    string? CreatedAt,
    string? FinishedAt,
    string? Message,
    IReadOnlyList<RolloutHostJson> Hosts,
    RolloutPolicyJson? Policy,
    IReadOnlyList<RolloutBatchJson> Batches,
    int? CurrentBatch,
    string? RollbackOf,
    string? CreatedBy,
    ArtifactJson? Artifact);

/// <summary>A domain event; "data" is the event's own JSON object, as the controller stored it.</summary>
internal sealed record EventJson(long Id, string Type, string Subject, JsonElement Data, string? OccurredAt);

internal sealed record TokenJson(string Token, string? ExpiresAt)
{
    public string? Id { get; init; }

    public string? HostName { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>SHA-256 of the fleet CA certificate (hex): `enroll --ca-sha256` pins it.</summary>
    public string? CaSha256 { get; init; }

    /// <summary>The line to run on the host, as root.</summary>
    public string? EnrollCommand { get; init; }
}

/// <summary>An enrollment token as `fleet token list` shows it; the token itself is never listed.</summary>
internal sealed record EnrollmentTokenJson(
    string Id,
    string State,
    string? HostName,
    IReadOnlyDictionary<string, string> Labels,
    string? CreatedAt,
    string? CreatedBy,
    string? ExpiresAt,
    string? UsedAt,
    string? UsedByHost,
    string? RevokedAt);

/// <summary>An API token; "token" is set only in the answer to `fleet apitoken create`.</summary>
internal sealed record ApiTokenJson(
    string Id,
    string Name,
    string Role,
    string State,
    string? CreatedAt,
    string? CreatedBy,
    string? ExpiresAt,
    string? RevokedAt,
    string? LastUsedAt)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }
}

internal sealed record AuditJson(long Id, string? At, string Actor, string Role, string Action, string Target, string Result, string Address, string Detail);

internal sealed record WhoAmIJson(string Actor, string Role, string? TokenId);

internal sealed record RemoveHostJson(string HostId, string HostName, bool Removed);

/// <summary>A drift record; "id" is what `fleet drift show` takes.</summary>
internal sealed record DriftJson(
    string Id,
    string HostId,
    string HostName,
    string EventId,
    string ResourceId,
    string Kind,
    long Generation,
    string Expected,
    string Actual,
    string? Diff,
    string Trigger,
    string? DetectedAt,
    string Action,
    string? CorrectedAt,
    bool Recurred,
    string? Error,
    string? ReceivedAt,
    IReadOnlyList<SpecPatchJson> Accept,
    string? AcceptedAt,
    string? AcceptedBy);

/// <summary>One spec field a drift acceptance sets.</summary>
internal sealed record SpecPatchJson(string Path, string Value);

/// <summary>What `fleet drift accept` did: the fields set and the host's desired generation.</summary>
internal sealed record AcceptDriftJson(string Id, string Host, string EventId, bool Changed, long Generation, IReadOnlyList<SpecPatchJson> Applied);

internal sealed record MaintenanceWindowJson(string Days, string Start, int DurationMinutes);

/// <summary>A host's drift policy with the agent's defaults filled in.</summary>
internal sealed record DriftPolicyJson(
    string DefaultMode,
    IReadOnlyDictionary<string, string> Modes,
    IReadOnlyList<MaintenanceWindowJson> Maintenance,
    IReadOnlyList<string> Ignore,
    int PeriodicIntervalSeconds);

internal sealed record DriftPolicyResultJson(string HostId, string HostName, bool Changed, long DesiredGeneration, DriftPolicyJson Policy);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TenantJson))]
[JsonSerializable(typeof(TenantListJson))]
[JsonSerializable(typeof(TenantCreateJson))]
[JsonSerializable(typeof(TenantActionJson))]
[JsonSerializable(typeof(TenantMoveJson))]
[JsonSerializable(typeof(HostJson))]
[JsonSerializable(typeof(IReadOnlyList<HostJson>))]
[JsonSerializable(typeof(RolloutJson))]
[JsonSerializable(typeof(IReadOnlyList<RolloutJson>))]
[JsonSerializable(typeof(IReadOnlyList<EventJson>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(TokenJson))]
[JsonSerializable(typeof(IReadOnlyList<EnrollmentTokenJson>))]
[JsonSerializable(typeof(EnrollmentTokenJson))]
[JsonSerializable(typeof(ApiTokenJson))]
[JsonSerializable(typeof(IReadOnlyList<ApiTokenJson>))]
[JsonSerializable(typeof(IReadOnlyList<AuditJson>))]
[JsonSerializable(typeof(WhoAmIJson))]
[JsonSerializable(typeof(RemoveHostJson))]
[JsonSerializable(typeof(ConfigureJson))]
[JsonSerializable(typeof(PlanJson))]
[JsonSerializable(typeof(DriftJson))]
[JsonSerializable(typeof(IReadOnlyList<DriftJson>))]
[JsonSerializable(typeof(DriftPolicyResultJson))]
[JsonSerializable(typeof(AcceptDriftJson))]
internal sealed partial class OutputJsonContext : JsonSerializerContext;

/// <summary>One compact object per line: what `fleet events --follow -o json` streams.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(EventJson))]
internal sealed partial class OutputJsonLinesContext : JsonSerializerContext;
