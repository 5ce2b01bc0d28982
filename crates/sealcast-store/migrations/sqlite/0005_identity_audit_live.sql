-- Control API users (access keys belong to them), RAM-style policies and their attachments.
CREATE TABLE users (
    user_name    TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);

CREATE TABLE policies (
    policy_name TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE user_policies (
    user_name   TEXT NOT NULL REFERENCES users(user_name) ON DELETE CASCADE,
    policy_name TEXT NOT NULL REFERENCES policies(policy_name) ON DELETE CASCADE,
    PRIMARY KEY (user_name, policy_name)
);

-- Keys created before users existed keep working: their users are administrators.
INSERT INTO policies (policy_name, document, description, created_at)
    VALUES ('AdministratorAccess', '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
            'Every action on every resource', 0);
INSERT INTO users (user_name, created_at) SELECT DISTINCT user_name, 0 FROM access_keys;
INSERT INTO user_policies (user_name, policy_name) SELECT user_name, 'AdministratorAccess' FROM users;

-- Every mutating API call and every KMS cryptographic call: never secret parameters.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    access_key_id TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource      TEXT NOT NULL,
    result        TEXT NOT NULL,
    source_ip     TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Transcoding templates per push domain and app (Alibaba's AddLiveStreamTranscode). Their
-- EncryptParameters live in stream_encryption.
CREATE TABLE transcode_templates (
    domain     TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
    app        TEXT NOT NULL,
    template   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    params     TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (domain, app, template)
);

-- Publishing forbidden (ForbidLiveStream) until resume_at (NULL: until ResumeLiveStream).
CREATE TABLE stream_blocks (
    domain     TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
    app        TEXT NOT NULL,
    stream     TEXT NOT NULL,
    resume_at  INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (domain, app, stream)
);
