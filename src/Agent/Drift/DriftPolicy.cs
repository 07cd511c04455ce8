using System.Globalization;
using System.Text.RegularExpressions;

namespace OdooFleet.Agent.Drift;

/// <summary>What the agent does with drift of one resource.</summary>
internal enum DriftMode
{
    /// <summary>Put the desired state back at once (the default).</summary>
    Correct,

    /// <summary>Record and report only; the resource is left as found.</summary>
    Report,
}

/// <summary>A weekly window in UTC during which drift is recorded but never corrected.</summary>
internal sealed record MaintenanceWindow(IReadOnlySet<DayOfWeek> Days, TimeSpan Start, TimeSpan Duration)
{
    /// <summary>Whether <paramref name="utcNow"/> falls in this window (a window may run past midnight, also Sunday into Monday).</summary>
    public bool Contains(DateTimeOffset utcNow)
    {
        var now = utcNow.UtcDateTime;
        // A window lasts at most 24 h, so only one started today or yesterday can hold now.
        for (var daysBack = 0; daysBack <= 1; daysBack++)
        {
            var day = now.Date.AddDays(-daysBack);
            if (!Days.Contains(day.DayOfWeek))
            {
                continue;
            }

            var opens = day + Start;
            if (opens <= now && now < opens + Duration)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A maintenance window as the spec gives it, before validation.</summary>
internal sealed record MaintenanceWindowSpec(string Days, string Start, int DurationMinutes);

/// <summary>The drift policy as the spec gives it (mapped from proto in ProtoMapping), before validation.</summary>
internal sealed record DriftPolicySpec
{
    /// <summary>null = unspecified (correct).</summary>
    public DriftMode? DefaultMode { get; init; }

    public IReadOnlyDictionary<string, DriftMode> Modes { get; init; } = new Dictionary<string, DriftMode>(StringComparer.Ordinal);

    public IReadOnlyList<MaintenanceWindowSpec> Maintenance { get; init; } = [];

    public IReadOnlyList<string> Ignore { get; init; } = [];

    /// <summary>0 = the default (300 s).</summary>
    public int PeriodicIntervalSeconds { get; init; }
}

/// <summary>
/// A host's validated drift policy: per resource mode (resource id over "kind:&lt;kind&gt;" over
/// the default), weekly maintenance windows in UTC, resource ids to ignore, the periodic
/// re-observe interval. The decisions are pure functions of the policy and their arguments.
/// </summary>
internal sealed partial record DriftPolicy(
    DriftMode DefaultMode,
    IReadOnlyDictionary<string, DriftMode> Modes,
    IReadOnlyList<MaintenanceWindow> Maintenance,
    IReadOnlySet<string> Ignore,
    TimeSpan PeriodicInterval)
{
    public const int DefaultIntervalSeconds = 300;
    public const int MinIntervalSeconds = 30;
    public const int MaxIntervalSeconds = 86400;
    public const string KindPrefix = "kind:";

    /// <summary>No spec policy: correct everything, re-observe every 5 minutes.</summary>
    public static readonly DriftPolicy Default = new(
        DriftMode.Correct,
        new Dictionary<string, DriftMode>(StringComparer.Ordinal),
        [],
        new HashSet<string>(StringComparer.Ordinal),
        TimeSpan.FromSeconds(DefaultIntervalSeconds));

    /// <summary>
    /// What the agent uses when the spec's policy is invalid: record and report everything,
    /// correct nothing, since a policy it cannot read may be the one that says "leave this alone".
    /// </summary>
    public static readonly DriftPolicy ReportOnly = Default with { DefaultMode = DriftMode.Report };

    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    /// <summary>The most specific entry wins: the resource id, then its kind, then the default.</summary>
    public DriftMode ModeFor(string resourceId, string kind) =>
        Modes.TryGetValue(resourceId, out var byId) ? byId
        : Modes.TryGetValue(KindPrefix + kind, out var byKind) ? byKind
        : DefaultMode;

    public bool InMaintenance(DateTimeOffset utcNow) => Maintenance.Any(w => w.Contains(utcNow));

    public bool IsIgnored(string resourceId) => Ignore.Contains(resourceId);

    /// <summary>Validates <paramref name="spec"/>; every error names the field, the rule and the fix.</summary>
    public static DriftPolicy Create(DriftPolicySpec spec, out IReadOnlyList<string> errors)
    {
        var problems = new List<string>();
        foreach (var key in spec.Modes.Keys.Order(StringComparer.Ordinal))
        {
            if (!IsModeKey(key))
            {
                problems.Add($"drift.modes['{key}']: a key is a resource id (\"file:/etc/odoo.conf\") or \"kind:<kind>\" (\"kind:ufw\"); fix the key");
            }
        }

        var windows = new List<MaintenanceWindow>();
        for (var i = 0; i < spec.Maintenance.Count; i++)
        {
            var window = ParseWindow(spec.Maintenance[i], $"drift.maintenance[{i}]", problems);
            if (window is not null)
            {
                windows.Add(window);
            }
        }

        foreach (var id in spec.Ignore)
        {
            if (!IsResourceId(id) || id.StartsWith(KindPrefix, StringComparison.Ordinal))
            {
                problems.Add($"drift.ignore: '{id}' is not a resource id; give ids such as \"file:/etc/odoo.conf\" or \"service:nginx.service\"");
            }
        }

        var seconds = spec.PeriodicIntervalSeconds == 0 ? DefaultIntervalSeconds : spec.PeriodicIntervalSeconds;
        if (seconds is < MinIntervalSeconds or > MaxIntervalSeconds)
        {
            problems.Add($"drift.periodic_interval_seconds: {spec.PeriodicIntervalSeconds} is outside {MinIntervalSeconds}..{MaxIntervalSeconds}; use 0 for the default ({DefaultIntervalSeconds})");
        }

        errors = problems;
        return new DriftPolicy(
            spec.DefaultMode ?? DriftMode.Correct,
            new Dictionary<string, DriftMode>(spec.Modes, StringComparer.Ordinal),
            windows,
            new HashSet<string>(spec.Ignore, StringComparer.Ordinal),
            TimeSpan.FromSeconds(Math.Clamp(seconds, MinIntervalSeconds, MaxIntervalSeconds)));
    }

    /// <summary>"kind:&lt;kind&gt;" or a resource id "&lt;kind&gt;:&lt;name&gt;".</summary>
    public static bool IsModeKey(string key) =>
        key.StartsWith(KindPrefix, StringComparison.Ordinal) ? KindPattern().IsMatch(key[KindPrefix.Length..]) : IsResourceId(key);

    /// <summary>"&lt;kind&gt;:&lt;name&gt;" with a lowercase kind and a printable name without spaces.</summary>
    public static bool IsResourceId(string id)
    {
        var colon = id.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && id.Length <= 512
            && KindPattern().IsMatch(id[..colon])
            && NamePattern().IsMatch(id[(colon + 1)..]);
    }

    private static MaintenanceWindow? ParseWindow(MaintenanceWindowSpec spec, string field, List<string> problems)
    {
        var before = problems.Count;
        var days = new HashSet<DayOfWeek>();
        if (spec.Days.Trim() == "*")
        {
            days.UnionWith(Enum.GetValues<DayOfWeek>());
        }
        else
        {
            foreach (var part in spec.Days.Split(','))
            {
                var index = Array.IndexOf(DayNames, part.Trim());
                if (index < 0)
                {
                    problems.Add($"{field}.days: '{spec.Days}' must be \"*\" or comma-separated days from mon,tue,wed,thu,fri,sat,sun (e.g. \"sat,sun\")");
                    break;
                }

                if (!days.Add((DayOfWeek)index))
                {
                    problems.Add($"{field}.days: '{spec.Days}' names {part.Trim()} twice; give each day once");
                    break;
                }
            }
        }

        var start = TimeSpan.Zero;
        var time = TimePattern().Match(spec.Start);
        if (!time.Success)
        {
            problems.Add($"{field}.start: '{spec.Start}' is not HH:MM in UTC (00:00..23:59, e.g. \"02:00\")");
        }
        else
        {
            start = new TimeSpan(
                int.Parse(time.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(time.Groups[2].Value, CultureInfo.InvariantCulture), 0);
        }

        if (spec.DurationMinutes is < 1 or > 1440)
        {
            problems.Add($"{field}.duration_minutes: {spec.DurationMinutes} is outside 1..1440 (a window lasts at most one day)");
        }

        return problems.Count > before ? null : new MaintenanceWindow(days, start, TimeSpan.FromMinutes(spec.DurationMinutes));
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,31}$")]
    private static partial Regex KindPattern();

    [GeneratedRegex(@"^[\x21-\x7e]{1,500}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^([01][0-9]|2[0-3]):([0-5][0-9])$")]
    private static partial Regex TimePattern();
}
