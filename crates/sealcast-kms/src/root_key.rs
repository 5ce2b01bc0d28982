//! The root key that seals CMK material at rest.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sealcast_crypto::SecretBytes;
use zeroize::Zeroizing;

use crate::error::KmsError;

/// Name of the generated root-key file inside the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";

/// Where the root key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKeySource {
    /// `SEALCAST_ROOT_KEY`.
    Environment,
    /// An existing root-key file.
    File(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// 256-bit root key.
#[derive(Debug, Clone)]
pub struct RootKey {
    key: SecretBytes,
    source: RootKeySource,
}

impl RootKey {
    /// From raw bytes (tests, tools).
    pub fn from_bytes(bytes: [u8; 32]) -> RootKey {
        RootKey { key: SecretBytes::new(bytes.to_vec()), source: RootKeySource::Environment }
    }

    /// Loads the root key: from `env_value` (base64 of 32 bytes) when given, otherwise from
    /// `data_dir/root.key`, generating that file (mode 0600) on first start.
    pub fn load(env_value: Option<&str>, data_dir: &Path) -> Result<RootKey, KmsError> {
        if let Some(v) = env_value {
            let key = decode(v).map_err(|e| KmsError::RootKey(format!("SEALCAST_ROOT_KEY {e}")))?;
            return Ok(RootKey { key, source: RootKeySource::Environment });
        }
        let path = data_dir.join(ROOT_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let key = decode(&text).map_err(|e| KmsError::RootKey(format!("{} {e}", path.display())))?;
                if let Ok(meta) = fs::metadata(&path) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(path = %path.display(), "root key file is readable by group or others; chmod 600 it");
                    }
                }
                Ok(RootKey { key, source: RootKeySource::File(path) })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretBytes::random(32)?;
                let text = Zeroizing::new(format!("{}\n", STANDARD.encode(key.expose())));
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| KmsError::RootKey(format!("cannot create {}: {e}", path.display())))?;
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| KmsError::RootKey(format!("cannot write {}: {e}", path.display())))?;
                Ok(RootKey { key, source: RootKeySource::Generated(path) })
            }
            Err(e) => Err(KmsError::RootKey(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn source(&self) -> &RootKeySource {
        &self.source
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.key.expose()
    }
}

fn decode(v: &str) -> Result<SecretBytes, String> {
    let bytes = Zeroizing::new(STANDARD.decode(v.trim()).map_err(|_| "is not valid base64".to_string())?);
    if bytes.len() != 32 {
        return Err(format!("must be 32 bytes (base64 of 256 bits), got {}", bytes.len()));
    }
    Ok(SecretBytes::new(bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_0600_then_reads_back() {
        let dir = std::env::temp_dir().join(format!("sealcast-rootkey-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir");
        let a = RootKey::load(None, &dir).expect("generate");
        assert!(matches!(a.source(), RootKeySource::Generated(_)));
        let mode = fs::metadata(dir.join(ROOT_KEY_FILE)).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = RootKey::load(None, &dir).expect("read");
        assert!(matches!(b.source(), RootKeySource::File(_)));
        assert_eq!(a.bytes(), b.bytes());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn environment_value_is_validated() {
        let dir = std::env::temp_dir();
        assert!(RootKey::load(Some("not base64!"), &dir).is_err());
        let short = STANDARD.encode([1u8; 16]);
        let e = RootKey::load(Some(&short), &dir).expect_err("short key");
        assert!(e.to_string().contains("32 bytes"));
        let ok = STANDARD.encode([1u8; 32]);
        assert_eq!(RootKey::load(Some(&ok), &dir).expect("valid").bytes(), &[1u8; 32]);
    }
}
