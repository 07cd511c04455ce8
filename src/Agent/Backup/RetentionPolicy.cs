using System.Globalization;

namespace OdooFleet.Agent.Backup;

/// <summary>
/// Grandfather-father-son retention of one tenant's snapshots, applied by restic
/// (<c>forget --keep-daily D --keep-weekly W --keep-monthly M</c>). A bucket of 0 is off.
/// </summary>
internal sealed record RetentionPolicy(int Daily = 7, int Weekly = 4, int Monthly = 3)
{
    /// <summary>Past this, a bucket is a typo rather than a policy (a daily of 10,000 keeps 27 years).</summary>
    public const int MaxPerBucket = 10_000;

    public static readonly RetentionPolicy Default = new();

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (name, value) in (ReadOnlySpan<(string, int)>)[("daily", Daily), ("weekly", Weekly), ("monthly", Monthly)])
        {
            if (value is < 0 or > MaxPerBucket)
            {
                errors.Add($"backup.retention.{name}: {value} must be between 0 and {MaxPerBucket} (snapshots kept, one per {BucketUnit(name)})");
            }
        }

        if (Daily == 0 && Weekly == 0 && Monthly == 0)
        {
            // restic forget without a keep option removes nothing, which would silently keep everything forever.
            errors.Add("backup.retention: daily, weekly and monthly are all 0; keep at least one (the default is 7 daily, 4 weekly, 3 monthly)");
        }

        return errors;
    }

    /// <summary>The forget options of this policy (buckets of 0 are left out, as restic reads them as "off").</summary>
    public IReadOnlyList<string> ForgetArguments()
    {
        var arguments = new List<string>();
        AddBucket(arguments, "--keep-daily", Daily);
        AddBucket(arguments, "--keep-weekly", Weekly);
        AddBucket(arguments, "--keep-monthly", Monthly);
        return arguments;
    }

    /// <summary>
    /// Which of <paramref name="snapshotTimes"/> this policy keeps, by restic's documented rule: for
    /// each bucket, the newest snapshot of each of the N most recent periods (calendar day, ISO
    /// 8601 week, calendar month) that hold a snapshot; a snapshot is kept when any bucket keeps
    /// it. Periods are taken in the offset each time carries (restic uses the snapshot's own time
    /// zone; the agent runs restic in UTC).
    /// </summary>
    public IReadOnlySet<DateTimeOffset> Keep(IEnumerable<DateTimeOffset> snapshotTimes)
    {
        var times = snapshotTimes.ToList();
        var kept = new HashSet<DateTimeOffset>();
        KeepNewestPerPeriod(times, Daily, t => t.Year * 10_000 + t.Month * 100 + t.Day, kept);
        KeepNewestPerPeriod(times, Weekly, t => ISOWeek.GetYear(t.DateTime) * 100 + ISOWeek.GetWeekOfYear(t.DateTime), kept);
        KeepNewestPerPeriod(times, Monthly, t => t.Year * 100 + t.Month, kept);
        return kept;
    }

    private static void KeepNewestPerPeriod(List<DateTimeOffset> times, int periods, Func<DateTimeOffset, int> period, HashSet<DateTimeOffset> kept)
    {
        var newestOfRecentPeriods = times
            .GroupBy(period)
            .Select(group => group.Max())
            .OrderDescending()
            .Take(periods);
        kept.UnionWith(newestOfRecentPeriods);
    }

    private static void AddBucket(List<string> arguments, string option, int value)
    {
        if (value > 0)
        {
            arguments.Add(option);
            arguments.Add(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static string BucketUnit(string name) => name switch
    {
        "daily" => "day",
        "weekly" => "ISO week",
        _ => "month",
    };
}
