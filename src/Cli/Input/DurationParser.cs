using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OdooFleet.Cli.Input;

/// <summary>Durations as people type them: 90s, 30m, 1h, 2d, or combined like 1h30m.</summary>
internal static partial class DurationParser
{
    public static readonly TimeSpan Max = TimeSpan.FromDays(30);

    public static bool TryParse(string? text, string optionName, out TimeSpan duration, [NotNullWhen(false)] out string? error)
    {
        duration = TimeSpan.Zero;
        var trimmed = text?.Trim() ?? "";
        if (!Whole().IsMatch(trimmed))
        {
            error = $"{optionName}: '{text}' is not a duration; write a number followed by s, m, h or d (e.g. {optionName} 1h, 30m, 2d)";
            return false;
        }

        long seconds = 0;
        foreach (Match part in Part().Matches(trimmed))
        {
            var amount = long.Parse(part.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
            seconds += amount * part.Groups[2].Value switch
            {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => 86400,
            };
            if (seconds > Max.TotalSeconds)
            {
                error = $"{optionName}: '{text}' is longer than the maximum of 30d (e.g. {optionName} 1h)";
                return false;
            }
        }

        if (seconds == 0)
        {
            error = $"{optionName}: '{text}' must be longer than zero (e.g. {optionName} 1h)";
            return false;
        }

        duration = TimeSpan.FromSeconds(seconds);
        error = null;
        return true;
    }

    /// <summary>The shortest exact spelling: 5400 s is "1h30m".</summary>
    public static string Format(TimeSpan duration)
    {
        var seconds = (long)Math.Round(duration.TotalSeconds);
        if (seconds <= 0)
        {
            return "0s";
        }

        var text = "";
        foreach (var (unit, size) in new (string, long)[] { ("d", 86400), ("h", 3600), ("m", 60), ("s", 1) })
        {
            if (seconds >= size)
            {
                text += string.Create(CultureInfo.InvariantCulture, $"{seconds / size}{unit}");
                seconds %= size;
            }
        }

        return text;
    }

    // At most 7 digits per part keeps the running sum far from overflow before the 30d check.
    [GeneratedRegex(@"^(?:[0-9]{1,7}[smhd])+\z", RegexOptions.CultureInvariant)]
    private static partial Regex Whole();

    [GeneratedRegex(@"([0-9]{1,7})([smhd])", RegexOptions.CultureInvariant)]
    private static partial Regex Part();
}
