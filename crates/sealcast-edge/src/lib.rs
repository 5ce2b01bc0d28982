//! Playback edge: serves HLS playlists, segments and keys, and HTTP-FLV, over HTTP/1.1 and
//! HTTP/2.
//!
//! Routes (relative to a stream published as `{app}/{stream}`):
//!
//! | path | what | cache |
//! |---|---|---|
//! | `/{app}/{stream}.m3u8` | media playlist | `max-age=1` live, `max-age=10` ended |
//! | `/{app}/{stream}/{epoch}-{seq}.ts` | encrypted segment | `max-age=86400, immutable` |
//! | `/{app}/{stream}/key?d=…&ct=…` | GET: 16-byte content key (aes-128 streams); POST: the key HPKE-sealed to a player | `no-store` |
//! | `/{app}/{stream}.flv` | live HTTP-FLV from the cached GOP on, encrypted per docs/flv-encryption.md for encrypted apps | `no-store` |
//!
//! Every request is first matched to a playback domain by its Host (exact, wildcard, then the
//! default domain; none → 404). The domain's functions apply: `https_force`/`http_force`
//! redirects, HSTS on HTTPS responses only. Every playback request then has its credential
//! checked against the domain's `aliauth` policy before anything is read (403 with the reason
//! otherwise). A playlist fetched with a credential lists its segment and key URIs signed for
//! the same expiry, as absolute paths, and is `no-store`. Keys are served only over HTTPS, or
//! plain HTTP from loopback.
//!
//! The HTTPS listener ([`serve_tls`]) reads the ClientHello first, picks the domain's rustls
//! configuration by SNI from the live snapshot (so certificate changes apply to the next
//! handshake), and answers an unknown name with an `unrecognized_name` alert.
#![forbid(unsafe_code)]

mod flv;
mod keys;
mod player;
mod routes;
mod server;

pub use keys::KeyLimits;
pub use routes::{Edge, PublicPorts};
pub use server::{serve, serve_tls, EdgeConfig};
