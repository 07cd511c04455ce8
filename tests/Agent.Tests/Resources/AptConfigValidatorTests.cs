using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>The unattended-upgrades files through FileResource with the real apt-config, in a temp parts directory.</summary>
public sealed class AptConfigValidatorTests
{
    /// <summary>The lists of Debian 12's packaged 50unattended-upgrades, which include the non-security archive.</summary>
    private const string PackagedDebianDefaults = """
        Unattended-Upgrade::Origins-Pattern {
                "origin=Debian,codename=${distro_codename},label=Debian";
                "origin=Debian,codename=${distro_codename},label=Debian-Security";
                "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
        };
        Unattended-Upgrade::Package-Blacklist {
        };

        """;

    private const string PolicyName = "52odoofleet-unattended-upgrades";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    private static bool HasAptConfig => ProcessCommandRunner.IsOnPath("apt-config");

    private static string Parts(TempDirectory root) => root.Combine("etc", "apt", "apt.conf.d");

    private static FileResource AptFile(TempDirectory root, string path, string text)
    {
        Directory.CreateDirectory(Parts(root));
        var runner = new ProcessCommandRunner();
        return new FileResource(
            new HostPaths(root.Path), runner, path, Encoding.UTF8.GetBytes(text), FileModes.Mode0644, ownership: null,
            new AptConfigValidator(runner, Path.GetFileName(path), Parts(root)))
        {
            PreviousSuffix = AtomicFile.IgnoredPreviousSuffix,
        };
    }

    /// <summary>What apt makes of the parts directory, through the real apt-config.</summary>
    private static async Task<string> DumpAsync(TempDirectory root, string key)
    {
        var main = root.Combine("apt.conf");
        await File.WriteAllTextAsync(main, $"Dir::Etc::Parts \"{Parts(root)}\";\n", Ct);
        var spec = new CommandSpec("apt-config", ["dump", key]) { Environment = new Dictionary<string, string> { ["APT_CONFIG"] = main } };
        var result = await new ProcessCommandRunner().RunCheckedAsync(spec, Ct);
        return result.Stdout;
    }

    [Fact]
    public async Task Apply_RenderedFilesTwice_ChangedThenUnchanged()
    {
        Assert.SkipUnless(HasAptConfig, "apt-config is not installed");
        using var root = new TempDirectory();
        IResource[] resources =
        [
            AptFile(root, UnattendedUpgradesRenderer.PeriodicPath, UnattendedUpgradesRenderer.RenderPeriodic()),
            AptFile(root, UnattendedUpgradesRenderer.PolicyPath, UnattendedUpgradesRenderer.RenderPolicy("debian")),
        ];

        var first = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);

        Assert.All(first.Results, r => Assert.True(r.Status == ResourceStatus.Changed, $"{r.Id}: {r.Message}"));
        Assert.All(second.Results, r => Assert.Equal(ResourceStatus.Unchanged, r.Status));
    }

    [Theory]
    [InlineData("debian", "Unattended-Upgrade::Origins-Pattern:: \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";\n")]
    [InlineData("ubuntu", "Unattended-Upgrade::Allowed-Origins:: \"${distro_id}:${distro_codename}-security\";\n"
        + "Unattended-Upgrade::Allowed-Origins:: \"${distro_id}ESMApps:${distro_codename}-apps-security\";\n"
        + "Unattended-Upgrade::Allowed-Origins:: \"${distro_id}ESM:${distro_codename}-infra-security\";\n")]
    public async Task Apply_AfterPackagedDefaults_AptSeesOnlySecurityOriginsAndNoReboot(string osId, string expectedOrigins)
    {
        Assert.SkipUnless(HasAptConfig, "apt-config is not installed");
        using var root = new TempDirectory();
        Directory.CreateDirectory(Parts(root));
        await File.WriteAllTextAsync(Path.Combine(Parts(root), "50unattended-upgrades"), PackagedDebianDefaults, Ct);

        var outcome = await NewEngine().RunAsync(
            [AptFile(root, UnattendedUpgradesRenderer.PolicyPath, UnattendedUpgradesRenderer.RenderPolicy(osId))], ConvergeMode.Apply, Ct);
        var dump = await DumpAsync(root, "Unattended-Upgrade");

        Assert.Equal(ResourceStatus.Changed, outcome.Results[0].Status);
        var origins = string.Concat(dump.Split('\n')
            .Where(l => l.StartsWith("Unattended-Upgrade::Origins-Pattern::", StringComparison.Ordinal) || l.StartsWith("Unattended-Upgrade::Allowed-Origins::", StringComparison.Ordinal))
            .Select(l => l + "\n"));
        Assert.Equal(expectedOrigins, origins);
        Assert.Contains("Unattended-Upgrade::Automatic-Reboot \"false\";\n", dump, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Unattended-Upgrade::Automatic-Reboot \"false\"\nUnattended-Upgrade::Mail \"root\";\n", "E: Syntax error")]
    [InlineData("#include \"/nonexistent/odoofleet.conf\";\n", "W: Unable to read /nonexistent/odoofleet.conf")]
    [InlineData("Unattended-Upgrade::Automatic-Reboot \"false;\n", "E: Syntax error")]
    public async Task Apply_BrokenFile_FailsAndKeepsOldFile(string text, string expected)
    {
        Assert.SkipUnless(HasAptConfig, "apt-config is not installed");
        using var root = new TempDirectory();
        var good = UnattendedUpgradesRenderer.RenderPolicy("debian");
        await NewEngine().RunAsync([AptFile(root, UnattendedUpgradesRenderer.PolicyPath, good)], ConvergeMode.Apply, Ct);

        var outcome = await NewEngine().RunAsync([AptFile(root, UnattendedUpgradesRenderer.PolicyPath, text)], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Failed, outcome.Results[0].Status);
        Assert.Contains(expected, outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Contains($"{Parts(root)}/{PolicyName}", outcome.Results[0].Message, StringComparison.Ordinal);
        Assert.Equal(good, await File.ReadAllTextAsync(Path.Combine(Parts(root), PolicyName), Ct));
        Assert.Equal([PolicyName], Directory.GetFiles(Parts(root)).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Apply_BrokenLiveFileBeingReplaced_NewFilePasses()
    {
        Assert.SkipUnless(HasAptConfig, "apt-config is not installed");
        using var root = new TempDirectory();
        Directory.CreateDirectory(Parts(root));
        await File.WriteAllTextAsync(Path.Combine(Parts(root), PolicyName), "edited by hand {\n", Ct);

        var outcome = await NewEngine().RunAsync(
            [AptFile(root, UnattendedUpgradesRenderer.PolicyPath, UnattendedUpgradesRenderer.RenderPolicy("debian"))], ConvergeMode.Apply, Ct);

        Assert.Equal(ResourceStatus.Changed, outcome.Results[0].Status);
        Assert.Equal([PolicyName, PolicyName + ".previous~"], Directory.GetFiles(Parts(root)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("../apt.conf")]
    [InlineData(".hidden")]
    [InlineData("52x y")]
    public void Constructor_NotAPlainFileName_Throws(string name) =>
        Assert.Throws<ArgumentException>(() => new AptConfigValidator(new ProcessCommandRunner(), name));
}
