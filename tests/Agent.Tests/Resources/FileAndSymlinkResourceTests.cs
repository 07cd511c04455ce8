using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

public sealed class FileAndSymlinkResourceTests
{
    private const UnixFileMode Mode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
    private const UnixFileMode Mode0644 = Mode0640 | UnixFileMode.OtherRead;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static FileResource ConfFile(HostPaths paths, string content, UnixFileMode mode = Mode0640) =>
        new(paths, new ProcessCommandRunner(), "/etc/odoo.conf", Encoding.UTF8.GetBytes(content), mode, ownership: null);

    [Fact]
    public async Task RunAsync_FileAndSymlinkTwice_ChangedThenUnchanged()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc"));
        Directory.CreateDirectory(root.Combine("opt", "odoo"));
        var paths = new HostPaths(root.Path);
        IResource[] resources =
        [
            ConfFile(paths, "[options]\n"),
            new SymlinkResource(paths, "/opt/odoo/current", "/opt/odoo/releases/18.0-a"),
        ];

        var first = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);

        Assert.All(first.Results, r => Assert.Equal(ResourceStatus.Changed, r.Status));
        Assert.All(second.Results, r => Assert.Equal(ResourceStatus.Unchanged, r.Status));
        Assert.Equal("[options]\n", await File.ReadAllTextAsync(root.Combine("etc", "odoo.conf"), Ct));
        Assert.Equal(Mode0640, File.GetUnixFileMode(root.Combine("etc", "odoo.conf")));
        Assert.Equal("/opt/odoo/releases/18.0-a", new FileInfo(root.Combine("opt", "odoo", "current")).LinkTarget);
    }

    [Fact]
    public async Task ApplyAsync_ContentChanged_KeepsPreviousAndLeavesNoTempFiles()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc"));
        var paths = new HostPaths(root.Path);
        await NewEngine().RunAsync([ConfFile(paths, "old\n")], ConvergeMode.Apply, Ct);
        var outcome = await NewEngine().RunAsync([ConfFile(paths, "new\n")], ConvergeMode.Apply, Ct);

        Assert.Equal("update /etc/odoo.conf: content", outcome.Results[0].Message);
        Assert.Equal("new\n", await File.ReadAllTextAsync(root.Combine("etc", "odoo.conf"), Ct));
        Assert.Equal("old\n", await File.ReadAllTextAsync(root.Combine("etc", "odoo.conf.previous"), Ct));
        Assert.Equal(["odoo.conf", "odoo.conf.previous"], Directory.GetFiles(root.Combine("etc")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task ApplyAsync_IgnoredPreviousSuffix_KeepsPreviousUnderThatName()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc"));
        var paths = new HostPaths(root.Path);
        FileResource Conf(string content) => new(paths, new ProcessCommandRunner(), "/etc/odoo.conf", Encoding.UTF8.GetBytes(content), Mode0640, ownership: null)
        {
            PreviousSuffix = OdooFleet.Agent.IO.AtomicFile.IgnoredPreviousSuffix,
        };
        await NewEngine().RunAsync([Conf("old\n")], ConvergeMode.Apply, Ct);

        await NewEngine().RunAsync([Conf("new\n")], ConvergeMode.Apply, Ct);

        Assert.Equal("old\n", await File.ReadAllTextAsync(root.Combine("etc", "odoo.conf.previous~"), Ct));
        Assert.Equal(["odoo.conf", "odoo.conf.previous~"], Directory.GetFiles(root.Combine("etc")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task ApplyAsync_OnlyModeDrifted_FixesModeWithoutRewriting()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc"));
        var paths = new HostPaths(root.Path);
        await NewEngine().RunAsync([ConfFile(paths, "x\n")], ConvergeMode.Apply, Ct);
        File.SetUnixFileMode(root.Combine("etc", "odoo.conf"), Mode0644);

        var outcome = await NewEngine().RunAsync([ConfFile(paths, "x\n")], ConvergeMode.Apply, Ct);

        Assert.Equal("update /etc/odoo.conf: mode 0644 -> 0640", outcome.Results[0].Message);
        Assert.Equal(Mode0640, File.GetUnixFileMode(root.Combine("etc", "odoo.conf")));
        Assert.False(File.Exists(root.Combine("etc", "odoo.conf.previous")));
    }

    [Fact]
    public async Task CheckMode_MissingFile_ReportsWouldCreateAndWritesNothing()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc"));
        var outcome = await NewEngine().RunAsync([ConfFile(new HostPaths(root.Path), "x\n")], ConvergeMode.Check, Ct);
        Assert.StartsWith("would create /etc/odoo.conf", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(root.Combine("etc")));
    }

    [Fact]
    public async Task ApplyAsync_SymlinkPointsElsewhere_SwitchesAtomically()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("opt", "odoo"));
        var paths = new HostPaths(root.Path);
        File.CreateSymbolicLink(root.Combine("opt", "odoo", "current"), "/opt/odoo/releases/18.0-old");

        var outcome = await NewEngine().RunAsync(
            [new SymlinkResource(paths, "/opt/odoo/current", "/opt/odoo/releases/18.0-new")], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, outcome.Results[0].Status);
        Assert.Equal("/opt/odoo/releases/18.0-new", new FileInfo(root.Combine("opt", "odoo", "current")).LinkTarget);
        Assert.Single(Directory.GetFileSystemEntries(root.Combine("opt", "odoo")));
    }

    [Fact]
    public async Task RunAsync_SymlinkPathIsRealDirectory_FailsWithoutTouchingIt()
    {
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("opt", "odoo", "current"));
        var outcome = await NewEngine().RunAsync(
            [new SymlinkResource(new HostPaths(root.Path), "/opt/odoo/current", "/x")], ConvergeMode.Apply, Ct);
        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("not a symlink", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(root.Combine("opt", "odoo", "current")));
    }

    [Fact]
    public async Task RunAsync_DirectoryTwice_ChangedThenUnchanged()
    {
        using var root = new TempDirectory();
        var paths = new HostPaths(root.Path);
        const UnixFileMode Mode0750 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        IResource[] resources = [new DirectoryResource(paths, new ProcessCommandRunner(), "/var/lib/odoo", Mode0750, ownership: null)];
        var first = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        Assert.Equal(ResourceStatus.Changed, first.Results[0].Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Results[0].Status);
        Assert.Equal(Mode0750, File.GetUnixFileMode(root.Combine("var", "lib", "odoo")));
    }
}
