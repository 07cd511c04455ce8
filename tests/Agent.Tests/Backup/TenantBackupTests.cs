using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Backup;
using OdooFleet.Agent.Tests.Resources;

namespace OdooFleet.Agent.Tests.Backup;

/// <summary>Tenant backup and restore with the real pg_dump, pg_restore and restic, on the scratch PostgreSQL cluster.</summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantBackupTests(ScratchPostgres postgres) : IAsyncLifetime
{
    private const string Host = "web-01";

    private readonly ResticTestRepository restic = new();
    private readonly string suffix = ScratchPostgres.Unique();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Owner => $"odoo_{suffix}";

    private string Tenant => $"acme-{suffix}";

    private string Filestore => restic.Temp.Combine("data", "filestore", Tenant);

    private TenantBackupSpec Spec => new(Tenant, Tenant, Filestore)
    {
        StagingRoot = restic.Temp.Combine("staging"),
        OdooSeries = "18.0",
        OdooCommit = "0123456789abcdef0123456789abcdef01234567",
    };

    public async ValueTask InitializeAsync()
    {
        if (postgres.SkipReason is not null || !ResticTestRepository.Installed)
        {
            return;
        }

        await restic.Repository.InitAsync(Ct);
        await postgres.ExecuteAsync($"CREATE ROLE {Owner} LOGIN;\nCREATE DATABASE \"{Tenant}\" OWNER {Owner};\n", Ct);
        await postgres.Psql.In(Tenant).ExecuteAsync(
            $"SET ROLE {Owner};\n"
            + "CREATE TABLE ir_module_module (name text PRIMARY KEY, latest_version text, state text);\n"
            + "INSERT INTO ir_module_module VALUES ('base', '18.0.1.3', 'installed'), ('web', '18.0.1.0', 'installed'), ('sale', NULL, 'uninstalled');\n"
            + "CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL, note text, blob bytea);\n"
            + "INSERT INTO res_partner (name, note, blob) SELECT 'partner ' || g, repeat(md5(g::text), 20), decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g;\n",
            new Dictionary<string, string>(), Ct);
        foreach (var (name, size) in new[] { ("3f/3f2a9c", 70_000), ("3f/3f99aa", 12), ("a0/a01bcd", 300_000), ("checklist", 0) })
        {
            var path = Path.Combine(Filestore, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, RandomNumberGenerator.GetBytes(size), Ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (postgres.SkipReason is null)
        {
            await postgres.ExecuteAsync(
                $"DROP DATABASE IF EXISTS \"{Tenant}\" WITH (FORCE);\nDROP DATABASE IF EXISTS \"{Tenant}-copy\" WITH (FORCE);\nDROP DATABASE IF EXISTS \"{Tenant}-verify\" WITH (FORCE);\nDROP ROLE IF EXISTS {Owner};\n",
                CancellationToken.None);
        }

        restic.Dispose();
    }

    [Fact]
    public async Task BackupThenRestore_DatabaseDroppedAndFilestoreDeleted_RowsAndFilesComeBackIdentical()
    {
        SkipUnlessReady();
        var (backup, restore) = Services();
        var rowsBefore = await RowsAsync(Tenant);
        var filesBefore = HashTree(Filestore);
        var encodingSql = $"SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = '{Tenant}';\n";
        var encodingBefore = await postgres.ScalarAsync(encodingSql, Ct);

        var result = await backup.RunAsync(Spec, Host, runId: null, snapshotTime: null, Ct);
        await postgres.ExecuteAsync($"DROP DATABASE \"{Tenant}\" WITH (FORCE);\n", Ct);
        Directory.Delete(Filestore, recursive: true);
        var restored = await restore.RestoreAsync(new TenantRestoreSpec(Tenant, Tenant, Filestore) { WorkRoot = restic.Temp.Combine("work") }, Host, Ct);

        Assert.Equal(rowsBefore, await RowsAsync(Tenant));
        Assert.Equal(filesBefore, HashTree(Filestore));
        Assert.Equal(Owner, await postgres.ScalarAsync($"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{Tenant}';\n", Ct));
        Assert.Equal(result.SnapshotId[..8], restored.SnapshotId[..8]);
        Assert.Null(restored.SafetySnapshotId);
        Assert.Equal(encodingBefore, await postgres.ScalarAsync(encodingSql, Ct));
        var manifest = result.Manifest;
        Assert.Equal((Tenant, Tenant, Owner, encodingBefore, "18.0"), (manifest.Tenant, manifest.Database, manifest.DatabaseOwner, manifest.DatabaseEncoding, manifest.OdooSeries));
        Assert.Equal(new Dictionary<string, string> { ["base"] = "18.0.1.3", ["web"] = "18.0.1.0" }, manifest.Modules.ToDictionary());
        Assert.Equal((4L, 370_012L), (manifest.Filestore.Files, manifest.Filestore.Bytes));
        Assert.True(manifest.Dump.Bytes > 2000 * 16); // uncompressed (-Z0): at least the bytea column's raw bytes
        Assert.False(Directory.Exists(Spec.StagingPath)); // staging is cleaned up
        Assert.False(Directory.Exists(restic.Temp.Combine("work", Tenant)));
        var snapshot = Assert.Single(await restic.Repository.SnapshotsAsync([TenantBackup.TenantTag(Tenant)], Ct));
        Assert.Equal(new[] { Spec.StagingPath, Filestore }.Order(StringComparer.Ordinal), snapshot.Paths.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RestoreAsync_InPlaceAfterChanges_TakesSafetyBackupThenPutsBackTheSnapshot()
    {
        SkipUnlessReady();
        var (backup, restore) = Services();
        var rowsBefore = await RowsAsync(Tenant);
        var filesBefore = HashTree(Filestore);
        await backup.RunAsync(Spec, Host, runId: null, snapshotTime: null, Ct);
        await postgres.Psql.In(Tenant).ExecuteAsync("DELETE FROM res_partner WHERE id % 3 = 0;\n", new Dictionary<string, string>(), Ct);
        await File.WriteAllTextAsync(Path.Combine(Filestore, "3f", "3f99aa"), "overwritten", Ct);
        await File.WriteAllTextAsync(Path.Combine(Filestore, "new-file"), "added after the backup", Ct);
        var rowsChanged = await RowsAsync(Tenant);

        var notInPlace = await Assert.ThrowsAsync<BackupFailedException>(
            () => restore.RestoreAsync(new TenantRestoreSpec(Tenant, Tenant, Filestore) { WorkRoot = restic.Temp.Combine("work") }, Host, Ct));
        var restored = await restore.RestoreAsync(new TenantRestoreSpec(Tenant, Tenant, Filestore) { WorkRoot = restic.Temp.Combine("work"), InPlace = true }, Host, Ct);

        Assert.Contains($"database {Tenant} already exists", notInPlace.Message, StringComparison.Ordinal);
        Assert.Equal(rowsBefore, await RowsAsync(Tenant));
        Assert.Equal(filesBefore, HashTree(Filestore));
        Assert.NotNull(restored.SafetySnapshotId);
        var safety = Assert.Single(await restic.Repository.SnapshotsAsync([TenantBackup.TenantTag(Tenant), TenantRestore.SafetyTag], Ct));
        Assert.Equal(restored.SafetySnapshotId![..8], safety.ShortId);

        // The safety snapshot holds what was replaced: restored under a new name, it is the changed tenant.
        await restore.RestoreAsync(
            new TenantRestoreSpec(Tenant, $"{Tenant}-copy", restic.Temp.Combine("copy")) { WorkRoot = restic.Temp.Combine("work"), SnapshotId = safety.Id }, Host, Ct);
        Assert.Equal(rowsChanged, await RowsAsync($"{Tenant}-copy"));
        Assert.Equal("added after the backup", await File.ReadAllTextAsync(restic.Temp.Combine("copy", "new-file"), Ct));
    }

    [Fact]
    public async Task RunAsync_SameRunIdTwiceAndLeftoverStaging_OneSnapshotAndLeftoverReplaced()
    {
        SkipUnlessReady();
        var (backup, _) = Services();
        Directory.CreateDirectory(Spec.StagingPath);
        await File.WriteAllTextAsync(Path.Combine(Spec.StagingPath, "database.dump"), "half a dump from a killed run", Ct);

        var first = await backup.RunAsync(Spec, Host, "cmd-42", snapshotTime: null, Ct);
        var second = await backup.RunAsync(Spec, Host, "cmd-42", snapshotTime: null, Ct);

        Assert.False(first.Reused);
        Assert.True(second.Reused);
        Assert.StartsWith(first.SnapshotId, second.SnapshotId, StringComparison.Ordinal);
        Assert.Equal(first.Manifest.Dump, second.Manifest.Dump);
        Assert.Single(await restic.Repository.SnapshotsAsync([TenantBackup.TenantTag(Tenant)], Ct));
    }

    [Fact]
    public async Task VerifyNewestAsync_GoodBackup_PassesRecordsAndDropsScratch()
    {
        SkipUnlessReady();
        var (backup, restore) = Services();
        await backup.RunAsync(Spec, Host, runId: null, snapshotTime: null, Ct);
        var records = restic.Temp.Combine("verifications");

        var verification = await restore.VerifyNewestAsync(
            Tenant, $"{Tenant}-verify", restic.Temp.Combine("verify-filestore"), restic.Temp.Combine("work"), Host, records, Ct);

        Assert.True(verification.Passed, string.Join("; ", verification.Problems));
        Assert.Equal((1L, 2L), (verification.Tables - 1, verification.Modules)); // ir_module_module and res_partner
        Assert.Equal("", await postgres.ScalarAsync($"SELECT datname FROM pg_database WHERE datname = '{Tenant}-verify';\n", Ct));
        Assert.False(Directory.Exists(restic.Temp.Combine("verify-filestore")));
        Assert.Contains("\"passed\": true", await File.ReadAllTextAsync(Path.Combine(records, Tenant + ".json"), Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyNewestAsync_PackFileDamaged_FailsNamingTheRestoreAndLeavesNoScratch()
    {
        SkipUnlessReady();
        var (backup, restore) = Services();
        await backup.RunAsync(Spec, Host, runId: null, snapshotTime: null, Ct);
        var pack = new DirectoryInfo(restic.Temp.Combine("repo", "data")).EnumerateFiles("*", SearchOption.AllDirectories).MaxBy(f => f.Length)!;
        var bytes = await File.ReadAllBytesAsync(pack.FullName, Ct);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.SetUnixFileMode(pack.FullName, OdooFleet.Agent.Engine.FileModes.Mode0600);
        await File.WriteAllBytesAsync(pack.FullName, bytes, Ct);

        var verification = await restore.VerifyNewestAsync(
            Tenant, $"{Tenant}-verify", restic.Temp.Combine("verify-filestore"), restic.Temp.Combine("work"), Host, null, Ct);

        Assert.False(verification.Passed);
        Assert.Contains(verification.Problems, p => p.Contains("restore of snapshot", StringComparison.Ordinal));
        Assert.Equal("", await postgres.ScalarAsync($"SELECT datname FROM pg_database WHERE datname = '{Tenant}-verify';\n", Ct));
    }

    private void SkipUnlessReady()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        Assert.SkipUnless(ResticTestRepository.Installed, "restic is not installed");
    }

    private (TenantBackup Backup, TenantRestore Restore) Services()
    {
        var backup = new TenantBackup(ScratchPostgres.Runner, postgres.Psql, restic.Repository, TimeProvider.System, NullLogger<TenantBackup>.Instance);
        return (backup, new TenantRestore(ScratchPostgres.Runner, postgres.Psql, restic.Repository, backup, TimeProvider.System, NullLogger<TenantRestore>.Instance));
    }

    /// <summary>Every row of the tenant's tables, in order, as text (bytea included).</summary>
    private async Task<IReadOnlyList<string>> RowsAsync(string database)
    {
        var rows = await postgres.Psql.In(database).QueryAsync(
            "SELECT r::text FROM res_partner r ORDER BY id;\nSELECT m::text FROM ir_module_module m ORDER BY name;\n", new Dictionary<string, string>(), 1, Ct);
        return [.. rows.Select(r => r[0])];
    }

    /// <summary>Relative path → sha256 of every file under a directory.</summary>
    private static SortedDictionary<string, string> HashTree(string root) =>
        new(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);
}
