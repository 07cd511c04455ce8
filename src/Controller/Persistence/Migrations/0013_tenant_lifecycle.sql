-- Tenant lifecycle (issue 7): suspend, resume, delete. `state` stays what the host last confirmed
-- (or 'deleting'); `desired_state` is what the host's spec asks for, and `state_generation` the
-- host's desired generation that first carried it: a successful converge report of that generation
-- (or a later one) moves `state` to it, and removes an absent tenant with its domains.
ALTER TABLE tenants
    ADD COLUMN desired_state text NOT NULL DEFAULT 'active' CHECK (desired_state IN ('active', 'suspended', 'absent')),
    ADD COLUMN state_generation bigint NOT NULL DEFAULT 0;

UPDATE tenants SET state_generation = spec_generation;
