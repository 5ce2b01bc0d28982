//! The built-in KMS: CMKs in the store, sealed by the root key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sealcast_crypto::{open_aes256_gcm, random_array, seal_aes256_gcm, sha256, CryptoError, SecretBytes};
use sealcast_store::{KmsKeyRecord, KmsKeyVersionRecord, Store};

use crate::blob;
use crate::context::EncryptionContext;
use crate::error::KmsError;
use crate::root_key::RootKey;
use crate::{DataKey, Decrypted, KeySpec, Kms};

const META_ROOT_CHECK: &str = "kms.root_check";
const META_DEFAULT_KEY: &str = "kms.default_key_id";
/// Alias of the CMK created on first start.
pub const DEFAULT_ALIAS: &str = "alias/sealcast-default";

pub(crate) const STATE_ENABLED: &str = "Enabled";
pub(crate) const STATE_DISABLED: &str = "Disabled";
pub(crate) const STATE_PENDING_DELETION: &str = "PendingDeletion";

/// The built-in KMS.
pub struct BuiltinKms {
    store: Store,
    root: RootKey,
    default_key: String,
    /// Unsealed CMK material by (key id, version id). Zeroized when dropped.
    materials: Mutex<HashMap<(String, String), Arc<SecretBytes>>>,
}

impl std::fmt::Debug for BuiltinKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinKms").field("default_key", &self.default_key).finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A random UUID (version 4) string.
fn uuid4() -> Result<String, CryptoError> {
    let mut b: [u8; 16] = random_array()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

fn material_aad(key_id: &str, version_id: &str) -> Vec<u8> {
    format!("sealcast-cmk-v1|{key_id}|{version_id}").into_bytes()
}

impl BuiltinKms {
    /// Opens the KMS on `store`, checking that `root` is the key the store was sealed with and
    /// creating the default CMK on first start.
    pub async fn open(store: Store, root: RootKey) -> Result<BuiltinKms, KmsError> {
        match store.meta_get(META_ROOT_CHECK).await? {
            Some(check) => {
                let raw =
                    STANDARD.decode(check).map_err(|_| KmsError::RootKey("stored root-key check is corrupt".into()))?;
                let (nonce, sealed) =
                    raw.split_at_checked(12).ok_or(KmsError::RootKey("stored root-key check is corrupt".into()))?;
                let nonce: [u8; 12] =
                    nonce.try_into().map_err(|_| KmsError::RootKey("stored root-key check is corrupt".into()))?;
                open_aes256_gcm(root.bytes(), &nonce, b"sealcast-root-check", sealed).map_err(|_| {
                    KmsError::RootKey(
                        "this root key is not the one the database was sealed with (check SEALCAST_ROOT_KEY or root.key)".into(),
                    )
                })?;
            }
            None => {
                let nonce: [u8; 12] = random_array()?;
                let sealed = seal_aes256_gcm(root.bytes(), &nonce, b"sealcast-root-check", b"sealcast")?;
                let mut raw = nonce.to_vec();
                raw.extend_from_slice(&sealed);
                store.meta_set(META_ROOT_CHECK, &STANDARD.encode(raw)).await?;
            }
        }
        let mut kms = BuiltinKms { store, root, default_key: String::new(), materials: Mutex::default() };
        kms.default_key = match kms.store.meta_get(META_DEFAULT_KEY).await? {
            Some(k) => k,
            None => {
                let rec = kms.create_key("Sealcast default key for stream encryption").await?;
                kms.store.kms_set_alias(DEFAULT_ALIAS, &rec.key_id).await?;
                kms.store.meta_set(META_DEFAULT_KEY, &rec.key_id).await?;
                tracing::info!(key_id = %rec.key_id, alias = DEFAULT_ALIAS, "created the default customer master key");
                rec.key_id
            }
        };
        Ok(kms)
    }

    /// The default CMK id.
    pub fn default_key_id(&self) -> &str {
        &self.default_key
    }

    /// Creates a new enabled CMK (AES-256).
    pub async fn create_key(&self, description: &str) -> Result<KmsKeyRecord, KmsError> {
        let key_id = uuid4()?;
        let version = self.new_version(&key_id)?;
        let rec = KmsKeyRecord {
            key_id: key_id.clone(),
            description: description.to_string(),
            state: STATE_ENABLED.into(),
            key_spec: "Aliyun_AES_256".into(),
            key_usage: "ENCRYPT/DECRYPT".into(),
            primary_version: version.version_id.clone(),
            created_at: now(),
            deletion_at: None,
        };
        self.store.kms_insert_key(&rec, &version).await?;
        Ok(rec)
    }

    /// Adds a new primary version (rotation). Old versions still decrypt.
    pub async fn rotate_key(&self, key_id: &str) -> Result<String, KmsError> {
        let rec = self.resolve(Some(key_id)).await?;
        let version = self.new_version(&rec.key_id)?;
        self.store.kms_add_version(&version).await?;
        Ok(version.version_id)
    }

    /// Enables or disables a CMK.
    pub async fn set_enabled(&self, key_id: &str, enabled: bool) -> Result<(), KmsError> {
        let rec = self.resolve_any_state(Some(key_id)).await?;
        if rec.state == STATE_PENDING_DELETION {
            return Err(KmsError::KeyPendingDeletion(rec.key_id));
        }
        if !enabled && rec.key_id == self.default_key {
            // It also seals this server's own secrets (access keys, certificate keys):
            // disabling it would lock the API out after the next restart.
            return Err(KmsError::InvalidParameter(format!(
                "{} is Sealcast's default key, which also seals the server's own secrets, and cannot be \
                 disabled; give streams a CMK of their own (EncryptParameters KmsKeyID) to be able to disable it",
                rec.key_id
            )));
        }
        let state = if enabled { STATE_ENABLED } else { STATE_DISABLED };
        self.store.kms_set_state(&rec.key_id, state, None).await?;
        Ok(())
    }

    /// Describes a CMK.
    pub async fn describe_key(&self, key_id: &str) -> Result<KmsKeyRecord, KmsError> {
        self.resolve_any_state(Some(key_id)).await
    }

    /// Every CMK (keys past their deletion date are purged first).
    pub async fn list_keys(&self) -> Result<Vec<KmsKeyRecord>, KmsError> {
        let mut out = Vec::new();
        for id in self.store.kms_list_keys().await? {
            match self.resolve_any_state(Some(&id)).await {
                Ok(k) => out.push(k),
                Err(KmsError::KeyNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Schedules a CMK for deletion after `pending_days` (7..=366). Until then it can be
    /// recovered with [`BuiltinKms::cancel_key_deletion`]; it neither encrypts nor decrypts.
    pub async fn schedule_key_deletion(&self, key_id: &str, pending_days: i64) -> Result<KmsKeyRecord, KmsError> {
        if !(7..=366).contains(&pending_days) {
            return Err(KmsError::InvalidParameter(format!(
                "PendingWindowInDays must be 7 to 366, got {pending_days}"
            )));
        }
        let rec = self.resolve_any_state(Some(key_id)).await?;
        if rec.key_id == self.default_key {
            return Err(KmsError::InvalidParameter(format!(
                "{} is Sealcast's default key for stream encryption and cannot be deleted",
                rec.key_id
            )));
        }
        if rec.state == STATE_PENDING_DELETION {
            return Err(KmsError::KeyPendingDeletion(rec.key_id));
        }
        let at = now() + pending_days * 86_400;
        self.store.kms_set_state(&rec.key_id, STATE_PENDING_DELETION, Some(at)).await?;
        self.resolve_any_state(Some(&rec.key_id)).await
    }

    /// Takes a CMK out of PendingDeletion; it comes back Enabled.
    pub async fn cancel_key_deletion(&self, key_id: &str) -> Result<(), KmsError> {
        let rec = self.resolve_any_state(Some(key_id)).await?;
        if rec.state != STATE_PENDING_DELETION {
            return Err(KmsError::InvalidParameter(format!("key {} is not pending deletion", rec.key_id)));
        }
        self.store.kms_set_state(&rec.key_id, STATE_ENABLED, None).await?;
        Ok(())
    }

    /// The versions of a CMK, oldest first: (version id, creation time).
    pub async fn list_key_versions(&self, key_id: &str) -> Result<(String, Vec<(String, i64)>), KmsError> {
        let rec = self.resolve_any_state(Some(key_id)).await?;
        let versions = self.store.kms_list_versions(&rec.key_id).await?;
        Ok((rec.key_id, versions.into_iter().map(|v| (v.version_id, v.created_at)).collect()))
    }

    /// Binds `alias` (`alias/…`) to a CMK.
    pub async fn create_alias(&self, alias: &str, key_id: &str) -> Result<(), KmsError> {
        let name = alias.strip_prefix("alias/").unwrap_or("");
        if name.is_empty()
            || alias.len() > 255
            || name.starts_with("acs")
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-/".contains(&b))
        {
            return Err(KmsError::InvalidParameter(format!(
                "AliasName {alias:?} must be alias/ followed by letters, digits, _ - or /, at most 255 characters, \
                 and not start with alias/acs"
            )));
        }
        let rec = self.resolve_any_state(Some(key_id)).await?;
        match self.store.kms_set_alias(alias, &rec.key_id).await {
            Err(sealcast_store::StoreError::Conflict(_)) => Err(KmsError::AliasExists(alias.to_string())),
            other => Ok(other?),
        }
    }

    /// Every alias as (alias, key id).
    pub async fn list_aliases(&self) -> Result<Vec<(String, String)>, KmsError> {
        Ok(self.store.kms_list_aliases().await?)
    }

    /// Removes an alias (the key stays).
    pub async fn delete_alias(&self, alias: &str) -> Result<(), KmsError> {
        if alias == DEFAULT_ALIAS {
            return Err(KmsError::InvalidParameter(format!("{DEFAULT_ALIAS} is Sealcast's own alias")));
        }
        if !self.store.kms_delete_alias(alias).await? {
            return Err(KmsError::KeyNotFound(alias.to_string()));
        }
        Ok(())
    }

    fn new_version(&self, key_id: &str) -> Result<KmsKeyVersionRecord, KmsError> {
        let version_id = uuid4()?;
        let material = SecretBytes::random(32)?;
        let nonce: [u8; 12] = random_array()?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&seal_aes256_gcm(
            self.root.bytes(),
            &nonce,
            &material_aad(key_id, &version_id),
            material.expose(),
        )?);
        Ok(KmsKeyVersionRecord { key_id: key_id.to_string(), version_id, sealed_material: sealed, created_at: now() })
    }

    async fn resolve_any_state(&self, key_id: Option<&str>) -> Result<KmsKeyRecord, KmsError> {
        let id = key_id.unwrap_or(&self.default_key);
        let id = if id.starts_with("alias/") {
            self.store.kms_resolve_alias(id).await?.ok_or_else(|| KmsError::KeyNotFound(id.to_string()))?
        } else {
            id.to_string()
        };
        let rec = self.store.kms_get_key(&id).await?.ok_or_else(|| KmsError::KeyNotFound(id.clone()))?;
        if rec.state == STATE_PENDING_DELETION && rec.deletion_at.is_some_and(|at| at <= now()) {
            // Its pending window is over: the key and every blob under it are gone for good.
            self.store.kms_delete_key(&rec.key_id).await?;
            self.materials.lock().unwrap_or_else(|e| e.into_inner()).retain(|(k, _), _| *k != rec.key_id);
            tracing::info!(key_id = %rec.key_id, "deleted a customer master key at the end of its pending window");
            return Err(KmsError::KeyNotFound(id));
        }
        Ok(rec)
    }

    /// Resolves an enabled key.
    async fn resolve(&self, key_id: Option<&str>) -> Result<KmsKeyRecord, KmsError> {
        let rec = self.resolve_any_state(key_id).await?;
        match rec.state.as_str() {
            STATE_ENABLED => Ok(rec),
            STATE_PENDING_DELETION => Err(KmsError::KeyPendingDeletion(rec.key_id)),
            _ => Err(KmsError::KeyDisabled(rec.key_id)),
        }
    }

    async fn material(&self, key_id: &str, version_id: &str) -> Result<Arc<SecretBytes>, KmsError> {
        let cache_key = (key_id.to_string(), version_id.to_string());
        if let Some(m) = self.materials.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
            return Ok(m.clone());
        }
        let rec = self
            .store
            .kms_get_version(key_id, version_id)
            .await?
            .ok_or(KmsError::InvalidCiphertext("the key version in the ciphertext does not exist"))?;
        let (nonce, sealed) = rec
            .sealed_material
            .split_at_checked(12)
            .ok_or(KmsError::RootKey("stored key material is corrupt".into()))?;
        let nonce: [u8; 12] =
            nonce.try_into().map_err(|_| KmsError::RootKey("stored key material is corrupt".into()))?;
        let m =
            open_aes256_gcm(self.root.bytes(), &nonce, &material_aad(key_id, version_id), sealed).map_err(|_| {
                KmsError::RootKey(format!("cannot unseal key {key_id} version {version_id} with this root key"))
            })?;
        let m = Arc::new(m);
        self.materials.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, m.clone());
        Ok(m)
    }

    /// GenerateDataKey with an explicit byte count (1..=1024), as KMS `NumberOfBytes`.
    pub async fn generate_data_key_bytes(
        &self,
        key_id: Option<&str>,
        len: usize,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        if len == 0 || len > blob::MAX_PLAINTEXT {
            return Err(KmsError::InvalidParameter(format!("NumberOfBytes must be 1..=1024, got {len}")));
        }
        let plaintext = SecretBytes::random(len)?;
        let (key_id, version_id, ciphertext_blob) = self.seal_under(key_id, plaintext.expose(), context).await?;
        Ok(DataKey { key_id, key_version_id: version_id, plaintext, ciphertext_blob })
    }

    /// Encrypt: seals caller-provided plaintext (KMS `Encrypt`).
    pub async fn encrypt(
        &self,
        key_id: Option<&str>,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(String, String, Vec<u8>), KmsError> {
        if plaintext.is_empty() || plaintext.len() > blob::MAX_PLAINTEXT {
            return Err(KmsError::InvalidParameter("plaintext must be 1..=1024 bytes".into()));
        }
        self.seal_under(key_id, plaintext, context).await
    }

    async fn seal_under(
        &self,
        key_id: Option<&str>,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(String, String, Vec<u8>), KmsError> {
        let rec = self.resolve(key_id).await?;
        let material = self.material(&rec.key_id, &rec.primary_version).await?;
        let ctx = context.canonical_bytes();
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&sha256(&ctx)[..8]);
        let mut out = blob::header(&rec.key_id, &rec.primary_version, tag)?;
        let mut aad = out.clone();
        aad.extend_from_slice(&ctx);
        let nonce: [u8; 12] = random_array()?;
        let sealed = seal_aes256_gcm(material.expose(), &nonce, &aad, plaintext)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok((rec.key_id, rec.primary_version, out))
    }
}

#[async_trait]
impl Kms for BuiltinKms {
    async fn generate_data_key(
        &self,
        key_id: Option<&str>,
        spec: KeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        self.generate_data_key_bytes(key_id, spec.key_len(), context).await
    }

    async fn decrypt(&self, ciphertext_blob: &[u8], context: &EncryptionContext) -> Result<Decrypted, KmsError> {
        let b = blob::parse(ciphertext_blob)?;
        let rec = self.resolve(Some(b.key_id)).await?;
        let ctx = context.canonical_bytes();
        if sha256(&ctx)[..8] != b.context_tag {
            return Err(KmsError::ContextMismatch);
        }
        let material = self.material(&rec.key_id, b.version_id).await?;
        let mut aad = b.header.to_vec();
        aad.extend_from_slice(&ctx);
        let plaintext = open_aes256_gcm(material.expose(), &b.nonce, &aad, b.sealed).map_err(|_| KmsError::Tampered)?;
        Ok(Decrypted { key_id: rec.key_id, key_version_id: b.version_id.to_string(), plaintext })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kms() -> BuiltinKms {
        let store = Store::open_memory().await.expect("store");
        BuiltinKms::open(store, RootKey::from_bytes([7; 32])).await.expect("kms")
    }

    fn ctx() -> EncryptionContext {
        EncryptionContext::new().with("domain", "localhost").with("app", "live").with("stream", "a")
    }

    #[tokio::test]
    async fn generate_and_decrypt_roundtrip() {
        let kms = kms().await;
        let dk = kms.generate_data_key(None, KeySpec::Aes128, &ctx()).await.expect("generate");
        assert_eq!(dk.plaintext.len(), 16);
        assert_eq!(dk.key_id, kms.default_key_id());
        let back = kms.decrypt(&dk.ciphertext_blob, &ctx()).await.expect("decrypt");
        assert_eq!(back.plaintext, dk.plaintext);
        let via_alias = kms.generate_data_key(Some(DEFAULT_ALIAS), KeySpec::Aes256, &ctx()).await.expect("alias");
        assert_eq!(via_alias.plaintext.len(), 32);
    }

    #[tokio::test]
    async fn wrong_context_and_tampering_are_distinct_errors() {
        let kms = kms().await;
        let dk = kms.generate_data_key(None, KeySpec::Aes128, &ctx()).await.expect("generate");
        let other = ctx().with("stream", "b");
        assert!(matches!(kms.decrypt(&dk.ciphertext_blob, &other).await, Err(KmsError::ContextMismatch)));
        let mut t = dk.ciphertext_blob.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(matches!(kms.decrypt(&t, &ctx()).await, Err(KmsError::Tampered)));
        // Flipping the stored context tag is caught too (as a mismatch or by the AEAD).
        let mut t = dk.ciphertext_blob.clone();
        let tag_pos = blob::parse(&dk.ciphertext_blob).expect("parse").header.len() - 1;
        t[tag_pos] ^= 1;
        assert!(kms.decrypt(&t, &ctx()).await.is_err());
        assert!(matches!(kms.decrypt(b"garbage", &ctx()).await, Err(KmsError::InvalidCiphertext(_))));
    }

    #[tokio::test]
    async fn disabled_keys_refuse_and_rotation_keeps_old_versions() {
        let kms = kms().await;
        let dk = kms.generate_data_key(None, KeySpec::Aes128, &ctx()).await.expect("generate");
        kms.rotate_key(kms.default_key_id()).await.expect("rotate");
        let dk2 = kms.generate_data_key(None, KeySpec::Aes128, &ctx()).await.expect("generate");
        assert_ne!(dk.key_version_id, dk2.key_version_id);
        assert!(kms.decrypt(&dk.ciphertext_blob, &ctx()).await.is_ok(), "old version still decrypts");
        let default = kms.default_key_id().to_string();
        assert!(
            matches!(kms.set_enabled(&default, false).await, Err(KmsError::InvalidParameter(_))),
            "the default key seals the server's own secrets"
        );
        let id = kms.create_key("streams").await.expect("create").key_id;
        let own = kms.generate_data_key(Some(&id), KeySpec::Aes128, &ctx()).await.expect("generate");
        kms.set_enabled(&id, false).await.expect("disable");
        let disabled = kms.generate_data_key(Some(&id), KeySpec::Aes128, &ctx()).await;
        assert!(matches!(disabled, Err(KmsError::KeyDisabled(_))));
        assert!(matches!(kms.decrypt(&own.ciphertext_blob, &ctx()).await, Err(KmsError::KeyDisabled(_))));
        assert!(kms.decrypt(&dk.ciphertext_blob, &ctx()).await.is_ok(), "other keys are unaffected");
        kms.set_enabled(&id, true).await.expect("enable");
        assert!(kms.decrypt(&own.ciphertext_blob, &ctx()).await.is_ok());
        assert!(kms.decrypt(&dk2.ciphertext_blob, &ctx()).await.is_ok());
        assert!(matches!(
            kms.generate_data_key(Some("nope"), KeySpec::Aes128, &ctx()).await,
            Err(KmsError::KeyNotFound(_))
        ));
    }

    #[tokio::test]
    async fn reopening_with_another_root_key_fails_clearly() {
        let store = Store::open_memory().await.expect("store");
        let kms = BuiltinKms::open(store.clone(), RootKey::from_bytes([1; 32])).await.expect("kms");
        let default = kms.default_key_id().to_string();
        let again = BuiltinKms::open(store.clone(), RootKey::from_bytes([1; 32])).await.expect("same root");
        assert_eq!(again.default_key_id(), default, "default key is created once");
        let err = BuiltinKms::open(store, RootKey::from_bytes([2; 32])).await.expect_err("wrong root");
        assert!(err.to_string().contains("not the one the database was sealed with"));
    }

    #[tokio::test]
    async fn number_of_bytes_bounds() {
        let kms = kms().await;
        assert!(kms.generate_data_key_bytes(None, 0, &ctx()).await.is_err());
        assert!(kms.generate_data_key_bytes(None, 1025, &ctx()).await.is_err());
        assert_eq!(kms.generate_data_key_bytes(None, 1024, &ctx()).await.expect("max").plaintext.len(), 1024);
    }

    #[tokio::test]
    async fn deletion_versions_and_aliases() {
        let store = Store::open_memory().await.expect("store");
        let kms = BuiltinKms::open(store.clone(), RootKey::from_bytes([7; 32])).await.expect("kms");
        let k = kms.create_key("doomed").await.expect("create");
        let dk = kms.generate_data_key(Some(&k.key_id), KeySpec::Aes128, &ctx()).await.expect("generate");
        assert!(kms.schedule_key_deletion(&k.key_id, 6).await.is_err(), "at least 7 days");
        assert!(kms.schedule_key_deletion(kms.default_key_id(), 7).await.is_err(), "the default key stays");
        let pending = kms.schedule_key_deletion(&k.key_id, 7).await.expect("schedule");
        assert_eq!(pending.state, STATE_PENDING_DELETION);
        assert!(matches!(kms.decrypt(&dk.ciphertext_blob, &ctx()).await, Err(KmsError::KeyPendingDeletion(_))));
        kms.cancel_key_deletion(&k.key_id).await.expect("cancel");
        assert!(kms.decrypt(&dk.ciphertext_blob, &ctx()).await.is_ok(), "recovered");
        assert!(kms.cancel_key_deletion(&k.key_id).await.is_err(), "not pending any more");

        let v2 = kms.rotate_key(&k.key_id).await.expect("rotate");
        let (_, versions) = kms.list_key_versions(&k.key_id).await.expect("versions");
        assert_eq!(versions.len(), 2);
        assert!(versions.iter().any(|v| v.0 == v2));

        kms.create_alias("alias/doomed", &k.key_id).await.expect("alias");
        assert!(matches!(kms.create_alias("alias/doomed", &k.key_id).await, Err(KmsError::AliasExists(_))));
        for bad in ["doomed", "alias/", "alias/acs-x", "alias/white space"] {
            assert!(matches!(kms.create_alias(bad, &k.key_id).await, Err(KmsError::InvalidParameter(_))), "{bad}");
        }
        assert_eq!(kms.describe_key("alias/doomed").await.expect("by alias").key_id, k.key_id);
        assert_eq!(kms.list_aliases().await.expect("aliases").len(), 2, "with the default alias");

        // The end of the pending window deletes the key, its versions and aliases.
        store.kms_set_state(&k.key_id, STATE_PENDING_DELETION, Some(1)).await.expect("backdate");
        assert!(matches!(kms.describe_key(&k.key_id).await, Err(KmsError::KeyNotFound(_))));
        assert!(matches!(kms.decrypt(&dk.ciphertext_blob, &ctx()).await, Err(KmsError::KeyNotFound(_))));
        assert_eq!(kms.list_keys().await.expect("keys").len(), 1, "only the default key is left");
        assert_eq!(kms.list_aliases().await.expect("aliases").len(), 1);
    }
}
