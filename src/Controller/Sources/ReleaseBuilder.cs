using System.Collections.Concurrent;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Sources;

internal sealed class ReleaseBuildException(string message) : Exception(message);

/// <summary>
/// Builds a release artifact once: the commit's tree (`git fetch --depth 1` into a cache
/// repository, `git archive`), plus `wheelhouse/` when requirements.txt has real lines, as one
/// .tar.gz under the data directory, its sha256 recorded in PostgreSQL. One builder per release
/// (a lock per release in this process and a lock file across processes), written to a temporary
/// name and renamed into place, so a reader never sees half a file. A controller that lacks the
/// file rebuilds it and refuses it unless it matches the recorded sha256.
/// </summary>
internal sealed partial class ReleaseBuilder(ReleaseStore store, IOptions<FleetOptions> options, TimeProvider time, ILogger<ReleaseBuilder> logger) : IDisposable
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan WheelTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(200);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> locks = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim cacheRepositoryLock = new(1, 1);

    public static string FileName(OdooRelease release) => $"{release.Series}-{release.Commit}.tar.gz";

    public static string UrlPath(OdooRelease release) => $"/releases/{FileName(release)}";

    public string ReleaseDirectory => Path.Combine(options.Value.DataDirectory, "releases");

    public string PathOf(OdooRelease release) => Path.Combine(ReleaseDirectory, FileName(release));

    /// <summary>The release's artifact, built now if this controller does not have it yet.</summary>
    public async Task<ReleaseArtifact> EnsureAsync(OdooRelease release, CancellationToken ct)
    {
        var gate = locks.GetOrAdd(FileName(release), _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            Directory.CreateDirectory(ReleaseDirectory);
            await using var crossProcess = await LockFileAsync(release, ct);
            var recorded = await store.FindAsync(release, ct);
            var path = PathOf(release);
            if (recorded is not null && File.Exists(path))
            {
                return new ReleaseArtifact(UrlPath(release), recorded.Sha256, recorded.SizeBytes);
            }

            var built = await BuildAsync(release, ct);
            try
            {
                var (sha256, size) = await HashAsync(built, ct);
                if (recorded is not null && recorded.Sha256 != sha256)
                {
                    throw new ReleaseBuildException(
                        $"release {release}: the rebuilt artifact has sha256 {sha256}, but {recorded.Sha256} was recorded when it was first built; " +
                        "agents would refuse it. Copy the file from a controller that has it into " + ReleaseDirectory);
                }

                File.Move(built, path, overwrite: true);
                var stands = await store.RecordAsync(release, sha256, size, time.GetUtcNow(), ct);
                if (stands.Sha256 != sha256)
                {
                    File.Delete(path);
                    throw new ReleaseBuildException($"release {release}: another controller recorded sha256 {stands.Sha256} first, this build made {sha256}");
                }

                LogBuilt(logger, release.ToString(), sha256, size);
                return new ReleaseArtifact(UrlPath(release), sha256, size);
            }
            finally
            {
                File.Delete(built);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<FileStream> LockFileAsync(OdooRelease release, CancellationToken ct)
    {
        var path = Path.Combine(ReleaseDirectory, $".{FileName(release)}.lock");
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                // Another controller process on this machine is building this release: wait for it.
                await Task.Delay(LockPoll, time, ct);
            }
        }
    }

    /// <summary>Builds into a temporary file next to the final one and returns its path.</summary>
    private async Task<string> BuildAsync(OdooRelease release, CancellationToken ct)
    {
        var url = options.Value.SourceUrl;
        var repo = Path.Combine(options.Value.DataDirectory, "source", "archive.git");
        var work = Path.Combine(ReleaseDirectory, $".build-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var tar = Path.Combine(work, "release.tar");
            await cacheRepositoryLock.WaitAsync(ct);
            try
            {
                await Git.EnsureBareRepositoryAsync(repo, ct);
                // Only this commit's tree: a host or a controller never needs the whole Odoo history.
                await Check(Git.RunAsync(["--git-dir", repo, "fetch", "--quiet", "--no-tags", "--depth", "1", "--", url, release.Commit], FetchTimeout, ct),
                    $"fetch {release.ShortCommit} from {url}");
                await Check(Git.RunAsync(["--git-dir", repo, "archive", "--format=tar", "-o", tar, release.Commit], FetchTimeout, ct), "git archive");
                var requirements = await Git.RunAsync(["--git-dir", repo, "show", $"{release.Commit}:requirements.txt"], FetchTimeout, ct);
                if (requirements.ExitCode == 0 && HasRequirements(requirements.StandardOutput))
                {
                    await AddWheelhouseAsync(work, tar, requirements.StandardOutput, ct);
                }
            }
            finally
            {
                cacheRepositoryLock.Release();
            }

            var output = Path.Combine(ReleaseDirectory, $".{FileName(release)}.{Guid.NewGuid():N}.tmp");
            await using (var source = File.OpenRead(tar))
            await using (var target = new FileStream(output, FileMode.CreateNew))
            await using (var gzip = new GZipStream(target, CompressionLevel.Optimal))
            {
                await source.CopyToAsync(gzip, ct);
            }

            return output;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>True when requirements.txt names at least one package (not only comments and blank lines).</summary>
    internal static bool HasRequirements(string text) =>
        text.Split('\n').Select(line => line.Split('#', 2)[0].Trim()).Any(line => line.Length > 0);

    private static async Task AddWheelhouseAsync(string work, string tar, string requirements, CancellationToken ct)
    {
        var file = Path.Combine(work, "requirements.txt");
        await File.WriteAllTextAsync(file, requirements, ct);
        await RunAsync("python3", ["-m", "pip", "wheel", "--no-cache-dir", "--wheel-dir", Path.Combine(work, "wheelhouse"), "-r", file], "pip wheel", ct);
        // Fixed owner, mode order and times: the same wheels give the same bytes.
        await RunAsync("tar", ["--append", "-f", tar, "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", work, "wheelhouse"],
            "tar --append", ct);
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, string what, CancellationToken ct)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(psi) ?? throw new ReleaseBuildException($"could not start {program}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(WheelTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await stdout;
        if (process.ExitCode != 0)
        {
            var error = (await stderr).Trim();
            throw new ReleaseBuildException($"{what} failed: {(error.Length > 2000 ? error[^2000..] : error)}");
        }
    }

    private static async Task Check(Task<GitResult> run, string what)
    {
        var result = await run;
        if (result.ExitCode != 0)
        {
            throw new ReleaseBuildException($"{what} failed: {result.StandardError}");
        }
    }

    private static async Task<(string Sha256, long Size)> HashAsync(string path, CancellationToken ct)
    {
        await using var file = File.OpenRead(path);
        var hash = await SHA256.HashDataAsync(file, ct);
        return (Convert.ToHexStringLower(hash), file.Length);
    }

    public void Dispose()
    {
        cacheRepositoryLock.Dispose();
        foreach (var gate in locks.Values)
        {
            gate.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Release {Release} built: sha256 {Sha256}, {Size} bytes")]
    private static partial void LogBuilt(ILogger logger, string release, string sha256, long size);
}
