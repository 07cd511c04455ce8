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
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name, which may hold spaces and is closed by the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

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
