-- Tenant clones (issue 7): a tenant can start as a copy of another one on the same host.
-- `clone_of` is the source's name when the clone was asked for (the source may be deleted later;
-- the copy stays), `neutralize` whether the copy's mail, crons and payment providers are disabled.
-- Both travel in the host spec's TenantSpec; the agent seeds the database once.
ALTER TABLE tenants
    ADD COLUMN clone_of text,
    ADD COLUMN neutralize boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT tenants_neutralize_needs_clone CHECK (NOT neutralize OR clone_of IS NOT NULL);
