using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Moving a tenant in, on the target: the database does not exist yet, so download the move's
/// archive from the controller (sha256 checked, then every file against the manifest), put the
/// filestore in place, restore the dump into a scratch database owned by the Odoo role and rename
/// it to the tenant's name last. The database existing is what "imported" means: a converge
/// interrupted anywhere before the rename starts again from a clean slate.
/// </summary>
internal sealed class TenantImportResource : Resource<TenantImportResource.Observed>
{
    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly IReleaseArtifactSource? controller;
    private readonly TenantMoveSpec spec;
    private readonly ReleaseArtifactRef archive;
    private readonly string owner;

    public TenantImportResource(
        HostPaths paths, ICommandRunner runner, PostgresCluster cluster, IReleaseArtifactSource? controller, TenantMoveSpec spec, ReleaseArtifactRef archive, string owner)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).Concat(SpecValidator.CheckArtifact(archive)).ToList();
        if (!Grammar.IsUnixName(owner))
        {
            errors.Add($"tenants.{Grammar.Printable(spec.Name)}: owner '{Grammar.Printable(owner)}' is not a role name");
        }

        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        (this.paths, this.runner, this.controller, this.spec, this.archive, this.owner) = (paths, runner, controller, spec, archive, owner);
        psql = new Psql(runner, cluster);
    }

    public TimeSpan RestoreTimeout { get; init; } = TimeSpan.FromHours(2);

    internal sealed record Observed(bool DatabaseExists) : Observation;

    public override string Id => $"tenant-import:{spec.Name}";

    public override string Kind => "tenant-import";

    /// <summary>Where the dump is restored before it takes the tenant's name ('_' never occurs in tenant names).</summary>
    public string ScratchDatabase => spec.Database + "__moving";

    private string Root => paths.Resolve(spec.WorkRoot);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync(
            "SELECT 1 FROM pg_database WHERE datname = :'name';\n", new Dictionary<string, string> { ["name"] = spec.Database }, 1, ct);
        return new Observed(rows.Count > 0);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
        observed.DatabaseExists
            ? null
            : new Change($"import tenant {spec.Name} for move {spec.MoveId}: download its archive ({archive.SizeBytes} bytes, sha256 {archive.Sha256[..12]}…), restore database and filestore");

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        if (controller is null)
        {
            throw new ResourceFailedException($"tenant {spec.Name}: a move's archive is downloaded by the agent service (odoofleet-agent run), not by a manual converge");
        }

        Directory.CreateDirectory(Root, FileModes.Mode0700);
        var work = Path.Combine(Root, spec.MoveId + ".in");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work, FileModes.Mode0700);
        var bundle = Path.Combine(work, "archive.tar");
        await DownloadAsync(bundle, ct);
        await runner.RunCheckedAsync(new CommandSpec("tar", ["-xf", bundle, "-C", work, "--", TenantArchiveWriter.ManifestFile]) { Timeout = RestoreTimeout }, ct);
        var listed = await TenantArchiveWriter.ReadManifestAsync(work, ct);
        await runner.RunCheckedAsync(new CommandSpec("tar", ["-xf", bundle, "-C", work, "--", .. listed.Files.Select(f => f.Name)]) { Timeout = RestoreTimeout }, ct);
        File.Delete(bundle);
        var manifest = await TenantArchiveWriter.VerifyAsync(work, ct);
        if (manifest.Tenant != spec.Name || manifest.Database != spec.Database)
        {
            throw new ResourceFailedException($"the archive of move {spec.MoveId} holds tenant '{Grammar.Printable(manifest.Tenant)}', not {spec.Name}; nothing was restored");
        }

        await RestoreFilestoreAsync(work, manifest, ct);
        await RestoreDatabaseAsync(work, manifest, ct);
        Directory.Delete(work, recursive: true);
        return $"tenant {spec.Name} imported for move {spec.MoveId} (database and {(manifest.Files.Any(f => f.Name == TenantArchiveWriter.FilestoreFile) ? "filestore" : "no filestore")})";
    }

    private async Task DownloadAsync(string bundle, CancellationToken ct)
    {
        try
        {
            await controller!.DownloadAsync(archive.Path, async (body, token) =>
            {
                await using var file = new FileStream(bundle, FileMode.Create, FileAccess.Write, FileShare.None);
                await body.CopyToAsync(file, token);
                file.Flush(flushToDisk: true);
            }, ct);
        }
        catch (ArtifactDownloadException e)
        {
            throw new ResourceFailedException($"tenant {spec.Name}: the archive of move {spec.MoveId} was not downloaded: {e.Message}");
        }

        var got = await TenantArchiveWriter.HashAsync(bundle, ct);
        if (got.Sha256 != archive.Sha256 || got.Bytes != archive.SizeBytes)
        {
            throw new ResourceFailedException(
                $"the archive of move {spec.MoveId} arrived with {got.Bytes} bytes and sha256 {got.Sha256}, the controller announced {archive.SizeBytes} bytes with {archive.Sha256}; nothing was restored");
        }
    }

    private async Task RestoreFilestoreAsync(string work, TenantArchiveManifest manifest, CancellationToken ct)
    {
        var filestore = paths.Resolve(spec.FilestorePath);
        if (Directory.Exists(filestore))
        {
            // The database is not here (observed), so this is what an interrupted import left.
            Directory.Delete(filestore, recursive: true);
        }

        if (manifest.Files.All(f => f.Name != TenantArchiveWriter.FilestoreFile))
        {
            return;
        }

        var parent = Path.GetDirectoryName(filestore)!;
        Directory.CreateDirectory(parent);
        var tar = Path.Combine(work, TenantArchiveWriter.FilestoreFile);
        var listing = await runner.RunCheckedAsync(new CommandSpec("tar", ["-tf", tar]) { Timeout = RestoreTimeout }, ct);
        var prefix = Path.GetFileName(filestore) + "/";
        var stray = listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(entry => entry != Path.GetFileName(filestore) && !entry.StartsWith(prefix, StringComparison.Ordinal) || entry.Contains("..", StringComparison.Ordinal));
        if (stray is not null)
        {
            throw new ResourceFailedException($"the filestore tar of move {spec.MoveId} has '{Grammar.Printable(stray)}' outside {prefix}; nothing was restored");
        }

        await runner.RunCheckedAsync(new CommandSpec("tar", ["-xf", tar, "--no-same-owner", "-C", parent, "--", Path.GetFileName(filestore)]) { Timeout = RestoreTimeout }, ct);
        await runner.RunCheckedAsync(new CommandSpec("chown", ["-R", $"{owner}:{owner}", "--", filestore]), ct);
        Native.FsyncDirectory(parent);
    }

    private async Task RestoreDatabaseAsync(string work, TenantArchiveManifest manifest, CancellationToken ct)
    {
        if (manifest.Files.All(f => f.Name != TenantArchiveWriter.DumpFile))
        {
            throw new ResourceFailedException($"the archive of move {spec.MoveId} has no {TenantArchiveWriter.DumpFile}; nothing was restored");
        }

        var port = psql.Cluster.Port.ToString(CultureInfo.InvariantCulture);
        await runner.RunCheckedAsync(
            new CommandSpec("dropdb", ["--force", "--if-exists", "-p", port, "--", ScratchDatabase]) { WorkingDirectory = "/", Timeout = TimeSpan.FromMinutes(5) }.AsUser(Psql.OsUser), ct);
        await runner.RunCheckedAsync(
            new CommandSpec("createdb", ["-p", port, "-O", owner, "--", ScratchDatabase]) { WorkingDirectory = "/" }.AsUser(Psql.OsUser), ct);
        // The dump is read by the agent and fed on stdin: the postgres user never needs to read the work directory.
        var restore = new CommandSpec("pg_restore", ["-p", port, "--no-owner", $"--role={owner}", "--exit-on-error", $"--dbname={ScratchDatabase}"])
        {
            WorkingDirectory = "/",
            Timeout = RestoreTimeout,
            StandardInputPath = Path.Combine(work, TenantArchiveWriter.DumpFile),
        }.AsUser(Psql.OsUser);
        var restored = await runner.RunAsync(restore, ct);
        if (!restored.Succeeded)
        {
            throw new ResourceFailedException($"restoring database {spec.Database} for move {spec.MoveId} failed: {restored.Describe(restore)}");
        }

        await psql.ExecuteAsync(
            "ALTER DATABASE :\"scratch\" RENAME TO :\"name\";\n",
            new Dictionary<string, string> { ["scratch"] = ScratchDatabase, ["name"] = spec.Database },
            ct);
    }
}
