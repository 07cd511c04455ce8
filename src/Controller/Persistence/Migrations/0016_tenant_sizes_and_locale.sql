-- Tenant sizes (issue 7): each host's agent measures its tenants' databases (pg_database_size) and
-- filestores every 10 minutes and reports them (AgentService.ReportTenantSizes); database_bytes and
-- filestore_bytes (0012) hold the newest report, sizes_measured_at when the agent measured it, so a
-- late, older report never overwrites a newer one. Placement counts a tenant that outgrew its plan's
-- disk at its measured size.
ALTER TABLE tenants ADD COLUMN sizes_measured_at timestamptz;

-- fleet tenant create --lang --country: the language odoo-bin loads and the main company's country,
-- both applied when the host creates the database (TenantSpec.lang/country); null = none.
ALTER TABLE tenants
    ADD COLUMN lang text CHECK (lang ~ '^[a-z]{2,3}(_([A-Z]{2}|[0-9]{3}))?(@[A-Za-z]{4,8})?$'),
    ADD COLUMN country text CHECK (country ~ '^[A-Z]{2}$');
