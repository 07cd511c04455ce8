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
/// Moving a tenant away, on the source: once its site serves the maintenance page (this depends on
/// nginx), archive it (<see cref="TenantArchiveWriter"/>), bundle the archive into one tar and PUT it
/// to the controller with its sha256. A marker per move id makes it once: a converge after the
/// upload changes nothing, and one interrupted before the marker archives and uploads again (the
/// controller accepts the same archive twice and refuses a second, different one).
/// </summary>
internal sealed class TenantExportResource : Resource<TenantExportResource.Observed>
{
    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly TimeProvider time;
    private readonly IReleaseArtifactSource? controller;
    private readonly TenantMoveSpec spec;
    private readonly string uploadPath;

    public TenantExportResource(
        HostPaths paths, ICommandRunner runner, PostgresCluster cluster, TimeProvider time, IReleaseArtifactSource? controller, TenantMoveSpec spec, string uploadPath)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        (this.paths, this.runner, this.time, this.controller, this.spec, this.uploadPath) = (paths, runner, time, controller, spec, uploadPath);
        psql = new Psql(runner, cluster);
    }

    public TimeSpan DumpTimeout { get; init; } = TimeSpan.FromHours(2);

    internal sealed record Observed(bool Uploaded, bool DatabaseExists) : Observation;

    public override string Id => $"tenant-export:{spec.Name}";

    public override string Kind => "tenant-export";

    /// <summary>The marker of an archive uploaded for a move.</summary>
    public static string MarkerName(string moveId) => $".{moveId}.uploaded";

    private string Root => paths.Resolve(spec.WorkRoot);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync(
            "SELECT 1 FROM pg_database WHERE datname = :'name';\n", new Dictionary<string, string> { ["name"] = spec.Database }, 1, ct);
        return new Observed(File.Exists(Path.Combine(Root, MarkerName(spec.MoveId))), rows.Count > 0);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.Uploaded)
        {
            return null;
        }

        return observed.DatabaseExists
            ? new Change($"export tenant {spec.Name} for move {spec.MoveId}: pg_dump -Fc and filestore tar with a manifest (sha256), uploaded to the controller")
            : throw new ResourceFailedException($"tenant {spec.Name} cannot be exported for move {spec.MoveId}: its database {spec.Database} is not on this host");
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        if (controller is null)
        {
            throw new ResourceFailedException($"tenant {spec.Name}: a move's archive is uploaded by the agent service (odoofleet-agent run), not by a manual converge");
        }

        Directory.CreateDirectory(Root, FileModes.Mode0700);
        var work = Path.Combine(Root, spec.MoveId + ".out");
        var bundle = work + ".tar";
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work, FileModes.Mode0700);
        var filestore = paths.Resolve(spec.FilestorePath);
        var manifest = await TenantArchiveWriter.WriteAsync(
            runner, psql, spec.Name, spec.Database, spec.Database, Directory.Exists(filestore) ? filestore : null, spec.FilestorePath,
            work, time.GetUtcNow(), DumpTimeout, "move export", ct);
        var command = new CommandSpec(
            "tar", ["-cf", bundle, "-C", work, "--", .. manifest.Files.Select(f => f.Name), TenantArchiveWriter.ManifestFile]) { Timeout = DumpTimeout };
        await runner.RunCheckedAsync(command, ct);
        var sealedBundle = await TenantArchiveWriter.HashAsync(bundle, ct);
        try
        {
            await controller.UploadAsync(uploadPath, bundle, sealedBundle.Sha256, ct);
        }
        catch (ArtifactDownloadException e)
        {
            throw new ResourceFailedException($"tenant {spec.Name}: the archive for move {spec.MoveId} was not uploaded: {e.Message}");
        }

        await AtomicFile.WriteAsync(
            Path.Combine(Root, MarkerName(spec.MoveId)), System.Text.Encoding.UTF8.GetBytes(sealedBundle.Sha256 + "\n"), FileModes.Mode0600, ct);
        Directory.Delete(work, recursive: true);
        File.Delete(bundle);
        return $"tenant {spec.Name} exported for move {spec.MoveId}: {sealedBundle.Bytes} bytes, sha256 {sealedBundle.Sha256}, uploaded to the controller";
    }
}
