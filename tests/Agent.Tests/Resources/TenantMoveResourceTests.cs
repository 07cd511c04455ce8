using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Release;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// A tenant exported on one host and imported on another, on a real PostgreSQL cluster (pg_dump,
/// createdb, pg_restore, the rename) and real tar, with the source's and the target's file systems
/// under two temp roots. The controller between them keeps what was uploaded by path and checks
/// the declared sha256 the way the controller's endpoint does.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantMoveResourceTests(ScratchPostgres postgres) : IDisposable
{
    private readonly TempDirectory sourceRoot = new();
    private readonly TempDirectory targetRoot = new();
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 11, 0, 0, TimeSpan.Zero));
    private readonly string tenant = "t" + ScratchPostgres.Unique();
    private readonly string moveId = "m-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
    private readonly ArchiveRelay controller = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Filestore => $"/var/lib/odoo/filestore/{tenant}";

    private string UploadPath => $"/tenant-moves/{moveId}/archive";

    public void Dispose()
    {
        sourceRoot.Dispose();
        targetRoot.Dispose();
    }

    private TenantMoveSpec Spec => new(tenant, tenant, Filestore, moveId, TenantMoveSpec.DefaultWorkRoot);

    private TenantExportResource Export() =>
        new(new HostPaths(sourceRoot.Path), ScratchPostgres.Runner, postgres.Cluster, time, controller, Spec, UploadPath);

    private TenantImportResource Import(ReleaseArtifactRef archive) =>
        new(new HostPaths(targetRoot.Path), ScratchPostgres.Runner, postgres.Cluster, controller, Spec, archive, Psql.OsUser);

    private async Task<string?> ScalarAsync(string sql, string name) =>
        await postgres.ScalarAsync(sql, Ct, new Dictionary<string, string> { ["name"] = name });

    private async Task<bool> DatabaseExistsAsync(string name) =>
        await ScalarAsync("SELECT count(*) FROM pg_database WHERE datname = :'name';\n", name) == "1";

    private async Task CreateTenantAsync()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        await postgres.ExecuteAsync($"CREATE DATABASE \"{tenant}\";\n", Ct);
        await postgres.Psql.In(tenant).ExecuteAsync(
            "CREATE TABLE res_partner (name text); INSERT INTO res_partner VALUES ('written before the move');\n", new Dictionary<string, string>(), Ct);
        var attachment = new HostPaths(sourceRoot.Path).Resolve($"{Filestore}/ab/ab12");
        Directory.CreateDirectory(Path.GetDirectoryName(attachment)!);
        await File.WriteAllTextAsync(attachment, "an attachment written before the move", Ct);
    }

    /// <summary>Exports, then drops the source's database as the source does after the switch (same cluster plays the target).</summary>
    private async Task<ReleaseArtifactRef> ExportedAsync()
    {
        await CreateTenantAsync();
        var exported = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Export());
        Assert.Equal(ResourceStatus.Changed, exported.Status);
        await postgres.ExecuteAsync($"DROP DATABASE \"{tenant}\";\n", Ct);
        var (bytes, sha) = controller.Stored[UploadPath];
        return new ReleaseArtifactRef(UploadPath, sha, bytes.Length);
    }

    [Fact]
    public async Task ExportThenImport_DataWrittenBeforeIsThereOnTheTarget_SecondRunsChangeNothing()
    {
        await CreateTenantAsync();

        var exported = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Export());
        var exportedAgain = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Export());

        Assert.Equal(ResourceStatus.Changed, exported.Status);
        Assert.Equal(ResourceStatus.Unchanged, exportedAgain.Status);
        Assert.Equal(1, controller.Uploads);
        var workRoot = new HostPaths(sourceRoot.Path).Resolve(TenantMoveSpec.DefaultWorkRoot);
        Assert.Equal([TenantExportResource.MarkerName(moveId)], Directory.GetFileSystemEntries(workRoot).Select(Path.GetFileName));
        Assert.True(await DatabaseExistsAsync(tenant), "exporting leaves the source's database alone");

        await postgres.ExecuteAsync($"DROP DATABASE \"{tenant}\";\n", Ct);
        var (bytes, sha) = controller.Stored[UploadPath];
        var archive = new ReleaseArtifactRef(UploadPath, sha, bytes.Length);
        var imported = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Import(archive));
        var importedAgain = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Import(archive));

        Assert.Equal(ResourceStatus.Changed, imported.Status);
        Assert.Equal(ResourceStatus.Unchanged, importedAgain.Status);
        Assert.Equal("written before the move", await postgres.Psql.In(tenant).QueryAsync("SELECT name FROM res_partner;\n", new Dictionary<string, string>(), 1, Ct) is [[var name]] ? name : null);
        Assert.Equal("an attachment written before the move", await File.ReadAllTextAsync(new HostPaths(targetRoot.Path).Resolve($"{Filestore}/ab/ab12"), Ct));
        Assert.False(await DatabaseExistsAsync(tenant + "__moving"));
        Assert.Empty(Directory.GetFileSystemEntries(new HostPaths(targetRoot.Path).Resolve(TenantMoveSpec.DefaultWorkRoot)));
        await postgres.ExecuteAsync($"DROP DATABASE \"{tenant}\";\n", Ct);
    }

    [Fact]
    public async Task Import_ArchiveTamperedOnTheWay_FailsAndNothingIsRestored()
    {
        var archive = await ExportedAsync();
        var (bytes, sha) = controller.Stored[UploadPath];
        bytes[^100] ^= 0xff;
        controller.Stored[UploadPath] = (bytes, sha);

        var imported = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Import(archive));

        Assert.Equal(ResourceStatus.Failed, imported.Status);
        Assert.Contains("nothing was restored", imported.Message, StringComparison.Ordinal);
        Assert.False(await DatabaseExistsAsync(tenant));
        Assert.False(Directory.Exists(new HostPaths(targetRoot.Path).Resolve(Filestore)));
    }

    [Fact]
    public async Task Import_InterruptedBeforeTheRename_NextConvergeStartsCleanAndFinishes()
    {
        var archive = await ExportedAsync();
        var restoreFailsOnce = new FailOnceRunner(ScratchPostgres.Runner, "pg_restore");
        var interrupted = await ScratchPostgres.ConvergeAsync(
            ConvergeMode.Apply, Ct,
            new TenantImportResource(new HostPaths(targetRoot.Path), restoreFailsOnce, postgres.Cluster, controller, Spec, archive, Psql.OsUser));

        Assert.Equal(ResourceStatus.Failed, interrupted.Status);
        Assert.False(await DatabaseExistsAsync(tenant), "the tenant's name is taken only by a complete restore");
        Assert.True(await DatabaseExistsAsync(tenant + "__moving"));

        var resumed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Import(archive));

        Assert.Equal(ResourceStatus.Changed, resumed.Status);
        Assert.Equal("1", await ScalarAsync("SELECT count(*) FROM pg_database WHERE datname = :'name';\n", tenant));
        Assert.False(await DatabaseExistsAsync(tenant + "__moving"));
        Assert.Equal("1", await postgres.Psql.In(tenant).QueryAsync("SELECT count(*) FROM res_partner;\n", new Dictionary<string, string>(), 1, Ct) is [[var n]] ? n : null);
        await postgres.ExecuteAsync($"DROP DATABASE \"{tenant}\";\n", Ct);
    }

    /// <summary>Keeps uploads by path like the controller (refusing a body whose sha256 is not the declared one) and serves them back.</summary>
    private sealed class ArchiveRelay : IReleaseArtifactSource
    {
        public Dictionary<string, (byte[] Bytes, string Sha256)> Stored { get; } = [];

        public int Uploads { get; private set; }

        public async Task UploadAsync(string path, string file, string sha256, CancellationToken ct)
        {
            var bytes = await File.ReadAllBytesAsync(file, ct);
            if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != sha256)
            {
                throw new ArtifactDownloadException($"{path}: HTTP 422 sha256 differs");
            }

            Stored[path] = (bytes, sha256);
            Uploads++;
        }

        public async Task DownloadAsync(string path, Func<Stream, CancellationToken, Task> consume, CancellationToken ct)
        {
            if (!Stored.TryGetValue(path, out var stored))
            {
                throw new ArtifactDownloadException($"{path}: HTTP 404");
            }

            await using var body = new MemoryStream(stored.Bytes, writable: false);
            await consume(body, ct);
        }
    }

    private sealed class FailOnceRunner(ICommandRunner real, string program) : ICommandRunner
    {
        private bool failed;

        public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            var name = spec.Program == "runuser" ? spec.Arguments[3] : spec.Program;
            if (!failed && name == program)
            {
                failed = true;
                return Task.FromResult(new CommandResult(1, "", $"{program}: failed on purpose", false));
            }

            return real.RunAsync(spec, ct);
        }
    }
}
