//! The key endpoint's machinery: a cache of unwrapped data keys that rides out KMS outages,
//! and rate limits per client IP and per stream.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sealcast_crypto::{sha256, SecretBytes};
use sealcast_kms::{EncryptionContext, Kms, KmsError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Key endpoint limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLimits {
    /// Key requests per second from one client IP (burst: twice this). 0 = unlimited.
    pub per_ip: u32,
    /// Key requests per second for one stream (burst: twice this). 0 = unlimited.
    pub per_stream: u32,
    /// Unwrapped keys kept in memory at most; the oldest go first.
    pub cache_entries: usize,
}

impl Default for KeyLimits {
    fn default() -> Self {
        KeyLimits { per_ip: 50, per_stream: 5000, cache_entries: 10_000 }
    }
}

/// A token bucket per name, with stale buckets swept as the table grows.
#[derive(Debug)]
struct Buckets<K> {
    rate: f64,
    burst: f64,
    table: HashMap<K, (f64, Instant)>,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(rate: u32) -> Self {
        Buckets { rate: f64::from(rate), burst: f64::from(rate) * 2.0, table: HashMap::new() }
    }

    /// Takes one token; returns false when the bucket is empty.
    fn take(&mut self, k: &K, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        if self.table.len() >= 100_000 {
            // Full buckets carry no state worth keeping.
            let (rate, burst) = (self.rate, self.burst);
            self.table.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = self.table.entry(k.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    Ip,
    Stream,
}

struct Cached {
    key: SecretBytes,
    expires: Instant,
}

/// Cache, limits and KMS access of the key endpoint.
pub(crate) struct KeyService {
    kms: Arc<dyn Kms>,
    limits: KeyLimits,
    per_ip: Mutex<Buckets<IpAddr>>,
    per_stream: Mutex<Buckets<String>>,
    /// SHA-256(context || blob) → key. `SecretBytes` zeroizes on drop, so eviction wipes.
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

impl KeyService {
    pub(crate) fn new(kms: Arc<dyn Kms>, limits: KeyLimits) -> Self {
        KeyService {
            kms,
            per_ip: Mutex::new(Buckets::new(limits.per_ip)),
            per_stream: Mutex::new(Buckets::new(limits.per_stream)),
            limits,
            cache: Mutex::default(),
        }
    }

    pub(crate) fn admit(&self, ip: IpAddr, stream: &str) -> Result<(), Limited> {
        let now = Instant::now();
        if !lock(&self.per_ip).take(&ip, now) {
            return Err(Limited::Ip);
        }
        if !lock(&self.per_stream).take(&stream.to_string(), now) {
            return Err(Limited::Stream);
        }
        Ok(())
    }

    /// The data key of `blob` under `ctx`: from the cache, else unwrapped by the KMS and kept
    /// for `ttl` (the stream's key rotation interval). A KMS outage only affects keys that are
    /// not cached.
    pub(crate) async fn unwrap(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        ttl: Duration,
    ) -> Result<SecretBytes, KmsError> {
        let mut id_input = ctx.canonical_bytes();
        id_input.extend_from_slice(&(blob.len() as u64).to_be_bytes());
        id_input.extend_from_slice(blob);
        let id = sha256(&id_input);
        let now = Instant::now();
        if let Some(c) = lock(&self.cache).get(&id).filter(|c| c.expires > now) {
            return Ok(c.key.clone());
        }
        let d = self.kms.decrypt(blob, ctx).await?;
        let mut cache = lock(&self.cache);
        if cache.len() >= self.limits.cache_entries {
            cache.retain(|_, c| c.expires > now);
            while cache.len() >= self.limits.cache_entries.max(1) {
                let Some(oldest) = cache.iter().min_by_key(|(_, c)| c.expires).map(|(k, _)| *k) else { break };
                cache.remove(&oldest);
            }
        }
        cache.insert(id, Cached { key: d.plaintext.clone(), expires: now + ttl });
        Ok(d.plaintext)
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        lock(&self.cache).len()
    }
}

#[cfg(test)]
mod tests {
    use sealcast_kms::{BuiltinKms, KeySpec, RootKey};

    use super::*;

    #[test]
    fn buckets_refill_and_cap_bursts() {
        let mut b = Buckets::new(10);
        let t0 = Instant::now();
        let ip: IpAddr = [192, 0, 2, 1].into();
        assert_eq!((0..25).filter(|_| b.take(&ip, t0)).count(), 20, "burst is twice the rate");
        assert!(!b.take(&ip, t0));
        assert!(b.take(&ip, t0 + Duration::from_millis(150)), "refills at the rate");
        assert!(b.take(&[192, 0, 2, 2].into(), t0), "other clients are not affected");
        let mut unlimited = Buckets::new(0);
        assert!((0..1000).all(|_| unlimited.take(&ip, t0)));
    }

    /// The real built-in KMS behind a switch that makes it unreachable, as a remote KMS can be.
    #[derive(Debug)]
    struct Switchable {
        inner: BuiltinKms,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl Kms for Switchable {
        async fn generate_data_key(
            &self,
            key_id: Option<&str>,
            spec: KeySpec,
            context: &EncryptionContext,
        ) -> Result<sealcast_kms::DataKey, KmsError> {
            self.inner.generate_data_key(key_id, spec, context).await
        }

        async fn decrypt(&self, blob: &[u8], context: &EncryptionContext) -> Result<sealcast_kms::Decrypted, KmsError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(KmsError::Unavailable("connection refused".into()));
            }
            self.inner.decrypt(blob, context).await
        }
    }

    #[tokio::test]
    async fn cached_keys_survive_a_kms_outage_and_respect_context() {
        let store = sealcast_store::Store::open_memory().await.expect("store");
        let inner = BuiltinKms::open(store, RootKey::from_bytes([1; 32])).await.expect("kms");
        let kms = Arc::new(Switchable { inner, down: false.into() });
        let ctx = EncryptionContext::new().with("stream", "a");
        let dk = kms.generate_data_key(None, KeySpec::Aes128, &ctx).await.expect("data key");
        let svc = KeyService::new(kms.clone(), KeyLimits { cache_entries: 2, ..KeyLimits::default() });
        let k = svc.unwrap(&dk.ciphertext_blob, &ctx, Duration::from_secs(60)).await.expect("unwrap");
        assert_eq!(k.expose(), dk.plaintext.expose());
        // Another context never gets the cached key.
        let other = EncryptionContext::new().with("stream", "b");
        assert!(matches!(
            svc.unwrap(&dk.ciphertext_blob, &other, Duration::from_secs(60)).await,
            Err(KmsError::ContextMismatch)
        ));
        // The KMS becomes unreachable: the cached key keeps serving, others fail as unavailable.
        let dk2 = kms.generate_data_key(None, KeySpec::Aes128, &ctx).await.expect("data key");
        kms.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let again = svc.unwrap(&dk.ciphertext_blob, &ctx, Duration::from_secs(60)).await.expect("cached");
        assert_eq!(again.expose(), dk.plaintext.expose());
        assert!(matches!(
            svc.unwrap(&dk2.ciphertext_blob, &ctx, Duration::from_secs(60)).await,
            Err(KmsError::Unavailable(_))
        ));
        // Entries expire after their TTL (the rotation interval) and the cache is bounded.
        kms.down.store(false, std::sync::atomic::Ordering::SeqCst);
        svc.unwrap(&dk2.ciphertext_blob, &ctx, Duration::ZERO).await.expect("unwrap");
        let dk3 = kms.generate_data_key(None, KeySpec::Aes128, &ctx).await.expect("data key");
        svc.unwrap(&dk3.ciphertext_blob, &ctx, Duration::from_secs(60)).await.expect("unwrap");
        assert!(svc.cached() <= 2);
        kms.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(svc.unwrap(&dk2.ciphertext_blob, &ctx, Duration::from_secs(60)).await.is_err(), "expired entry");
    }
}
