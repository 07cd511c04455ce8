using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Backup;

/// <summary>A restic operation that failed; the message names the repository (password redacted) and the fix, never the password.</summary>
internal sealed class BackupFailedException(string message) : Exception(message);

/// <summary>restic check found damage: snapshots that need the damaged data cannot be restored.</summary>
internal sealed class RepositoryDamagedException(string message) : Exception(message);

/// <summary>How to reach one restic repository.</summary>
/// <param name="PasswordFile">A file (mode 0600, no group or other bits) whose first line is the repository password.</param>
/// <param name="CacheDirectory">restic's local cache (speeds up remote repositories); null runs without one.</param>
internal sealed record ResticRepositoryOptions(ResticLocation Location, string PasswordFile)
{
    public string? CacheDirectory { get; init; }

    /// <summary>Credentials of the backend (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...): passed in the environment, never argv or logs.</summary>
    public IReadOnlyDictionary<string, string> BackendEnvironment { get; init; } = new Dictionary<string, string>();

    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(6);
}

/// <summary>What restic backup reports at its end.</summary>
internal sealed record ResticBackupSummary(
    string SnapshotId, long FilesNew, long FilesChanged, long FilesUnmodified, long DataAdded, long TotalFilesProcessed, long TotalBytesProcessed, TimeSpan Duration);

/// <summary>One snapshot as restic snapshots lists it, after validation.</summary>
internal sealed record ResticSnapshot(string Id, string ShortId, DateTimeOffset Time, string Host, IReadOnlyList<string> Paths, IReadOnlyList<string> Tags);

/// <summary>
/// One restic repository, through the real restic binary (ICommandRunner, argument arrays). The
/// password is read by restic from a 0600 file (--password-file); the location travels in
/// RESTIC_REPOSITORY. Every value restic prints is validated before it is used. Runs restic in UTC
/// so that --time and the day/week/month buckets of forget mean the same calendar.
/// </summary>
internal sealed partial class ResticRepository
{
    public const string Program = "restic";

    /// <summary>What restic 0.14 prints for a missing repository and for a wrong password (LC_ALL=C).</summary>
    private const string NoConfigMessage = "unable to open config file";
    private const string WrongPasswordMessage = "wrong password or no key found";

    private readonly ICommandRunner runner;
    private readonly ResticRepositoryOptions options;
    private readonly ILogger logger;

    public ResticRepository(ICommandRunner runner, ResticRepositoryOptions options, ILogger<ResticRepository> logger)
    {
        if (!Grammar.IsSafeAbsolutePath(options.PasswordFile))
        {
            throw new ArgumentException($"backup.password_file: '{Grammar.Printable(options.PasswordFile)}' must be an absolute path", nameof(options));
        }

        if (options.CacheDirectory is { } cache && !Grammar.IsSafeAbsolutePath(cache))
        {
            throw new ArgumentException($"backup.cache_directory: '{Grammar.Printable(cache)}' must be an absolute path", nameof(options));
        }

        if (options.BackendEnvironment.Keys.FirstOrDefault(key => !BackendVariablePattern().IsMatch(key) || key.StartsWith("RESTIC_", StringComparison.Ordinal)) is { } bad)
        {
            throw new ArgumentException($"backup.environment: '{Grammar.Printable(bad)}' is not a backend variable (upper-case name, not RESTIC_*: the agent sets those)", nameof(options));
        }

        this.runner = runner;
        this.options = options;
        this.logger = logger;
    }

    public ResticLocation Location => options.Location;

    /// <summary>Creates the repository unless it exists (then checks that the password opens it). True when it was created.</summary>
    public async Task<bool> InitAsync(CancellationToken ct)
    {
        var config = await RunAsync("init", ["cat", "config"], ct);
        if (config.Succeeded)
        {
            return false;
        }

        if (!config.Stderr.Contains(NoConfigMessage, StringComparison.Ordinal))
        {
            throw Failure("init", config);
        }

        var init = await RunAsync("init", ["init"], ct);
        if (!init.Succeeded)
        {
            throw Failure("init", init);
        }

        LogInitialised(logger, options.Location.Display);
        return true;
    }

    /// <summary>One snapshot of <paramref name="paths"/> (absolute), with <paramref name="tags"/>, as <paramref name="host"/>, at <paramref name="time"/> (now when null).</summary>
    public async Task<ResticBackupSummary> BackupAsync(
        IReadOnlyList<string> paths, IReadOnlyList<string> tags, string host, DateTimeOffset? time, CancellationToken ct)
    {
        if (paths.Count == 0 || paths.Any(p => !Grammar.IsSafeAbsolutePath(p)))
        {
            throw new ArgumentException($"backup paths must be absolute paths of letters, digits and ._+@:/- (got {string.Join(", ", paths.Select(p => Grammar.Printable(p)))})", nameof(paths));
        }

        CheckHost(host);
        List<string> arguments = ["backup", "--json", "--host", host];
        foreach (var tag in tags)
        {
            CheckTag(tag);
            arguments.Add("--tag");
            arguments.Add(tag);
        }

        if (time is { } at)
        {
            arguments.Add("--time");
            arguments.Add(at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        }

        arguments.Add("--");
        arguments.AddRange(paths);
        var result = await RunAsync("backup", arguments, ct);
        if (!result.Succeeded)
        {
            // Exit 3: a snapshot was written without some files; for a tenant that is not a backup.
            throw result.ExitCode == 3
                ? new BackupFailedException(
                    $"restic backup to {options.Location.Display} could not read some files of {string.Join(", ", paths)}; the snapshot is incomplete: {Detail(result.Stderr)}; fix the files' permissions and back up again")
                : Failure("backup", result);
        }

        var summary = ParseBackupSummary(result.Stdout);
        LogBackedUp(logger, summary.SnapshotId, options.Location.Display, summary.TotalFilesProcessed, summary.TotalBytesProcessed, summary.DataAdded);
        return summary;
    }

    /// <summary>The snapshots carrying every tag of <paramref name="tags"/> (all when empty), oldest first.</summary>
    public async Task<IReadOnlyList<ResticSnapshot>> SnapshotsAsync(IReadOnlyList<string> tags, CancellationToken ct)
    {
        List<string> arguments = ["snapshots", "--json"];
        AddTagFilter(arguments, tags);
        var result = await RunAsync("snapshots", arguments, ct);
        if (!result.Succeeded)
        {
            throw Failure("snapshots", result);
        }

        List<ResticSnapshotJson?>? listed;
        try
        {
            listed = JsonSerializer.Deserialize(result.Stdout, ResticJsonContext.Default.ListResticSnapshotJson);
        }
        catch (JsonException e)
        {
            throw new BackupFailedException($"restic snapshots on {options.Location.Display} printed something that is not a JSON list of snapshots ({e.Message}); is `restic` version 0.14 or later?");
        }

        return (listed ?? throw new BackupFailedException($"restic snapshots on {options.Location.Display} printed null instead of a list"))
            .Select(ValidateSnapshot)
            .OrderBy(s => s.Time)
            .ThenBy(s => s.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Applies <paramref name="policy"/> to the snapshots carrying every tag of <paramref name="tags"/>,
    /// all of them as one group (whatever their host or paths), then prunes unreferenced data when asked.
    /// </summary>
    public async Task ForgetAsync(RetentionPolicy policy, IReadOnlyList<string> tags, bool prune, CancellationToken ct)
    {
        if (policy.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(policy));
        }

        if (tags.Count == 0)
        {
            throw new ArgumentException("forget needs a tag filter (e.g. tenant=NAME): a policy over the whole repository would mix tenants", nameof(tags));
        }

        List<string> arguments = ["forget", "--group-by", ""];
        AddTagFilter(arguments, tags);
        arguments.AddRange(policy.ForgetArguments());
        if (prune)
        {
            arguments.Add("--prune");
        }

        var result = await RunAsync("forget", arguments, ct);
        if (!result.Succeeded)
        {
            throw Failure("forget", result);
        }

        LogForgot(logger, options.Location.Display, string.Join(",", tags), policy.Daily, policy.Weekly, policy.Monthly, prune);
    }

    /// <summary>
    /// restic check: the repository's structure, plus the content of <paramref name="readDataPercent"/>
    /// percent of its pack files (0: structure only, 100: every byte). Damage raises <see cref="RepositoryDamagedException"/>.
    /// </summary>
    public async Task CheckAsync(int readDataPercent, CancellationToken ct)
    {
        List<string> arguments = readDataPercent switch
        {
            0 => ["check"],
            100 => ["check", "--read-data"],
            > 0 and < 100 => ["check", $"--read-data-subset={readDataPercent.ToString(CultureInfo.InvariantCulture)}%"],
            _ => throw new ArgumentOutOfRangeException(nameof(readDataPercent), readDataPercent, "the share of data to read is a percentage from 0 to 100"),
        };
        var result = await RunAsync("check", arguments, ct);
        if (result.Succeeded)
        {
            LogChecked(logger, options.Location.Display, readDataPercent);
            return;
        }

        // A wrong password, a missing repository or a lock is not damage; say what it is instead.
        var stderr = result.Stderr;
        if (result.TimedOut || result.ExitCode == CommandResult.NotFoundExitCode || stderr.Contains(WrongPasswordMessage, StringComparison.Ordinal)
            || stderr.Contains(NoConfigMessage, StringComparison.Ordinal) || stderr.Contains("repository is already locked", StringComparison.Ordinal))
        {
            throw Failure("check", result);
        }

        var findings = (result.Stdout + "\n" + stderr)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => DamageLinePattern().IsMatch(line))
            .Take(5)
            .Select(line => Grammar.Printable(line, 200))
            .ToList();
        var detail = findings.Count > 0 ? string.Join("; ", findings) : Detail(stderr);
        LogDamaged(logger, options.Location.Display, detail);
        throw new RepositoryDamagedException(
            $"restic check{(readDataPercent > 0 ? $" (reading {readDataPercent}% of the data)" : "")} found damage in the repository at {options.Location.Display}: {detail}; "
            + "snapshots that need the damaged data cannot be restored: take a new backup now, then repair the repository (`restic rebuild-index`, `restic prune`) or restore from another copy");
    }

    /// <summary>Extracts snapshot <paramref name="snapshotId"/> under <paramref name="target"/> (paths kept absolute beneath it), each file verified after it is written.</summary>
    public async Task RestoreAsync(string snapshotId, string target, CancellationToken ct)
    {
        CheckSnapshotId(snapshotId);
        if (!Grammar.IsSafeAbsolutePath(target))
        {
            throw new ArgumentException($"restore target '{Grammar.Printable(target)}' must be an absolute path", nameof(target));
        }

        var result = await RunAsync("restore", ["restore", "--verify", "--target", target, "--", snapshotId], ct);
        if (!result.Succeeded)
        {
            throw Failure($"restore of snapshot {snapshotId}", result);
        }

        LogRestored(logger, snapshotId, options.Location.Display, target);
    }

    /// <summary>The bytes of one file of a snapshot (restic dump), read as UTF-8 text (a manifest).</summary>
    public async Task<string> ReadTextFileAsync(string snapshotId, string path, CancellationToken ct)
    {
        CheckSnapshotId(snapshotId);
        if (!Grammar.IsSafeAbsolutePath(path))
        {
            throw new ArgumentException($"snapshot path '{Grammar.Printable(path)}' must be an absolute path", nameof(path));
        }

        var result = await RunAsync("dump", ["dump", "--", snapshotId, path], ct);
        return result.Succeeded ? result.Stdout : throw Failure($"reading {path} from snapshot {snapshotId}", result);
    }

    private async Task<CommandResult> RunAsync(string operation, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        CheckPasswordFile();
        List<string> global = ["--password-file", options.PasswordFile];
        if (options.CacheDirectory is { } cache)
        {
            global.Add("--cache-dir");
            global.Add(cache);
        }
        else
        {
            global.Add("--no-cache");
        }

        var environment = new Dictionary<string, string>(options.BackendEnvironment)
        {
            ["RESTIC_REPOSITORY"] = options.Location.Value,
            ["TZ"] = "UTC",

            // Blank what the agent's own environment could hold: restic would prefer or refuse them.
            ["RESTIC_REPOSITORY_FILE"] = "",
            ["RESTIC_PASSWORD"] = "",
            ["RESTIC_PASSWORD_FILE"] = "",
            ["RESTIC_PASSWORD_COMMAND"] = "",
            ["RESTIC_KEY_HINT"] = "",
        };
        var spec = new CommandSpec(Program, [.. global, .. arguments])
        {
            Timeout = options.Timeout,
            WorkingDirectory = "/",
            Environment = environment,
        };
        LogRunning(logger, operation, options.Location.Display);
        return await runner.RunAsync(spec, ct);
    }

    private void CheckPasswordFile()
    {
        var file = new FileInfo(options.PasswordFile);
        if (!file.Exists)
        {
            throw new BackupFailedException($"restic password file {options.PasswordFile} does not exist; write the repository password into it (mode 0600)");
        }

        if ((file.UnixFileMode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0)
        {
            throw new BackupFailedException($"restic password file {options.PasswordFile} is readable by other users; `chmod 600 {options.PasswordFile}`");
        }

        if (file.Length == 0)
        {
            throw new BackupFailedException($"restic password file {options.PasswordFile} is empty; write the repository password into it");
        }
    }

    private BackupFailedException Failure(string operation, CommandResult result)
    {
        var repository = options.Location.Display;
        var stderr = result.Stderr;
        if (result.TimedOut)
        {
            return new BackupFailedException($"restic {operation} on {repository} timed out after {options.Timeout.TotalMinutes:0} min; raise the timeout or check the backend's speed");
        }

        if (result.ExitCode == CommandResult.NotFoundExitCode)
        {
            return new BackupFailedException($"cannot run restic for {operation}: {Detail(stderr)}; install it (`apt-get install restic`)");
        }

        if (stderr.Contains(WrongPasswordMessage, StringComparison.Ordinal))
        {
            return new BackupFailedException(
                $"restic {operation}: wrong password for the repository at {repository} (none of its keys opens with the password in {options.PasswordFile}); put the repository's password in that file");
        }

        if (stderr.Contains(NoConfigMessage, StringComparison.Ordinal))
        {
            return new BackupFailedException($"restic {operation}: no repository at {repository}; check the location or create it (init)");
        }

        if (stderr.Contains("repository is already locked", StringComparison.Ordinal))
        {
            return new BackupFailedException(
                $"restic {operation}: the repository at {repository} is locked by another restic run; wait for it, or if none is running, `restic unlock`: {Detail(stderr)}");
        }

        return new BackupFailedException($"restic {operation} on {repository} failed with exit code {result.ExitCode}: {Detail(stderr)}");
    }

    /// <summary>restic's message, one line, bounded, with the location's password redacted should restic echo the URL.</summary>
    private string Detail(string stderr)
    {
        var text = string.Join(" ", stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (options.Location.Value != options.Location.Display)
        {
            text = text.Replace(options.Location.Value, options.Location.Display, StringComparison.Ordinal);
        }

        return text.Length == 0 ? "(no message)" : Grammar.Printable(text, 600);
    }

    private ResticBackupSummary ParseBackupSummary(string stdout)
    {
        ResticBackupSummaryJson? summary = null;
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.Contains("\"summary\"", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                var message = JsonSerializer.Deserialize(line, ResticJsonContext.Default.ResticBackupSummaryJson);
                if (message?.MessageType == "summary")
                {
                    summary = message;
                }
            }
            catch (JsonException e)
            {
                throw new BackupFailedException($"restic backup to {options.Location.Display} printed a summary that is not JSON ({e.Message})");
            }
        }

        if (summary is null)
        {
            throw new BackupFailedException($"restic backup to {options.Location.Display} succeeded without printing its summary; is `restic` version 0.14 or later?");
        }

        if (summary.SnapshotId is not { } id || !SnapshotIdPattern().IsMatch(id))
        {
            throw new BackupFailedException($"restic backup to {options.Location.Display} reported snapshot id '{Grammar.Printable(summary.SnapshotId ?? "")}', which is not 8 to 64 hex digits");
        }

        long[] counts = [summary.FilesNew, summary.FilesChanged, summary.FilesUnmodified, summary.DataAdded, summary.TotalFilesProcessed, summary.TotalBytesProcessed];
        if (counts.Any(c => c < 0) || summary.TotalDuration is < 0 or > 1e7 || double.IsNaN(summary.TotalDuration))
        {
            throw new BackupFailedException($"restic backup to {options.Location.Display} reported negative counts or an impossible duration for snapshot {id}");
        }

        return new ResticBackupSummary(
            id, summary.FilesNew, summary.FilesChanged, summary.FilesUnmodified, summary.DataAdded, summary.TotalFilesProcessed, summary.TotalBytesProcessed,
            TimeSpan.FromSeconds(summary.TotalDuration));
    }

    private ResticSnapshot ValidateSnapshot(ResticSnapshotJson? snapshot)
    {
        string Bad(string what) =>
            $"restic snapshots on {options.Location.Display} listed a snapshot with {what}; the repository may be damaged or written by another tool: run `restic check`";

        if (snapshot is null)
        {
            throw new BackupFailedException(Bad("no content (null)"));
        }

        if (snapshot.Id is not { Length: 64 } id || !SnapshotIdPattern().IsMatch(id))
        {
            throw new BackupFailedException(Bad($"id '{Grammar.Printable(snapshot.Id ?? "")}' (not 64 hex digits)"));
        }

        if (snapshot.ShortId is not { } shortId || !SnapshotIdPattern().IsMatch(shortId) || !id.StartsWith(shortId, StringComparison.Ordinal))
        {
            throw new BackupFailedException(Bad($"short id '{Grammar.Printable(snapshot.ShortId ?? "")}' that is not a prefix of its id {id}"));
        }

        if (snapshot.Time is not { } timeText || ParseTime(timeText) is not { } time)
        {
            throw new BackupFailedException(Bad($"time '{Grammar.Printable(snapshot.Time ?? "")}' (not RFC 3339), id {id}"));
        }

        if (snapshot.Hostname is not { } host || !IsHost(host))
        {
            throw new BackupFailedException(Bad($"host '{Grammar.Printable(snapshot.Hostname ?? "")}', id {id}"));
        }

        var paths = snapshot.Paths ?? [];
        if (paths.Count == 0 || paths.Any(p => p is null || !p.StartsWith('/') || !Grammar.IsSingleLine(p)))
        {
            throw new BackupFailedException(Bad($"no paths or a path that is not absolute, id {id}"));
        }

        var tags = snapshot.Tags ?? [];
        if (tags.Any(t => t is null || !TagPattern().IsMatch(t)))
        {
            throw new BackupFailedException(Bad($"a tag that is not name=value of letters, digits and ._-, id {id}"));
        }

        return new ResticSnapshot(id, shortId, time, host, [.. paths.OfType<string>()], [.. tags.OfType<string>()]);
    }

    /// <summary>restic prints RFC 3339 with up to 9 fractional digits; .NET reads 7.</summary>
    private static DateTimeOffset? ParseTime(string text)
    {
        var match = TimePattern().Match(text);
        if (!match.Success)
        {
            return null;
        }

        var fraction = match.Groups["fraction"].Value;
        var normalised = match.Groups["seconds"].Value + (fraction.Length > 0 ? "." + fraction[..Math.Min(7, fraction.Length)] : "") + match.Groups["zone"].Value;
        return DateTimeOffset.TryParse(normalised, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time) ? time : null;
    }

    private static void AddTagFilter(List<string> arguments, IReadOnlyList<string> tags)
    {
        foreach (var tag in tags)
        {
            CheckTag(tag);
        }

        if (tags.Count > 0)
        {
            // One --tag with a comma-separated list: snapshots must carry all of them.
            arguments.Add("--tag");
            arguments.Add(string.Join(",", tags));
        }
    }

    private static void CheckTag(string tag)
    {
        if (!TagPattern().IsMatch(tag))
        {
            throw new ArgumentException($"restic tag '{Grammar.Printable(tag)}' must be name=value of letters, digits and ._- (no commas or spaces)", nameof(tag));
        }
    }

    private static void CheckHost(string host)
    {
        if (!IsHost(host))
        {
            throw new ArgumentException($"restic host '{Grammar.Printable(host)}' must be a host name (letters, digits, '.', '-')", nameof(host));
        }
    }

    private static bool IsHost(string host) => HostPattern().IsMatch(host);

    private static void CheckSnapshotId(string snapshotId)
    {
        if (!SnapshotIdPattern().IsMatch(snapshotId))
        {
            throw new ArgumentException($"snapshot id '{Grammar.Printable(snapshotId)}' must be 8 to 64 lowercase hex digits", nameof(snapshotId));
        }
    }

    [GeneratedRegex(@"^[0-9a-f]{8,64}\z")]
    private static partial Regex SnapshotIdPattern();

    [GeneratedRegex(@"^[a-z][a-z0-9_-]{0,31}=[A-Za-z0-9._-]{1,128}\z")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?\z")]
    private static partial Regex HostPattern();

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]{0,63}\z")]
    private static partial Regex BackendVariablePattern();

    [GeneratedRegex(@"^(?<seconds>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?<fraction>\d{1,9}))?(?<zone>Z|[+-]\d\d:\d\d)\z")]
    private static partial Regex TimePattern();

    /// <summary>Lines of restic check's output that describe damage (pack, blob, index or tree errors).</summary>
    [GeneratedRegex(@"(?i)(does not match|error|damaged|invalid|corrupt|missing|not found)")]
    private static partial Regex DamageLinePattern();

    [LoggerMessage(Level = LogLevel.Debug, Message = "restic {Operation} on {Repository}")]
    private static partial void LogRunning(ILogger logger, string operation, string repository);

    [LoggerMessage(Level = LogLevel.Information, Message = "restic repository {Repository} created")]
    private static partial void LogInitialised(ILogger logger, string repository);

    [LoggerMessage(Level = LogLevel.Information, Message = "restic snapshot {SnapshotId} in {Repository}: {Files} file(s), {Bytes} byte(s) read, {Added} byte(s) added")]
    private static partial void LogBackedUp(ILogger logger, string snapshotId, string repository, long files, long bytes, long added);

    [LoggerMessage(Level = LogLevel.Information, Message = "restic forget on {Repository} for {Tags}: keep {Daily} daily, {Weekly} weekly, {Monthly} monthly (prune: {Prune})")]
    private static partial void LogForgot(ILogger logger, string repository, string tags, int daily, int weekly, int monthly, bool prune);

    [LoggerMessage(Level = LogLevel.Information, Message = "restic check of {Repository} passed ({Percent}% of the data read)")]
    private static partial void LogChecked(ILogger logger, string repository, int percent);

    [LoggerMessage(Level = LogLevel.Error, Message = "restic check of {Repository} found damage: {Detail}")]
    private static partial void LogDamaged(ILogger logger, string repository, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "restic snapshot {SnapshotId} of {Repository} restored under {Target}")]
    private static partial void LogRestored(ILogger logger, string snapshotId, string repository, string target);
}

/// <summary>restic's JSON as printed; every field is checked before use (restic is outside our control).</summary>
internal sealed record ResticSnapshotJson(
    string? Id, string? ShortId, string? Time, string? Hostname, IReadOnlyList<string?>? Paths, IReadOnlyList<string?>? Tags);

internal sealed record ResticBackupSummaryJson(
    string? MessageType, string? SnapshotId, long FilesNew, long FilesChanged, long FilesUnmodified, long DataAdded,
    long TotalFilesProcessed, long TotalBytesProcessed, double TotalDuration);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<ResticSnapshotJson?>))]
[JsonSerializable(typeof(ResticBackupSummaryJson))]
internal sealed partial class ResticJsonContext : JsonSerializerContext;
