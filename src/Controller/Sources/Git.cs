using System.Diagnostics;

namespace OdooFleet.Controller.Sources;

internal sealed record GitResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs git with an argument array (never a shell string), no prompts, no user config, and a deadline.</summary>
internal static class Git
{
    public static async Task<GitResult> RunAsync(IEnumerable<string> arguments, TimeSpan timeout, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("git")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in arguments)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["GIT_TERMINAL_PROMPT"] = "0";
        // The controller's own ~/.gitconfig (hooks, signing, url rewrites) must not change a release.
        psi.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        using var process = Process.Start(psi) ?? throw new ReleaseResolutionException("could not start git", true);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            return new GitResult(process.ExitCode, await stdout, (await stderr).Trim());
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (ct.IsCancellationRequested)
            {
                throw;
            }

            throw new ReleaseResolutionException($"git {string.Join(' ', psi.ArgumentList.Take(1))} did not finish within {timeout.TotalSeconds:0} s", true);
        }
    }

    /// <summary>A bare repository at <paramref name="path"/>, made if missing (git init is idempotent).</summary>
    public static async Task EnsureBareRepositoryAsync(string path, CancellationToken ct)
    {
        if (Directory.Exists(Path.Combine(path, "objects")))
        {
            return;
        }

        Directory.CreateDirectory(path);
        var init = await RunAsync(["init", "--quiet", "--bare", "--", path], TimeSpan.FromSeconds(30), ct);
        if (init.ExitCode != 0)
        {
            throw new ReleaseResolutionException($"cannot create the release cache {path}: {init.StandardError}", true);
        }
    }
}
