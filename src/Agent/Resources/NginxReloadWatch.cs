using System.Globalization;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Waits until an nginx reload has taken effect. `systemctl reload nginx` only signals the master
/// (SIGHUP) and returns: the master then re-reads every site and certificate, starts new workers and
/// tells the old ones to stop accepting ("worker process is shutting down"). Until then new
/// connections still reach the old configuration, so a converge that reported right after the
/// signal could claim a suspended site answers 503 while it still served Odoo. The reload counts as
/// applied once the master has a serving worker that was not there before and none of the old ones
/// serves any more. A master that keeps its old workers did not load the new configuration.
/// Processes are read from /proc (under <see cref="HostPaths"/>, so tests can lay one out).
/// </summary>
internal sealed class NginxReloadWatch(HostPaths paths, TimeProvider time)
{
    /// <summary>Where Debian's nginx.service keeps the master's pid.</summary>
    public const string DefaultPidFile = "/run/nginx.pid";

    private const string WorkerTitle = "nginx: worker process";

    /// <summary>The master and the workers that accept connections at one moment.</summary>
    internal sealed record Workers(int MasterPid, IReadOnlySet<int> Serving);

    /// <summary>The master's pid file (absolute, under the host root).</summary>
    public string PidFile { get; init; } = DefaultPidFile;

    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The running master and its serving workers; null when nginx is not running (a reload then has nothing to wait for).</summary>
    public Workers? Snapshot()
    {
        if (!TryReadMasterPid(out var master))
        {
            return null;
        }

        var serving = ServingWorkersOf(master);
        return serving.Count == 0 ? null : new Workers(master, serving);
    }

    /// <summary>Runs <paramref name="reload"/> and, when nginx was serving before it, waits until the reload took effect.</summary>
    public async Task ReloadAsync(Func<Task> reload, CancellationToken ct)
    {
        var before = Snapshot();
        await reload();
        if (before is not null)
        {
            await WaitAppliedAsync(before, ct);
        }
    }

    /// <summary>Returns once <paramref name="before"/>'s workers were replaced; fails after <see cref="Deadline"/>.</summary>
    public async Task WaitAppliedAsync(Workers before, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            var serving = ServingWorkersOf(before.MasterPid);
            if (serving.Count > 0 && !serving.Overlaps(before.Serving))
            {
                return;
            }

            if (time.GetElapsedTime(started) >= Deadline)
            {
                throw new ResourceFailedException(
                    $"nginx (master pid {before.MasterPid.ToString(CultureInfo.InvariantCulture)}) still serves with its old workers "
                    + $"{Deadline.TotalSeconds:0} s after `systemctl reload nginx`: it did not load the new configuration; "
                    + "see /var/log/nginx/error.log, fix the cause and converge again");
            }

            await Task.Delay(Interval, time, ct);
        }
    }

    private bool TryReadMasterPid(out int pid)
    {
        pid = 0;
        try
        {
            return int.TryParse(File.ReadAllText(paths.Resolve(PidFile)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out pid)
                && pid > 0
                && Directory.Exists(paths.Resolve($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Children of <paramref name="master"/> titled as workers that are not shutting down.</summary>
    internal HashSet<int> ServingWorkersOf(int master)
    {
        var serving = new HashSet<int>();
        IEnumerable<string> processes;
        try
        {
            processes = Directory.EnumerateDirectories(paths.Resolve("/proc"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return serving;
        }

        foreach (var directory in processes)
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (ParentOf(File.ReadAllText(Path.Join(directory, "stat"))) != master)
                {
                    continue;
                }

                // nginx rewrites its argv: the title is one string, padded with NULs or spaces.
                var title = File.ReadAllText(Path.Join(directory, "cmdline")).Replace('\0', ' ').Trim();
                if (title.StartsWith(WorkerTitle, StringComparison.Ordinal) && !title.Contains("shutting down", StringComparison.Ordinal))
                {
                    serving.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while being read: it serves nothing.
            }
        }

        return serving;
    }

    /// <summary>The parent pid in /proc/PID/stat ("pid (comm) state ppid …"; comm may hold spaces and parentheses).</summary>
    internal static int? ParentOf(string stat)
    {
        var end = stat.LastIndexOf(')');
        if (end < 0)
        {
            return null;
        }

        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) ? parent : null;
    }
}
