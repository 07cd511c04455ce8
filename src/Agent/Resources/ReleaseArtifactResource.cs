using System.Security.Cryptography;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A release "&lt;releases&gt;/&lt;series&gt;-&lt;commit&gt;" unpacked from the controller's artifact (a gzip tar
/// of the source tree, plus wheelhouse/ when the release has requirements). Downloaded to a staging
/// file and checked against the spec's size and sha256, its member names checked on the listing,
/// unpacked into a staging directory and renamed into place: a half-fetched or tampered release is
/// never visible under its real name. A marker file records the artifact's sha256; a clone of the
/// same commit (from before artifacts) counts as that release too, so a running tree is not replaced.
/// </summary>
internal sealed class ReleaseArtifactResource : Resource<ReleaseArtifactResource.Observed>
{
    internal const string MarkerName = ".odoofleet-release";

    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly IReleaseArtifactSource? source;
    private readonly string releasesDir;
    private readonly ReleaseRef release;
    private readonly ReleaseArtifactRef artifact;

    public ReleaseArtifactResource(
        HostPaths paths, ICommandRunner runner, IReleaseArtifactSource? source, string releasesDir, ReleaseRef release, ReleaseArtifactRef artifact)
    {
        var errors = new[] { SpecValidator.CheckSeries(release.Series), SpecValidator.CheckCommit(release.Commit) }
            .OfType<string>().Concat(SpecValidator.CheckArtifact(artifact)).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.paths = paths;
        this.runner = runner;
        this.source = source;
        this.releasesDir = releasesDir;
        this.release = release;
        this.artifact = artifact;
    }

    internal sealed record Observed(bool Exists, string? Sha256, bool SameCommitClone, IReadOnlyList<string> StaleStaging) : Observation;

    public override string Id => $"release:{release.DirectoryName}";

    public override string Kind => "release";

    public string ReleasePath => $"{releasesDir}/{release.DirectoryName}";

    public TimeSpan TarTimeout { get; init; } = TimeSpan.FromMinutes(10);

    private string FullPath => paths.Resolve(ReleasePath);

    private string FullReleasesDir => paths.Resolve(releasesDir);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var stale = Directory.Exists(FullReleasesDir)
            ? Directory.GetFileSystemEntries(FullReleasesDir, $"{ReleaseCheckoutResource.StagingPrefix}{release.DirectoryName}-*").Order(StringComparer.Ordinal).ToList()
            : [];
        if (!Directory.Exists(FullPath))
        {
            return new Observed(false, null, false, stale);
        }

        var marker = Path.Combine(FullPath, MarkerName);
        if (File.Exists(marker))
        {
            return new Observed(true, ParseMarker(await File.ReadAllTextAsync(marker, ct)), false, stale);
        }

        var clone = false;
        if (Directory.Exists(Path.Combine(FullPath, ".git")))
        {
            var head = await runner.RunAsync(new CommandSpec("git", ["-c", $"safe.directory={FullPath}", "-C", FullPath, "rev-parse", "HEAD"]), ct);
            clone = head.Succeeded && head.Stdout.Trim() == release.Commit;
        }

        return new Observed(true, null, clone, stale);
    }

    private bool IsInPlace(Observed observed) => observed.Exists && (observed.Sha256 == artifact.Sha256 || observed.SameCommitClone);

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var parts = new List<string>();
        if (!observed.Exists)
        {
            parts.Add($"download {artifact.Path} ({artifact.SizeBytes} bytes, sha256 {artifact.Sha256[..12]}…) and unpack it into {ReleasePath}");
        }
        else if (!IsInPlace(observed))
        {
            parts.Add($"replace {ReleasePath}: it was not unpacked from artifact sha256 {artifact.Sha256[..12]}… (marker {observed.Sha256 ?? "missing"})");
        }

        if (observed.StaleStaging.Count > 0)
        {
            parts.Add($"remove {observed.StaleStaging.Count} stale staging entr(ies)");
        }

        return parts.Count == 0 ? null : new Change(string.Join("; ", parts));
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        foreach (var stale in observed.StaleStaging)
        {
            if (Directory.Exists(stale))
            {
                Directory.Delete(stale, recursive: true);
            }
            else
            {
                File.Delete(stale);
            }
        }

        if (IsInPlace(observed))
        {
            return null;
        }

        if (source is null)
        {
            throw new ResourceFailedException($"{ReleasePath} must be downloaded from the controller ({artifact.Path}); only the agent service can, run the converge there");
        }

        Directory.CreateDirectory(FullReleasesDir);
        var stagingName = $"{ReleaseCheckoutResource.StagingPrefix}{release.DirectoryName}-{AtomicFile.RandomSuffix()}";
        var staging = Path.Combine(FullReleasesDir, stagingName);
        var download = staging + ".tar.gz";
        try
        {
            await DownloadVerifiedAsync(source, download, ct);
            var listing = await runner.RunCheckedAsync(new CommandSpec("tar", ["-t", "-z", "-f", download]) { Timeout = TarTimeout }, ct);
            if (TarMembers.FindUnsafe(listing.Stdout.Split('\n')) is { } bad)
            {
                throw new ResourceFailedException($"release artifact {artifact.Path}: {bad}; refusing to unpack it (rebuild the artifact on the controller)");
            }

            Directory.CreateDirectory(staging);
            await runner.RunCheckedAsync(
                new CommandSpec("tar", ["-x", "-z", "--no-same-owner", "-f", download, "-C", staging]) { Timeout = TarTimeout }, ct);
            await File.WriteAllTextAsync(
                Path.Combine(staging, MarkerName),
                $"# Managed by odoofleet-agent: this release was unpacked from the artifact below.\nsha256 = {artifact.Sha256}\n",
                ct);
            if (observed.Exists)
            {
                // A different tree under the real name: swap it out, then delete it.
                var trash = Path.Combine(FullReleasesDir, $".trash-{release.DirectoryName}-{AtomicFile.RandomSuffix()}");
                Directory.Move(FullPath, trash);
                Native.Rename(staging, FullPath);
                Directory.Delete(trash, recursive: true);
            }
            else
            {
                Native.Rename(staging, FullPath);
            }

            Native.FsyncDirectory(FullReleasesDir);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            AtomicFile.TryDelete(download);
        }

        return null;
    }

    /// <summary>Streams the artifact into <paramref name="file"/>, hashing as it goes; a wrong size or hash deletes it and throws.</summary>
    private async Task DownloadVerifiedAsync(IReleaseArtifactSource from, string file, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        try
        {
            await from.DownloadAsync(
                artifact.Path,
                async (body, token) =>
                {
                    var options = new FileStreamOptions
                    {
                        Mode = FileMode.CreateNew,
                        Access = FileAccess.Write,
                        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                    };
                    await using var output = new FileStream(file, options);
                    var buffer = new byte[81920];
                    int read;
                    while ((read = await body.ReadAsync(buffer, token)) > 0)
                    {
                        size += read;
                        if (size > artifact.SizeBytes)
                        {
                            throw new ResourceFailedException(
                                $"release artifact {artifact.Path}: more than the expected {artifact.SizeBytes} bytes; the download was deleted (the controller's file differs from what it recorded: rebuild the artifact)");
                        }

                        hash.AppendData(buffer, 0, read);
                        await output.WriteAsync(buffer.AsMemory(0, read), token);
                    }

                    output.Flush(flushToDisk: true);
                },
                ct);
        }
        catch (ArtifactDownloadException e)
        {
            AtomicFile.TryDelete(file);
            throw new ResourceFailedException(e.Message);
        }
        catch
        {
            AtomicFile.TryDelete(file);
            throw;
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        string? error = null;
        if (size != artifact.SizeBytes)
        {
            error = $"release artifact {artifact.Path}: size is {size} bytes, expected {artifact.SizeBytes}";
        }
        else if (actual != artifact.Sha256)
        {
            error = $"release artifact {artifact.Path}: sha256 is {actual}, expected {artifact.Sha256}";
        }

        if (error is not null)
        {
            AtomicFile.TryDelete(file);
            throw new ResourceFailedException($"{error}; the download was deleted (a truncated transfer or a changed file on the controller: retry, or rebuild the artifact)");
        }
    }

    private static string? ParseMarker(string text) =>
        text.Split('\n').Select(line => line.Trim()).Where(line => line.StartsWith("sha256 = ", StringComparison.Ordinal))
            .Select(line => line["sha256 = ".Length..]).FirstOrDefault();
}
