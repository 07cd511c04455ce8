namespace OdooFleet.Controller.Domain;

/// <summary>What the agent did about one drift (DriftAction on the wire; stored lowercase).</summary>
internal enum DriftOutcome
{
    Corrected,
    Reported,
    Suppressed,
    Flapping,
    Failed,
}

/// <summary>One drift of one resource as an agent reported it; secrets were redacted by the agent.</summary>
internal sealed record DriftEventRecord(
    string Id,
    string ResourceId,
    string Kind,
    long Generation,
    string Expected,
    string Actual,
    string Diff,
    string Trigger,
    DateTimeOffset DetectedAt,
    DriftOutcome Action,
    DateTimeOffset? CorrectedAt,
    bool Recurred,
    string Error)
{
    /// <summary>What `fleet drift accept` would set (spec path and value); empty = not acceptable.</summary>
    public IReadOnlyList<DriftPatch> Accept { get; init; } = [];
}

/// <summary>One spec field a drift acceptance sets: "odoo.workers", "odoo.options.&lt;key&gt;", "postgres.settings.&lt;name&gt;" ...</summary>
internal sealed record DriftPatch(string Path, string Value);

/// <summary>A stored drift event with the host it belongs to, and whether its observed value was made the desired one.</summary>
internal sealed record StoredDrift(string HostId, string HostName, DriftEventRecord Event, DateTimeOffset ReceivedAt)
{
    public DateTimeOffset? AcceptedAt { get; init; }

    public string AcceptedBy { get; init; } = "";

    /// <summary>The desired generation the acceptance produced (0 = not accepted).</summary>
    public long AcceptedGeneration { get; init; }
}

/// <summary>What the store did with a report: ids now stored (new or before) and those that are new.</summary>
internal sealed record DriftRecording(IReadOnlyList<string> Stored, IReadOnlyList<string> Inserted);

/// <summary>A host's drift mode for a resource, a kind or by default (null = the default, correct).</summary>
internal enum DriftModeSetting
{
    Correct,
    Report,
}

/// <summary>A weekly window in UTC during which the agent records drift but does not correct it.</summary>
[GenerateSerializer, Immutable]
internal sealed record MaintenanceWindowSetting(
    [property: Id(0)] string Days,
    [property: Id(1)] string Start,
    [property: Id(2)] int DurationMinutes);

/// <summary>
/// A host's drift policy as its profile stores it and its spec carries it. Empty = the agent's
/// defaults: correct everything, no windows, nothing ignored, re-observe every 5 minutes.
/// </summary>
internal sealed record DriftSettings
{
    public static readonly DriftSettings Default = new();

    public DriftModeSetting? DefaultMode { get; init; }

    public IReadOnlyDictionary<string, DriftModeSetting> Modes { get; init; } = new SortedDictionary<string, DriftModeSetting>(StringComparer.Ordinal);

    public IReadOnlyList<MaintenanceWindowSetting> Maintenance { get; init; } = [];

    public IReadOnlyList<string> Ignore { get; init; } = [];

    /// <summary>null = the agent's default (300 s).</summary>
    public int? PeriodicIntervalSeconds { get; init; }

    public bool IsEquivalentTo(DriftSettings other) =>
        DefaultMode == other.DefaultMode
        && PeriodicIntervalSeconds == other.PeriodicIntervalSeconds
        && Modes.Count == other.Modes.Count
        && Modes.All(m => other.Modes.TryGetValue(m.Key, out var v) && v == m.Value)
        && Maintenance.SequenceEqual(other.Maintenance)
        && Ignore.SequenceEqual(other.Ignore, StringComparer.Ordinal);
}
