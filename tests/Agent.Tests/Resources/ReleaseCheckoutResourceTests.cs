using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

public sealed class ReleaseCheckoutResourceTests
{
    private const string Releases = "/opt/odoo/releases";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    /// <summary>A real git repository with two commits; returns its file:// URL and both commit ids.</summary>
    private static async Task<(string Url, string First, string Second)> CreateSourceAsync(string directory)
    {
        var runner = new ProcessCommandRunner();
        async Task<string> Git(params string[] args) =>
            (await runner.RunCheckedAsync(new CommandSpec("git", ["-C", directory, .. args])
            {
                Environment = new Dictionary<string, string>
                {
                    ["GIT_AUTHOR_NAME"] = "t", ["GIT_AUTHOR_EMAIL"] = "t@example.com",
                    ["GIT_COMMITTER_NAME"] = "t", ["GIT_COMMITTER_EMAIL"] = "t@example.com",
                },
            }, Ct)).Stdout.Trim();

        Directory.CreateDirectory(directory);
        await Git("init", "--quiet");
        await File.WriteAllTextAsync(Path.Combine(directory, "odoo-bin"), "#!/bin/sh\necho 1\n", Ct);
        await Git("add", "odoo-bin");
        await Git("commit", "--quiet", "-m", "first");
        var first = await Git("rev-parse", "HEAD");
        await File.WriteAllTextAsync(Path.Combine(directory, "odoo-bin"), "#!/bin/sh\necho 2\n", Ct);
        await Git("commit", "--quiet", "-am", "second");
        var second = await Git("rev-parse", "HEAD");
        return ("file://" + directory, first, second);
    }

    private static ReleaseCheckoutResource Checkout(HostPaths paths, string url, string commit) =>
        new(paths, new ProcessCommandRunner(), Releases, new ReleaseRef("18.0", commit), url, TimeSpan.FromMinutes(1));

    [Fact]
    public async Task RunAsync_Twice_ChangedThenUnchanged()
    {
        using var temp = new TempDirectory();
        var (url, first, _) = await CreateSourceAsync(temp.Combine("source"));
        var paths = new HostPaths(temp.Combine("root"));
        var resource = Checkout(paths, url, first);

        var one = await NewEngine().RunAsync([resource], ConvergeMode.Apply, Ct);
        var two = await NewEngine().RunAsync([resource], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, one.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, two.Results[0].Status);
        var dir = paths.Resolve($"{Releases}/18.0-{first}");
        Assert.Equal("#!/bin/sh\necho 1\n", await File.ReadAllTextAsync(Path.Combine(dir, "odoo-bin"), Ct));
        Assert.Equal([$"18.0-{first}"], Directory.GetDirectories(paths.Resolve(Releases)).Select(Path.GetFileName));
    }

    [Fact]
    public async Task RunAsync_OlderCommitNotAtTip_IsFetchedByHash()
    {
        using var temp = new TempDirectory();
        var (url, first, second) = await CreateSourceAsync(temp.Combine("source"));
        var paths = new HostPaths(temp.Combine("root"));

        var outcome = await NewEngine().RunAsync([Checkout(paths, url, second), Checkout(paths, url, first)], ConvergeMode.Apply, Ct);

        Assert.All(outcome.Results, r => Assert.Equal(ResourceStatus.Changed, r.Status));
        Assert.Equal(2, Directory.GetDirectories(paths.Resolve(Releases)).Length);
    }

    [Fact]
    public async Task RunAsync_StaleStagingAndModifiedTree_CleansUpAndRestores()
    {
        using var temp = new TempDirectory();
        var (url, first, _) = await CreateSourceAsync(temp.Combine("source"));
        var paths = new HostPaths(temp.Combine("root"));
        var resource = Checkout(paths, url, first);
        await NewEngine().RunAsync([resource], ConvergeMode.Apply, Ct);
        var dir = paths.Resolve($"{Releases}/18.0-{first}");
        await File.WriteAllTextAsync(Path.Combine(dir, "odoo-bin"), "tampered\n", Ct);
        var stale = paths.Resolve($"{Releases}/.staging-18.0-{first}-deadbeef");
        Directory.CreateDirectory(Path.Combine(stale, ".git"));

        var repaired = await NewEngine().RunAsync([resource], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, repaired.Results[0].Status);
        Assert.Contains("tracked files were modified", repaired.Results[0].Message, StringComparison.Ordinal);
        Assert.Contains("stale staging", repaired.Results[0].Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(stale));
        Assert.Equal("#!/bin/sh\necho 1\n", await File.ReadAllTextAsync(Path.Combine(dir, "odoo-bin"), Ct));
        Assert.Equal([$"18.0-{first}"], Directory.GetDirectories(paths.Resolve(Releases)).Select(Path.GetFileName));
    }

    [Fact]
    public async Task RunAsync_CommitMissingFromSource_FailsAndLeavesNoStaging()
    {
        using var temp = new TempDirectory();
        var (url, _, _) = await CreateSourceAsync(temp.Combine("source"));
        var paths = new HostPaths(temp.Combine("root"));

        var outcome = await NewEngine().RunAsync([Checkout(paths, url, new string('e', 40))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("git", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(paths.Resolve(Releases)));
    }

    [Fact]
    public void Constructor_OptionLikeSourceUrl_Rejected()
    {
        var e = Assert.Throws<SpecValidationException>(
            () => Checkout(HostPaths.System, "--upload-pack=touch /tmp/x", new string('a', 40)));
        Assert.Contains(e.Errors, m => m.StartsWith("odoo.source_url:", StringComparison.Ordinal));
    }
}
