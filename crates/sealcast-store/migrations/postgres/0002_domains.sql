-- Playback domains and their per-domain functions (JSON, see sealcast-domains).
CREATE TABLE domains (
    name       TEXT PRIMARY KEY,
    config     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

-- At most one certificate per domain. The private key is stored only sealed: AES-256-GCM
-- under a data key from the KMS (key_blob is that data key's KMS ciphertext).
CREATE TABLE certificates (
    cert_name  TEXT PRIMARY KEY,
    domain     TEXT NOT NULL UNIQUE REFERENCES domains(name) ON DELETE CASCADE,
    cert_pem   TEXT NOT NULL,
    key_blob   BYTEA NOT NULL,
    key_nonce  BYTEA NOT NULL,
    key_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
