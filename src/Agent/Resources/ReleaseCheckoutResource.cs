using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A release checkout "&lt;releases&gt;/&lt;series&gt;-&lt;commit&gt;" at exactly that commit with a clean
/// tree. Fetched into a staging directory and renamed into place, so a half-fetched release is
/// never visible under its real name; staging left by a killed run is removed next time.
/// </summary>
internal sealed class ReleaseCheckoutResource : Resource<ReleaseCheckoutResource.Observed>
{
    internal const string StagingPrefix = ".staging-";

    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly string releasesDir;
    private readonly ReleaseRef release;
    private readonly string sourceUrl;
    private readonly TimeSpan gitTimeout;

    public ReleaseCheckoutResource(
        HostPaths paths, ICommandRunner runner, string releasesDir, ReleaseRef release, string sourceUrl, TimeSpan? gitTimeout = null)
    {
        // Both values end up in paths and on git's command line: never trust them unchecked.
        var errors = new[] { SpecValidator.CheckSeries(release.Series), SpecValidator.CheckCommit(release.Commit), SpecValidator.CheckSourceUrl(sourceUrl) }
            .OfType<string>().ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.paths = paths;
        this.runner = runner;
        this.releasesDir = releasesDir;
        this.release = release;
        this.sourceUrl = sourceUrl;
        this.gitTimeout = gitTimeout ?? TimeSpan.FromMinutes(10);
    }

    internal sealed record Observed(bool Exists, string? Head, bool Clean, IReadOnlyList<string> StaleStaging) : Observation;

    public override string Id => $"release:{release.DirectoryName}";

    public override string Kind => "release";

    public string ReleasePath => $"{releasesDir}/{release.DirectoryName}";

    private string FullPath => paths.Resolve(ReleasePath);

    private string FullReleasesDir => paths.Resolve(releasesDir);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var stale = Directory.Exists(FullReleasesDir)
            ? Directory.GetDirectories(FullReleasesDir, $"{StagingPrefix}{release.DirectoryName}-*").Order(StringComparer.Ordinal).ToList()
            : [];
        if (!Directory.Exists(FullPath))
        {
            return new Observed(false, null, false, stale);
        }

        var head = await runner.RunAsync(Git(FullPath, "rev-parse", "HEAD"), ct);
        if (!head.Succeeded)
        {
            return new Observed(true, null, false, stale);
        }

        // Untracked files are allowed (a per-release venv lives beside the code); edits to tracked files are not.
        var status = await runner.RunCheckedAsync(Git(FullPath, "status", "--porcelain", "--untracked-files=no"), ct);
        return new Observed(true, head.Stdout.Trim(), status.Stdout.Trim().Length == 0, stale);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var parts = new List<string>();
        if (!observed.Exists)
        {
            parts.Add($"fetch {release.Commit} from {sourceUrl} into {ReleasePath}");
        }
        else if (observed.Head != release.Commit)
        {
            parts.Add($"replace {ReleasePath}: HEAD is {observed.Head ?? "not a git checkout"}, want {release.Commit}");
        }
        else if (!observed.Clean)
        {
            parts.Add($"replace {ReleasePath}: tracked files were modified");
        }

        if (observed.StaleStaging.Count > 0)
        {
            parts.Add($"remove {observed.StaleStaging.Count} stale staging dir(s)");
        }

        return parts.Count == 0 ? null : new Change(string.Join("; ", parts));
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        foreach (var stale in observed.StaleStaging)
        {
            Directory.Delete(stale, recursive: true);
        }

        if (observed.Exists && observed.Head == release.Commit && observed.Clean)
        {
            return null;
        }

        Directory.CreateDirectory(FullReleasesDir);
        var staging = Path.Combine(FullReleasesDir, $"{StagingPrefix}{release.DirectoryName}-{AtomicFile.RandomSuffix()}");
        try
        {
            await runner.RunCheckedAsync(GitCommand(["init", "--quiet", "--", staging]), ct);
            await runner.RunCheckedAsync(Git(staging, "fetch", "--quiet", "--depth", "1", "--", sourceUrl, release.Commit), ct);
            await runner.RunCheckedAsync(Git(staging, "checkout", "--quiet", "--detach", "FETCH_HEAD"), ct);
            var head = (await runner.RunCheckedAsync(Git(staging, "rev-parse", "HEAD"), ct)).Stdout.Trim();
            if (head != release.Commit)
            {
                throw new ResourceFailedException($"{sourceUrl} gave commit {head} for {release.Commit}; check the source mirror");
            }

            if (observed.Exists)
            {
                // A broken checkout under the real name: swap it out, then delete it.
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
        }

        return null;
    }

    private CommandSpec Git(string repository, params string[] arguments) =>
        GitCommand(["-c", $"safe.directory={repository}", "-C", repository, .. arguments]);

    private CommandSpec GitCommand(string[] arguments) => new("git", arguments)
    {
        Timeout = gitTimeout,
        Environment = new Dictionary<string, string>
        {
            // Never wait for a password prompt: fail and report instead.
            ["GIT_TERMINAL_PROMPT"] = "0",
            ["GIT_ASKPASS"] = "/bin/false",
            ["SSH_ASKPASS"] = "/bin/false",
            ["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes",
        },
    };
}
