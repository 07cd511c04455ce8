namespace OdooFleet.Agent.Profiles;

/// <summary>Renders the odoo.service unit that runs the release `current` points to.</summary>
internal static class OdooUnitRenderer
{
    public static string Render(OdooLayout layout) => $"""
        # Managed by odoofleet-agent: local changes are put back on the next converge.
        [Unit]
        Description=Odoo (managed by odoofleet-agent)
        Wants=network-online.target
        After=network-online.target postgresql.service

        [Service]
        Type=simple
        User={layout.User}
        Group={layout.Group}
        WorkingDirectory={layout.CurrentLink}
        ExecStart={layout.OdooBin} -c {layout.ConfFile}
        Restart=on-failure
        RestartSec=2

        [Install]
        WantedBy=multi-user.target

        """;
}
