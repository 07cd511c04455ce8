using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

public sealed class SystemdUnitValidatorTests
{
    private const UnixFileMode Mode0644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FileResource Unit(HostPaths paths, string text)
    {
        var runner = new ProcessCommandRunner();
        var layout = OdooLayout.Default;
        return new FileResource(
            paths, runner, layout.UnitFile, Encoding.UTF8.GetBytes(text), Mode0644, ownership: null,
            new SystemdUnitValidator(runner, layout.UnitName, layout.Python));
    }

    [Fact]
    public async Task Apply_RenderedUnitWithoutReleaseYet_PassesVerify()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("systemd-analyze"), "systemd-analyze is not installed");
        using var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("etc", "systemd", "system"));
        var paths = new HostPaths(root.Path);

        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance)
            .RunAsync([Unit(paths, OdooUnitRenderer.Render(OdooLayout.Default, localPostgres: true))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, outcome.Results[0].Status);
    }

    [Fact]
    public async Task Apply_UnitWithUnknownKey_FailsAndKeepsOldFile()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("systemd-analyze"), "systemd-analyze is not installed");
        using var root = new TempDirectory();
        var unitDir = root.Combine("etc", "systemd", "system");
        Directory.CreateDirectory(unitDir);
        await File.WriteAllTextAsync(Path.Combine(unitDir, "odoo.service"), "old\n", Ct);
        var paths = new HostPaths(root.Path);
        var bad = OdooUnitRenderer.Render(OdooLayout.Default, localPostgres: true).Replace("Restart=on-failure", "Restart=sometimes", StringComparison.Ordinal);

        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance)
            .RunAsync([Unit(paths, bad)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains("systemd-analyze verify rejected", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Equal("old\n", await File.ReadAllTextAsync(Path.Combine(unitDir, "odoo.service"), Ct));
        Assert.Single(Directory.GetFiles(unitDir));
    }
}
