-- Control API access keys. The secret is stored only sealed: AES-256-GCM under a data key
-- from the KMS (secret_blob is that data key's KMS ciphertext); signatures need the secret
-- itself, so it cannot be hashed.
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    secret_blob   BYTEA NOT NULL,
    secret_nonce  BYTEA NOT NULL,
    secret_sealed BYTEA NOT NULL,
    state         TEXT NOT NULL DEFAULT 'Active',
    created_at    BIGINT NOT NULL
);
