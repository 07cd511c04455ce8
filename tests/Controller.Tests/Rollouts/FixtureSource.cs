using System.Diagnostics;
using Xunit;

namespace OdooFleet.Controller.Tests.Rollouts;

/// <summary>The fixture "Odoo source" (tests/fixture/make-fixture-odoo.sh): a bare git repository in a scratch directory, deleted on dispose.</summary>
internal sealed class FixtureSource : IDisposable
{
    private FixtureSource(string directory, string repository)
    {
        Directory = directory;
        Repository = repository;
    }

    /// <summary>Scratch directory: the repository, and room for controllers' data directories.</summary>
    public string Directory { get; }

    public string Repository { get; }

    public static async Task<FixtureSource> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "of-fixture-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var output = await RunScriptAsync(directory);
        return new FixtureSource(directory, output.Split('\n')[0].Trim());
    }

    /// <summary>A fresh data directory for one controller.</summary>
    public string NewDataDirectory() => System.IO.Directory.CreateDirectory(Path.Combine(Directory, "data-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Adds a commit on <paramref name="branch"/> (bumping a module version) and returns its sha.</summary>
    public async Task<string> CommitAsync(string branch) => (await RunScriptAsync("commit", Directory, branch, "--bump", "web")).Trim().Split('\n')[^1].Trim();

    public async Task<string> HeadAsync(string branch) =>
        (await RunAsync("git", "--git-dir", Repository, "rev-parse", $"refs/heads/{branch}")).Trim();

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private static Task<string> RunScriptAsync(params string[] arguments) => RunAsync("bash", [Script(), .. arguments]);

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {await stderr}");
        return await stdout;
    }

    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixture", "make-fixture-odoo.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/fixture/make-fixture-odoo.sh not found above " + AppContext.BaseDirectory);
    }
}
