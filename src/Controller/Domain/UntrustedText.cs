using System.Globalization;

namespace OdooFleet.Controller.Domain;

/// <summary>What callers sent, made safe to echo in an error, a log line or the audit log.</summary>
internal static class UntrustedText
{
    /// <summary>Bounded to <paramref name="max"/> characters (an ellipsis says it was cut), control characters and line separators as '?'.</summary>
    public static string Printable(string value, int max = 64)
    {
        var cleaned = Clean(value, max);
        return value.Length > max ? cleaned + "…" : cleaned;
    }

    /// <summary>As <see cref="Printable"/>, without the ellipsis (for stored columns with a fixed bound).</summary>
    public static string Clean(string value, int max) =>
        new([.. value.Take(max).Select(c => IsLineBreakOrControl(c) ? '?' : c)]);

    /// <summary>
    /// Control characters and the Unicode line and paragraph separators (U+2028, U+2029): Odoo's
    /// configparser keeps the latter in a value, but str.splitlines(), editors and terminals break lines there.
    /// </summary>
    public static bool IsLineBreakOrControl(char c) =>
        char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
