-- Per-host profile settings (`fleet host configure`) and the answers to `fleet host plan`.

-- The host's own settings as JSON (Domain.HostProfile); '{}' = every fleet default. Never a secret.
ALTER TABLE hosts ADD COLUMN profile jsonb NOT NULL DEFAULT '{}'::jsonb;

-- One row per plan request: created before the command goes to the host, filled by the agent's
-- ReportPlan, read by the waiting PlanHost call, pruned after a day.
CREATE TABLE host_plans (
    request_id   text PRIMARY KEY,
    host_id      text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    requested_at timestamptz NOT NULL,
    reported_at  timestamptz,
    report       jsonb
);

CREATE INDEX host_plans_requested_at ON host_plans (requested_at);
