-- Fleet tables: what `fleet hosts`, `fleet events` and enrollment read and write.
-- Queries that span the fleet read these tables, never a fan-out over grains.

CREATE TABLE enrollment_tokens (
    id           text PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,          -- SHA-256 of the token; the token itself is never stored
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    used_by_host text
);

CREATE TABLE hosts (
    id                    text PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    address               text NOT NULL DEFAULT '',
    agent_secret_hash     bytea NOT NULL,
    queue                 text NOT NULL,
    enrolled_at           timestamptz NOT NULL,
    last_seen             timestamptz,
    facts                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    metrics               jsonb,
    desired_generation    bigint NOT NULL DEFAULT 0,
    desired_series        text,
    desired_commit        text,
    applied_generation    bigint NOT NULL DEFAULT 0,
    reported_generation   bigint NOT NULL DEFAULT 0,
    running_series        text,
    running_commit        text,
    last_converge_success boolean NOT NULL DEFAULT false,
    last_converge_error   text NOT NULL DEFAULT '',
    last_converge_at      timestamptz,
    last_results          jsonb NOT NULL DEFAULT '[]'::jsonb
);

CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    occurred_at  timestamptz NOT NULL,
    type         text NOT NULL,
    subject      text NOT NULL,
    data         jsonb NOT NULL,
    published_at timestamptz                     -- outbox: set once the event reached RabbitMQ
);

CREATE INDEX events_unpublished ON events (id) WHERE published_at IS NULL;
CREATE INDEX events_subject ON events (subject, id);
