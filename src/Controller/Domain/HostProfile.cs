namespace OdooFleet.Controller.Domain;

internal enum TlsSetting
{
    SelfSigned,
    Acme,
}

/// <summary>A remote PostgreSQL server (null fields = the agent's defaults: port 5432, user odoo, sslmode require).</summary>
internal sealed record RemotePostgres(string Host, int? Port, string? User, string? SslMode);

/// <summary>
/// A host's own profile settings, as `fleet host configure` sets them and the hosts.profile column
/// stores them. Null = the fleet default (or the agent's computation from facts, for tuning).
/// Holds no secret: a remote PostgreSQL password belongs in the secret store, not here.
/// </summary>
internal sealed record HostProfile
{
    public static readonly HostProfile Default = new();

    public IReadOnlyList<string> Domains { get; init; } = [];

    public TlsSetting Tls { get; init; }

    public string? AcmeEmail { get; init; }

    public bool DatabaseManager { get; init; }

    public int? Workers { get; init; }

    public int? MaxCronThreads { get; init; }

    public IReadOnlyDictionary<string, string> OdooOptions { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    public string? LogLevel { get; init; }

    /// <summary>null = a local PostgreSQL the agent installs and tunes.</summary>
    public RemotePostgres? Postgres { get; init; }

    /// <summary>Overrides of the local PostgreSQL's computed settings (name -> value as PostgreSQL takes it).</summary>
    public IReadOnlyDictionary<string, string> PostgresSettings { get; init; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    public int? LoginMaxRetry { get; init; }

    public int? LoginFindTimeSeconds { get; init; }

    public int? LoginBanSeconds { get; init; }

    public bool UnattendedUpgradesOff { get; init; }

    /// <summary>What the agent does about drift on this host (`fleet drift policy`).</summary>
    public DriftSettings Drift { get; init; } = DriftSettings.Default;

    /// <summary>Same settings, whatever the order options were read in: the test for "no change, no new generation".</summary>
    public bool IsEquivalentTo(HostProfile other) =>
        Domains.SequenceEqual(other.Domains, StringComparer.Ordinal)
        && OdooOptions.Count == other.OdooOptions.Count
        && OdooOptions.All(o => other.OdooOptions.TryGetValue(o.Key, out var v) && string.Equals(v, o.Value, StringComparison.Ordinal))
        && PostgresSettings.Count == other.PostgresSettings.Count
        && PostgresSettings.All(o => other.PostgresSettings.TryGetValue(o.Key, out var v) && string.Equals(v, o.Value, StringComparison.Ordinal))
        && Drift.IsEquivalentTo(other.Drift)
        && this with { Domains = NoDomains, OdooOptions = NoOptions, PostgresSettings = NoOptions, Drift = DriftSettings.Default }
            == other with { Domains = NoDomains, OdooOptions = NoOptions, PostgresSettings = NoOptions, Drift = DriftSettings.Default };

    private static readonly string[] NoDomains = [];
    private static readonly SortedDictionary<string, string> NoOptions = new(StringComparer.Ordinal);
}

/// <summary>Fleet-wide defaults for what a host profile leaves unset (section "Fleet" of the controller's settings).</summary>
[GenerateSerializer, Immutable]
internal sealed record ProfileDefaults(
    [property: Id(0)] string? AcmeEmail,
    [property: Id(1)] string LogLevel,
    [property: Id(2)] int LoginMaxRetry,
    [property: Id(3)] int LoginFindTimeSeconds,
    [property: Id(4)] int LoginBanSeconds);

/// <summary>
/// A patch to a host profile: null = keep. For values with a default, the "empty" value resets to
/// it: "" for texts, 0 for numbers. <see cref="Domains"/> replaces the list (empty clears it).
/// </summary>
[GenerateSerializer, Immutable]
internal sealed record ProfileChange
{
    [Id(0)] public string[]? Domains { get; init; }
    [Id(1)] public TlsSetting? Tls { get; init; }
    [Id(2)] public string? AcmeEmail { get; init; }
    [Id(3)] public bool? DatabaseManager { get; init; }
    [Id(4)] public int? Workers { get; init; }
    [Id(5)] public int? MaxCronThreads { get; init; }
    [Id(6)] public Dictionary<string, string>? SetOptions { get; init; }
    [Id(7)] public string[]? UnsetOptions { get; init; }
    [Id(8)] public string? LogLevel { get; init; }
    [Id(9)] public bool? PostgresRemote { get; init; }
    [Id(10)] public string? PostgresHost { get; init; }
    [Id(11)] public int? PostgresPort { get; init; }
    [Id(12)] public string? PostgresUser { get; init; }
    [Id(13)] public string? PostgresSslMode { get; init; }
    [Id(14)] public int? LoginMaxRetry { get; init; }
    [Id(15)] public int? LoginFindTimeSeconds { get; init; }
    [Id(16)] public int? LoginBanSeconds { get; init; }
    [Id(17)] public bool? UnattendedUpgradesOff { get; init; }
    /// <summary>The mode for resources no entry names (null = keep).</summary>
    [Id(18)] public DriftModeSetting? DriftDefaultMode { get; init; }
    /// <summary>True = the default mode goes back to the agent's (correct).</summary>
    [Id(19)] public bool DriftDefaultModeReset { get; init; }
    [Id(20)] public Dictionary<string, DriftModeSetting>? SetDriftModes { get; init; }
    [Id(21)] public string[]? UnsetDriftModes { get; init; }
    /// <summary>Replaces the windows (empty clears them).</summary>
    [Id(22)] public MaintenanceWindowSetting[]? DriftMaintenance { get; init; }
    /// <summary>Replaces the ignore list (empty clears it).</summary>
    [Id(23)] public string[]? DriftIgnore { get; init; }
    /// <summary>0 = back to the agent's default.</summary>
    [Id(24)] public int? DriftIntervalSeconds { get; init; }
    /// <summary>Local PostgreSQL setting overrides to set (drift acceptance; no CLI flag yet).</summary>
    [Id(25)] public Dictionary<string, string>? SetPostgresSettings { get; init; }

    public bool IsEmpty =>
        Domains is null && Tls is null && AcmeEmail is null && DatabaseManager is null && Workers is null && MaxCronThreads is null
        && (SetOptions is null || SetOptions.Count == 0) && (UnsetOptions is null || UnsetOptions.Length == 0) && LogLevel is null
        && PostgresRemote is null && PostgresHost is null && PostgresPort is null && PostgresUser is null && PostgresSslMode is null
        && LoginMaxRetry is null && LoginFindTimeSeconds is null && LoginBanSeconds is null && UnattendedUpgradesOff is null
        && (SetPostgresSettings is null || SetPostgresSettings.Count == 0) && !HasDriftChange;

    public bool HasDriftChange =>
        DriftDefaultMode is not null || DriftDefaultModeReset || (SetDriftModes is not null && SetDriftModes.Count > 0)
        || (UnsetDriftModes is not null && UnsetDriftModes.Length > 0) || DriftMaintenance is not null || DriftIgnore is not null
        || DriftIntervalSeconds is not null;
}

/// <summary>The outcome of applying a <see cref="ProfileChange"/> to a stored host.</summary>
[GenerateSerializer, Immutable]
internal sealed record ProfileUpdate(
    [property: Id(0)] bool Found,
    [property: Id(1)] long Generation,
    [property: Id(2)] bool Changed,
    [property: Id(3)] string[] Errors)
{
    public static ProfileUpdate NotFound { get; } = new(false, 0, false, []);
}
