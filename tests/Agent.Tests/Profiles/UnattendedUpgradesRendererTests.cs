using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class UnattendedUpgradesRendererTests
{
    [Fact]
    public void RenderPeriodic_ExactText()
    {
        const string Expected = """
            // Managed by odoofleet-agent: local changes are put back on the next converge.
            APT::Periodic::Update-Package-Lists "1";
            APT::Periodic::Unattended-Upgrade "1";

            """;

        Assert.Equal(Expected, UnattendedUpgradesRenderer.RenderPeriodic());
    }

    [Fact]
    public void RenderPolicy_Debian_ExactText()
    {
        const string Expected = """
            // Managed by odoofleet-agent: local changes are put back on the next converge.
            // Security updates only, never an automatic reboot: the controller schedules reboots.
            // apt appends lists across files, so the package's own lists (which include non-security
            // archives) are cleared before ours is set.
            #clear Unattended-Upgrade::Allowed-Origins;
            #clear Unattended-Upgrade::Origins-Pattern;
            Unattended-Upgrade::Origins-Pattern {
            	"origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
            };
            Unattended-Upgrade::Automatic-Reboot "false";

            """;

        Assert.Equal(Expected, UnattendedUpgradesRenderer.RenderPolicy("debian"));
    }

    [Theory]
    [InlineData("debian", "Unattended-Upgrade::Origins-Pattern {", "\t\"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";")]
    [InlineData("ubuntu", "Unattended-Upgrade::Allowed-Origins {", "\t\"${distro_id}:${distro_codename}-security\";")]
    [InlineData("ubuntu", "Unattended-Upgrade::Allowed-Origins {", "\t\"${distro_id}ESMApps:${distro_codename}-apps-security\";")]
    [InlineData("ubuntu", "Unattended-Upgrade::Allowed-Origins {", "\t\"${distro_id}ESM:${distro_codename}-infra-security\";")]
    public void RenderPolicy_Os_SecurityOriginsOnlyAndNoReboot(string osId, string listLine, string entryLine)
    {
        var text = UnattendedUpgradesRenderer.RenderPolicy(osId);
        var lines = text.Split('\n');

        Assert.Contains(listLine, lines);
        Assert.Contains(entryLine, lines);
        Assert.Contains("Unattended-Upgrade::Automatic-Reboot \"false\";", lines);
        Assert.All(lines.Where(l => l.StartsWith('\t')), entry => Assert.Contains("security", entry, StringComparison.Ordinal));
        Assert.Equal(text, UnattendedUpgradesRenderer.RenderPolicy(osId));
    }

    [Theory]
    [InlineData("centos")]
    [InlineData("")]
    [InlineData("Debian")]
    public void RenderPolicy_UnsupportedOs_ThrowsNamingIt(string osId)
    {
        var e = Assert.Throws<SpecValidationException>(() => UnattendedUpgradesRenderer.RenderPolicy(osId));
        Assert.StartsWith($"unattended_upgrades: the host's OS '{osId}' is not supported (debian, ubuntu)", e.Errors[0], StringComparison.Ordinal);
    }
}
