-- The encrypted secret store: AES-256-GCM per value, the key outside the database (a file or the
-- environment). key_id says which key sealed a row, so a rotation can re-seal rows one by one.
CREATE TABLE secrets (
    name        text PRIMARY KEY,
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    tag         bytea NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX secrets_key_id ON secrets (key_id);
