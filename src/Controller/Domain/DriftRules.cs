using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

/// <summary>
/// The edge rules of a host's drift policy: the grammar the agent applies to the policy in its
/// spec (an agent that cannot read its policy corrects nothing), so a policy the controller takes
/// is one every agent takes. Pure; messages name the field, the rule and the fix.
/// </summary>
internal static partial class DriftRules
{
    public const string KindPrefix = "kind:";
    public const int MaxModes = 256;
    public const int MaxWindows = 32;
    public const int MaxIgnore = 256;
    public const int MinIntervalSeconds = 30;
    public const int MaxIntervalSeconds = 86400;
    public const int MaxWindowMinutes = 1440;

    private static readonly string[] DayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// <summary>Checks the drift part of a change on its own.</summary>
    public static void Validate(ProfileChange change, List<string> errors)
    {
        if (change.DriftDefaultMode is { } mode && !Enum.IsDefined(mode))
        {
            errors.Add("drift_default_mode: unknown mode; use correct or report (e.g. --mode report)");
        }

        if (change.DriftDefaultMode is not null && change.DriftDefaultModeReset)
        {
            errors.Add("drift_default_mode: is both set and reset; pass one mode");
        }

        var set = change.SetDriftModes ?? [];
        if (set.Count > MaxModes)
        {
            errors.Add($"drift_resource: at most {MaxModes} per-resource modes per host (got {set.Count}); use kind:<kind> keys for whole kinds");
        }

        foreach (var (key, value) in set.Take(MaxModes + 1))
        {
            if (!IsModeKey(key))
            {
                errors.Add($"drift_resource: '{Printable(key)}' is not a resource id (like file:/etc/odoo.conf) or kind:<kind> (like kind:ufw); e.g. --resource file:/etc/odoo.conf=report");
            }
            else if (!Enum.IsDefined(value))
            {
                errors.Add($"drift_resource '{Printable(key)}': unknown mode; use correct or report (e.g. --resource {Printable(key)}=report)");
            }
        }

        foreach (var key in (change.UnsetDriftModes ?? []).Take(MaxModes + 1))
        {
            if (!IsModeKey(key))
            {
                errors.Add($"drift_unset_resource: '{Printable(key)}' is not a resource id or kind:<kind>; e.g. --unset-resource file:/etc/odoo.conf");
            }
            else if (set.ContainsKey(key))
            {
                errors.Add($"drift_resource '{Printable(key)}': is both set and unset; pass one of --resource {Printable(key)}=MODE or --unset-resource {Printable(key)}");
            }
        }

        if (change.DriftMaintenance is { } windows)
        {
            if (windows.Length > MaxWindows)
            {
                errors.Add($"drift_maintenance: at most {MaxWindows} windows per host (got {windows.Length})");
            }

            for (var i = 0; i < Math.Min(windows.Length, MaxWindows + 1); i++)
            {
                CheckWindow(windows[i], $"drift_maintenance[{i}]", errors);
            }
        }

        if (change.DriftIgnore is { } ignore)
        {
            if (ignore.Length > MaxIgnore)
            {
                errors.Add($"drift_ignore: at most {MaxIgnore} ignored resources per host (got {ignore.Length})");
            }

            foreach (var id in ignore.Take(MaxIgnore + 1))
            {
                if (!IsResourceId(id) || id.StartsWith(KindPrefix, StringComparison.Ordinal))
                {
                    errors.Add($"drift_ignore: '{Printable(id)}' is not a resource id; give ids such as file:/etc/odoo.conf or service:nginx.service (whole kinds cannot be ignored)");
                }
            }

            foreach (var twice in ignore.GroupBy(i => i, StringComparer.Ordinal).Where(g => g.Count() > 1).Take(3))
            {
                errors.Add($"drift_ignore: '{Printable(twice.Key)}' is given more than once; list each resource once");
            }
        }

        if (change.DriftIntervalSeconds is { } seconds && seconds != 0 && seconds is < MinIntervalSeconds or > MaxIntervalSeconds)
        {
            errors.Add($"drift_interval: {seconds} s is out of range; use 30s-1d, or default for 5m (e.g. --interval 2m)");
        }
    }

    /// <summary>Merges the drift part of a (valid) change into the stored policy; adds errors the merged policy breaks.</summary>
    public static DriftSettings Apply(DriftSettings current, ProfileChange change, List<string> errors)
    {
        var modes = new SortedDictionary<string, DriftModeSetting>(current.Modes.ToDictionary(), StringComparer.Ordinal);
        foreach (var key in change.UnsetDriftModes ?? [])
        {
            modes.Remove(key);
        }

        foreach (var (key, value) in change.SetDriftModes ?? [])
        {
            modes[key] = value;
        }

        if (modes.Count > MaxModes)
        {
            errors.Add($"drift_resource: the host would have {modes.Count} per-resource modes, more than {MaxModes}; remove some with --unset-resource ID");
        }

        return current with
        {
            DefaultMode = change.DriftDefaultModeReset ? null : change.DriftDefaultMode ?? current.DefaultMode,
            Modes = modes,
            Maintenance = change.DriftMaintenance ?? current.Maintenance,
            Ignore = change.DriftIgnore ?? current.Ignore,
            PeriodicIntervalSeconds = change.DriftIntervalSeconds is { } s ? (s == 0 ? null : s) : current.PeriodicIntervalSeconds,
        };
    }

    /// <summary>An agent-made drift event id: 1-64 of A-Z a-z 0-9 _ - (it ends up in `fleet drift show` arguments).</summary>
    public static bool IsEventId(string id) => EventIdPattern().IsMatch(id);

    /// <summary>"kind:&lt;kind&gt;" or a resource id.</summary>
    public static bool IsModeKey(string key) =>
        key.StartsWith(KindPrefix, StringComparison.Ordinal) ? KindPattern().IsMatch(key[KindPrefix.Length..]) : IsResourceId(key);

    /// <summary>"&lt;kind&gt;:&lt;name&gt;": a lowercase kind, a printable ASCII name without spaces; at most 512 in all.</summary>
    public static bool IsResourceId(string id)
    {
        var colon = id.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && id.Length <= 512 && KindPattern().IsMatch(id[..colon]) && NamePattern().IsMatch(id[(colon + 1)..]);
    }

    private static void CheckWindow(MaintenanceWindowSetting window, string field, List<string> errors)
    {
        if (window.Days.Trim() != "*")
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var part in window.Days.Length > 64 ? new[] { "" } : window.Days.Split(','))
            {
                var day = part.Trim();
                if (Array.IndexOf(DayNames, day) < 0)
                {
                    errors.Add($"{field}.days: '{Printable(window.Days)}' must be * or comma-separated days from mon,tue,wed,thu,fri,sat,sun (e.g. --maintenance 'sat,sun 02:00 2h')");
                    break;
                }

                if (!seen.Add(day))
                {
                    errors.Add($"{field}.days: '{Printable(window.Days)}' names {day} twice; give each day once");
                    break;
                }
            }
        }

        if (!TimePattern().IsMatch(window.Start))
        {
            errors.Add($"{field}.start: '{Printable(window.Start)}' is not HH:MM in UTC (00:00-23:59, e.g. --maintenance 'sun 02:00 2h')");
        }

        if (window.DurationMinutes is < 1 or > MaxWindowMinutes)
        {
            errors.Add($"{field}.duration: {window.DurationMinutes} min is out of range; a window lasts 1m-24h in whole minutes (e.g. 120m)");
        }
    }

    private static string Printable(string value) => UntrustedText.Printable(value);

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex EventIdPattern();

    [GeneratedRegex(@"^[a-z][a-z0-9-]{0,31}\z")]
    private static partial Regex KindPattern();

    [GeneratedRegex(@"^[\x21-\x7e]{1,500}\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^([01][0-9]|2[0-3]):[0-5][0-9]\z")]
    private static partial Regex TimePattern();
}
