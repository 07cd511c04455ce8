using System.Globalization;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Release;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Backup;

/// <summary>
/// Where a tenant backup goes back to: a database (a new name, or the existing one when
/// <see cref="InPlace"/>) and a filestore directory.
/// </summary>
internal sealed record TenantRestoreSpec(string Tenant, string TargetDatabase, string TargetFilestore)
{
    public const string DefaultWorkRoot = "/var/lib/odoofleet/restore-work";

    /// <summary>Replace an existing database and filestore, after a safety backup of them (tagged kind=safety).</summary>
    public bool InPlace { get; init; }

    /// <summary>The snapshot to restore; null for the tenant's newest.</summary>
    public string? SnapshotId { get; init; }

    /// <summary>restic restores into WORK_ROOT/TENANT (0700) first; deleted at the end.</summary>
    public string WorkRoot { get; init; } = DefaultWorkRoot;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Tenant) || !Grammar.IsDatabaseName(TargetDatabase))
        {
            errors.Add($"restore: tenant '{Grammar.Printable(Tenant)}' and database '{Grammar.Printable(TargetDatabase)}' must be database names (letters, digits, '_' and '-')");
        }

        foreach (var path in (string[])[TargetFilestore, WorkRoot])
        {
            if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/') || path == "/")
            {
                errors.Add($"restore: '{Grammar.Printable(path)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'");
            }
        }

        if (SnapshotId is { } id && !(id.Length is >= 8 and <= 64 && id.All(char.IsAsciiHexDigitLower)))
        {
            errors.Add($"restore: snapshot '{Grammar.Printable(id)}' must be 8 to 64 lowercase hex digits");
        }

        return errors;
    }
}

/// <summary>A finished restore: which snapshot, what it became, and the safety snapshot of what it replaced (if any).</summary>
internal sealed record TenantRestoreResult(
    string SnapshotId, TenantBackupManifest Manifest, string Database, string Filestore, string? SafetySnapshotId, TimeSpan Elapsed);

/// <summary>The outcome of restoring a backup into a scratch database and filestore and checking them.</summary>
internal sealed record BackupVerification(
    string Tenant, string? SnapshotId, DateTimeOffset? SnapshotTime, DateTimeOffset VerifiedAt, bool Passed,
    IReadOnlyList<string> Problems, long Tables, long Modules, double Seconds);

/// <summary>
/// Restores tenant backups: restic restore of the snapshot into a private work directory, the
/// manifest read and the dump's size and sha256 checked against it, pg_restore into a database
/// created with the original owner and encoding, and the filestore copied into place (restic
/// verifies each restored file's content; the count and bytes are checked against the manifest).
/// In place, the current database and filestore are backed up first (kind=safety) and only then
/// replaced. Also verifies backups by restoring the newest into scratch and checking it.
/// </summary>
internal sealed partial class TenantRestore(
    ICommandRunner runner, Psql postgres, ResticRepository repository, TenantBackup backup, TimeProvider time, ILogger<TenantRestore> logger)
{
    public const string SafetyTag = "kind=safety";

    public TimeSpan RestoreTimeout { get; init; } = TimeSpan.FromHours(2);

    public async Task<TenantRestoreResult> RestoreAsync(TenantRestoreSpec spec, string host, CancellationToken ct)
    {
        if (spec.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(spec));
        }

        var started = time.GetTimestamp();
        var snapshot = await FindSnapshotAsync(spec.Tenant, spec.SnapshotId, ct);
        var databaseExists = await DatabaseExistsAsync(spec.TargetDatabase, ct);
        var filestoreExists = Directory.Exists(spec.TargetFilestore);
        if (!spec.InPlace && (databaseExists || filestoreExists))
        {
            throw new BackupFailedException(
                $"restore of tenant {spec.Tenant}: {(databaseExists ? $"database {spec.TargetDatabase}" : $"filestore {spec.TargetFilestore}")} already exists; "
                + "restore under a new name, or in place (which backs up what it replaces first)");
        }

        var work = BackupFiles.FreshPrivateDirectory(spec.WorkRoot, spec.Tenant);
        try
        {
            await repository.RestoreAsync(snapshot.Id, work, ct);
            var (manifest, staged) = await ReadRestoredManifestAsync(spec.Tenant, snapshot, work, ct);
            await CheckDumpAsync(manifest, staged, snapshot, ct);
            var restoredFilestore = Beneath(work, manifest.Filestore.Path);
            CheckFilestore(manifest, restoredFilestore, $"snapshot {snapshot.ShortId}");
            await CheckOwnerAsync(manifest, ct);

            string? safety = null;
            if (databaseExists || filestoreExists)
            {
                safety = await SafetyBackupAsync(spec, host, databaseExists, ct);
            }

            await RestoreDatabaseAsync(manifest, Path.Combine(staged, TenantBackupManifest.DumpFileName), spec.TargetDatabase, ct);
            await PlaceFilestoreAsync(manifest, restoredFilestore, spec.TargetFilestore, ct);
            var elapsed = time.GetElapsedTime(started);
            LogRestored(logger, spec.Tenant, snapshot.ShortId, spec.TargetDatabase, spec.TargetFilestore, safety ?? "none", elapsed.TotalSeconds);
            return new TenantRestoreResult(snapshot.Id, manifest, spec.TargetDatabase, spec.TargetFilestore, safety, elapsed);
        }
        finally
        {
            BackupFiles.DeleteQuietly(work);
        }
    }

    /// <summary>
    /// Restores the tenant's newest backup into <paramref name="scratchDatabase"/> and
    /// <paramref name="scratchFilestore"/> (leftovers of an earlier run are removed first), checks that
    /// its tables are there and its installed modules match the manifest, drops both and returns the
    /// result (also written to <paramref name="recordDirectory"/>/TENANT.json when given). A damaged
    /// backup is a failed verification, not an exception.
    /// </summary>
    public async Task<BackupVerification> VerifyNewestAsync(
        string tenant, string scratchDatabase, string scratchFilestore, string workRoot, string host, string? recordDirectory, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var spec = new TenantRestoreSpec(tenant, scratchDatabase, scratchFilestore) { WorkRoot = workRoot };
        if (spec.Validate() is { Count: > 0 } errors)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(tenant));
        }

        var problems = new List<string>();
        string? snapshotId = null;
        DateTimeOffset? snapshotTime = null;
        long tables = 0, modules = 0;
        await DropScratchAsync(scratchDatabase, scratchFilestore, ct);
        try
        {
            var snapshot = await FindSnapshotAsync(tenant, null, ct);
            (snapshotId, snapshotTime) = (snapshot.Id, snapshot.Time);
            var restored = await RestoreAsync(spec with { SnapshotId = snapshot.Id }, host, ct);
            var scratch = postgres.In(scratchDatabase);
            var counted = await scratch.QueryAsync(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public';\nSELECT (to_regclass('public.ir_module_module') IS NOT NULL)::text;\n",
                new Dictionary<string, string>(), 1, ct);
            tables = long.Parse(counted[0][0], CultureInfo.InvariantCulture);
            if (tables == 0)
            {
                problems.Add("the restored database has no tables in schema public");
            }

            if (counted[1][0] != "true")
            {
                problems.Add("the restored database has no ir_module_module table (not an Odoo database)");
            }
            else
            {
                var installed = await new OdooDatabases(runner, postgres).InstalledModulesAsync(scratchDatabase, ct);
                modules = installed.Count;
                var expected = restored.Manifest.Modules;
                var differ = installed.Where(m => !expected.TryGetValue(m.Key, out var v) || v != m.Value).Select(m => m.Key)
                    .Concat(expected.Keys.Where(k => !installed.ContainsKey(k)))
                    .Distinct()
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (differ.Count > 0)
                {
                    problems.Add($"installed modules differ from the manifest: {string.Join(", ", differ.Take(10))}");
                }
            }
        }
        catch (Exception e) when (e is BackupFailedException or CommandFailedException or ResourceFailedException)
        {
            problems.Add(e.Message);
        }
        finally
        {
            await DropScratchAsync(scratchDatabase, scratchFilestore, CancellationToken.None);
        }

        var verification = new BackupVerification(
            tenant, snapshotId, snapshotTime, time.GetUtcNow(), problems.Count == 0, problems, tables, modules, time.GetElapsedTime(started).TotalSeconds);
        if (recordDirectory is not null)
        {
            Directory.CreateDirectory(recordDirectory, FileModes.Mode0700);
            await AtomicFile.WriteAsync(
                Path.Combine(recordDirectory, tenant + ".json"),
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(verification, TenantBackupJsonContext.Default.BackupVerification), FileModes.Mode0600, ct);
        }

        LogVerified(logger, tenant, snapshotId ?? "none", verification.Passed, string.Join("; ", problems));
        return verification;
    }

    private async Task<ResticSnapshot> FindSnapshotAsync(string tenant, string? snapshotId, CancellationToken ct)
    {
        var snapshots = await repository.SnapshotsAsync([TenantBackup.TenantTag(tenant)], ct);
        var snapshot = snapshotId is null
            ? (snapshots.Count > 0 ? snapshots[^1] : null)
            : snapshots.SingleOrDefault(s => s.Id.StartsWith(snapshotId, StringComparison.Ordinal));
        return snapshot ?? throw new BackupFailedException(
            snapshotId is null
                ? $"tenant {tenant} has no backup in the repository at {repository.Location}; take one first"
                : $"snapshot {snapshotId} is not a backup of tenant {tenant} in the repository at {repository.Location}; list them with `restic snapshots --tag {TenantBackup.TenantTag(tenant)}`");
    }

    private static async Task<(TenantBackupManifest Manifest, string StagedDirectory)> ReadRestoredManifestAsync(
        string tenant, ResticSnapshot snapshot, string work, CancellationToken ct)
    {
        foreach (var path in snapshot.Paths)
        {
            var candidate = Path.Combine(Beneath(work, path), TenantBackupManifest.FileName);
            if (!File.Exists(candidate))
            {
                continue;
            }

            var manifest = TenantBackupManifest.Parse(await File.ReadAllTextAsync(candidate, ct), $"snapshot {snapshot.ShortId}");
            if (manifest.Tenant != tenant || manifest.StagingPath != path)
            {
                throw new BackupFailedException(
                    $"snapshot {snapshot.ShortId} is tagged for tenant {tenant} but its manifest is of tenant {manifest.Tenant} staged at {manifest.StagingPath}; the repository's tags are wrong");
            }

            return (manifest, Path.GetDirectoryName(candidate)!);
        }

        throw new BackupFailedException($"snapshot {snapshot.ShortId} of tenant {tenant} holds no {TenantBackupManifest.FileName}; it was not made by a tenant backup");
    }

    private static async Task CheckDumpAsync(TenantBackupManifest manifest, string staged, ResticSnapshot snapshot, CancellationToken ct)
    {
        var dump = Path.Combine(staged, TenantBackupManifest.DumpFileName);
        if (!File.Exists(dump))
        {
            throw new BackupFailedException($"snapshot {snapshot.ShortId} of tenant {manifest.Tenant} holds no {TenantBackupManifest.DumpFileName}");
        }

        var (bytes, sha256) = await BackupFiles.HashAsync(dump, ct);
        if (bytes != manifest.Dump.Bytes || sha256 != manifest.Dump.Sha256)
        {
            throw new BackupFailedException(
                $"the dump in snapshot {snapshot.ShortId} of tenant {manifest.Tenant} has {bytes} bytes with sha256 {sha256}, its manifest says {manifest.Dump.Bytes} bytes with {manifest.Dump.Sha256}; "
                + "the backup is damaged: restore an older snapshot and run `restic check --read-data`");
        }
    }

    private static void CheckFilestore(TenantBackupManifest manifest, string directory, string what)
    {
        var present = Directory.Exists(directory);
        var (files, bytes) = present ? BackupFiles.Measure(directory) : (0, 0);
        if (present != manifest.Filestore.Present || files != manifest.Filestore.Files || bytes != manifest.Filestore.Bytes)
        {
            throw new BackupFailedException(
                $"the filestore of {what} has {files} file(s) and {bytes} bytes{(present ? "" : " (absent)")}, the manifest of tenant {manifest.Tenant} says {manifest.Filestore.Files} and {manifest.Filestore.Bytes}; "
                + "the filestore changed while it was read or the backup is damaged");
        }
    }

    private async Task CheckOwnerAsync(TenantBackupManifest manifest, CancellationToken ct)
    {
        var rows = await postgres.QueryAsync("SELECT 1 FROM pg_roles WHERE rolname = :'owner';\n", new Dictionary<string, string> { ["owner"] = manifest.DatabaseOwner }, 1, ct);
        if (rows.Count == 0)
        {
            throw new BackupFailedException(
                $"restore of tenant {manifest.Tenant}: role {manifest.DatabaseOwner}, owner of the backed-up database, does not exist on PostgreSQL {postgres.Cluster}; converge the host (it creates the Odoo role) first");
        }
    }

    private async Task<string> SafetyBackupAsync(TenantRestoreSpec spec, string host, bool databaseExists, CancellationToken ct)
    {
        if (!databaseExists)
        {
            throw new BackupFailedException(
                $"restore of tenant {spec.Tenant} in place: filestore {spec.TargetFilestore} exists without database {spec.TargetDatabase}, so no safety backup can be taken; move the filestore away first");
        }

        var safety = await backup.RunAsync(
            new TenantBackupSpec(spec.Tenant, spec.TargetDatabase, spec.TargetFilestore) { StagingRoot = spec.WorkRoot + "-safety" }, host, runId: null, snapshotTime: null, ct, [SafetyTag]);
        return safety.SnapshotId;
    }

    private async Task RestoreDatabaseAsync(TenantBackupManifest manifest, string dump, string database, CancellationToken ct)
    {
        var variables = new Dictionary<string, string> { ["db"] = database, ["owner"] = manifest.DatabaseOwner, ["encoding"] = manifest.DatabaseEncoding };
        await postgres.ExecuteAsync("DROP DATABASE IF EXISTS :\"db\" WITH (FORCE);\n", variables, TimeSpan.FromMinutes(5), ct);
        await postgres.ExecuteAsync("CREATE DATABASE :\"db\" OWNER :\"owner\" TEMPLATE template0 ENCODING :'encoding';\n", variables, TimeSpan.FromMinutes(5), ct);
        var restore = new CommandSpec("pg_restore", ["--exit-on-error", "-Fc", "-p", postgres.Cluster.Port.ToString(CultureInfo.InvariantCulture), $"--dbname={database}"])
        {
            Timeout = RestoreTimeout,
            WorkingDirectory = "/",
            StandardInputPath = dump,
        }.AsUser(Psql.OsUser);
        var result = await runner.RunAsync(restore, ct);
        if (!result.Succeeded)
        {
            // Nothing half-restored is left to be mistaken for the tenant.
            await postgres.ExecuteAsync("DROP DATABASE IF EXISTS :\"db\" WITH (FORCE);\n", variables, TimeSpan.FromMinutes(5), CancellationToken.None);
            throw new BackupFailedException($"restore of tenant {manifest.Tenant}: pg_restore into {database} failed and the database was dropped: {result.Describe(restore)}");
        }
    }

    /// <summary>Copies the restored filestore next to the target, checks it, then swaps it in (the old one is in the safety snapshot).</summary>
    private async Task PlaceFilestoreAsync(TenantBackupManifest manifest, string restored, string target, CancellationToken ct)
    {
        var incoming = $"{target}.restoring-{AtomicFile.RandomSuffix()}";
        try
        {
            if (manifest.Filestore.Present)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);

                // cp -a keeps modes, owners and times (the files belong to the Odoo user).
                await runner.RunCheckedAsync(new CommandSpec("cp", ["-a", "--", restored, incoming]) { Timeout = RestoreTimeout }, ct);
                CheckFilestore(manifest, incoming, $"the copy at {incoming}");
            }

            if (Directory.Exists(target))
            {
                Directory.Delete(target, recursive: true);
            }

            if (manifest.Filestore.Present)
            {
                Directory.Move(incoming, target);
            }
        }
        finally
        {
            BackupFiles.DeleteQuietly(incoming);
        }
    }

    private async Task<bool> DatabaseExistsAsync(string database, CancellationToken ct) =>
        (await postgres.QueryAsync("SELECT 1 FROM pg_database WHERE datname = :'db';\n", new Dictionary<string, string> { ["db"] = database }, 1, ct)).Count > 0;

    private async Task DropScratchAsync(string database, string filestore, CancellationToken ct)
    {
        await postgres.ExecuteAsync("DROP DATABASE IF EXISTS :\"db\" WITH (FORCE);\n", new Dictionary<string, string> { ["db"] = database }, TimeSpan.FromMinutes(5), ct);
        BackupFiles.DeleteQuietly(filestore);
    }

    /// <summary>Where restic put an absolute path of the snapshot under the restore target.</summary>
    private static string Beneath(string work, string absolute) => work + absolute;

    [LoggerMessage(Level = LogLevel.Information,
        Message = "tenant {Tenant} restored from snapshot {SnapshotId} into database {Database} and filestore {Filestore} (safety snapshot {Safety}) in {Seconds:0.0} s")]
    private static partial void LogRestored(ILogger logger, string tenant, string snapshotId, string database, string filestore, string safety, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "verification of tenant {Tenant} snapshot {SnapshotId}: passed {Passed} {Problems}")]
    private static partial void LogVerified(ILogger logger, string tenant, string snapshotId, bool passed, string problems);
}
