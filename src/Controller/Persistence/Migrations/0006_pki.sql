-- Agents prove who they are with client certificates issued by the fleet CA; the shared agent
-- secret is gone. Every issued certificate is recorded, so an agent call is accepted only for a
-- serial this controller issued to that host, not revoked, for a host that still exists:
-- deleting the host deletes its certificates and so revokes them at once.
ALTER TABLE hosts DROP COLUMN agent_secret_hash;

CREATE TABLE host_certificates (
    serial      text PRIMARY KEY,
    host_id     text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX host_certificates_host ON host_certificates (host_id);
