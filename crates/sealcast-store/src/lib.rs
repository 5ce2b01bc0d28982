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
        match r {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("alias {alias}")))
            }
            other => other.map(|_| ()).map_err(StoreError::from),
        }
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
        match r {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!("domain {}", d.name)))
            }
            other => other?,
        };
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
        match res {
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound(format!("domain {}", r.domain)))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
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
        match r {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("access key {}", k.access_key_id)))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
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

    /// Stores a domain's certificate, replacing the domain's previous one and any certificate
    /// of the same name (the caller enforces ForceSet semantics first).
    pub async fn cert_put(&self, c: &CertificateRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM certificates WHERE cert_name = $1 OR domain = $2")
            .bind(&c.cert_name)
            .bind(&c.domain)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
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
        .await?;
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

    /// Closes the pool (flushes WAL on the last connection).
    pub async fn close(&self) {
        self.pool.close().await;
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
