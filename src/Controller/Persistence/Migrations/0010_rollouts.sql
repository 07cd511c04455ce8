-- Rollouts (issue 6): staged releases, the rollout header, its batches and one row per host, and
-- the host leases that keep two rollouts off one host. Per-host rows instead of one state blob:
-- a 5,000-host rollout is advanced with set-based statements, never rewritten whole.

-- A release artifact built once by a controller (git archive of one commit, + wheelhouse); the
-- file is cached under each controller's data directory and must rebuild to this sha256.
CREATE TABLE releases (
    series     text NOT NULL,
    commit     text NOT NULL,
    sha256     text NOT NULL,
    size_bytes bigint NOT NULL,
    built_at   timestamptz NOT NULL,
    PRIMARY KEY (series, commit)
);

CREATE TABLE rollouts (
    id              text PRIMARY KEY,
    series          text NOT NULL,
    commit          text NOT NULL,
    state           text NOT NULL,               -- running, paused, succeeded, failed, aborted
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    message         text NOT NULL DEFAULT '',
    policy          jsonb NOT NULL,              -- RolloutPolicy with every default resolved
    rollback_of     text,
    created_by      text NOT NULL,
    current_batch   integer NOT NULL DEFAULT -1,
    artifact_sha256 text NOT NULL DEFAULT '',
    artifact_size   bigint NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 1    -- bumped on every change: optimistic concurrency and watchers
);

CREATE INDEX rollouts_created ON rollouts (created_at DESC, id DESC);

CREATE TABLE rollout_batches (
    rollout_id  text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    batch_index integer NOT NULL,
    canary      boolean NOT NULL,
    state       text NOT NULL,                   -- pending, running, done, cancelled
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (rollout_id, batch_index)
);

-- No foreign key to hosts: a removed host's step stays in the rollout's history.
CREATE TABLE rollout_hosts (
    rollout_id        text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    host_id           text NOT NULL,
    name              text NOT NULL,
    batch             integer NOT NULL,
    state             text NOT NULL,             -- pending, updating, succeeded, failed, unchanged, reverted, skipped, cancelled
    target_series     text NOT NULL,
    target_commit     text NOT NULL,
    from_series       text,
    from_commit       text,
    target_generation bigint NOT NULL DEFAULT 0, -- 0 = not dispatched yet
    message           text NOT NULL DEFAULT '',
    phase             text NOT NULL DEFAULT '',
    log_tail          text NOT NULL DEFAULT '',
    unavailable_ms    bigint NOT NULL DEFAULT 0,
    updated_modules   text[] NOT NULL DEFAULT '{}',
    staged            boolean NOT NULL DEFAULT false,
    restore_pending   boolean NOT NULL DEFAULT false, -- failed: the host's desired release must go back to from_*
    dispatched_at     timestamptz,
    last_sent_at      timestamptz,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, host_id)
);

CREATE INDEX rollout_hosts_open ON rollout_hosts (rollout_id, batch) WHERE state IN ('pending', 'updating');

-- One rollout holds a host at a time; the lease goes when the rollout ends.
CREATE TABLE host_leases (
    host_id     text PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    rollout_id  text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    acquired_at timestamptz NOT NULL
);

CREATE INDEX host_leases_rollout ON host_leases (rollout_id);

-- What the host's spec carries with its desired release: where to fetch it and how to apply it.
ALTER TABLE hosts ADD COLUMN desired_artifact jsonb;
ALTER TABLE hosts ADD COLUMN desired_gate jsonb;
-- The release transition of the last converge report (ConvergeReport.transition), for rollouts.
ALTER TABLE hosts ADD COLUMN last_transition jsonb;

CREATE INDEX events_type_time ON events (occurred_at, id);
