-- People's access: API tokens with roles (stored as SHA-256 only), enrollment tokens bound to a
-- host name and carrying labels, revocable; host labels from the token that enrolled the host.
CREATE TABLE api_tokens (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash    bytea NOT NULL UNIQUE,          -- SHA-256 of the token; the token itself is never stored
    created_at    timestamptz NOT NULL,
    created_by    text NOT NULL DEFAULT '',
    expires_at    timestamptz,                    -- NULL: never expires
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- A name identifies one live token, so `fleet apitoken revoke NAME` is never ambiguous.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

ALTER TABLE enrollment_tokens
    ADD COLUMN host_name  text,                   -- NULL: any name may enroll with it
    ADD COLUMN labels     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN created_by text NOT NULL DEFAULT '',
    ADD COLUMN revoked_at timestamptz;

ALTER TABLE hosts ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb;
