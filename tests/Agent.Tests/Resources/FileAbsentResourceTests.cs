using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

public sealed class FileAbsentResourceTests
{
    private const string DefaultSite = "/etc/nginx/sites-enabled/default";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ResourceResult> RunAsync(TempDirectory root, ConvergeMode mode = ConvergeMode.Apply) =>
        (await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance)
            .RunAsync([new FileAbsentResource(new HostPaths(root.Path), DefaultSite)], mode, Ct)).Results[0];

    private static string Enabled(TempDirectory root) => root.Combine("etc", "nginx", "sites-enabled");

    private static TempDirectory NewRoot()
    {
        var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc", "nginx", "sites-enabled"));
        Directory.CreateDirectory(root.Combine("etc", "nginx", "sites-available"));
        return root;
    }

    [Fact]
    public async Task Apply_DebianDefaultSymlink_RemovesLinkKeepsTargetThenUnchanged()
    {
        using var root = NewRoot();
        var target = root.Combine("etc", "nginx", "sites-available", "default");
        await File.WriteAllTextAsync(target, "server { listen 80 default_server; }\n", Ct);
        File.CreateSymbolicLink(Path.Combine(Enabled(root), "default"), "/etc/nginx/sites-available/default");

        var first = await RunAsync(root);
        var second = await RunAsync(root);

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal("remove symlink /etc/nginx/sites-enabled/default (-> /etc/nginx/sites-available/default)", first.Message);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Empty(Directory.GetFileSystemEntries(Enabled(root)));
        Assert.True(File.Exists(target));
    }

    [Fact]
    public async Task Apply_RegularFile_RemovedWithoutACopyNginxWouldLoad()
    {
        using var root = NewRoot();
        await File.WriteAllTextAsync(Path.Combine(Enabled(root), "default"), "server {}\n", Ct);

        var result = await RunAsync(root);

        Assert.Equal("remove file /etc/nginx/sites-enabled/default", result.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Enabled(root)));
    }

    [Fact]
    public async Task Apply_DanglingSymlink_Removed()
    {
        using var root = NewRoot();
        File.CreateSymbolicLink(Path.Combine(Enabled(root), "default"), "/nonexistent/default");

        var result = await RunAsync(root);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Empty(Directory.GetFileSystemEntries(Enabled(root)));
    }

    [Fact]
    public async Task Apply_SymlinkToDirectory_RemovesOnlyTheLink()
    {
        using var root = NewRoot();
        var directory = root.Combine("etc", "nginx", "sites-available", "dir");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "keep"), "x", Ct);
        File.CreateSymbolicLink(Path.Combine(Enabled(root), "default"), directory);

        var result = await RunAsync(root);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Empty(Directory.GetFileSystemEntries(Enabled(root)));
        Assert.True(File.Exists(Path.Combine(directory, "keep")));
    }

    [Fact]
    public async Task Apply_Absent_Unchanged()
    {
        using var root = NewRoot();
        Assert.Equal(ResourceStatus.Unchanged, (await RunAsync(root)).Status);
    }

    [Fact]
    public async Task Apply_Directory_FailsAndKeepsIt()
    {
        using var root = NewRoot();
        var directory = Path.Combine(Enabled(root), "default");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "inside"), "x", Ct);

        var result = await RunAsync(root);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.Contains("is a directory; the agent only removes files and symlinks", result.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(directory, "inside")));
    }

    [Fact]
    public async Task CheckMode_Symlink_ReportsWouldRemoveAndKeepsIt()
    {
        using var root = NewRoot();
        var link = Path.Combine(Enabled(root), "default");
        File.CreateSymbolicLink(link, "/etc/nginx/sites-available/default");

        var result = await RunAsync(root, ConvergeMode.Check);

        Assert.StartsWith("would remove symlink /etc/nginx/sites-enabled/default", result.Message, StringComparison.Ordinal);
        Assert.Equal("/etc/nginx/sites-available/default", new FileInfo(link).LinkTarget);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("relative/default")]
    [InlineData("/etc/nginx/sites-enabled/../../passwd")]
    [InlineData("/etc/nginx/sites-enabled/*")]
    [InlineData("/etc/nginx/sites-enabled/")]
    [InlineData("/etc/nginx/sites-enabled/default\n")]
    public void Constructor_UnsafePath_Throws(string path)
    {
        var error = Assert.Throws<SpecValidationException>(() => new FileAbsentResource(HostPaths.System, path));
        Assert.StartsWith("absent.path: ", Assert.Single(error.Errors), StringComparison.Ordinal);
    }
}
