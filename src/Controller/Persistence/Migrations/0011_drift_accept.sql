-- Drift acceptance (issue 9): what accepting a drift would set, as the agent proposed it, and who
-- made the observed value the host's desired value, when, and at which generation.
ALTER TABLE drift_events
    ADD COLUMN accept              jsonb NOT NULL DEFAULT '[]',  -- [{"path": "odoo.workers", "value": "3"}, ...]
    ADD COLUMN accepted_at         timestamptz,
    ADD COLUMN accepted_by         text NOT NULL DEFAULT '',
    ADD COLUMN accepted_generation bigint NOT NULL DEFAULT 0;
