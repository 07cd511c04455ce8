using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OdooFleet.Cli.Input;

/// <summary>"N" hosts or "P%" of the targets, as --batch and --max-failures take them; normalised for the controller.</summary>
internal static partial class RateParser
{
    public const int MaxHosts = 100_000;

    /// <param name="minimum">The smallest count or percentage allowed: 1 for a batch size, 0 for a failure budget.</param>
    public static bool TryParse(string? text, string optionName, int minimum, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        var trimmed = text?.Trim() ?? "";
        var example = minimum == 0 ? $"{optionName} 2 or {optionName} 10%" : $"{optionName} 5 or {optionName} 25%";
        var match = Shape().Match(trimmed);
        if (!match.Success)
        {
            error = $"{optionName}: '{Printable(text)}' is not a host count or a percentage; write a whole number N or P% (e.g. {example})";
            return false;
        }

        // At most 6 digits: parses without overflow, and larger values are refused by the range checks below.
        var value = int.Parse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        var percent = match.Groups[2].Success;
        var maximum = percent ? 100 : MaxHosts;
        if (value < minimum || value > maximum)
        {
            var unit = percent ? "percentage" : "host count";
            error = Formats($"{optionName}: '{trimmed}' is out of range; the {unit} must be from {minimum} to {maximum}{(percent ? "%" : "")} (e.g. {example})");
            return false;
        }

        normalized = Formats($"{value}{(percent ? "%" : "")}");
        error = null;
        return true;
    }

    private static string Formats(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Printable(string? value) =>
        new([.. (value ?? "").Take(64).Select(c => char.IsControl(c) ? '?' : c)]);

    [GeneratedRegex(@"^([0-9]{1,6})(%)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
