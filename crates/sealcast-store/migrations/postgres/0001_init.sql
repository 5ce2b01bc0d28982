-- Settings and bookkeeping values.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Customer master keys of the built-in KMS. Key material lives in kms_key_versions, sealed
-- by the root key; nothing here is secret in the clear.
CREATE TABLE kms_keys (
    key_id          TEXT PRIMARY KEY,
    description     TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    key_spec        TEXT NOT NULL,
    key_usage       TEXT NOT NULL,
    primary_version TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    deletion_at     BIGINT
);

CREATE TABLE kms_key_versions (
    key_id          TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,
    version_id      TEXT NOT NULL,
    sealed_material BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (key_id, version_id)
);

CREATE TABLE kms_aliases (
    alias  TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE
);
