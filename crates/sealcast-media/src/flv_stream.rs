//! The FLV file/stream container (Adobe FLV v10.1, annex E): writing an HTTP-FLV stream from
//! hub frames, and reading one back tag by tag (for players), sans-IO.

use bytes::{BufMut as _, Bytes, BytesMut};

use crate::error::MediaError;
use crate::frame::FrameKind;

/// FLV tag types.
pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;
/// Largest tag body FLV can describe (24-bit length).
pub const MAX_TAG_BODY: usize = 0xff_ffff;

/// The 9-byte FLV header plus PreviousTagSize0.
pub fn file_header(audio: bool, video: bool) -> [u8; 13] {
    let flags = (u8::from(audio) << 2) | u8::from(video);
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

pub fn tag_type(kind: FrameKind) -> u8 {
    match kind {
        FrameKind::Audio => TAG_AUDIO,
        FrameKind::Video => TAG_VIDEO,
        FrameKind::Script => TAG_SCRIPT,
    }
}

/// The frame kind of an FLV tag type (the inverse of [`tag_type`]); `None` for other tags.
pub fn frame_kind(tag_type: u8) -> Option<FrameKind> {
    match tag_type {
        TAG_AUDIO => Some(FrameKind::Audio),
        TAG_VIDEO => Some(FrameKind::Video),
        TAG_SCRIPT => Some(FrameKind::Script),
        _ => None,
    }
}

/// The 11-byte header of a tag with a body of `body_len` bytes. Timestamps are milliseconds,
/// written as FLV's 24 bits plus an extension byte (wrapping after ~49 days).
pub fn tag_header(tag_type: u8, timestamp: u64, body_len: usize) -> Result<[u8; 11], MediaError> {
    if body_len > MAX_TAG_BODY {
        return Err(MediaError::InvalidFlv("a tag body over 16 MiB cannot be written"));
    }
    let ts = (timestamp & 0xffff_ffff) as u32;
    let [_, l1, l2, l3] = (body_len as u32).to_be_bytes();
    let [ext, t1, t2, t3] = ts.to_be_bytes();
    Ok([tag_type, l1, l2, l3, t1, t2, t3, ext, 0, 0, 0])
}

/// The PreviousTagSize that follows a tag with a body of `body_len` bytes.
pub fn previous_tag_size(body_len: usize) -> [u8; 4] {
    (11 + body_len as u32).to_be_bytes()
}

/// Appends one tag (11-byte header, body, PreviousTagSize) to `out`.
pub fn write_tag(out: &mut BytesMut, tag_type: u8, timestamp: u64, body: &[u8]) -> Result<(), MediaError> {
    let head = tag_header(tag_type, timestamp, body.len())?;
    out.reserve(11 + body.len() + 4);
    out.put_slice(&head);
    out.put_slice(body);
    out.put_slice(&previous_tag_size(body.len()));
    Ok(())
}

/// One tag read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    pub tag_type: u8,
    pub timestamp: u32,
    pub body: Bytes,
}

/// Incremental FLV reader: feed bytes as they arrive, take tags as they complete.
#[derive(Debug, Default)]
pub struct FlvReader {
    buf: BytesMut,
    header_done: bool,
    /// Audio and video flags of the header, once read.
    pub flags: Option<u8>,
}

impl FlvReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a complete tag.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete tag, `Ok(None)` when more bytes are needed.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, MediaError> {
        if !self.header_done {
            if self.buf.len() < 13 {
                return Ok(None);
            }
            if &self.buf[..3] != b"FLV" {
                return Err(MediaError::InvalidFlv("the stream does not start with the FLV signature"));
            }
            let offset = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]) as usize;
            if !(9..=1024).contains(&offset) {
                return Err(MediaError::InvalidFlv("the header's data offset is not 9..=1024"));
            }
            if self.buf.len() < offset + 4 {
                return Ok(None);
            }
            self.flags = Some(self.buf[4]);
            let _ = self.buf.split_to(offset + 4);
            self.header_done = true;
        }
        if self.buf.len() < 11 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([0, self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if self.buf.len() < 11 + size + 4 {
            return Ok(None);
        }
        let head = self.buf.split_to(11);
        let tag_type = head[0] & 0x1f;
        let timestamp = u32::from_be_bytes([head[7], head[4], head[5], head[6]]);
        let body = self.buf.split_to(size).freeze();
        let _prev = self.buf.split_to(4);
        Ok(Some(FlvTag { tag_type, timestamp, body }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tag_types_and_frame_kinds_are_inverses() {
        for kind in [FrameKind::Audio, FrameKind::Video, FrameKind::Script] {
            assert_eq!(frame_kind(tag_type(kind)), Some(kind));
        }
        assert_eq!(frame_kind(7), None);
    }

    #[test]
    fn writes_and_reads_back() {
        let mut out = BytesMut::from(&file_header(true, true)[..]);
        write_tag(&mut out, TAG_SCRIPT, 0, b"meta").expect("tag");
        write_tag(&mut out, TAG_VIDEO, 0x0123_4567, &[0x17, 1, 0, 0, 0, 9]).expect("tag");
        assert_eq!(&out[..13], b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
        // Tag header: type, size 4, timestamp 0, ext 0, stream id 0; then PreviousTagSize 15.
        assert_eq!(&out[13..24], &[18, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[28..32], &15u32.to_be_bytes());
        let mut r = FlvReader::new();
        // Byte by byte, as a network might deliver it.
        let mut tags = Vec::new();
        for b in out.iter() {
            r.push(&[*b]);
            while let Some(t) = r.next_tag().expect("valid") {
                tags.push(t);
            }
        }
        assert_eq!(r.flags, Some(5));
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[1].timestamp, 0x0123_4567);
        assert_eq!(&tags[1].body[..], &[0x17, 1, 0, 0, 0, 9]);
        assert_eq!(r.pending(), 0);
        assert!(FlvReader { buf: BytesMut::from(&b"XYZ0123456789"[..]), ..FlvReader::default() }.next_tag().is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut r = FlvReader::new();
            r.push(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
            r.push(&data);
            for _ in 0..64 {
                match r.next_tag() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }
}
