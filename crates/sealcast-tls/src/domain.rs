//! Playback domain names.

use std::fmt;

/// A playback domain: `play.example.com` or a wildcard `*.example.com`. Stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

/// Why a domain name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain name {name:?}: {reason}")]
pub struct DomainError {
    pub name: String,
    pub reason: &'static str,
}

impl DomainName {
    pub fn parse(name: &str) -> Result<DomainName, DomainError> {
        let err = |reason| DomainError { name: name.to_string(), reason };
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if lower.is_empty() || lower.len() > 253 {
            return Err(err("must be 1 to 253 characters"));
        }
        let (wild, rest) = match lower.strip_prefix("*.") {
            Some(r) => (true, r),
            None => (false, lower.as_str()),
        };
        let labels: Vec<&str> = rest.split('.').collect();
        if wild && labels.len() < 2 {
            return Err(err("a wildcard needs at least two labels after '*.'"));
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 {
                return Err(err("every label must be 1 to 63 characters"));
            }
            if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || l.starts_with('-') || l.ends_with('-') {
                return Err(err(
                    "labels use letters, digits and inner hyphens only ('*' only as the whole first label)",
                ));
            }
        }
        Ok(DomainName(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Whether this domain (or wildcard) serves the concrete host `host`.
    pub fn serves(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(suffix) => host.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => host == self.0,
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Values keyed by domain, looked up by a concrete host name: exact name first, then the
/// wildcard one label up, then the default.
#[derive(Debug, Clone)]
pub struct NameMap<T> {
    exact: std::collections::HashMap<String, T>,
    wildcard: std::collections::HashMap<String, T>,
    default: Option<T>,
}

impl<T> Default for NameMap<T> {
    fn default() -> Self {
        NameMap { exact: Default::default(), wildcard: Default::default(), default: None }
    }
}

impl<T: Clone> NameMap<T> {
    pub fn insert(&mut self, domain: &DomainName, value: T) {
        match domain.as_str().strip_prefix("*.") {
            Some(suffix) => self.wildcard.insert(suffix.to_string(), value),
            None => self.exact.insert(domain.as_str().to_string(), value),
        };
    }

    pub fn set_default(&mut self, value: T) {
        self.default = Some(value);
    }

    /// `None` host (no SNI) gets the default.
    pub fn lookup(&self, host: Option<&str>) -> Option<T> {
        let Some(name) = host.map(|n| n.trim_end_matches('.').to_ascii_lowercase()) else {
            return self.default.clone();
        };
        if let Some(v) = self.exact.get(&name) {
            return Some(v.clone());
        }
        if let Some(v) = name.split_once('.').and_then(|(_, suffix)| self.wildcard.get(suffix)) {
            return Some(v.clone());
        }
        self.default.clone()
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// Every value keyed by a domain (the default is one of them when it has a name).
    pub fn values(&self) -> Vec<T> {
        self.exact.values().chain(self.wildcard.values()).cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a certificate name (SAN DNS entry or CN), possibly a wildcard, covers `domain`
/// (itself possibly a wildcard). A wildcard certificate covers exactly one label; a wildcard
/// domain needs a wildcard certificate for the same suffix.
pub fn cert_name_covers(cert_name: &str, domain: &DomainName) -> bool {
    let cert_name = cert_name.trim_end_matches('.').to_ascii_lowercase();
    if cert_name == domain.as_str() {
        return true;
    }
    if domain.is_wildcard() {
        return false;
    }
    match cert_name.strip_prefix("*.") {
        Some(suffix) => {
            domain.as_str().split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == suffix)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> DomainName {
        DomainName::parse(s).expect("valid domain")
    }

    #[test]
    fn parsing_and_wildcards() {
        assert_eq!(d("Play.Example.COM.").as_str(), "play.example.com");
        assert!(d("*.example.com").is_wildcard());
        for bad in ["", "*.com", "a..b", "-a.b", "a_b.c", "*", "a.*.b", "x*.a.b", &"a".repeat(64)] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
        let w = d("*.example.com");
        assert!(w.serves("a.example.com"));
        assert!(!w.serves("a.b.example.com"), "exactly one label");
        assert!(!w.serves("example.com"));
        assert!(d("play.example.com").serves("PLAY.example.com"));
    }

    #[test]
    fn certificate_coverage() {
        assert!(cert_name_covers("play.example.com", &d("play.example.com")));
        assert!(cert_name_covers("*.example.com", &d("play.example.com")));
        assert!(cert_name_covers("*.example.com", &d("*.example.com")));
        assert!(!cert_name_covers("*.example.com", &d("a.b.example.com")));
        assert!(!cert_name_covers("*.example.com", &d("example.com")));
        assert!(!cert_name_covers("play.example.com", &d("*.example.com")));
        assert!(!cert_name_covers("other.example.com", &d("play.example.com")));
    }
}
