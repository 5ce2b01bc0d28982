//! Persistent store for Sealcast: SQLite (the embedded default) or PostgreSQL through sqlx,
//! with one versioned migration set per backend and the same queries on both.
//!
//! The store holds configuration and *sealed* key material only. Nothing written here is a
//! plaintext key: the KMS seals CMK material with the root key before it reaches
//! [`Store::kms_insert_key`].
#![forbid(unsafe_code)]

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};
use thiserror::Error;

/// A SELECT of every certificate column, followed by `$tail`.
macro_rules! cert_select {
    ($tail:literal) => {
        concat!(
            "SELECT cert_name, domain, cert_pem, key_blob, key_nonce, key_sealed, created_at FROM certificates ",
            $tail
        )
    };
}

/// Store errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database schema version {found} is newer than this Sealcast supports ({supported}); upgrade Sealcast")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
}

/// Ordered migrations for SQLite. Append only; never edit a released one.
const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_domains.sql")),
    (3, include_str!("../migrations/sqlite/0003_stream_encryption.sql")),
    (4, include_str!("../migrations/sqlite/0004_access_keys.sql")),
    (5, include_str!("../migrations/sqlite/0005_identity_audit_live.sql")),
];

/// The same schema for PostgreSQL, version for version.
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_domains.sql")),
    (3, include_str!("../migrations/postgres/0003_stream_encryption.sql")),
    (4, include_str!("../migrations/postgres/0004_access_keys.sql")),
    (5, include_str!("../migrations/postgres/0005_identity_audit_live.sql")),
];

/// Meta key bumped by every configuration change; servers poll it to reload.
pub const META_CONFIG_GENERATION: &str = "config.generation";

/// A CMK record (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyRecord {
    pub key_id: String,
    pub description: String,
    /// Enabled, Disabled or PendingDeletion.
    pub state: String,
    pub key_spec: String,
    pub key_usage: String,
    pub primary_version: String,
    pub created_at: i64,
    pub deletion_at: Option<i64>,
}

/// A sealed CMK version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyVersionRecord {
    pub key_id: String,
    pub version_id: String,
    pub sealed_material: Vec<u8>,
    pub created_at: i64,
}

/// A playback domain row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub name: String,
    /// Per-domain functions as JSON.
    pub config: String,
    pub created_at: i64,
}

/// A certificate row. `key_*` hold the sealed private key; nothing here is plaintext secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub cert_name: String,
    pub domain: String,
    pub cert_pem: String,
    pub key_blob: Vec<u8>,
    pub key_nonce: Vec<u8>,
    pub key_sealed: Vec<u8>,
    pub created_at: i64,
}

/// How the streams of one app on one domain are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEncryptionRecord {
    pub domain: String,
    pub app: String,
    /// `aes-128`, `envelope` or `none`.
    pub encrypt_type: String,
    pub kms_key_id: Option<String>,
    /// Key rotation interval in seconds.
    pub key_rotation: i64,
    pub created_at: i64,
}

/// A control API access key; the secret is sealed (see the migration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub user_name: String,
    pub secret_blob: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub secret_sealed: Vec<u8>,
    /// `Active` or `Inactive`.
    pub state: String,
    pub created_at: i64,
}

/// A control API user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_name: String,
    pub display_name: String,
    pub created_at: i64,
}

/// A RAM-style policy document (JSON) with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    pub policy_name: String,
    pub document: String,
    pub description: String,
    pub created_at: i64,
}

/// One audited API call. Never holds secret parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Assigned by the database (0 before insertion).
    pub id: i64,
    pub at: i64,
    pub request_id: String,
    pub access_key_id: String,
    pub user_name: String,
    pub action: String,
    pub resource: String,
    /// `OK` or the error code.
    pub result: String,
    pub source_ip: String,
}

/// Which audit records to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub user_name: Option<String>,
    pub action: Option<String>,
    pub limit: i64,
}

/// A transcoding template of a push domain's app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscodeRecord {
    pub domain: String,
    pub app: String,
    pub template: String,
    /// `standard` or `custom`.
    pub kind: String,
    /// The template's parameters as JSON.
    pub params: String,
    pub created_at: i64,
}

/// A stream whose publishing is forbidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBlockRecord {
    pub domain: String,
    pub app: String,
    pub stream: String,
    /// Unix seconds when the block ends; `None` until ResumeLiveStream.
    pub resume_at: Option<i64>,
    pub created_at: i64,
}

fn access_key_row(r: &AnyRow) -> Result<AccessKeyRecord, StoreError> {
    Ok(AccessKeyRecord {
        access_key_id: r.try_get(0)?,
        user_name: r.try_get(1)?,
        secret_blob: r.try_get(2)?,
        secret_nonce: r.try_get(3)?,
        secret_sealed: r.try_get(4)?,
        state: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

const ACCESS_KEY_COLUMNS: &str =
    "access_key_id, user_name, secret_blob, secret_nonce, secret_sealed, state, created_at";

fn encryption_row(r: &AnyRow) -> Result<StreamEncryptionRecord, StoreError> {
    Ok(StreamEncryptionRecord {
        domain: r.try_get(0)?,
        app: r.try_get(1)?,
        encrypt_type: r.try_get(2)?,
        kms_key_id: r.try_get(3)?,
        key_rotation: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    /// Opens a database by URL: `postgres://user:password@host:port/db` (or `postgresql://`),
    /// `sqlite://path` or a bare file path for SQLite.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect(url, Backend::Postgres, 8).await
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Self::open_sqlite(Path::new(path)).await
        }
    }

    /// Opens (creating if needed) the SQLite database at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_str().ok_or_else(|| StoreError::InvalidUrl("the database path is not UTF-8".into()))?;
        if path.contains(['?', '#']) {
            return Err(StoreError::InvalidUrl(format!("{path}: a database path cannot contain '?' or '#'")));
        }
        Self::connect(&format!("sqlite://{path}?mode=rwc"), Backend::Sqlite, 4).await
    }

    /// A private in-memory SQLite database (tests and tools).
    pub async fn open_memory() -> Result<Store, StoreError> {
        Self::connect("sqlite::memory:", Backend::Sqlite, 1).await
    }

    async fn connect(url: &str, backend: Backend, max: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let mut opts = AnyPoolOptions::new().max_connections(max).acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // One connection holds an in-memory database: it must never be recycled.
            opts = opts.idle_timeout(None).max_lifetime(None).after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 5000",
                    ] {
                        sqlx::Executor::execute(&mut *conn, pragma).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The database in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrations(&self) -> &'static [(i64, &'static str)] {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            // Several servers may share one database: one migrates at a time.
            sqlx::query("SELECT pg_advisory_lock(7305716213)").execute(&mut *conn).await?;
        }
        let result = self.migrate_on(&mut conn).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7305716213)").execute(&mut *conn).await?;
        }
        result
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&mut *conn).await?;
        let migrations = self.migrations();
        let supported = migrations.last().map_or(0, |m| m.0);
        if current > supported {
            return Err(StoreError::SchemaTooNew { found: current, supported });
        }
        for (version, sql) in migrations.iter().filter(|(v, _)| *v > current) {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_secs())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, backend = ?self.backend, "applied database migration");
        }
        Ok(())
    }

    /// Schema version after migrations.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetch_one(&self.pool).await?)
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(&self.pool).await?)
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inserts a key with its first version atomically.
    pub async fn kms_insert_key(&self, key: &KmsKeyRecord, version: &KmsKeyVersionRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO kms_keys (key_id, description, state, key_spec, key_usage, primary_version, created_at, deletion_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&key.key_id)
        .bind(&key.description)
        .bind(&key.state)
        .bind(&key.key_spec)
        .bind(&key.key_usage)
        .bind(&key.primary_version)
        .bind(key.created_at)
        .bind(key.deletion_at)
        .execute(&mut *tx)
        .await?;
        insert_version(&mut tx, version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a version and makes it primary.
    pub async fn kms_add_version(&self, version: &KmsKeyVersionRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_version(&mut tx, version).await?;
        sqlx::query("UPDATE kms_keys SET primary_version = $1 WHERE key_id = $2")
            .bind(&version.version_id)
            .bind(&version.key_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn kms_get_key(&self, key_id: &str) -> Result<Option<KmsKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key_id, description, state, key_spec, key_usage, primary_version, created_at, deletion_at \
             FROM kms_keys WHERE key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(KmsKeyRecord {
                key_id: r.try_get(0)?,
                description: r.try_get(1)?,
                state: r.try_get(2)?,
                key_spec: r.try_get(3)?,
                key_usage: r.try_get(4)?,
                primary_version: r.try_get(5)?,
                created_at: r.try_get(6)?,
                deletion_at: r.try_get(7)?,
            })
        })
        .transpose()
    }

    pub async fn kms_list_keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT key_id FROM kms_keys ORDER BY created_at, key_id").fetch_all(&self.pool).await?)
    }

    pub async fn kms_set_state(&self, key_id: &str, state: &str, deletion_at: Option<i64>) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE kms_keys SET state = $1, deletion_at = $2 WHERE key_id = $3")
            .bind(state)
            .bind(deletion_at)
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn kms_get_version(
        &self,
        key_id: &str,
        version_id: &str,
    ) -> Result<Option<KmsKeyVersionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT key_id, version_id, sealed_material, created_at FROM kms_key_versions WHERE key_id = $1 AND version_id = $2",
        )
        .bind(key_id)
        .bind(version_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(KmsKeyVersionRecord {
                key_id: r.try_get(0)?,
                version_id: r.try_get(1)?,
                sealed_material: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    pub async fn kms_set_alias(&self, alias: &str, key_id: &str) -> Result<(), StoreError> {
        let r = sqlx::query("INSERT INTO kms_aliases (alias, key_id) VALUES ($1, $2)")
            .bind(alias)
            .bind(key_id)
            .execute(&self.pool)
            .await;
        unique(r, || format!("alias {alias}"))
    }

    pub async fn kms_resolve_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT key_id FROM kms_aliases WHERE alias = $1")
            .bind(alias)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The configuration generation (0 before any change).
    pub async fn config_generation(&self) -> Result<i64, StoreError> {
        Ok(self.meta_get(META_CONFIG_GENERATION).await?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    pub async fn domain_insert(&self, d: &DomainRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("INSERT INTO domains (name, config, created_at) VALUES ($1, $2, $3)")
            .bind(&d.name)
            .bind(&d.config)
            .bind(d.created_at)
            .execute(&mut *tx)
            .await;
        unique(r, || format!("domain {}", d.name))?;
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a domain (and its certificate). Returns whether it existed.
    pub async fn domain_delete(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM domains WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn domain_get(&self, name: &str) -> Result<Option<DomainRecord>, StoreError> {
        let row = sqlx::query("SELECT name, config, created_at FROM domains WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(DomainRecord { name: r.try_get(0)?, config: r.try_get(1)?, created_at: r.try_get(2)? }))
            .transpose()
    }

    pub async fn domain_list(&self) -> Result<Vec<DomainRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT name, config, created_at FROM domains ORDER BY name").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| Ok(DomainRecord { name: r.try_get(0)?, config: r.try_get(1)?, created_at: r.try_get(2)? }))
            .collect()
    }

    /// Replaces a domain's function configuration.
    pub async fn domain_set_config(&self, name: &str, config: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE domains SET config = $1 WHERE name = $2")
            .bind(config)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Inserts or replaces the encryption of a domain's app.
    pub async fn encryption_put(&self, r: &StreamEncryptionRecord) -> Result<(), StoreError> {
        let res = sqlx::query(
            "INSERT INTO stream_encryption (domain, app, encrypt_type, kms_key_id, key_rotation, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (domain, app) DO UPDATE SET encrypt_type = excluded.encrypt_type, \
             kms_key_id = excluded.kms_key_id, key_rotation = excluded.key_rotation",
        )
        .bind(&r.domain)
        .bind(&r.app)
        .bind(&r.encrypt_type)
        .bind(&r.kms_key_id)
        .bind(r.key_rotation)
        .bind(r.created_at)
        .execute(&self.pool)
        .await;
        foreign_key(res, || format!("domain {}", r.domain))
    }

    pub async fn encryption_get(&self, domain: &str, app: &str) -> Result<Option<StreamEncryptionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT domain, app, encrypt_type, kms_key_id, key_rotation, created_at FROM stream_encryption \
             WHERE domain = $1 AND app = $2",
        )
        .bind(domain)
        .bind(app)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| encryption_row(&r)).transpose()
    }

    pub async fn encryption_list(&self) -> Result<Vec<StreamEncryptionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT domain, app, encrypt_type, kms_key_id, key_rotation, created_at FROM stream_encryption \
             ORDER BY domain, app",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(encryption_row).collect()
    }

    /// Returns whether there was one.
    pub async fn encryption_delete(&self, domain: &str, app: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM stream_encryption WHERE domain = $1 AND app = $2")
            .bind(domain)
            .bind(app)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn access_key_insert(&self, k: &AccessKeyRecord) -> Result<(), StoreError> {
        let r =
            sqlx::query(&format!("INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                .bind(&k.access_key_id)
                .bind(&k.user_name)
                .bind(&k.secret_blob)
                .bind(&k.secret_nonce)
                .bind(&k.secret_sealed)
                .bind(&k.state)
                .bind(k.created_at)
                .execute(&self.pool)
                .await;
        unique(r, || format!("access key {}", k.access_key_id))
    }

    pub async fn access_key_get(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| access_key_row(&r)).transpose()
    }

    pub async fn access_key_list(&self) -> Result<Vec<AccessKeyRecord>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys ORDER BY created_at, access_key_id"))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(access_key_row).collect()
    }

    /// Sets `Active` or `Inactive`; returns whether the key exists.
    pub async fn access_key_set_state(&self, id: &str, state: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE access_keys SET state = $1 WHERE access_key_id = $2")
            .bind(state)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Stores a domain's certificate, replacing the domain's previous one (the caller enforces
    /// ForceSet semantics first). A name used by another domain's certificate is a
    /// [`StoreError::Conflict`]: one domain's upload never removes another's certificate.
    pub async fn cert_put(&self, c: &CertificateRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM certificates WHERE domain = $1").bind(&c.domain).execute(&mut *tx).await?;
        let inserted = sqlx::query(
            "INSERT INTO certificates (cert_name, domain, cert_pem, key_blob, key_nonce, key_sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.cert_name)
        .bind(&c.domain)
        .bind(&c.cert_pem)
        .bind(&c.key_blob)
        .bind(&c.key_nonce)
        .bind(&c.key_sealed)
        .bind(c.created_at)
        .execute(&mut *tx)
        .await;
        unique(inserted, || format!("certificate name {} (used by another domain)", c.cert_name))?;
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a domain's certificate and key. Returns whether there was one.
    pub async fn cert_delete_for_domain(&self, domain: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM certificates WHERE domain = $1")
            .bind(domain)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn cert_by_name(&self, name: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let row = sqlx::query(cert_select!("WHERE cert_name = $1")).bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| cert_row(&r)).transpose()
    }

    pub async fn cert_for_domain(&self, domain: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let row = sqlx::query(cert_select!("WHERE domain = $1")).bind(domain).fetch_optional(&self.pool).await?;
        row.map(|r| cert_row(&r)).transpose()
    }

    pub async fn cert_list(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        let rows = sqlx::query(cert_select!("ORDER BY domain")).fetch_all(&self.pool).await?;
        rows.iter().map(cert_row).collect()
    }

    pub async fn access_key_delete(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM access_keys WHERE access_key_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn kms_list_versions(&self, key_id: &str) -> Result<Vec<KmsKeyVersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, version_id, sealed_material, created_at FROM kms_key_versions WHERE key_id = $1 \
             ORDER BY created_at, version_id",
        )
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KmsKeyVersionRecord {
                    key_id: r.try_get(0)?,
                    version_id: r.try_get(1)?,
                    sealed_material: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Every alias as (alias, key id), sorted by alias.
    pub async fn kms_list_aliases(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT alias, key_id FROM kms_aliases ORDER BY alias").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn kms_delete_alias(&self, alias: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM kms_aliases WHERE alias = $1")
            .bind(alias)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes a key with its versions and aliases (after its pending-deletion window).
    pub async fn kms_delete_key(&self, key_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM kms_aliases WHERE key_id = $1").bind(key_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM kms_key_versions WHERE key_id = $1").bind(key_id).execute(&mut *tx).await?;
        let n =
            sqlx::query("DELETE FROM kms_keys WHERE key_id = $1").bind(key_id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn user_insert(&self, u: &UserRecord) -> Result<(), StoreError> {
        let r = sqlx::query("INSERT INTO users (user_name, display_name, created_at) VALUES ($1, $2, $3)")
            .bind(&u.user_name)
            .bind(&u.display_name)
            .bind(u.created_at)
            .execute(&self.pool)
            .await;
        unique(r, || format!("user {}", u.user_name))
    }

    pub async fn user_get(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query("SELECT user_name, display_name, created_at FROM users WHERE user_name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(UserRecord { user_name: r.try_get(0)?, display_name: r.try_get(1)?, created_at: r.try_get(2)? }))
            .transpose()
    }

    pub async fn user_list(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query("SELECT user_name, display_name, created_at FROM users ORDER BY user_name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserRecord { user_name: r.try_get(0)?, display_name: r.try_get(1)?, created_at: r.try_get(2)? })
            })
            .collect()
    }

    /// Deletes a user with its access keys and policy attachments.
    pub async fn user_delete(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM access_keys WHERE user_name = $1").bind(name).execute(&mut *tx).await?;
        let n =
            sqlx::query("DELETE FROM users WHERE user_name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Creates a policy, or replaces the document and description of an existing one.
    pub async fn policy_put(&self, p: &PolicyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policies (policy_name, document, description, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (policy_name) DO UPDATE SET document = excluded.document, description = excluded.description",
        )
        .bind(&p.policy_name)
        .bind(&p.document)
        .bind(&p.description)
        .bind(p.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn policy_get(&self, name: &str) -> Result<Option<PolicyRecord>, StoreError> {
        let row =
            sqlx::query("SELECT policy_name, document, description, created_at FROM policies WHERE policy_name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| policy_row(&r)).transpose()
    }

    pub async fn policy_list(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT policy_name, document, description, created_at FROM policies ORDER BY policy_name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(policy_row).collect()
    }

    /// Deletes a policy and its attachments.
    pub async fn policy_delete(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_policies WHERE policy_name = $1").bind(name).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM policies WHERE policy_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Attaches a policy to a user (idempotent).
    pub async fn policy_attach(&self, user: &str, policy: &str) -> Result<(), StoreError> {
        if self.user_get(user).await?.is_none() {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        if self.policy_get(policy).await?.is_none() {
            return Err(StoreError::NotFound(format!("policy {policy}")));
        }
        sqlx::query(
            "INSERT INTO user_policies (user_name, policy_name) VALUES ($1, $2) ON CONFLICT (user_name, policy_name) DO NOTHING",
        )
        .bind(user)
        .bind(policy)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Returns whether it was attached.
    pub async fn policy_detach(&self, user: &str, policy: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM user_policies WHERE user_name = $1 AND policy_name = $2")
            .bind(user)
            .bind(policy)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// The policies attached to a user.
    pub async fn policies_of_user(&self, user: &str) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.policy_name, p.document, p.description, p.created_at FROM policies p \
             JOIN user_policies u ON u.policy_name = p.policy_name WHERE u.user_name = $1 ORDER BY p.policy_name",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(policy_row).collect()
    }

    /// Appends an audit record; returns its id.
    pub async fn audit_insert(&self, a: &AuditRecord) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, request_id, access_key_id, user_name, action, resource, result, source_ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(a.at)
        .bind(&a.request_id)
        .bind(&a.access_key_id)
        .bind(&a.user_name)
        .bind(&a.action)
        .bind(&a.resource)
        .bind(&a.result)
        .bind(&a.source_ip)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Audit records matching `q`, newest first.
    pub async fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, request_id, access_key_id, user_name, action, resource, result, source_ip FROM audit_log \
             WHERE at >= $1 AND at <= $2 AND ($3 = '' OR user_name = $3) AND ($4 = '' OR action = $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(q.since.unwrap_or(i64::MIN))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(q.user_name.clone().unwrap_or_default())
        .bind(q.action.clone().unwrap_or_default())
        .bind(q.limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    request_id: r.try_get(2)?,
                    access_key_id: r.try_get(3)?,
                    user_name: r.try_get(4)?,
                    action: r.try_get(5)?,
                    resource: r.try_get(6)?,
                    result: r.try_get(7)?,
                    source_ip: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Deletes audit records older than `before` (Unix seconds); returns how many.
    pub async fn audit_delete_before(&self, before: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(before).execute(&self.pool).await?.rows_affected())
    }

    /// Inserts or replaces a template (its creation time is kept).
    pub async fn transcode_put(&self, t: &TranscodeRecord) -> Result<(), StoreError> {
        let r = sqlx::query(
            "INSERT INTO transcode_templates (domain, app, template, kind, params, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (domain, app, template) DO UPDATE SET kind = excluded.kind, params = excluded.params",
        )
        .bind(&t.domain)
        .bind(&t.app)
        .bind(&t.template)
        .bind(&t.kind)
        .bind(&t.params)
        .bind(t.created_at)
        .execute(&self.pool)
        .await;
        foreign_key(r, || format!("domain {}", t.domain))
    }

    /// The templates of a domain (every domain when `None`).
    pub async fn transcode_list(&self, domain: Option<&str>) -> Result<Vec<TranscodeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT domain, app, template, kind, params, created_at FROM transcode_templates \
             WHERE ($1 = '' OR domain = $1) ORDER BY domain, app, template",
        )
        .bind(domain.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TranscodeRecord {
                    domain: r.try_get(0)?,
                    app: r.try_get(1)?,
                    template: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    params: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub async fn transcode_delete(&self, domain: &str, app: &str, template: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM transcode_templates WHERE domain = $1 AND app = $2 AND template = $3")
            .bind(domain)
            .bind(app)
            .bind(template)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Forbids publishing a stream (replacing an earlier block of it).
    pub async fn block_put(&self, b: &StreamBlockRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stream_blocks (domain, app, stream, resume_at, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (domain, app, stream) DO UPDATE SET resume_at = excluded.resume_at, created_at = excluded.created_at",
        )
        .bind(&b.domain)
        .bind(&b.app)
        .bind(&b.stream)
        .bind(b.resume_at)
        .bind(b.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn block_get(
        &self,
        domain: &str,
        app: &str,
        stream: &str,
    ) -> Result<Option<StreamBlockRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT domain, app, stream, resume_at, created_at FROM stream_blocks WHERE domain = $1 AND app = $2 AND stream = $3",
        )
        .bind(domain)
        .bind(app)
        .bind(stream)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| block_row(&r)).transpose()
    }

    pub async fn block_list(&self) -> Result<Vec<StreamBlockRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT domain, app, stream, resume_at, created_at FROM stream_blocks ORDER BY domain, app, stream",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(block_row).collect()
    }

    /// Lifts a block; returns whether there was one.
    pub async fn block_delete(&self, domain: &str, app: &str, stream: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM stream_blocks WHERE domain = $1 AND app = $2 AND stream = $3")
            .bind(domain)
            .bind(app)
            .bind(stream)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Closes the pool (flushes WAL on the last connection).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn policy_row(r: &AnyRow) -> Result<PolicyRecord, StoreError> {
    Ok(PolicyRecord {
        policy_name: r.try_get(0)?,
        document: r.try_get(1)?,
        description: r.try_get(2)?,
        created_at: r.try_get(3)?,
    })
}

fn block_row(r: &AnyRow) -> Result<StreamBlockRecord, StoreError> {
    Ok(StreamBlockRecord {
        domain: r.try_get(0)?,
        app: r.try_get(1)?,
        stream: r.try_get(2)?,
        resume_at: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

/// Maps a foreign-key violation (the referenced row is missing) to [`StoreError::NotFound`].
fn foreign_key<T>(r: Result<T, sqlx::Error>, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    match r {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(StoreError::NotFound(what())),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Maps a unique violation to [`StoreError::Conflict`].
fn unique<T>(r: Result<T, sqlx::Error>, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    match r {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(what())),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

fn cert_row(r: &AnyRow) -> Result<CertificateRecord, StoreError> {
    Ok(CertificateRecord {
        cert_name: r.try_get(0)?,
        domain: r.try_get(1)?,
        cert_pem: r.try_get(2)?,
        key_blob: r.try_get(3)?,
        key_nonce: r.try_get(4)?,
        key_sealed: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

async fn bump_generation(tx: &mut sqlx::Transaction<'_, Any>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, '1') \
         ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
    )
    .bind(META_CONFIG_GENERATION)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_version(tx: &mut sqlx::Transaction<'_, Any>, v: &KmsKeyVersionRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kms_key_versions (key_id, version_id, sealed_material, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&v.key_id)
    .bind(&v.version_id)
    .bind(&v.sealed_material)
    .bind(v.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Test support: throwaway databases on both backends. The PostgreSQL server comes from
/// `SEALCAST_TEST_POSTGRES_URL` (scripts/test starts one); tests that need it fail, never
/// skip, when it is missing.
pub mod testing {
    use std::sync::atomic::{AtomicU32, Ordering};

    use sqlx::Connection as _;

    use super::{Store, StoreError};

    /// The environment variable naming a PostgreSQL server for tests.
    pub const POSTGRES_ENV: &str = "SEALCAST_TEST_POSTGRES_URL";

    /// The server URL, or a panic that says how to get one.
    pub fn postgres_server() -> String {
        std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: the PostgreSQL tests need a server \
                 (scripts/test installs and starts one, e.g. postgres://sealcast_test:sealcast_test@127.0.0.1:5432/postgres)"
            )
        })
    }

    /// Creates an empty database on the test server and returns its URL.
    pub async fn fresh_postgres_url() -> Result<String, StoreError> {
        static N: AtomicU32 = AtomicU32::new(0);
        sqlx::any::install_default_drivers();
        let server = postgres_server();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("sealcast_test_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::AnyConnection::connect(&server).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
        conn.close().await?;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }

    /// A migrated, empty PostgreSQL store.
    pub async fn fresh_postgres() -> Store {
        let url = fresh_postgres_url().await.expect("create a test database");
        Store::open(&url).await.expect("open the test database")
    }

    /// One empty store per backend: in-memory SQLite and a fresh PostgreSQL database.
    pub async fn every_backend() -> Vec<Store> {
        vec![Store::open_memory().await.expect("in-memory SQLite"), fresh_postgres().await]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> (KmsKeyRecord, KmsKeyVersionRecord) {
        (
            KmsKeyRecord {
                key_id: id.into(),
                description: "d".into(),
                state: "Enabled".into(),
                key_spec: "Aliyun_AES_256".into(),
                key_usage: "ENCRYPT/DECRYPT".into(),
                primary_version: "v1".into(),
                created_at: 1,
                deletion_at: None,
            },
            KmsKeyVersionRecord {
                key_id: id.into(),
                version_id: "v1".into(),
                sealed_material: vec![1, 2, 3],
                created_at: 1,
            },
        )
    }

    #[tokio::test]
    async fn kms_tables_roundtrip() {
        for s in testing::every_backend().await {
            assert_eq!(s.schema_version().await.expect("version"), 5);
            let (k, v) = key("k1");
            s.kms_insert_key(&k, &v).await.expect("insert");
            assert_eq!(s.kms_get_key("k1").await.expect("get"), Some(k.clone()));
            assert_eq!(s.kms_get_version("k1", "v1").await.expect("get"), Some(v));
            assert!(s.kms_insert_key(&k, &key("k1").1).await.is_err(), "duplicate id");
            assert!(s.kms_set_state("k1", "Disabled", None).await.expect("update"));
            assert!(!s.kms_set_state("nope", "Disabled", None).await.expect("update"));
            s.kms_set_alias("alias/a", "k1").await.expect("alias");
            assert!(matches!(s.kms_set_alias("alias/a", "k1").await, Err(StoreError::Conflict(_))));
            assert_eq!(s.kms_resolve_alias("alias/a").await.expect("resolve").as_deref(), Some("k1"));
            let v2 = KmsKeyVersionRecord {
                key_id: "k1".into(),
                version_id: "v2".into(),
                sealed_material: vec![4],
                created_at: 2,
            };
            s.kms_add_version(&v2).await.expect("rotate");
            assert_eq!(s.kms_get_key("k1").await.expect("get").map(|k| k.primary_version).as_deref(), Some("v2"));
            assert_eq!(s.kms_list_keys().await.expect("list"), vec!["k1".to_string()]);
        }
    }

    #[tokio::test]
    async fn access_key_rows() {
        for s in testing::every_backend().await {
            let k = AccessKeyRecord {
                access_key_id: "LTAI1".into(),
                user_name: "admin".into(),
                secret_blob: vec![1],
                secret_nonce: vec![2],
                secret_sealed: vec![3],
                state: "Active".into(),
                created_at: 5,
            };
            s.access_key_insert(&k).await.expect("insert");
            assert!(matches!(s.access_key_insert(&k).await, Err(StoreError::Conflict(_))));
            assert_eq!(s.access_key_get("LTAI1").await.expect("get"), Some(k.clone()));
            assert!(s.access_key_set_state("LTAI1", "Inactive").await.expect("state"));
            assert!(!s.access_key_set_state("nope", "Inactive").await.expect("state"));
            assert_eq!(s.access_key_list().await.expect("list")[0].state, "Inactive");
            assert_eq!(s.access_key_get("nope").await.expect("get"), None);
        }
    }

    #[tokio::test]
    async fn stream_encryption_rows() {
        for s in testing::every_backend().await {
            let rec = StreamEncryptionRecord {
                domain: "play.example.com".into(),
                app: "vip".into(),
                encrypt_type: "envelope".into(),
                kms_key_id: Some("k1".into()),
                key_rotation: 600,
                created_at: 1,
            };
            assert!(matches!(s.encryption_put(&rec).await, Err(StoreError::NotFound(_))), "the domain must exist");
            s.domain_insert(&DomainRecord { name: rec.domain.clone(), config: "{}".into(), created_at: 1 })
                .await
                .expect("domain");
            s.encryption_put(&rec).await.expect("put");
            let changed = StreamEncryptionRecord { key_rotation: 60, created_at: 9, ..rec.clone() };
            s.encryption_put(&changed).await.expect("update");
            let got = s.encryption_get("play.example.com", "vip").await.expect("get").expect("row");
            assert_eq!((got.key_rotation, got.created_at), (60, 1), "updated in place, creation time kept");
            assert_eq!(s.encryption_list().await.expect("list").len(), 1);
            assert!(s.encryption_get("play.example.com", "live").await.expect("get").is_none());
            assert!(s.domain_delete("play.example.com").await.expect("delete domain"));
            assert!(s.encryption_list().await.expect("list").is_empty(), "removed with its domain");
            assert!(!s.encryption_delete("play.example.com", "vip").await.expect("delete"));
        }
    }

    #[tokio::test]
    async fn domains_and_certificates() {
        for s in testing::every_backend().await {
            assert_eq!(s.config_generation().await.expect("gen"), 0);
            let d = DomainRecord { name: "play.example.com".into(), config: "{}".into(), created_at: 1 };
            s.domain_insert(&d).await.expect("insert");
            assert!(matches!(s.domain_insert(&d).await, Err(StoreError::Conflict(_))));
            let cert = |name: &str| CertificateRecord {
                cert_name: name.into(),
                domain: "play.example.com".into(),
                cert_pem: "PEM".into(),
                key_blob: vec![1],
                key_nonce: vec![2],
                key_sealed: vec![3],
                created_at: 2,
            };
            s.cert_put(&cert("c1")).await.expect("put");
            s.cert_put(&cert("c2")).await.expect("replace");
            assert_eq!(s.cert_list().await.expect("list").len(), 1, "one certificate per domain");
            assert_eq!(
                s.cert_for_domain("play.example.com").await.expect("get").map(|c| c.cert_name).as_deref(),
                Some("c2")
            );
            assert!(s.cert_by_name("c1").await.expect("get").is_none());
            s.domain_insert(&DomainRecord { name: "other.example.com".into(), config: "{}".into(), created_at: 1 })
                .await
                .expect("insert");
            let theirs = CertificateRecord { domain: "other.example.com".into(), ..cert("c2") };
            assert!(
                matches!(s.cert_put(&theirs).await, Err(StoreError::Conflict(_))),
                "names are unique across domains"
            );
            assert_eq!(
                s.cert_for_domain("play.example.com").await.expect("get").map(|c| c.cert_name).as_deref(),
                Some("c2")
            );
            assert!(s.domain_delete("other.example.com").await.expect("delete"));
            assert!(s.domain_set_config("play.example.com", "{\"a\":1}").await.expect("config"));
            assert!(s.cert_delete_for_domain("play.example.com").await.expect("delete"));
            assert!(!s.cert_delete_for_domain("play.example.com").await.expect("delete again"));
            s.cert_put(&cert("c3")).await.expect("put");
            assert!(s.domain_delete("play.example.com").await.expect("delete domain"));
            assert!(s.cert_list().await.expect("list").is_empty(), "certificate deleted with its domain");
            assert!(s.config_generation().await.expect("gen") >= 7, "every change bumps the generation");
        }
    }

    #[tokio::test]
    async fn identity_audit_transcode_and_block_rows() {
        for s in testing::every_backend().await {
            // Migration 0005 ships the administrator policy.
            assert!(s.policy_get("AdministratorAccess").await.expect("get").is_some());
            let u = UserRecord { user_name: "alice".into(), display_name: "Alice".into(), created_at: 1 };
            s.user_insert(&u).await.expect("user");
            assert!(matches!(s.user_insert(&u).await, Err(StoreError::Conflict(_))));
            let p = PolicyRecord {
                policy_name: "ReadOnly".into(),
                document: "{}".into(),
                description: "d".into(),
                created_at: 2,
            };
            s.policy_put(&p).await.expect("policy");
            s.policy_put(&PolicyRecord { document: "{\"v\":2}".into(), ..p.clone() }).await.expect("replace");
            s.policy_attach("alice", "ReadOnly").await.expect("attach");
            s.policy_attach("alice", "ReadOnly").await.expect("attach twice is fine");
            assert!(matches!(s.policy_attach("bob", "ReadOnly").await, Err(StoreError::NotFound(_))));
            assert!(matches!(s.policy_attach("alice", "Nope").await, Err(StoreError::NotFound(_))));
            let attached = s.policies_of_user("alice").await.expect("policies");
            assert_eq!(attached.len(), 1);
            assert_eq!(attached[0].document, "{\"v\":2}");
            assert!(s.policy_detach("alice", "ReadOnly").await.expect("detach"));
            assert!(s.policies_of_user("alice").await.expect("policies").is_empty());
            s.policy_attach("alice", "ReadOnly").await.expect("attach");
            assert!(s.policy_delete("ReadOnly").await.expect("delete"));
            assert!(s.policies_of_user("alice").await.expect("policies").is_empty(), "attachments go with it");
            let ak = AccessKeyRecord {
                access_key_id: "AK-alice".into(),
                user_name: "alice".into(),
                secret_blob: vec![1],
                secret_nonce: vec![2],
                secret_sealed: vec![3],
                state: "Active".into(),
                created_at: 3,
            };
            s.access_key_insert(&ak).await.expect("key");
            assert!(s.user_delete("alice").await.expect("delete"));
            assert!(s.access_key_get("AK-alice").await.expect("get").is_none(), "keys go with their user");
            assert_eq!(s.user_list().await.expect("users").len(), 0);

            let rec = |at: i64, user: &str, action: &str| AuditRecord {
                id: 0,
                at,
                request_id: format!("r{at}"),
                access_key_id: "AK".into(),
                user_name: user.into(),
                action: action.into(),
                resource: "acs:kms:*:*:key/k".into(),
                result: "OK".into(),
                source_ip: "127.0.0.1".into(),
            };
            let first = s.audit_insert(&rec(10, "alice", "Decrypt")).await.expect("audit");
            let second = s.audit_insert(&rec(20, "bob", "Encrypt")).await.expect("audit");
            assert!(second > first);
            let all = s.audit_query(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.expect("query");
            assert_eq!(all.iter().map(|a| a.at).collect::<Vec<_>>(), vec![20, 10], "newest first");
            assert_eq!(all[1], AuditRecord { id: first, ..rec(10, "alice", "Decrypt") });
            let q = AuditQuery { user_name: Some("alice".into()), limit: 10, ..AuditQuery::default() };
            assert_eq!(s.audit_query(&q).await.expect("query").len(), 1);
            let q = AuditQuery { since: Some(15), action: Some("Encrypt".into()), limit: 10, ..AuditQuery::default() };
            assert_eq!(s.audit_query(&q).await.expect("query").len(), 1);
            let q = AuditQuery { until: Some(5), limit: 10, ..AuditQuery::default() };
            assert!(s.audit_query(&q).await.expect("query").is_empty());
            assert_eq!(s.audit_delete_before(15).await.expect("prune"), 1);
            let left = s.audit_query(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.expect("query");
            assert_eq!(left.iter().map(|a| a.at).collect::<Vec<_>>(), vec![20]);

            let t = TranscodeRecord {
                domain: "push.example.com".into(),
                app: "live".into(),
                template: "lld".into(),
                kind: "standard".into(),
                params: "{}".into(),
                created_at: 4,
            };
            assert!(matches!(s.transcode_put(&t).await, Err(StoreError::NotFound(_))), "the domain must exist");
            s.domain_insert(&DomainRecord { name: t.domain.clone(), config: "{}".into(), created_at: 1 })
                .await
                .expect("domain");
            s.transcode_put(&t).await.expect("put");
            s.transcode_put(&TranscodeRecord { params: "{\"a\":1}".into(), created_at: 9, ..t.clone() })
                .await
                .expect("update");
            let list = s.transcode_list(Some("push.example.com")).await.expect("list");
            assert_eq!((list.len(), list[0].params.as_str(), list[0].created_at), (1, "{\"a\":1}", 4));
            assert!(s.transcode_list(Some("other.example.com")).await.expect("list").is_empty());
            assert!(s.transcode_delete("push.example.com", "live", "lld").await.expect("delete"));
            assert!(!s.transcode_delete("push.example.com", "live", "lld").await.expect("delete again"));

            let b = StreamBlockRecord {
                domain: "push.example.com".into(),
                app: "live".into(),
                stream: "s".into(),
                resume_at: Some(100),
                created_at: 5,
            };
            s.block_put(&b).await.expect("block");
            s.block_put(&StreamBlockRecord { resume_at: None, ..b.clone() }).await.expect("block again");
            assert_eq!(
                s.block_get("push.example.com", "live", "s").await.expect("get").and_then(|b| b.resume_at),
                None
            );
            assert_eq!(s.block_list().await.expect("list").len(), 1);
            assert!(s.block_delete("push.example.com", "live", "s").await.expect("delete"));
            assert!(s.block_get("push.example.com", "live", "s").await.expect("get").is_none());

            let (k, v) = key("k9");
            s.kms_insert_key(&k, &v).await.expect("key");
            s.kms_set_alias("alias/k9", "k9").await.expect("alias");
            assert_eq!(s.kms_list_aliases().await.expect("aliases"), vec![("alias/k9".to_string(), "k9".to_string())]);
            assert_eq!(s.kms_list_versions("k9").await.expect("versions").len(), 1);
            assert!(s.kms_delete_key("k9").await.expect("delete"));
            assert!(s.kms_list_aliases().await.expect("aliases").is_empty());
            assert!(s.kms_get_version("k9", "v1").await.expect("version").is_none());
        }
    }

    #[tokio::test]
    async fn postgres_over_tls() {
        // The test server's certificate is self-signed (Debian's snakeoil): `require` encrypts
        // without verifying, as libpq's sslmode=require does.
        let url = testing::fresh_postgres_url().await.expect("database");
        let s = Store::open(&format!("{url}?sslmode=require")).await.expect("TLS connection");
        s.meta_set("tls", "yes").await.expect("write");
        assert_eq!(s.meta_get("tls").await.expect("read").as_deref(), Some("yes"));
        let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&s.pool)
            .await
            .expect("pg_stat_ssl");
        assert!(ssl, "the connection is encrypted");
    }

    #[tokio::test]
    async fn file_database_persists_and_reopens() {
        let dir = std::env::temp_dir().join(format!("sealcast-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("t.db");
        {
            let s = Store::open_sqlite(&path).await.expect("open");
            s.meta_set("a", "1").await.expect("set");
            s.meta_set("a", "2").await.expect("overwrite");
            s.close().await;
        }
        let s = Store::open_sqlite(&path).await.expect("reopen");
        assert_eq!(s.meta_get("a").await.expect("get").as_deref(), Some("2"));
        s.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
