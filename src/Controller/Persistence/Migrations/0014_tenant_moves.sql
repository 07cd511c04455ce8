-- Tenant moves (issue 7): `fleet tenant move NAME --to HOST`. A move is a persisted state machine
-- driven by the hosts' converge reports and the source's archive upload, so any controller process
-- can carry it on after another one died: nothing about a move lives only in memory.
--   exporting    source spec: the tenant SUSPENDED + move_out (archive and upload it)
--   importing    the archive is stored below (sha256 checked); target spec: the tenant + move_in
--   switched     tenants.host_id = target; source spec: the tenant ABSENT (archived, then removed)
--   done
--   rolling-back a failure before the switch: target spec: the tenant ABSENT; source serves it again
--   rolled-back
CREATE TABLE tenant_moves (
    id                text PRIMARY KEY,                -- e.g. m-3kq9t2mzpa
    tenant_id         text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    source_host_id    text NOT NULL,
    target_host_id    text NOT NULL,
    step              text NOT NULL CHECK (step IN ('exporting', 'importing', 'switched', 'done', 'rolling-back', 'rolled-back')),
    -- The desired generation of each host that first carried its part of the current step: a
    -- report of that generation (or a later one) is what moves the step on.
    source_generation bigint NOT NULL,
    target_generation bigint NOT NULL,
    archive_sha256    text,
    archive_bytes     bigint,
    error             text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (source_host_id <> target_host_id)
);

-- One operation per tenant at a time: at most one open move, whatever the callers race.
CREATE UNIQUE INDEX tenant_moves_open ON tenant_moves (tenant_id) WHERE step IN ('exporting', 'importing', 'switched', 'rolling-back');
CREATE INDEX tenant_moves_source ON tenant_moves (source_host_id) WHERE step IN ('exporting', 'importing', 'switched', 'rolling-back');
CREATE INDEX tenant_moves_target ON tenant_moves (target_host_id) WHERE step IN ('exporting', 'importing', 'switched', 'rolling-back');
CREATE INDEX tenant_moves_tenant ON tenant_moves (tenant_id, created_at DESC);

-- The archive in transit, in PostgreSQL so that every controller process can serve what another
-- one received. Removed when the move is done or rolled back.
CREATE TABLE tenant_move_chunks (
    move_id text NOT NULL REFERENCES tenant_moves (id) ON DELETE CASCADE,
    seq     int NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (move_id, seq)
);
