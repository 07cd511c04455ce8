using System.Globalization;

namespace OdooFleet.Agent.Metrics;

/// <summary>Pure parsers for the /proc files the agent reads, testable with literal text.</summary>
internal static class ProcParsers
{
    /// <summary>Aggregate CPU jiffies from the first line of /proc/stat: total and idle (idle + iowait).</summary>
    public static (ulong Total, ulong Idle)? ParseCpu(string procStat)
    {
        var line = procStat.Split('\n').FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }

        var values = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(v => ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0UL)
            .ToArray();
        if (values.Length < 4)
        {
            return null;
        }

        // user nice system idle iowait irq softirq steal [guest guest_nice are already in user/nice]
        var total = values.Take(8).Aggregate(0UL, (a, b) => a + b);
        var idle = values[3] + (values.Length > 4 ? values[4] : 0);
        return (total, idle);
    }

    /// <summary>CPU use in percent between two /proc/stat samples.</summary>
    public static double CpuPercent((ulong Total, ulong Idle) previous, (ulong Total, ulong Idle) current)
    {
        if (current.Total <= previous.Total)
        {
            return 0;
        }

        var total = (double)(current.Total - previous.Total);
        var idle = current.Idle >= previous.Idle ? current.Idle - previous.Idle : 0;
        return Math.Clamp(100 * (1 - (idle / total)), 0, 100);
    }

    /// <summary>A /proc/meminfo value in bytes ("MemTotal:  16303612 kB"), or 0.</summary>
    public static long MemInfoBytes(string memInfo, string key)
    {
        foreach (var line in memInfo.Split('\n'))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                var parts = line[(key.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                {
                    return parts.Length > 1 && parts[1] == "kB" ? value * 1024 : value;
                }
            }
        }

        return 0;
    }

    public static (double Load1, double Load5, double Load15) ParseLoadAvg(string loadAvg)
    {
        var parts = loadAvg.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double At(int i) => parts.Length > i && double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0;
        return (At(0), At(1), At(2));
    }
}
