//! Sans-IO RTMP server protocol for publishers (ffmpeg, OBS).
//!
//! Feed received bytes to [`ServerSession::feed`], send what [`ServerSession::take_output`]
//! returns, and act on the [`Event`]s from [`ServerSession::poll_event`]. No sockets, no clocks.
//!
//! ```
//! use sealcast_rtmp::{ServerConfig, ServerSession};
//! let mut s = ServerSession::new(ServerConfig::default(), 42);
//! let mut c0c1 = vec![3u8];
//! c0c1.extend_from_slice(&[0u8; 1536]);
//! s.feed(&c0c1).unwrap();
//! assert_eq!(s.take_output().len(), 1 + 1536 * 2); // S0 S1 S2
//! ```
#![forbid(unsafe_code)]

mod chunk;
mod error;
mod handshake;
mod message;
mod session;

pub use chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
pub use error::RtmpError;
pub use handshake::HANDSHAKE_SIZE;
pub use message::{msg_type, status};
pub use session::{Event, PublishRequest, ServerConfig, ServerSession};
