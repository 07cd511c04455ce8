using System.Globalization;

namespace OdooFleet.FleetSim;

/// <summary>CPU seconds and peak RSS of another process (the controller), from /proc, sampled every 100 ms.</summary>
internal sealed class ProcessSampler : IAsyncDisposable
{
    /// <summary>USER_HZ: the unit of utime/stime in /proc/PID/stat, 100 on every Linux x86-64 and arm64.</summary>
    private const double TicksPerSecond = 100;

    private readonly int pid;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private long peakKb;

    public ProcessSampler(int pid)
    {
        this.pid = pid;
        loop = Task.Run(SampleAsync);
    }

    /// <summary>utime + stime of the process so far, in seconds.</summary>
    public double CpuSeconds()
    {
        var fields = StatFields(File.ReadAllText($"/proc/{pid}/stat"));
        return (Field(fields, 11) + Field(fields, 12)) / TicksPerSecond;
    }

    /// <summary>
    /// CPU seconds of every process named <paramref name="command"/> (e.g. postgres, beam.smp),
    /// including children they reaped (cutime, cstime): a PostgreSQL backend that exited during the
    /// phase still counts through the postmaster. Processes that are gone and unreaped are missed.
    /// </summary>
    public static double CpuSecondsOf(string command)
    {
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                if (open < 0 || close < open || !stat.AsSpan(open + 1, close - open - 1).SequenceEqual(command))
                {
                    continue;
                }

                var fields = StatFields(stat);
                ticks += Field(fields, 11) + Field(fields, 12) + Field(fields, 13) + Field(fields, 14);
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>The fields after the command name, which may hold spaces and is closed by the last ')'.</summary>
    private static string[] StatFields(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

    private static long Field(string[] fields, int index) => long.Parse(fields[index], CultureInfo.InvariantCulture);

    /// <summary>The largest RSS seen since the last call, in MiB; starts a new window.</summary>
    public double TakePeakMb()
    {
        var kb = Interlocked.Exchange(ref peakKb, ReadRssKb());
        return Math.Max(kb, Interlocked.Read(ref peakKb)) / 1024.0;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
            // Stopping is what was asked.
        }

        stop.Dispose();
    }

    private async Task SampleAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var kb = ReadRssKb();
            long seen;
            while (kb > (seen = Interlocked.Read(ref peakKb)) && Interlocked.CompareExchange(ref peakKb, kb, seen) != seen)
            {
                // Another writer moved the peak; compare again.
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), stop.Token);
        }
    }

    private long ReadRssKb()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process is gone: the run fails elsewhere with a clearer message.
        }

        return 0;
    }
}
