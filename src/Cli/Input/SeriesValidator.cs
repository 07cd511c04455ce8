using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace OdooFleet.Cli.Input;

/// <summary>An Odoo series as the controller resolves it: MAJOR.MINOR, like 18.0.</summary>
internal static partial class SeriesValidator
{
    public static bool TryValidate(string? series, string optionName, [NotNullWhen(false)] out string? error)
    {
        if (series is not null && Pattern().IsMatch(series))
        {
            error = null;
            return true;
        }

        error = $"{optionName}: '{series}' is not an Odoo series; it must be 1-3 digits, a dot and one digit (e.g. {optionName} 18.0)";
        return false;
    }

    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
