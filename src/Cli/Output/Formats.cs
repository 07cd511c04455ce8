using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>Small value formatting shared by the views: timestamps, ages, sizes, releases.</summary>
internal static class Formats
{
    /// <summary>ISO-8601 UTC with a Z, fractional seconds only when present; null for an unset timestamp.</summary>
    public static string? Iso(Timestamp? timestamp) =>
        timestamp is null ? null : Iso(timestamp.ToDateTimeOffset());

    public static string Iso(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    public static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    public static ReleaseJson? Release(OdooRelease? release) =>
        release is null || (release.Series.Length == 0 && release.Commit.Length == 0) ? null : new ReleaseJson(release.Series, release.Commit);

    /// <summary>"18.0@3f2a9c1d", or "-" when the host has not reported a release.</summary>
    public static string ShortRelease(OdooRelease? release)
    {
        if (Release(release) is not { } r)
        {
            return "-";
        }

        var commit = r.Commit.Length > 8 ? r.Commit[..8] : r.Commit;
        return commit.Length == 0 ? r.Series : $"{r.Series}@{commit}";
    }

    /// <summary>"just now", "42s ago", "5m ago", "3h ago", "2d ago", or "never".</summary>
    public static string Ago(DateTimeOffset? time, DateTimeOffset now)
    {
        if (time is not { } t)
        {
            return "never";
        }

        var age = now - t;
        return age.TotalSeconds switch
        {
            < 1 => "just now",
            < 60 => Invariant($"{(int)age.TotalSeconds}s ago"),
            < 3600 => Invariant($"{(int)age.TotalMinutes}m ago"),
            < 86400 => Invariant($"{(int)age.TotalHours}h ago"),
            _ => Invariant($"{(int)age.TotalDays}d ago"),
        };
    }

    /// <summary>Binary units, one decimal: "7.8 GiB".</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? Invariant($"{bytes} B") : Invariant($"{value:0.0} {units[unit]}");
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
