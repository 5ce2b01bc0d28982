//! Sans-IO media formats for Sealcast.
//!
//! Everything in this crate turns bytes or frames into other bytes or frames: no sockets, no
//! files, no clocks. The IO adapters (`sealcast-ingest`, `sealcast-hls`, `sealcast-edge`) feed it.
//!
//! - [`amf0`]: the AMF0 encoding used by RTMP commands and FLV script data.
//! - [`flv`]: FLV audio/video tag bodies, the AVC decoder configuration and the AAC
//!   AudioSpecificConfig.
//! - [`flv_stream`]: the FLV container: writing HTTP-FLV streams, reading them back tag by tag.
//! - [`flv_crypt`]: Sealcast FLV encryption: clear and encrypted parts, counters, key announcements.
//! - [`frame`]: [`frame::MediaFrame`], the unit that flows from ingest through the hub.
//! - [`ts`]: an MPEG-TS muxer for H.264 + AAC.
//! - [`hls`]: a keyframe-aligned segmenter, a live media-playlist window and renderer, a
//!   playlist reader, and the key URI format.
//!
//! ```
//! use sealcast_media::hls::playlist::{MediaPlaylist, PlaylistSegment};
//! let mut pl = MediaPlaylist::new(2);
//! pl.segments.push(PlaylistSegment::new("s/0.ts", 2000));
//! assert!(pl.render().contains("#EXTINF:2.000,"));
//! ```
#![forbid(unsafe_code)]

pub mod amf0;
pub mod flv;
pub mod flv_crypt;
pub mod flv_stream;
pub mod frame;
pub mod hls;
pub mod ts;

mod error;
pub use error::MediaError;
