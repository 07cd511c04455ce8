-- Orleans cluster state kept in PostgreSQL: membership, reminders and grain state.
-- Read and written only by NpgsqlMembershipTable, NpgsqlReminderTable and NpgsqlGrainStorage.

-- One etag source for reminders and grain state: etags are never reused, even after a row
-- is deleted and written again, so a stale writer can never match a newer row by accident.
CREATE SEQUENCE orleans_etag_seq;

-- The membership table version of each cluster: every membership change bumps it atomically
-- with the row it changes (optimistic concurrency of the Orleans membership protocol).
CREATE TABLE orleans_membership_version (
    cluster_id text PRIMARY KEY,
    version    integer NOT NULL,
    etag       bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orleans_membership (
    cluster_id      text NOT NULL REFERENCES orleans_membership_version (cluster_id) ON DELETE CASCADE,
    silo_address    text NOT NULL,                 -- "ip:port@generation"
    silo_name       text NOT NULL,
    host_name       text NOT NULL,
    role_name       text NOT NULL,
    status          integer NOT NULL,              -- Orleans SiloStatus
    proxy_port      integer NOT NULL,
    update_zone     integer NOT NULL,
    fault_zone      integer NOT NULL,
    suspect_times   jsonb NOT NULL,                -- [{"silo": "...", "at": "..."}]
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    last_update     timestamptz NOT NULL,          -- later of i_am_alive_time and the newest suspicion
    etag            bigint NOT NULL,               -- bumped by UpdateRow only, never by heartbeats
    PRIMARY KEY (cluster_id, silo_address)
);

CREATE TABLE orleans_reminders (
    service_id    text NOT NULL,
    grain_id      text NOT NULL,
    reminder_name text NOT NULL,
    grain_hash    bigint NOT NULL,                 -- GrainId.GetUniformHashCode(), an unsigned 32-bit ring position
    start_at      timestamptz NOT NULL,
    period_ticks  bigint NOT NULL,
    etag          bigint NOT NULL DEFAULT nextval('orleans_etag_seq'),
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

CREATE INDEX orleans_reminders_ring ON orleans_reminders (service_id, grain_hash);

CREATE TABLE orleans_grain_state (
    service_id text NOT NULL,
    grain_type text NOT NULL,
    grain_key  text NOT NULL,
    state_name text NOT NULL,
    state      jsonb NOT NULL,
    etag       bigint NOT NULL DEFAULT nextval('orleans_etag_seq'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_type, grain_key, state_name)
);
