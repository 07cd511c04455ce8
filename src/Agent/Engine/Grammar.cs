using System.Globalization;
using System.Text.RegularExpressions;

namespace OdooFleet.Agent.Engine;

/// <summary>
/// Strict grammars for every name that ends up in a config file, a path, SQL or a command line
/// (nginx server_name, odoo.conf, pg_hba, systemd units). A value that fails here never reaches
/// a renderer; messages say the field, the rule and the fix.
/// </summary>
internal static partial class Grammar
{
    /// <summary>A DNS name: labels of letters, digits and inner hyphens, 1-63 each, 253 in all, at least two labels; lowercase.</summary>
    public static bool IsDomain(string value) =>
        value.Length <= 253 && DomainPattern().IsMatch(value);

    /// <summary>
    /// One DNS label (a host name without dots, e.g. the host's own name on a network without DNS):
    /// letters, digits and inner hyphens, 1-63, lowercase. Only where a spec opts in explicitly.
    /// </summary>
    public static bool IsHostLabel(string value) => HostLabelPattern().IsMatch(value);

    /// <summary>An e-mail address for registrations (ACME account): a plain local part and a <see cref="IsDomain"/> domain.</summary>
    public static bool IsEmailAddress(string value)
    {
        var at = value.LastIndexOf('@');
        return at > 0 && EmailLocalPartPattern().IsMatch(value[..at]) && IsDomain(value[(at + 1)..]);
    }

    /// <summary>A system user or group name (Debian's NAME_REGEX, no dots).</summary>
    public static bool IsUnixName(string value) => UnixNamePattern().IsMatch(value);

    /// <summary>A PostgreSQL role, database or setting name we are willing to manage: lowercase identifier.</summary>
    public static bool IsSqlIdentifier(string value) => SqlIdentifierPattern().IsMatch(value);

    /// <summary>An Odoo database name (what Odoo's db manager accepts, minus the dot): letters, digits, _ and -, starting with a letter or digit, at most 63.</summary>
    public static bool IsDatabaseName(string value) => DatabaseNamePattern().IsMatch(value);

    /// <summary>A Debian package name (policy 5.6.1), optionally with an architecture qualifier.</summary>
    public static bool IsPackageName(string value) => PackageNamePattern().IsMatch(value);

    /// <summary>
    /// A sysctl key in dotted form ("net.core.somaxconn"): lowercase first segment, then segments of
    /// letters, digits, '_' and '-' (interface names), so "/proc/sys/" + dots-to-slashes is a safe path.
    /// </summary>
    public static bool IsSysctlKey(string value) => value.Length <= 200 && SysctlKeyPattern().IsMatch(value);

    /// <summary>A sysctl value: one or more words of letters, digits and ._:,+- separated by single spaces ("4096 131072 6291456").</summary>
    public static bool IsSysctlValue(string value) => value.Length <= 256 && SysctlValuePattern().IsMatch(value);

    /// <summary>An absolute path without "." or ".." segments, "//", whitespace, control, quote, glob or shell characters.</summary>
    public static bool IsSafeAbsolutePath(string value) =>
        value.Length is > 0 and <= 4096 && SafePathPattern().IsMatch(value) && !value.Contains("/../", StringComparison.Ordinal)
        && !value.EndsWith("/..", StringComparison.Ordinal) && !value.Contains("//", StringComparison.Ordinal)
        && !value.Contains("/./", StringComparison.Ordinal) && !value.EndsWith("/.", StringComparison.Ordinal);

    /// <summary>
    /// A single-line value: no control characters (newline, CR, NEL, NUL, ...) and no Unicode line or
    /// paragraph separator (U+2028, U+2029), which Python's configparser keeps in a value but
    /// str.splitlines(), editors and other readers of the file take for a line break.
    /// </summary>
    public static bool IsSingleLine(string value) => !value.Any(IsLineBreakOrControl);

    /// <summary>What a single-line value and an echoed value must not contain.</summary>
    public static bool IsLineBreakOrControl(char c) =>
        char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>Echoes untrusted input back in a bounded, printable form for error messages.</summary>
    public static string Printable(string value, int max = 100)
    {
        var cleaned = new string(value.Take(max).Select(c => IsLineBreakOrControl(c) ? '?' : c).ToArray());
        return value.Length > max ? cleaned + "…" : cleaned;
    }

    [GeneratedRegex(@"^(?=.{1,253}\z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\z")]
    private static partial Regex DomainPattern();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\z")]
    private static partial Regex HostLabelPattern();

    // No leading '-' (a command line would read it as an option) and nothing a shell or config file interprets.
    [GeneratedRegex(@"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}\z")]
    private static partial Regex EmailLocalPartPattern();

    [GeneratedRegex(@"^[a-z_][a-z0-9_-]{0,31}\z")]
    private static partial Regex UnixNamePattern();

    [GeneratedRegex(@"^[a-z_][a-z0-9_]{0,62}\z")]
    private static partial Regex SqlIdentifierPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}\z")]
    private static partial Regex DatabaseNamePattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]{1,99}(:[a-z0-9]{1,16})?\z")]
    private static partial Regex PackageNamePattern();

    [GeneratedRegex(@"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+){1,15}\z")]
    private static partial Regex SysctlKeyPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.:,+-]+( [A-Za-z0-9_.:,+-]+)*\z")]
    private static partial Regex SysctlValuePattern();

    [GeneratedRegex(@"^/[A-Za-z0-9._+@:/-]*\z")]
    private static partial Regex SafePathPattern();
}
