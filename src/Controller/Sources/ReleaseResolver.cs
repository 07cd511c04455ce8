using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;

namespace OdooFleet.Controller.Sources;

internal sealed class ReleaseResolutionException(string message, bool sourceUnreachable) : Exception(message)
{
    public bool SourceUnreachable { get; } = sourceUnreachable;
}

/// <summary>
/// Resolves a series ("18.0"), and optionally a revision on its branch, to one commit of the
/// source repository: the branch head from `git ls-remote`, or the revision checked against the
/// branch's history (fetched without trees or blobs into a cache repository).
/// </summary>
internal sealed class ReleaseResolver(IOptions<FleetOptions> options) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim historyLock = new(1, 1);

    public Task<OdooRelease> ResolveAsync(string series, CancellationToken ct) => ResolveAsync(series, "", ct);

    public async Task<OdooRelease> ResolveAsync(string series, string revision, CancellationToken ct)
    {
        var url = options.Value.SourceUrl;
        if (revision.Length > 0 && !IsRevision(revision))
        {
            throw new ReleaseResolutionException(
                $"revision: '{UntrustedText.Printable(revision, 48)}' must be a commit of 7 to 40 hex digits (e.g. --revision 3f2a9c1); omit it for the head of {series}",
                sourceUnreachable: false);
        }

        var heads = await ListHeadsAsync(url, ct);
        if (!heads.TryGetValue(series, out var head))
        {
            var known = heads.Keys.Where(Validation.IsSeries).Order(StringComparer.Ordinal).ToList();
            throw new ReleaseResolutionException(
                $"version: series '{series}' has no branch in the Odoo source {url}; " +
                (known.Count == 0 ? "the source has no series branches" : $"available series: {string.Join(", ", known)}"),
                sourceUnreachable: false);
        }

        revision = revision.ToLowerInvariant();
        if (revision.Length == 0 || head.StartsWith(revision, StringComparison.Ordinal))
        {
            return new OdooRelease(series, head);
        }

        return new OdooRelease(series, await FindOnBranchAsync(url, series, revision, ct));
    }

    internal static bool IsRevision(string value) => value.Length is >= 7 and <= 40 && value.All(char.IsAsciiHexDigit);

    /// <summary>Parses `git ls-remote --heads` output into branch name → commit.</summary>
    internal static Dictionary<string, string> ParseHeads(string lsRemoteOutput)
    {
        var heads = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lsRemoteOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split('\t');
            const string prefix = "refs/heads/";
            if (parts.Length == 2 && Validation.IsCommit(parts[0]) && parts[1].StartsWith(prefix, StringComparison.Ordinal))
            {
                heads[parts[1][prefix.Length..]] = parts[0];
            }
        }

        return heads;
    }

    private async Task<string> FindOnBranchAsync(string url, string series, string revision, CancellationToken ct)
    {
        var repo = Path.Combine(options.Value.DataDirectory, "source", "history.git");
        var branchRef = $"refs/heads/{series}";
        await historyLock.WaitAsync(ct);
        try
        {
            await Git.EnsureBareRepositoryAsync(repo, ct);
            // Commits only (no trees, no blobs where the server allows filters): enough to answer "is it on the branch".
            var fetch = await Git.RunAsync(
                ["--git-dir", repo, "fetch", "--quiet", "--no-tags", "--filter=tree:0", "--", url, $"+{branchRef}:{branchRef}"], FetchTimeout, ct);
            if (fetch.ExitCode != 0)
            {
                throw new ReleaseResolutionException($"cannot read the history of {series} from the Odoo source {url}: {fetch.StandardError}", true);
            }

            var parsed = await Git.RunAsync(["--git-dir", repo, "rev-parse", "--verify", "--quiet", "--end-of-options", $"{revision}^{{commit}}"], Timeout, ct);
            var commit = parsed.StandardOutput.Trim();
            if (parsed.ExitCode != 0 || !Validation.IsCommit(commit))
            {
                throw new ReleaseResolutionException(
                    $"revision: '{revision}' is not a commit of the {series} branch in {url} (or is ambiguous); give more digits or pick one from `git log {series}`",
                    sourceUnreachable: false);
            }

            var ancestor = await Git.RunAsync(["--git-dir", repo, "merge-base", "--is-ancestor", commit, branchRef], Timeout, ct);
            return ancestor.ExitCode switch
            {
                0 => commit,
                1 => throw new ReleaseResolutionException(
                    $"revision: {commit[..12]} is not on the {series} branch of {url}; pick a commit of {series} (`git log {series}`) or another --version",
                    sourceUnreachable: false),
                _ => throw new ReleaseResolutionException($"cannot check revision {commit[..12]} against {series}: {ancestor.StandardError}", true),
            };
        }
        finally
        {
            historyLock.Release();
        }
    }

    public void Dispose() => historyLock.Dispose();

    private static async Task<Dictionary<string, string>> ListHeadsAsync(string url, CancellationToken ct)
    {
        var result = await Git.RunAsync(["ls-remote", "--heads", "--", url], Timeout, ct);
        return result.ExitCode == 0
            ? ParseHeads(result.StandardOutput)
            : throw new ReleaseResolutionException($"cannot read the Odoo source {url}: {result.StandardError}", true);
    }
}
