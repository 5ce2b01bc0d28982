-- How streams are encrypted, per domain and app (Alibaba: the EncryptParameters of a
-- transcoding template). Streams of other apps use the server's [hls] defaults.
CREATE TABLE stream_encryption (
    domain       TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
    app          TEXT NOT NULL,
    encrypt_type TEXT NOT NULL,
    kms_key_id   TEXT,
    key_rotation BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (domain, app)
);
