use std::collections::BTreeMap;

/// A KMS encryption context: string pairs bound to a ciphertext as associated data. Decrypt
/// must present exactly the same pairs (order does not matter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder-style insert.
    pub fn with(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.0.insert(k.into(), v.into());
        self
    }

    pub fn insert(&mut self, k: impl Into<String>, v: impl Into<String>) {
        self.0.insert(k.into(), v.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Canonical bytes: sorted pairs, each length-prefixed (u32 BE), unambiguous.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            out.extend_from_slice(&(k.len() as u32).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        EncryptionContext(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_is_order_independent_and_unambiguous() {
        let a = EncryptionContext::new().with("b", "2").with("a", "1");
        let b: EncryptionContext = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        let c = EncryptionContext::new().with("ab", "").with("", "c");
        let d = EncryptionContext::new().with("a", "bc");
        assert_ne!(c.canonical_bytes(), d.canonical_bytes());
    }
}
