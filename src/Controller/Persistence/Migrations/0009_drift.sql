-- Drift the agents found on their hosts and what they did about it (issue 9). One row per agent
-- event; an agent re-sends until acknowledged, so (host_id, id) makes a re-send a no-op.
CREATE TABLE drift_events (
    host_id      text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    id           text NOT NULL,                  -- agent-made event id
    resource_id  text NOT NULL,                  -- e.g. file:/etc/odoo.conf
    kind         text NOT NULL,
    generation   bigint NOT NULL,                -- the spec generation the drift was measured against
    expected     text NOT NULL,                  -- short summaries, secrets redacted by the agent
    actual       text NOT NULL,
    diff         text NOT NULL,                  -- unified diff for files (redacted, bounded), '' if none
    trigger      text NOT NULL,                  -- file, unit, periodic, startup
    detected_at  timestamptz NOT NULL,
    action       text NOT NULL,                  -- corrected, reported, suppressed, flapping, failed
    corrected_at timestamptz,
    recurred     boolean NOT NULL,
    error        text NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (host_id, id)
);

-- `fleet drift` lists by time, fleet-wide or for one host.
CREATE INDEX drift_events_detected ON drift_events (detected_at, host_id, id);
CREATE INDEX drift_events_host_detected ON drift_events (host_id, detected_at, id);
-- "Open" looks for a newer record of the same resource.
CREATE INDEX drift_events_resource ON drift_events (host_id, resource_id, detected_at, id);
