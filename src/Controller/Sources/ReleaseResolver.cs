using System.Diagnostics;
using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;

namespace OdooFleet.Controller.Sources;

internal sealed class ReleaseResolutionException(string message, bool sourceUnreachable) : Exception(message)
{
    public bool SourceUnreachable { get; } = sourceUnreachable;
}

/// <summary>Resolves a series ("18.0") to the current head commit of its branch in the source repository.</summary>
internal sealed class ReleaseResolver(IOptions<FleetOptions> options)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public async Task<OdooRelease> ResolveAsync(string series, CancellationToken ct)
    {
        var url = options.Value.SourceUrl;
        var heads = await ListHeadsAsync(url, ct);
        if (heads.TryGetValue(series, out var commit))
        {
            return new OdooRelease(series, commit);
        }

        var known = heads.Keys.Where(Validation.IsSeries).Order(StringComparer.Ordinal).ToList();
        throw new ReleaseResolutionException(
            $"version: series '{series}' has no branch in the Odoo source {url}; " +
            (known.Count == 0 ? "the source has no series branches" : $"available series: {string.Join(", ", known)}"),
            sourceUnreachable: false);
    }

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

    private static async Task<Dictionary<string, string>> ListHeadsAsync(string url, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("git")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "ls-remote", "--heads", "--", url })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["GIT_TERMINAL_PROMPT"] = "0";
        using var process = Process.Start(psi) ?? throw new ReleaseResolutionException("could not start git", true);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (ct.IsCancellationRequested)
            {
                throw;
            }

            throw new ReleaseResolutionException($"the Odoo source {url} did not answer within {Timeout.TotalSeconds:0} s", true);
        }

        if (process.ExitCode != 0)
        {
            var detail = (await stderr).Trim();
            throw new ReleaseResolutionException($"cannot read the Odoo source {url}: {detail}", true);
        }

        return ParseHeads(await stdout);
    }
}
