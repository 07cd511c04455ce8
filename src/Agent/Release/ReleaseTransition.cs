using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Release;

/// <summary>What a transition needs from the host.</summary>
internal sealed record TransitionContext(HostPaths Paths, ICommandRunner Runner, HttpClient Http, TimeProvider Time, OdooLayout Layout, Psql Postgres, string BackupRoot)
{
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Free space the releases' file system must have before a transition starts (a release plus its venv).</summary>
    public long MinFreeBytes { get; init; } = 1L << 30;

    public TimeSpan UpdateTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Transitions whose dumps are kept (the newest; older directories are deleted).</summary>
    public int KeepBackups { get; init; } = 2;

    public int LogTailLines { get; init; } = 40;
}

internal sealed record TransitionRequest(long Generation, ReleaseRef From, ReleaseRef To, ReleaseGateSpec Gate, int HttpPort);

/// <summary>
/// A release change on a running host (COMMON design point 4): preflight → backup → stage → stop
/// Odoo → switch `current` → `-u` the changed modules per database → start → health gate. Any failure
/// after the stop reverts: stop, switch back, restore each database whose update started, start,
/// health check. Every phase is journaled before it runs, so an agent killed midway reverts at its
/// next start (<see cref="RecoverAsync"/>). Exactly one Odoo start when it succeeds.
/// </summary>
internal sealed partial class ReleaseTransition(TransitionContext context, TransitionJournal journal, ILogger logger)
{
    private OdooDatabases Databases => new(context.Runner, context.Postgres);

    public async Task<TransitionRecord> RunAsync(TransitionRequest request, Func<CancellationToken, Task<string?>> stage, CancellationToken ct)
    {
        var record = await journal.WriteAsync(
            new TransitionRecord
            {
                Generation = request.Generation,
                From = request.From.DirectoryName,
                To = request.To.DirectoryName,
                RolloutId = request.Gate.RolloutId,
                StartedAt = context.Time.GetUtcNow(),
                HttpPort = request.HttpPort,
                HealthTimeoutSeconds = (int)request.Gate.HealthTimeout.TotalSeconds,
                MinHealthySeconds = (int)request.Gate.MinHealthy.TotalSeconds,
            },
            ct);
        LogPhase(logger, record.From, record.To, record.Phase);
        try
        {
            // Preflight: room for the release, PostgreSQL answering (listing the databases proves it).
            var free = new DriveInfo(Existing(context.Paths.Resolve(context.Layout.ReleasesDir))).AvailableFreeSpace;
            if (free < context.MinFreeBytes)
            {
                return await EndAsync(record, TransitionOutcome.Failed, TransitionPhase.Preflight,
                    $"only {free >> 20} MiB free for {context.Layout.ReleasesDir} (needs {context.MinFreeBytes >> 20} MiB); free space or remove old releases", ct);
            }

            IReadOnlyList<string> names;
            try
            {
                names = await Databases.ListAsync(context.Layout.User, ct);
            }
            catch (Exception e) when (e is CommandFailedException or ResourceFailedException)
            {
                return await EndAsync(record, TransitionOutcome.Failed, TransitionPhase.Preflight, $"PostgreSQL: {e.Message}", ct);
            }

            record = await NextAsync(record with { Databases = [.. names.Select(n => new DatabaseRecord { Name = n })] }, TransitionPhase.Backup, ct);
            if (!request.Gate.SkipBackup && names.Count > 0)
            {
                try
                {
                    record = await BackupAsync(record, ct);
                }
                catch (Exception e) when (e is CommandFailedException or IOException or UnauthorizedAccessException)
                {
                    return await EndAsync(record, TransitionOutcome.Failed, TransitionPhase.Backup, e.Message, ct);
                }
            }

            record = await NextAsync(record, TransitionPhase.Stage, ct);
            if (await stage(ct) is { } stageError)
            {
                return await EndAsync(record, TransitionOutcome.Failed, TransitionPhase.Stage, stageError, ct);
            }

            try
            {
                record = record with { Databases = await PlanUpdatesAsync(request.To, record.Databases, ct) };
            }
            catch (Exception e) when (e is CommandFailedException or System.Text.Json.JsonException)
            {
                return await EndAsync(record, TransitionOutcome.Failed, TransitionPhase.Stage, e.Message, ct);
            }

            // From here Odoo is down: journal first, so a crash is reverted at the next start.
            record = await NextAsync(record with { StoppedAt = context.Time.GetUtcNow() }, TransitionPhase.Switch, ct);
            var stoppedAt = context.Time.GetTimestamp();
            if (await TryAsync(() => SystemctlAsync("stop", ct)) is { } stopError)
            {
                return await RevertAsync(record, TransitionPhase.Switch, stopError, ct);
            }

            if (await TryAsync(() => SwitchAsync(request.To, ct)) is { } switchError)
            {
                return await RevertAsync(record, TransitionPhase.Switch, switchError, ct);
            }

            record = await NextAsync(record, TransitionPhase.Migrate, ct);
            foreach (var database in record.Databases.Where(d => d.Modules.Count > 0).ToList())
            {
                record = await UpdateDatabaseAsync(record, database.Name, d => d with { UpdateStarted = true }, ct);
                if (await TryAsync(() => UpdateModulesAsync(request.To, database, ct)) is { } updateError)
                {
                    return await RevertAsync(record, TransitionPhase.Migrate, updateError, ct);
                }
            }

            record = await NextAsync(record, TransitionPhase.Restart, ct);
            var startError = await TryAsync(() => SystemctlAsync("start", ct));
            record = await journal.WriteAsync(record with { Restarts = record.Restarts + 1 }, ct);
            if (startError is not null)
            {
                return await RevertAsync(record, TransitionPhase.Restart, startError, ct);
            }

            record = await NextAsync(record, TransitionPhase.Health, ct);
            var health = await Gate(record).WaitAsync(ct);
            if (!health.Passed)
            {
                return await RevertAsync(record, TransitionPhase.Health, health.Detail, ct);
            }

            var unavailable = health.HealthySince is { } since && record.StoppedAt is { } stopped
                ? since - stopped
                : context.Time.GetElapsedTime(stoppedAt);
            return await journal.WriteAsync(
                record with
                {
                    Outcome = TransitionOutcome.Updated,
                    Phase = TransitionPhase.Done,
                    UnavailableMs = (long)Math.Max(0, unavailable.TotalMilliseconds),
                    FinishedAt = context.Time.GetUtcNow(),
                },
                ct);
        }
        catch (Exception e) when (e is not OperationCanceledException && record.StoppedAt is not null && record.Outcome is null)
        {
            return await RevertAsync(record, record.Phase, $"{e.GetType().Name}: {e.Message}", ct);
        }
    }

    /// <summary>At agent start: reverts a transition the agent was killed in, and returns it (REVERTED, "interrupted"); null when none.</summary>
    public async Task<TransitionRecord?> RecoverAsync(CancellationToken ct)
    {
        var record = journal.Load();
        if (!TransitionDecision.MustRecover(record))
        {
            return null;
        }

        LogRecovering(logger, record!.From, record.To, record.Phase);
        if (record.StoppedAt is null)
        {
            // Killed before Odoo was stopped: nothing was changed, the old release still serves.
            return await EndAsync(record, TransitionOutcome.Reverted, record.Phase, "interrupted", ct);
        }

        return await RevertAsync(record, record.FailedPhase ?? record.Phase, "interrupted", ct);
    }

    private async Task<TransitionRecord> RevertAsync(TransitionRecord record, string failedPhase, string reason, CancellationToken ct)
    {
        LogReverting(logger, record.From, record.To, failedPhase, reason);
        var tail = ReadLogTail();
        record = await journal.WriteAsync(record with { Phase = TransitionPhase.Revert, FailedPhase = failedPhase, Reason = reason, LogTail = tail }, ct);
        var from = record.FromRelease;
        string? revertError = await TryAsync(() => SystemctlAsync("stop", ct))
            ?? await TryAsync(() => SwitchAsync(from, ct));
        var notRestored = new List<string>();
        if (revertError is null)
        {
            foreach (var database in record.Databases.Where(d => d.UpdateStarted && !d.Restored).ToList())
            {
                if (database.Dump is null)
                {
                    notRestored.Add(database.Name);
                    continue;
                }

                revertError = await TryAsync(() => Databases.RestoreAsync(database.Name, database.Dump, ct));
                if (revertError is not null)
                {
                    break;
                }

                record = await UpdateDatabaseAsync(record, database.Name, d => d with { Restored = true }, ct);
            }
        }

        if (revertError is null)
        {
            revertError = await TryAsync(() => SystemctlAsync("start", ct));
            record = record with { Restarts = record.Restarts + 1 };
            if (revertError is null)
            {
                var health = await Gate(record).WaitAsync(ct);
                revertError = health.Passed ? null : $"the old release is not healthy either: {health.Detail}";
            }
        }

        var finalReason = notRestored.Count == 0
            ? reason
            : $"{reason}; not restored (no backup was taken: skip_backup): {string.Join(", ", notRestored)}";
        var outcome = TransitionOutcome.Reverted;
        if (revertError is not null)
        {
            outcome = TransitionOutcome.Failed;
            finalReason = $"{finalReason}; the revert failed too: {revertError}";
        }

        var unavailable = record.StoppedAt is { } stopped ? context.Time.GetUtcNow() - stopped : TimeSpan.Zero;
        return await EndAsync(record with { UnavailableMs = (long)Math.Max(0, unavailable.TotalMilliseconds) }, outcome, failedPhase, finalReason, ct);
    }

    private async Task<TransitionRecord> EndAsync(TransitionRecord record, TransitionOutcome outcome, string phase, string reason, CancellationToken ct)
    {
        LogEnded(logger, record.From, record.To, outcome, phase, reason);
        return await journal.WriteAsync(
            record with
            {
                Outcome = outcome,
                Phase = phase,
                Reason = reason,
                LogTail = record.LogTail ?? (outcome == TransitionOutcome.Updated ? null : ReadLogTail()),
                FinishedAt = context.Time.GetUtcNow(),
            },
            CancellationToken.None);
    }

    private async Task<TransitionRecord> NextAsync(TransitionRecord record, string phase, CancellationToken ct)
    {
        LogPhase(logger, record.From, record.To, phase);
        return await journal.WriteAsync(record with { Phase = phase }, ct);
    }

    private Task<TransitionRecord> UpdateDatabaseAsync(TransitionRecord record, string name, Func<DatabaseRecord, DatabaseRecord> change, CancellationToken ct) =>
        journal.WriteAsync(record with { Databases = [.. record.Databases.Select(d => d.Name == name ? change(d) : d)] }, ct);

    private async Task<TransitionRecord> BackupAsync(TransitionRecord record, CancellationToken ct)
    {
        // The agent's own state directory, not a managed host path: never under HostPaths' root.
        var root = context.BackupRoot;
        var name = record.RolloutId is { } rollout && Grammar.IsHostLabel(rollout) ? rollout : $"generation-{record.Generation}";
        var directory = Path.Combine(root, name);
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.SetLastWriteTimeUtc(directory, context.Time.GetUtcNow().UtcDateTime);
        foreach (var database in record.Databases)
        {
            var file = Path.Combine(directory, $"{database.Name}.dump");
            await Databases.DumpAsync(database.Name, file, ct);
            record = await UpdateDatabaseAsync(record, database.Name, d => d with { Dump = file }, ct);
        }

        var existing = Directory.GetDirectories(root).Select(d => (Path.GetFileName(d), (DateTimeOffset)Directory.GetLastWriteTimeUtc(d)));
        foreach (var old in OdooDatabases.ToPrune(existing, context.KeepBackups).Where(old => old != name))
        {
            Directory.Delete(Path.Combine(root, old), recursive: true);
        }

        return record;
    }

    private async Task<IReadOnlyList<DatabaseRecord>> PlanUpdatesAsync(ReleaseRef to, IReadOnlyList<DatabaseRecord> databases, CancellationToken ct)
    {
        if (databases.Count == 0)
        {
            return databases;
        }

        var release = context.Paths.Resolve(context.Layout.ReleaseDir(to));
        var manifests = await ModuleVersions.ReadManifestsAsync(context.Runner, Path.Combine(release, ".venv", "bin", "python"), release, ct);
        var planned = new List<DatabaseRecord>();
        foreach (var database in databases)
        {
            var installed = await Databases.InstalledModulesAsync(database.Name, ct);
            planned.Add(database with { Modules = ModuleVersions.Changed(to.Series, installed, manifests) });
        }

        return planned;
    }

    private async Task UpdateModulesAsync(ReleaseRef to, DatabaseRecord database, CancellationToken ct)
    {
        var release = context.Paths.Resolve(context.Layout.ReleaseDir(to));
        var command = new CommandSpec(
            Path.Combine(release, ".venv", "bin", "python"),
            [Path.Combine(release, "odoo-bin"), "-c", context.Layout.ConfFile, "-d", database.Name, "-u", string.Join(',', database.Modules), "--stop-after-init"])
        {
            Timeout = context.UpdateTimeout,
            WorkingDirectory = "/",
        }.AsUser(context.Layout.User);
        var result = await context.Runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new CommandFailedException($"updating {string.Join(", ", database.Modules)} in database {database.Name} failed: {result.Describe(command)}");
        }
    }

    private async Task SwitchAsync(ReleaseRef release, CancellationToken ct) =>
        await new SymlinkResource(context.Paths, context.Layout.CurrentLink, context.Layout.ReleaseDir(release)).ApplyAsync(new Change("switch"), ct);

    private async Task SystemctlAsync(string verb, CancellationToken ct) =>
        await context.Runner.RunCheckedAsync(new CommandSpec("systemctl", [verb, "--", context.Layout.UnitName]) { Timeout = TimeSpan.FromMinutes(3) }, ct);

    private HealthGate Gate(TransitionRecord record)
    {
        var port = record.HttpPort;
        List<Uri> urls = [new($"http://127.0.0.1:{port}/web/health")];
        urls.AddRange(record.Databases.Select(d => new Uri($"http://127.0.0.1:{port}/web/login?db={Uri.EscapeDataString(d.Name)}")));
        var timeout = TimeSpan.FromSeconds(record.HealthTimeoutSeconds > 0 ? record.HealthTimeoutSeconds : 300);
        var minHealthy = TimeSpan.FromSeconds(record.MinHealthySeconds > 0 ? record.MinHealthySeconds : 10);
        return new HealthGate(context.Http, context.Time, urls, minHealthy, timeout, context.HealthInterval);
    }

    /// <summary>The step's failure as a message, or null; cancellation still propagates.</summary>
    private static async Task<string?> TryAsync(Func<Task> step)
    {
        try
        {
            await step();
            return null;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is CommandFailedException or ResourceFailedException)
        {
            return e.Message;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    private string? ReadLogTail() => LogTail.Read(context.Paths.Resolve(context.Layout.LogFile), context.LogTailLines);

    private static string Existing(string path)
    {
        while (!Directory.Exists(path) && Path.GetDirectoryName(path) is { } parent)
        {
            path = parent;
        }

        return path;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "release transition {From} -> {To}: {Phase}")]
    private static partial void LogPhase(ILogger logger, string from, string to, string phase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "release transition {From} -> {To} failed in {Phase}: {Reason}; reverting")]
    private static partial void LogReverting(ILogger logger, string from, string to, string phase, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "release transition {From} -> {To} was interrupted in {Phase}; reverting it")]
    private static partial void LogRecovering(ILogger logger, string from, string to, string phase);

    [LoggerMessage(Level = LogLevel.Information, Message = "release transition {From} -> {To}: {Outcome} ({Phase}) {Reason}")]
    private static partial void LogEnded(ILogger logger, string from, string to, TransitionOutcome outcome, string phase, string reason);
}

/// <summary>The end of Odoo's log for a failure report: bounded, secrets redacted.</summary>
internal static partial class LogTail
{
    public const int MaxChars = 8 * 1024;

    public static string? Read(string path, int lines)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, stream.Length - (4 * MaxChars));
            stream.Seek(start, SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            var text = reader.ReadToEnd();
            var all = text.Split('\n');
            // A partial first line (we started mid-file) is dropped.
            var tail = all.Skip(start > 0 ? 1 : 0).TakeLast(lines + 1);
            return Redact(string.Join('\n', tail).TrimEnd('\n'));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>odoo.conf-style secret options (OdooConfRenderer.Redact) and password=… pairs (libpq connection strings) blanked; bounded.</summary>
    public static string Redact(string text)
    {
        var redacted = SecretPairPattern().Replace(OdooConfRenderer.Redact(text), m => $"{m.Groups["key"].Value}{m.Groups["sep"].Value}{OdooConfRenderer.RedactedValue}");
        return redacted.Length <= MaxChars ? redacted : "…" + redacted[^MaxChars..];
    }

    [GeneratedRegex(@"(?<key>\b(?:password|passwd|admin_passwd|db_password|smtp_password)\b)(?<sep>\s*[=:]\s*)(?:'[^']*'|""[^""]*""|\S+)", RegexOptions.IgnoreCase)]
    private static partial Regex SecretPairPattern();
}
