using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>The log file resource on a real file system (owner root:root, as this box runs tests as root).</summary>
public sealed class LogFileResourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ResourceResult> ConvergeAsync(TempDirectory dir, UnixFileMode mode = FileModes.Mode0640)
    {
        var resource = new LogFileResource(new HostPaths(dir.Path), new ProcessCommandRunner(), "/odoo.log", mode, new Ownership("root", "root"));
        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync([resource], ConvergeMode.Apply, Ct);
        return outcome.Results[0];
    }

    [Fact]
    public async Task Converge_Missing_CreatesEmptyThenUnchanged()
    {
        using var dir = new TempDirectory();

        var first = await ConvergeAsync(dir);
        var second = await ConvergeAsync(dir);

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Equal(0, new FileInfo(dir.Combine("odoo.log")).Length);
        Assert.Equal(FileModes.Mode0640, File.GetUnixFileMode(dir.Combine("odoo.log")));
    }

    [Fact]
    public async Task Converge_ModeDrift_FixesModeKeepsContent()
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.Combine("odoo.log"), "line written by Odoo\n", Ct);
        File.SetUnixFileMode(dir.Combine("odoo.log"), FileModes.Mode0644);

        var result = await ConvergeAsync(dir);

        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Contains("mode 0644 -> 0640", result.Message, StringComparison.Ordinal);
        Assert.Equal("line written by Odoo\n", await File.ReadAllTextAsync(dir.Combine("odoo.log"), Ct));
    }

    [Fact]
    public async Task Converge_DirectoryInTheWay_FailsWithoutTouchingIt()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("odoo.log"));

        var result = await ConvergeAsync(dir);

        Assert.Equal(ResourceStatus.Failed, result.Status);
        Assert.True(Directory.Exists(dir.Combine("odoo.log")));
    }
}
