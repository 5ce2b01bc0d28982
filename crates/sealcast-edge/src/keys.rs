//! The key endpoint's machinery: a cache of unwrapped data keys that rides out KMS outages,
//! rate limits per client IP and per stream, and the envelope (HPKE) response.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sealcast_crypto::hpke::{self, HPKE_PUBLIC_KEY_LEN, HPKE_SUITE_NAME};
use sealcast_crypto::{sha256, SecretBytes};
use sealcast_kms::{EncryptionContext, Kms, KmsError};
use serde::{Deserialize, Serialize};

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

/// The body of an envelope key request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvelopeRequest {
    /// The player's P-256 public key, uncompressed SEC1 (65 bytes), base64url.
    pub pk: String,
}

/// The body of an envelope key response.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvelopeResponse {
    /// HPKE suite name.
    pub suite: String,
    /// HPKE encapsulated key, base64url.
    pub enc: String,
    /// The sealed 16-byte content key (32 bytes with the tag), base64url.
    pub key: String,
    /// Key id: the first 32 hex digits of SHA-256 of the ciphertext blob.
    pub kid: String,
    /// Unix time after which the player must not use the key.
    pub exp: i64,
}

/// The key id of a ciphertext blob.
pub fn key_id(ciphertext_blob: &[u8]) -> String {
    sha256(ciphertext_blob)[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The HPKE `info` of an envelope response: binds the sealed key to where it belongs.
pub fn envelope_info(domain: &str, app: &str, stream: &str, kid: &str, exp: i64) -> Vec<u8> {
    format!("sealcast-envelope-v1\0{domain}\0{app}\0{stream}\0{kid}\0{exp}").into_bytes()
}

/// Why an envelope request body is refused.
pub(crate) fn parse_envelope_request(body: &[u8]) -> Result<Vec<u8>, String> {
    let req: EnvelopeRequest =
        serde_json::from_slice(body).map_err(|e| format!("the body must be JSON {{\"pk\": \"…\"}}: {e}"))?;
    let pk = URL_SAFE_NO_PAD.decode(req.pk.trim_end_matches('=')).map_err(|_| "pk is not base64url".to_string())?;
    if pk.len() != HPKE_PUBLIC_KEY_LEN || pk[0] != 0x04 {
        return Err("pk must be an uncompressed P-256 public key (65 bytes, 0x04 first)".into());
    }
    Ok(pk)
}

/// Seals `key` to `pk`.
pub(crate) fn seal_envelope(
    pk: &[u8],
    key: &SecretBytes,
    (domain, app, stream): (&str, &str, &str),
    kid: String,
    exp: i64,
) -> Result<EnvelopeResponse, hpke::HpkeError> {
    let info = envelope_info(domain, app, stream, &kid, exp);
    let (enc, sealed) = hpke::seal(pk, &info, b"", key.expose())?;
    Ok(EnvelopeResponse {
        suite: HPKE_SUITE_NAME.to_string(),
        enc: URL_SAFE_NO_PAD.encode(enc),
        key: URL_SAFE_NO_PAD.encode(sealed),
        kid,
        exp,
    })
}

#[cfg(test)]
mod tests {
    use sealcast_crypto::hpke::HpkeKeyPair;
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

    #[test]
    fn envelope_requests_and_responses() {
        let player = HpkeKeyPair::generate().expect("key pair");
        let body = format!("{{\"pk\":\"{}\"}}", URL_SAFE_NO_PAD.encode(&player.public));
        let pk = parse_envelope_request(body.as_bytes()).expect("valid");
        for bad in ["", "{}", "{\"pk\":\"***\"}", "{\"pk\":\"AAAA\"}", "{\"pk\":\"x\",\"ct\":\"y\"}"] {
            assert!(parse_envelope_request(bad.as_bytes()).is_err(), "{bad}");
        }
        let key = SecretBytes::new(vec![9; 16]);
        let r = seal_envelope(&pk, &key, ("d", "live", "cam"), key_id(b"blob"), 1_700_000_000).expect("seal");
        assert_eq!(r.kid.len(), 32);
        let info = envelope_info("d", "live", "cam", &r.kid, r.exp);
        let enc = URL_SAFE_NO_PAD.decode(&r.enc).expect("b64");
        let sealed = URL_SAFE_NO_PAD.decode(&r.key).expect("b64");
        assert_eq!(player.open(&enc, &info, b"", &sealed).expect("opens").expose(), &[9; 16]);
        // Bound to the stream and expiry.
        let wrong = envelope_info("d", "live", "other", &r.kid, r.exp);
        assert!(player.open(&enc, &wrong, b"", &sealed).is_err());
        let later = envelope_info("d", "live", "cam", &r.kid, r.exp + 1);
        assert!(player.open(&enc, &later, b"", &sealed).is_err());
    }
}
