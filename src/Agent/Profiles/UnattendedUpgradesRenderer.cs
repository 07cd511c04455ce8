using System.Text;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Profiles;

/// <summary>
/// Renders unattended-upgrades' configuration (SEED-ERRATA #18): daily security updates only and
/// never a reboot, since reboots are orchestrated by the controller (never two hosts of one tenant
/// group at once). Debian and Ubuntu name their security archives differently; that difference
/// lives in <see cref="SecurityOrigins"/> and nowhere else.
/// </summary>
internal static class UnattendedUpgradesRenderer
{
    public const string PeriodicPath = "/etc/apt/apt.conf.d/20auto-upgrades";

    /// <summary>Sorts after the package's 50unattended-upgrades, whose lists it clears and replaces.</summary>
    public const string PolicyPath = "/etc/apt/apt.conf.d/52odoofleet-unattended-upgrades";

    private const string Header = "// Managed by odoofleet-agent: local changes are put back on the next converge.\n";

    /// <summary>
    /// The list key and entries that select security updates, by os-release ID. Debian matches
    /// origin/codename/label patterns; Ubuntu uses "origin:archive" pairs, plus the ESM archives
    /// that only exist with Ubuntu Pro (harmless without).
    /// </summary>
    public static (string Key, IReadOnlyList<string> Entries) SecurityOrigins(string osId) => osId switch
    {
        "debian" => ("Unattended-Upgrade::Origins-Pattern", ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"]),
        "ubuntu" => ("Unattended-Upgrade::Allowed-Origins",
        [
            "${distro_id}:${distro_codename}-security",
            "${distro_id}ESMApps:${distro_codename}-apps-security",
            "${distro_id}ESM:${distro_codename}-infra-security",
        ]),
        _ => throw new SpecValidationException(
            [$"unattended_upgrades: the host's OS '{Grammar.Printable(osId)}' is not supported (debian, ubuntu); run the agent on Debian or Ubuntu"]),
    };

    /// <summary>20auto-upgrades: refresh the lists and run unattended-upgrade every day.</summary>
    public static string RenderPeriodic() => Header + """
        APT::Periodic::Update-Package-Lists "1";
        APT::Periodic::Unattended-Upgrade "1";

        """;

    /// <param name="osId">The ID field of /etc/os-release ("debian", "ubuntu").</param>
    public static string RenderPolicy(string osId)
    {
        var (key, entries) = SecurityOrigins(osId);
        var text = new StringBuilder(Header);
        text.Append("""
            // Security updates only, never an automatic reboot: the controller schedules reboots.
            // apt appends lists across files, so the package's own lists (which include non-security
            // archives) are cleared before ours is set.
            #clear Unattended-Upgrade::Allowed-Origins;
            #clear Unattended-Upgrade::Origins-Pattern;

            """);
        text.Append(key).Append(" {\n");
        foreach (var entry in entries)
        {
            text.Append("\t\"").Append(entry).Append("\";\n");
        }

        text.Append("};\n");
        text.Append("Unattended-Upgrade::Automatic-Reboot \"false\";\n");
        return text.ToString();
    }
}
