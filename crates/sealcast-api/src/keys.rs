//! Control API access keys: ids and secrets; secrets stored sealed under KMS data keys and
//! kept unsealed in memory once used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sealcast_crypto::{fill_random, open_aes256_gcm, random_array, seal_aes256_gcm, SecretBytes};
use sealcast_kms::{EncryptionContext, KeySpec, Kms, KmsError};
use sealcast_store::{AccessKeyRecord, Store, StoreError};
use thiserror::Error;

/// Access key failures.
#[derive(Debug, Error)]
pub enum AccessKeyError {
    #[error("KMS: {0}")]
    Kms(#[from] KmsError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] sealcast_crypto::CryptoError),
    #[error("invalid access key: {0}")]
    Invalid(&'static str),
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_text(len: usize) -> Result<String, AccessKeyError> {
    let mut raw = vec![0u8; len];
    fill_random(&mut raw)?;
    // 256 is not a multiple of 62: reject the top bytes so every character is equally likely.
    let mut out = String::with_capacity(len);
    let mut pool = raw.into_iter();
    while out.len() < len {
        let b = match pool.next() {
            Some(b) => b,
            None => {
                let [b] = random_array::<1>()?;
                b
            }
        };
        if usize::from(b) < 248 {
            out.push(ALPHABET[usize::from(b) % 62] as char);
        }
    }
    Ok(out)
}

fn context(id: &str) -> EncryptionContext {
    EncryptionContext::new().with("purpose", "access-key").with("access_key_id", id)
}

/// A secret as handed out once: never logged (Debug is redacted).
pub struct NewAccessKey {
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// The access key service.
#[derive(Clone)]
pub struct AccessKeys {
    store: Store,
    kms: Arc<dyn Kms>,
    cache: Arc<Mutex<HashMap<String, SecretBytes>>>,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeys").finish_non_exhaustive()
    }
}

impl AccessKeys {
    pub fn new(store: Store, kms: Arc<dyn Kms>) -> Self {
        AccessKeys { store, kms, cache: Arc::default() }
    }

    /// Creates a key for `user` and returns its secret (shown once).
    pub async fn create(&self, user: &str) -> Result<NewAccessKey, AccessKeyError> {
        let key =
            NewAccessKey { access_key_id: format!("SCAK{}", random_text(20)?), access_key_secret: random_text(30)? };
        self.import(&key.access_key_id, &key.access_key_secret, user).await?;
        Ok(key)
    }

    /// Stores a given key (the bootstrap key from the environment).
    pub async fn import(&self, id: &str, secret: &str, user: &str) -> Result<(), AccessKeyError> {
        let valid = |s: &str| (8..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !valid(id) {
            return Err(AccessKeyError::Invalid("the id must be 8-128 printable ASCII characters"));
        }
        if !valid(secret) {
            return Err(AccessKeyError::Invalid("the secret must be 8-128 printable ASCII characters"));
        }
        let dk = self.kms.generate_data_key(None, KeySpec::Aes256, &context(id)).await?;
        let nonce: [u8; 12] = random_array()?;
        let sealed = seal_aes256_gcm(dk.plaintext.expose(), &nonce, id.as_bytes(), secret.as_bytes())?;
        let rec = AccessKeyRecord {
            access_key_id: id.to_string(),
            user_name: user.to_string(),
            secret_blob: dk.ciphertext_blob,
            secret_nonce: nonce.to_vec(),
            secret_sealed: sealed,
            state: "Active".into(),
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        self.store.access_key_insert(&rec).await?;
        Ok(())
    }

    /// Drops a key's cached secret (after it is disabled or deleted).
    pub fn forget(&self, id: &str) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Every key (without secrets).
    pub async fn list(&self) -> Result<Vec<AccessKeyRecord>, AccessKeyError> {
        Ok(self.store.access_key_list().await?)
    }

    /// Whether any key exists (the bootstrap key is generated only when none does).
    pub async fn any(&self) -> Result<bool, AccessKeyError> {
        Ok(!self.store.access_key_list().await?.is_empty())
    }

    /// The secret and user of an active key; `None` for unknown or inactive keys.
    pub async fn secret(&self, id: &str) -> Result<Option<(SecretBytes, String)>, AccessKeyError> {
        let Some(rec) = self.store.access_key_get(id).await?.filter(|r| r.state == "Active") else {
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
            return Ok(None);
        };
        if let Some(s) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(Some((s.clone(), rec.user_name)));
        }
        let dk = self.kms.decrypt(&rec.secret_blob, &context(id)).await?;
        let nonce: [u8; 12] =
            rec.secret_nonce.as_slice().try_into().map_err(|_| AccessKeyError::Invalid("stored nonce is corrupt"))?;
        let secret = open_aes256_gcm(dk.plaintext.expose(), &nonce, id.as_bytes(), &rec.secret_sealed)?;
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), secret.clone());
        Ok(Some((secret, rec.user_name)))
    }
}

#[cfg(test)]
mod tests {
    use sealcast_kms::{BuiltinKms, RootKey};

    use super::*;

    #[tokio::test]
    async fn keys_are_sealed_and_shown_once() {
        let store = Store::open_memory().await.expect("store");
        let kms = Arc::new(BuiltinKms::open(store.clone(), RootKey::from_bytes([4; 32])).await.expect("kms"));
        let keys = AccessKeys::new(store.clone(), kms);
        assert!(!keys.any().await.expect("any"));
        let k = keys.create("admin").await.expect("create");
        assert!(k.access_key_id.starts_with("SCAK") && k.access_key_id.len() == 24);
        assert_eq!(k.access_key_secret.len(), 30);
        assert!(!format!("{k:?}").contains(&k.access_key_secret));
        let rec = store.access_key_get(&k.access_key_id).await.expect("get").expect("stored");
        assert!(!String::from_utf8_lossy(&rec.secret_sealed).contains(&k.access_key_secret), "sealed at rest");
        let (secret, user) = keys.secret(&k.access_key_id).await.expect("secret").expect("active");
        assert_eq!((secret.expose(), user.as_str()), (k.access_key_secret.as_bytes(), "admin"));
        store.access_key_set_state(&k.access_key_id, "Inactive").await.expect("state");
        assert!(keys.secret(&k.access_key_id).await.expect("secret").is_none(), "inactive keys do not sign");
        assert!(keys.secret("nope").await.expect("secret").is_none());
        assert!(keys.import("short", "secret-long-enough", "x").await.is_err());
        assert!(keys.any().await.expect("any"));
    }
}
