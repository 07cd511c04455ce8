namespace OdooFleet.Agent.Profiles;

/// <summary>Renders the odoo.service unit that runs the release `current` points to, with that release's venv.</summary>
internal static class OdooUnitRenderer
{
    public static string Render(OdooLayout layout, bool localPostgres) => $"""
        # Managed by odoofleet-agent: local changes are put back on the next converge.
        [Unit]
        Description=Odoo 18 (managed by odoofleet-agent)
        Wants=network-online.target
        After=network-online.target{(localPostgres ? " postgresql.service" : "")}

        [Service]
        Type=simple
        User={layout.User}
        Group={layout.Group}
        WorkingDirectory={layout.CurrentLink}
        ExecStart={layout.Python} {layout.OdooBin} -c {layout.ConfFile}
        # Odoo's prefork master stops its workers itself on SIGTERM; stragglers get SIGKILL.
        KillMode=mixed
        TimeoutStopSec=60
        Restart=on-failure
        RestartSec=5
        # Each worker holds sockets, PostgreSQL connections and attachment files open.
        LimitNOFILE=65536
        NoNewPrivileges=true
        PrivateTmp=true
        ProtectSystem=full
        ProtectHome=true

        [Install]
        WantedBy=multi-user.target

        """;
}
