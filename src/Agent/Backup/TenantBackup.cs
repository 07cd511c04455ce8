using System.Globalization;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Release;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Backup;

/// <summary>One tenant to back up: its database, its filestore, and where the dump is staged.</summary>
internal sealed record TenantBackupSpec(string Tenant, string Database, string FilestorePath)
{
    public const string DefaultStagingRoot = "/var/lib/odoofleet/backup-staging";

    /// <summary>The dump and manifest are written to STAGING_ROOT/TENANT (0700), a stable path so restic finds the previous snapshot as parent.</summary>
    public string StagingRoot { get; init; } = DefaultStagingRoot;

    public string? OdooSeries { get; init; }
    public string? OdooCommit { get; init; }

    public string StagingPath => Path.Combine(StagingRoot, Tenant);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Tenant) || !Grammar.IsDatabaseName(Database))
        {
            errors.Add($"backup.tenant: '{Grammar.Printable(Tenant)}' / database '{Grammar.Printable(Database)}' must be database names (letters, digits, '_' and '-')");
        }

        foreach (var path in (string[])[FilestorePath, StagingRoot])
        {
            if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/'))
            {
                errors.Add($"backup.{Grammar.Printable(Tenant)}: '{Grammar.Printable(path)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'");
            }
        }

        if (OdooSeries is { } series && !(series.Length <= 20 && series.All(c => char.IsAsciiDigit(c) || c == '.')))
        {
            errors.Add($"backup.odoo_series: '{Grammar.Printable(series)}' is not an Odoo series (e.g. \"18.0\")");
        }

        if (OdooCommit is { } commit && !(commit.Length is >= 7 and <= 64 && commit.All(char.IsAsciiHexDigitLower)))
        {
            errors.Add($"backup.odoo_commit: '{Grammar.Printable(commit)}' is not a git commit (7 to 64 lowercase hex digits)");
        }

        return errors;
    }
}

/// <summary>A finished backup: its snapshot, its manifest, and whether an earlier run with the same run id had already made it.</summary>
internal sealed record TenantBackupResult(string SnapshotId, TenantBackupManifest Manifest, bool Reused, TimeSpan Elapsed);

/// <summary>
/// Backs up one tenant without stopping Odoo: pg_dump -Fc -Z0 (one transaction, so consistent) into
/// a private staging directory, then manifest.json, then one restic snapshot of the staging
/// directory and the filestore, tagged tenant=NAME (and run=ID when the caller gives a run id).
/// The dump is taken before the filestore is read: Odoo writes an attachment's file before it commits
/// the row, so every file the dump refers to already exists when restic reads the filestore.
/// Idempotent: a run id that already has a snapshot returns it; a staging directory left by a killed
/// run is replaced; staging is deleted at the end, success or not.
/// </summary>
internal sealed partial class TenantBackup(ICommandRunner runner, Psql postgres, ResticRepository repository, TimeProvider time, ILogger<TenantBackup> logger)
{
    public const string TenantTagName = "tenant";
    public const string RunTagName = "run";

    public TimeSpan DumpTimeout { get; init; } = TimeSpan.FromHours(2);

    public static string TenantTag(string tenant) => $"{TenantTagName}={tenant}";

    /// <param name="host">The host name recorded in the snapshot.</param>
    /// <param name="runId">The command's idempotency key (letters, digits, ._-), or null.</param>
    /// <param name="snapshotTime">The snapshot's time (simulated schedules); null for now.</param>
    public async Task<TenantBackupResult> RunAsync(
        TenantBackupSpec spec, string host, string? runId, DateTimeOffset? snapshotTime, CancellationToken ct, IReadOnlyList<string>? extraTags = null)
    {
        if (spec.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(spec));
        }

        var started = time.GetTimestamp();
        List<string> tags = [TenantTag(spec.Tenant), .. extraTags ?? []];
        if (runId is not null)
        {
            tags.Add($"{RunTagName}={runId}");
            var done = await repository.SnapshotsAsync(tags, ct);
            if (done.Count > 0)
            {
                var existing = done[^1];
                var manifest = TenantBackupManifest.Parse(
                    await repository.ReadTextFileAsync(existing.Id, Path.Combine(spec.StagingPath, TenantBackupManifest.FileName), ct), $"snapshot {existing.ShortId}");
                LogReused(logger, spec.Tenant, runId, existing.ShortId);
                return new TenantBackupResult(existing.Id, manifest, Reused: true, time.GetElapsedTime(started));
            }
        }

        var staging = BackupFiles.FreshPrivateDirectory(spec.StagingRoot, spec.Tenant);
        try
        {
            var manifest = await StageAsync(spec, staging, ct);
            List<string> paths = [staging];
            if (manifest.Filestore.Present)
            {
                paths.Add(spec.FilestorePath);
            }

            var summary = await repository.BackupAsync(paths, tags, host, snapshotTime, ct);
            var elapsed = time.GetElapsedTime(started);
            LogBackedUp(logger, spec.Tenant, spec.Database, summary.SnapshotId, manifest.Dump.Bytes, manifest.Filestore.Files, manifest.Filestore.Bytes, elapsed.TotalSeconds);
            return new TenantBackupResult(summary.SnapshotId, manifest, Reused: false, elapsed);
        }
        finally
        {
            BackupFiles.DeleteQuietly(staging);
        }
    }

    private async Task<TenantBackupManifest> StageAsync(TenantBackupSpec spec, string staging, CancellationToken ct)
    {
        var startedAt = time.GetUtcNow();
        var database = await postgres.QueryAsync(
            "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = :'db';\n",
            new Dictionary<string, string> { ["db"] = spec.Database }, 2, ct);
        if (database.Count != 1)
        {
            throw new BackupFailedException($"backup of tenant {spec.Tenant}: database {spec.Database} does not exist on PostgreSQL {postgres.Cluster}; check the tenant's database name");
        }

        var modules = await new OdooDatabases(runner, postgres).InstalledModulesAsync(spec.Database, ct);

        var dumpStarted = time.GetTimestamp();
        var dumpPath = Path.Combine(staging, TenantBackupManifest.DumpFileName);
        var command = new CommandSpec("pg_dump", ["-Fc", "-Z0", "-p", postgres.Cluster.Port.ToString(CultureInfo.InvariantCulture), $"--dbname={spec.Database}"])
        {
            Timeout = DumpTimeout,
            WorkingDirectory = "/",
            StandardOutputPath = dumpPath,
        }.AsUser(Psql.OsUser);
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new BackupFailedException($"backup of tenant {spec.Tenant}: pg_dump of database {spec.Database} failed: {result.Describe(command)}");
        }

        var (dumpBytes, dumpSha256) = await BackupFiles.HashAsync(dumpPath, ct);
        var dumpSeconds = time.GetElapsedTime(dumpStarted).TotalSeconds;

        var scanStarted = time.GetTimestamp();
        var present = Directory.Exists(spec.FilestorePath);
        var (files, bytes) = present ? BackupFiles.Measure(spec.FilestorePath) : (0, 0);
        var manifest = new TenantBackupManifest(
            TenantBackupManifest.CurrentFormat, spec.Tenant, spec.Database, database[0][0], database[0][1], spec.OdooSeries, spec.OdooCommit,
            modules, new TenantBackupDump(TenantBackupManifest.DumpFileName, dumpBytes, dumpSha256),
            new TenantBackupFilestore(spec.FilestorePath, present, files, bytes), staging, startedAt, dumpSeconds, time.GetElapsedTime(scanStarted).TotalSeconds);
        await AtomicFile.WriteAsync(Path.Combine(staging, TenantBackupManifest.FileName), manifest.ToJson(), FileModes.Mode0600, ct);
        return manifest;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "backup of tenant {Tenant} for run {RunId} already exists as snapshot {SnapshotId}")]
    private static partial void LogReused(ILogger logger, string tenant, string runId, string snapshotId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "backup of tenant {Tenant} (database {Database}) is snapshot {SnapshotId}: dump {DumpBytes} B, filestore {Files} file(s) {FilestoreBytes} B, {Seconds:0.0} s")]
    private static partial void LogBackedUp(ILogger logger, string tenant, string database, string snapshotId, long dumpBytes, long files, long filestoreBytes, double seconds);
}
