//! Opening the data directory: store, root key and KMS (shared by `serve` and the CLI).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sealcast_kms::{BuiltinKms, RootKey, RootKeySource};
use sealcast_store::Store;

/// Opens the store (`database_url`, or SQLite in `data_dir` when empty) and the built-in KMS
/// whose root key lives in `data_dir` (or `SEALCAST_ROOT_KEY`).
pub async fn open(data_dir: &Path, database_url: &str) -> anyhow::Result<(Store, Arc<BuiltinKms>)> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let _ = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700));
    let root_env = std::env::var("SEALCAST_ROOT_KEY").ok();
    let root = RootKey::load(root_env.as_deref(), data_dir)?;
    if let RootKeySource::Generated(path) = root.source() {
        tracing::warn!(
            path = %path.display(),
            "generated a new root key; back it up: without it the keys in this database cannot be recovered"
        );
    }
    let store = if database_url.is_empty() {
        Store::open_sqlite(&data_dir.join("sealcast.db")).await.context("cannot open the SQLite database")?
    } else {
        crate::config::validate_database_url(database_url)?;
        Store::open(database_url).await.context("cannot open the database at database_url")?
    };
    let kms = Arc::new(BuiltinKms::open(store.clone(), root).await.context("cannot open the KMS")?);
    Ok((store, kms))
}
