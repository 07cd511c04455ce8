using System.Text.RegularExpressions;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Drift;

/// <summary>One field of the HostSpec that, set to Value, would make an observed drift the desired state.</summary>
internal sealed record DriftPatch(string Path, string Value);

/// <summary>
/// What `fleet drift accept` would set so that the observed state becomes the desired one, when the
/// drift maps onto spec fields: odoo.conf options (a changed workers, max_cron_threads or log_level,
/// or an option the profile does not own) and PostgreSQL settings. All or nothing: a drift with any
/// part the spec cannot express (a removed line, a secret, a profile-owned option, a mode change)
/// gets no patch, because accepting the rest would not make the observed state desired. Pure.
/// </summary>
internal static partial class DriftAcceptance
{
    public const string Workers = "odoo.workers";
    public const string MaxCronThreads = "odoo.max_cron_threads";
    public const string LogLevel = "odoo.log_level";
    public const string OptionPrefix = "odoo.options.";
    public const string PostgresSettingPrefix = "postgres.settings.";

    /// <summary>
    /// The patches for a drifted odoo.conf from its check result: the message must say only the
    /// content differs, and the unified diff (observed on the '-' side, desired on the '+' side,
    /// secrets already redacted) must change options only.
    /// </summary>
    public static IReadOnlyList<DriftPatch> FromOdooConf(string checkMessage, string? diff)
    {
        // "would update /etc/odoo.conf: content"; a mode or owner change, or a missing file, is not a spec value.
        if (!checkMessage.EndsWith(": content", StringComparison.Ordinal) || !checkMessage.Contains("update ", StringComparison.Ordinal) || diff is null)
        {
            return [];
        }

        // Context lines belong to both sides, so a key written twice shows up even when only one copy changed.
        var observed = new Dictionary<string, string>(StringComparer.Ordinal);
        var desired = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = diff.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (i < 2 && (line.StartsWith("--- ", StringComparison.Ordinal) || line.StartsWith("+++ ", StringComparison.Ordinal)))
            {
                continue;
            }

            if (line.Length == 0 || line.StartsWith("@@", StringComparison.Ordinal))
            {
                continue;
            }

            if (line[0] is not ('-' or '+' or ' '))
            {
                // Not a diff this parser knows (e.g. cut by the size bound): propose nothing.
                return [];
            }

            var text = line[1..];
            var trimmed = text.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] is ';' or '#' || (line[0] == ' ' && trimmed.StartsWith('[')))
            {
                continue;
            }

            var match = OptionLine().Match(text);
            if (!match.Success)
            {
                // A changed section header, a continuation line or text Odoo would not read as an option.
                return [];
            }

            // RawConfigParser lower-cases keys; a key twice makes Odoo refuse to start.
            var key = match.Groups["key"].Value.ToLowerInvariant();
            var value = match.Groups["value"].Value;
            if ((line[0] != '+' && !observed.TryAdd(key, value)) || (line[0] != '-' && !desired.TryAdd(key, value)))
            {
                return [];
            }
        }

        if (desired.Keys.Any(k => !observed.ContainsKey(k)))
        {
            // Removed by hand: no spec value says "absent" for a rendered option.
            return [];
        }

        var patches = new List<DriftPatch>();

        foreach (var (key, value) in observed.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            if (desired.TryGetValue(key, out var want) && want == value)
            {
                // Moved, not changed.
                continue;
            }

            var path = OdooConfPath(key);
            if (path is null)
            {
                return [];
            }

            patches.Add(new DriftPatch(path, value));
        }

        return patches;
    }

    /// <summary>
    /// The patches for drifted PostgreSQL settings: per desired setting, the value an operator
    /// wrote with ALTER SYSTEM when it differs from the desired one (in effect or waiting for a
    /// reload), else the effective value when that differs.
    /// </summary>
    public static IReadOnlyList<DriftPatch> FromPgSettings(PgSettingsResource.Observed observed, IReadOnlyDictionary<string, string> desired)
    {
        var patches = new List<DriftPatch>();
        foreach (var (name, value) in desired.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (!observed.Effective.TryGetValue(name, out var state))
            {
                continue;
            }

            var want = PgSettingValue.Normalize(value, state.VarType, state.Unit);
            if (observed.AlterSystem.TryGetValue(name, out var written)
                && PgSettingValue.Normalize(written, state.VarType, state.Unit) is { } writtenNormal
                && writtenNormal != want)
            {
                patches.Add(new DriftPatch(PostgresSettingPrefix + name, written));
            }
            else if (PgSettingValue.Normalize(state.Setting, state.VarType, state.Unit) is { } effective && effective != want)
            {
                patches.Add(new DriftPatch(PostgresSettingPrefix + name, state.Display));
            }
        }

        return patches;
    }

    /// <summary>The spec path of an odoo.conf key, or null when the spec cannot hold it (secret, owned or unknown).</summary>
    private static string? OdooConfPath(string key) => key switch
    {
        "workers" => Workers,
        "max_cron_threads" => MaxCronThreads,
        "log_level" => LogLevel,
        _ when OdooConfRenderer.SecretOptions.Contains(key) => null,
        _ when OdooConfRenderer.OwnedOptions.ContainsKey(key) => null,
        _ when OdooConfRenderer.KnownOptions.Contains(key) => OptionPrefix + key,
        _ => null,
    };

    [GeneratedRegex(@"^(?<key>[A-Za-z0-9_][A-Za-z0-9_.-]*)[ \t]*[=:][ \t]*(?<value>.*?)[ \t]*\z")]
    private static partial Regex OptionLine();
}
