using System.Globalization;
using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

/// <summary>
/// Turns what an agent proposed for a drift (spec paths and observed values) into a profile change,
/// which then goes through the same rules as `fleet host configure` (<see cref="ProfileRules"/>).
/// Pure; messages name the path, the rule and what to do instead.
/// </summary>
internal static partial class DriftAcceptance
{
    public const int MaxPatches = 64;
    public const int MaxValueLength = 1024;

    private const string OptionPrefix = "odoo.options.";
    private const string PostgresSettingPrefix = "postgres.settings.";

    /// <summary>The shape of an agent's proposal (paths of the contract, bounded one-line values); null when well-formed.</summary>
    public static string? CheckProposal(IReadOnlyList<DriftPatch> patches, string field)
    {
        if (patches.Count > MaxPatches)
        {
            return $"{field}: {patches.Count} patches, at most {MaxPatches}";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < patches.Count; i++)
        {
            var (path, value) = (patches[i].Path, patches[i].Value);
            if (!PathPattern().IsMatch(path))
            {
                return $"{field}[{i}].path: '{UntrustedText.Printable(path)}' is not a spec path; use odoo.workers, odoo.max_cron_threads, "
                    + "odoo.log_level, odoo.options.<key> or postgres.settings.<name>";
            }

            if (!seen.Add(path))
            {
                return $"{field}[{i}].path: '{path}' is given more than once; propose each path once";
            }

            if (value.Length > MaxValueLength || value.Any(UntrustedText.IsLineBreakOrControl))
            {
                return $"{field}[{i}].value: must be one line of at most {MaxValueLength} characters without control characters";
            }
        }

        return null;
    }

    /// <summary>The profile change that makes the proposed values desired, or why they cannot be (each error names its path).</summary>
    public static (ProfileChange? Change, IReadOnlyList<string> Errors) ToChange(IReadOnlyList<DriftPatch> patches)
    {
        var errors = new List<string>();
        if (CheckProposal(patches, "accept") is { } shape)
        {
            return (null, [shape]);
        }

        int? workers = null;
        int? cron = null;
        string? logLevel = null;
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, value) in patches)
        {
            switch (path)
            {
                case "odoo.workers":
                    workers = Count(path, value, "workers", errors);
                    break;
                case "odoo.max_cron_threads":
                    cron = Count(path, value, "cron threads", errors);
                    break;
                case "odoo.log_level":
                    logLevel = value;
                    if (value.Length == 0)
                    {
                        errors.Add($"{path}: the observed value is empty; an empty log level is not one Odoo 18 takes");
                    }

                    break;
                case var _ when path.StartsWith(OptionPrefix, StringComparison.Ordinal):
                    options[path[OptionPrefix.Length..]] = value;
                    break;
                default:
                    settings[path[PostgresSettingPrefix.Length..]] = value;
                    break;
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        return (new ProfileChange
        {
            Workers = workers,
            MaxCronThreads = cron,
            LogLevel = logLevel,
            SetOptions = options.Count == 0 ? null : options,
            SetPostgresSettings = settings.Count == 0 ? null : settings,
        }, []);
    }

    /// <summary>A positive whole number: 0 in the spec means "computed", not the 0 (threaded mode, no cron) Odoo reads.</summary>
    private static int? Count(string path, string value, string what, List<string> errors)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            errors.Add($"{path}: the observed value '{UntrustedText.Printable(value)}' is not a whole number of {what}");
            return null;
        }

        if (count == 0)
        {
            errors.Add($"{path}: the observed value is 0, which the spec cannot hold (0 there means computed from the host's RAM and cores); set a number with `fleet host configure`");
            return null;
        }

        return count;
    }

    [GeneratedRegex(@"^(odoo\.(workers|max_cron_threads|log_level)|odoo\.options\.[a-z][a-z0-9_]{0,63}|postgres\.settings\.[a-z_][a-z0-9_]{0,62})\z")]
    private static partial Regex PathPattern();
}
