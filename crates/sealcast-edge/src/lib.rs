//! Playback edge: serves HLS playlists, segments and keys over HTTP/1.1 and HTTP/2.
//!
//! Routes (relative to a stream published as `{app}/{stream}`):
//!
//! | path | what | cache |
//! |---|---|---|
//! | `/{app}/{stream}.m3u8` | media playlist | `max-age=1` live, `max-age=10` ended |
//! | `/{app}/{stream}/{epoch}-{seq}.ts` | encrypted segment | `max-age=86400, immutable` |
//! | `/{app}/{stream}/key?d=…&ct=…` | 16-byte content key, unwrapped by the KMS | `no-store` |
//!
//! Every playback request passes through one [`PlaybackGuard`] before anything is read: this
//! is where playback credentials are checked.
#![forbid(unsafe_code)]

mod guard;
mod routes;
mod server;

pub use guard::{AllowAll, Denied, PlaybackGuard, PlaybackRequest, Resource};
pub use routes::Edge;
pub use server::{serve, EdgeConfig};
