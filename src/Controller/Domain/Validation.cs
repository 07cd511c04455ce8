using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

/// <summary>
/// Grammars for values that arrive from people, agents or the network. Patterns end in \z, not $:
/// in .NET, $ also matches before a trailing newline, which is exactly the injection to refuse.
/// </summary>
internal static partial class Validation
{
    public static bool IsSeries(string? value) => value is not null && SeriesPattern().IsMatch(value);

    public static bool IsCommit(string? value) => value is not null && CommitPattern().IsMatch(value);

    /// <summary>A DNS label-style host name: lowercase letters, digits and inner hyphens, 1-63 chars.</summary>
    public static bool IsHostName(string? value) => value is not null && HostNamePattern().IsMatch(value);

    /// <summary>Ids this controller hands out: a one-letter prefix, a hyphen and 10 base-32 chars.</summary>
    public static bool IsId(string? value, char prefix) =>
        value is { Length: 12 } && value[0] == prefix && value[1] == '-' && IdPattern().IsMatch(value.AsSpan(2));

    /// <summary>An absolute path of plain characters (no spaces, quotes, globs) without "..", "." or "//" segments.</summary>
    public static bool IsAbsolutePath(string? value) =>
        value is { Length: > 0 and <= 4096 } && AbsolutePathPattern().IsMatch(value)
        && !value.Split('/').Skip(1).Any(segment => segment is "" or "." or "..");

    [GeneratedRegex(@"^/[A-Za-z0-9._+@:/-]*\z")]
    private static partial Regex AbsolutePathPattern();

    // [0-9], not \d: in .NET \d is any Unicode decimal digit ("١٨.٠" is no Odoo series).
    [GeneratedRegex(@"^[0-9]{1,3}\.[0-9]\z")]
    private static partial Regex SeriesPattern();

    [GeneratedRegex(@"^[0-9a-f]{40}\z")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\z")]
    private static partial Regex HostNamePattern();

    [GeneratedRegex(@"^[a-km-np-z2-9]{10}\z")]
    private static partial Regex IdPattern();
}
