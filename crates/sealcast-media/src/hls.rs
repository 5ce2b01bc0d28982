//! HLS: a keyframe-aligned MPEG-TS segmenter and a live media-playlist window.

pub mod key_uri;
pub mod parse;
pub mod playlist;
pub mod segmenter;
pub mod window;
