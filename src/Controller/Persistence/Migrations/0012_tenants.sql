-- Tenants (issue 7): one Odoo database with its filestore and domains, placed on one host.
-- `fleet tenant list|show` read these tables; placement reads what the tenants of each host reserve.

-- Trigram indexes make `fleet tenant list --search TEXT` (a substring of a name or domain) an
-- index scan over any number of tenants. pg_trgm is a trusted extension (PostgreSQL 13+): the
-- database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tenants (
    id              text PRIMARY KEY,                -- e.g. n-3kq9t2mzpa
    name            text NOT NULL UNIQUE,            -- TenantRules grammar: [a-z][a-z0-9-]*, 2-40
    host_id         text NOT NULL,                   -- where it is placed (a removed host leaves its tenants to be moved)
    plan            text NOT NULL,                   -- small | medium | large: what it reserves on its host
    state           text NOT NULL CHECK (state IN ('creating', 'active', 'suspended', 'deleting')),
    database_name   text NOT NULL UNIQUE,            -- = name (a DNS label: the %d of its primary domain, dbfilter ^%d$)
    primary_domain  text NOT NULL,
    modules         text[] NOT NULL,
    request         jsonb NOT NULL,                  -- the create arguments as given: the same again is a no-op, others conflict
    spec_generation bigint NOT NULL,                 -- the host's desired generation that first carried the tenant
    database_bytes  bigint,                          -- as the host's agent last reported
    filestore_bytes bigint,
    last_backup_at  timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Two tenants can never claim one domain: the primary key says so, whatever the callers race.
CREATE TABLE tenant_domains (
    domain    text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    position  int NOT NULL,                          -- 0 = primary (serves); others redirect to it
    UNIQUE (tenant_id, position)
);

CREATE INDEX tenants_host ON tenants (host_id, name);
CREATE INDEX tenants_state ON tenants (state, name);
CREATE INDEX tenants_name_trgm ON tenants USING gin (name gin_trgm_ops);
CREATE INDEX tenant_domains_trgm ON tenant_domains USING gin (domain gin_trgm_ops);
