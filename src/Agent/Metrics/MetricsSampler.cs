namespace OdooFleet.Agent.Metrics;

internal sealed record MetricsSample(
    double CpuPercent,
    long MemoryTotalBytes,
    long MemoryAvailableBytes,
    long DiskTotalBytes,
    long DiskFreeBytes,
    double Load1,
    double Load5,
    double Load15);

/// <summary>Samples host metrics from /proc and the file system holding /opt; CPU is the delta since the previous sample.</summary>
internal sealed class MetricsSampler(string diskPath = "/opt")
{
    private (ulong Total, ulong Idle)? previousCpu = ProcParsers.ParseCpu(ReadOrEmpty("/proc/stat"));

    public MetricsSample Sample()
    {
        var cpu = ProcParsers.ParseCpu(ReadOrEmpty("/proc/stat"));
        var percent = cpu is { } now && previousCpu is { } before ? ProcParsers.CpuPercent(before, now) : 0;
        previousCpu = cpu ?? previousCpu;
        var memInfo = ReadOrEmpty("/proc/meminfo");
        var (load1, load5, load15) = ProcParsers.ParseLoadAvg(ReadOrEmpty("/proc/loadavg"));
        var (diskTotal, diskFree) = Disk(diskPath);
        return new MetricsSample(
            Math.Round(percent, 1),
            ProcParsers.MemInfoBytes(memInfo, "MemTotal"),
            ProcParsers.MemInfoBytes(memInfo, "MemAvailable"),
            diskTotal,
            diskFree,
            load1,
            load5,
            load15);
    }

    /// <summary>Size and free space of the file system holding <paramref name="path"/> (or its nearest existing parent).</summary>
    public static (long Total, long Free) Disk(string path)
    {
        var probe = path;
        while (!Directory.Exists(probe) && Path.GetDirectoryName(probe) is { } parent)
        {
            probe = parent;
        }

        try
        {
            // DriveInfo resolves the mount point that contains the path (statvfs underneath).
            var drive = new DriveInfo(probe);
            return (drive.TotalSize, drive.AvailableFreeSpace);
        }
        catch (IOException)
        {
            return (0, 0);
        }
        catch (UnauthorizedAccessException)
        {
            return (0, 0);
        }
    }

    internal static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
