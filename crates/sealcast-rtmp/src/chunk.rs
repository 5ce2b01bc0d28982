//! RTMP chunk stream decoding and encoding (all four header types, extended timestamps,
//! set-chunk-size, abort).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use crate::error::RtmpError;

/// A reassembled RTMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Bytes,
}

#[derive(Debug, Default)]
struct ChunkStreamState {
    timestamp: u32,
    delta: u32,
    length: usize,
    type_id: u8,
    stream_id: u32,
    extended: bool,
    has_header: bool,
    partial: Option<BytesMut>,
}

/// Decodes chunks into messages. Bounded: message size and chunk-stream count are capped.
#[derive(Debug)]
pub struct ChunkDecoder {
    chunk_size: usize,
    max_message_size: usize,
    max_chunk_streams: usize,
    /// Bound on bytes held in partial messages over all chunk streams.
    max_pending: usize,
    pending: usize,
    streams: HashMap<u32, ChunkStreamState>,
}

const EXTENDED: u32 = 0x00ff_ffff;

impl ChunkDecoder {
    pub fn new(max_message_size: usize, max_chunk_streams: usize) -> Self {
        let max_pending = max_message_size.saturating_add(1 << 20);
        ChunkDecoder {
            chunk_size: 128,
            max_message_size,
            max_chunk_streams,
            max_pending,
            pending: 0,
            streams: HashMap::new(),
        }
    }

    /// Applies a peer's Set Chunk Size.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), RtmpError> {
        if size == 0 || size > 0x7fff_ffff {
            return Err(RtmpError::BadChunkSize(size));
        }
        self.chunk_size = size as usize;
        Ok(())
    }

    /// Drops a partially received message (Abort message).
    pub fn abort(&mut self, csid: u32) {
        if let Some(p) = self.streams.get_mut(&csid).and_then(|s| s.partial.take()) {
            self.pending -= p.len();
        }
    }

    /// Decodes one chunk from the front of `buf`. Returns `Ok(None)` when more bytes are needed;
    /// otherwise the bytes consumed and a message if this chunk completed one.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(usize, Option<RawMessage>)>, RtmpError> {
        let mut pos = 0usize;
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        pos += 1;
        let fmt = b0 >> 6;
        let csid = match b0 & 0x3f {
            0 => {
                let Some(&b1) = buf.get(1) else {
                    return Ok(None);
                };
                pos += 1;
                64 + b1 as u32
            }
            1 => {
                let Some(b) = buf.get(1..3) else {
                    return Ok(None);
                };
                pos += 2;
                64 + b[0] as u32 + ((b[1] as u32) << 8)
            }
            n => n as u32,
        };
        let header_len = match fmt {
            0 => 11,
            1 => 7,
            2 => 3,
            _ => 0,
        };
        let Some(h) = buf.get(pos..pos + header_len) else {
            return Ok(None);
        };
        pos += header_len;

        let known = self.streams.get(&csid).is_some_and(|s| s.has_header);
        if fmt != 0 && !known {
            return Err(RtmpError::MissingHeader { fmt, csid });
        }
        if !self.streams.contains_key(&csid) && self.streams.len() >= self.max_chunk_streams {
            return Err(RtmpError::TooManyChunkStreams(self.max_chunk_streams));
        }
        let max_message_size = self.max_message_size;
        let chunk_size = self.chunk_size;
        let max_pending = self.max_pending;
        let st = self.streams.entry(csid).or_default();

        let u24 = |b: &[u8]| ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        // Parse the header into locals first: nothing is committed until the whole chunk is here.
        let mut ts_field = if fmt <= 2 { u24(&h[0..3]) } else { 0 };
        let mut length = st.length;
        let mut type_id = st.type_id;
        let mut stream_id = st.stream_id;
        if fmt <= 1 {
            length = u24(&h[3..6]) as usize;
            type_id = h[6];
        }
        if fmt == 0 {
            stream_id = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
        }
        let extended = if fmt <= 2 { ts_field == EXTENDED } else { st.extended };
        if extended {
            let Some(e) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            let ext = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            if fmt <= 2 {
                ts_field = ext;
            } else if st.partial.is_none() {
                // Type 3 starting a new message repeats the extended delta/timestamp.
                ts_field = ext;
            }
        }
        if length > max_message_size {
            return Err(RtmpError::MessageTooLarge { len: length, max: max_message_size });
        }
        let received = st.partial.as_ref().map_or(0, |p| p.len());
        let continuing = fmt == 3 && st.partial.is_some();
        let remaining = if continuing { length - received } else { length };
        let take = remaining.min(chunk_size);
        let Some(data) = buf.get(pos..pos + take) else {
            return Ok(None);
        };
        pos += take;
        let abandoned = if continuing { 0 } else { st.partial.as_ref().map_or(0, |p| p.len()) };
        if self.pending - abandoned + take > max_pending {
            return Err(RtmpError::MessageTooLarge { len: self.pending - abandoned + take, max: max_pending });
        }
        self.pending = self.pending - abandoned + take;

        // Commit the header.
        if !continuing {
            match fmt {
                0 => {
                    st.timestamp = ts_field;
                    st.delta = ts_field;
                }
                1 | 2 => {
                    st.delta = ts_field;
                    st.timestamp = st.timestamp.wrapping_add(ts_field);
                }
                _ => {
                    let d = if extended { ts_field } else { st.delta };
                    st.timestamp = st.timestamp.wrapping_add(d);
                }
            }
            st.length = length;
            st.type_id = type_id;
            st.stream_id = stream_id;
            st.extended = extended;
            st.has_header = true;
            // A new header while a message is incomplete abandons the old one.
            st.partial = Some(BytesMut::with_capacity(length.min(1 << 20)));
        }
        let partial = st.partial.get_or_insert_with(BytesMut::new);
        partial.extend_from_slice(data);
        if partial.len() < st.length {
            return Ok(Some((pos, None)));
        }
        let payload = st.partial.take().map(BytesMut::freeze).unwrap_or_default();
        self.pending -= payload.len();
        Ok(Some((
            pos,
            Some(RawMessage { csid, timestamp: st.timestamp, type_id: st.type_id, stream_id: st.stream_id, payload }),
        )))
    }
}

/// Encodes messages as chunks. Every message starts with a type-0 header (simple and always
/// valid); continuation chunks use type 3.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: usize,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        ChunkEncoder { chunk_size: 128 }
    }
}

impl ChunkEncoder {
    pub fn set_chunk_size(&mut self, size: usize) {
        self.chunk_size = size.max(1);
    }

    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    pub fn write(&self, out: &mut Vec<u8>, csid: u32, timestamp: u32, type_id: u8, stream_id: u32, payload: &[u8]) {
        let ext = timestamp >= EXTENDED;
        let ts_field = if ext { EXTENDED } else { timestamp };
        write_basic_header(out, 0, csid);
        out.extend_from_slice(&ts_field.to_be_bytes()[1..]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&stream_id.to_le_bytes());
        if ext {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        let mut chunks = payload.chunks(self.chunk_size).peekable();
        if payload.is_empty() {
            return;
        }
        while let Some(c) = chunks.next() {
            out.extend_from_slice(c);
            if chunks.peek().is_some() {
                write_basic_header(out, 3, csid);
                if ext {
                    out.extend_from_slice(&timestamp.to_be_bytes());
                }
            }
        }
    }
}

fn write_basic_header(out: &mut Vec<u8>, fmt: u8, csid: u32) {
    match csid {
        2..=63 => out.push((fmt << 6) | csid as u8),
        64..=319 => {
            out.push(fmt << 6);
            out.push((csid - 64) as u8);
        }
        _ => {
            let v = csid.saturating_sub(64).min(0xffff);
            out.push((fmt << 6) | 1);
            out.push(v as u8);
            out.push((v >> 8) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(dec: &mut ChunkDecoder, mut buf: &[u8]) -> Result<Vec<RawMessage>, RtmpError> {
        let mut out = Vec::new();
        while let Some((n, msg)) = dec.decode(buf)? {
            buf = &buf[n..];
            out.extend(msg);
        }
        assert!(buf.is_empty(), "left {} bytes", buf.len());
        Ok(out)
    }

    #[test]
    fn all_header_types_and_deltas() {
        let mut buf = Vec::new();
        // fmt 0: ts 1000, len 3, type 9, stream 1
        buf.extend_from_slice(&[0x06, 0x00, 0x03, 0xe8, 0, 0, 3, 9, 1, 0, 0, 0, b'a', b'b', b'c']);
        // fmt 1: delta 40, len 2, type 8
        buf.extend_from_slice(&[0x46, 0, 0, 40, 0, 0, 2, 8, b'd', b'e']);
        // fmt 2: delta 20
        buf.extend_from_slice(&[0x86, 0, 0, 20, b'f', b'g']);
        // fmt 3: new message, same delta 20
        buf.extend_from_slice(&[0xc6, b'h', b'i']);
        let mut dec = ChunkDecoder::new(1 << 20, 16);
        let msgs = decode_all(&mut dec, &buf).expect("valid");
        let ts: Vec<u32> = msgs.iter().map(|m| m.timestamp).collect();
        assert_eq!(ts, vec![1000, 1040, 1060, 1080]);
        assert_eq!(msgs[3].payload.as_ref(), b"hi");
        assert_eq!(msgs[3].type_id, 8);
        assert_eq!(msgs[0].stream_id, 1);
    }

    #[test]
    fn extended_timestamp_and_large_csid() {
        let enc = ChunkEncoder::default();
        let mut buf = Vec::new();
        let payload = vec![7u8; 300];
        enc.write(&mut buf, 400, 0x0123_4567, 9, 1, &payload);
        let mut dec = ChunkDecoder::new(1 << 20, 16);
        let msgs = decode_all(&mut dec, &buf).expect("valid");
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].timestamp, 0x0123_4567);
        assert_eq!(msgs[0].csid, 400);
        assert_eq!(msgs[0].payload.len(), 300);
    }

    #[test]
    fn bounds_are_enforced() {
        let mut dec = ChunkDecoder::new(10, 2);
        let r = dec.decode(&[0x06, 0, 0, 0, 0, 0, 11, 9, 1, 0, 0, 0]);
        assert_eq!(r, Err(RtmpError::MessageTooLarge { len: 11, max: 10 }));
        let mut dec = ChunkDecoder::new(100, 2);
        assert!(matches!(dec.decode(&[0xc5]), Err(RtmpError::MissingHeader { fmt: 3, csid: 5 })));
        dec.decode(&[0x02, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]).expect("ok");
        dec.decode(&[0x03, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]).expect("ok");
        assert_eq!(dec.decode(&[0x04, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]), Err(RtmpError::TooManyChunkStreams(2)));
        assert!(dec.set_chunk_size(0).is_err());
        assert!(dec.set_chunk_size(0x8000_0000).is_err());
    }

    #[test]
    fn pending_bytes_over_all_chunk_streams_are_bounded() {
        // Three chunk streams each hold the first 128-byte chunk of a 600-byte message:
        // 384 pending bytes exceed a 300-byte bound although each message is allowed.
        let mut dec = ChunkDecoder::new(600, 16);
        dec.max_pending = 300;
        let mut enc = ChunkEncoder::default();
        enc.set_chunk_size(128);
        let mut buf = Vec::new();
        for csid in 3..6 {
            // Only the first chunk (128 bytes) of each message.
            let mut one = Vec::new();
            enc.write(&mut one, csid, 0, 9, 1, &[0u8; 600]);
            buf.extend_from_slice(&one[..12 + 128]);
        }
        let mut pos = 0;
        let err = loop {
            match dec.decode(&buf[pos..]) {
                Ok(Some((n, _))) => pos += n,
                Ok(None) => panic!("ran out of input before hitting the bound"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, RtmpError::MessageTooLarge { max: 300, .. }), "{err}");
    }

    proptest! {
        #[test]
        fn roundtrip_any_chunk_size(
            chunk_size in 1usize..600,
            msgs in prop::collection::vec((2u32..400, any::<u32>(), 1u8..30, 0u32..4, prop::collection::vec(any::<u8>(), 0..1500)), 1..10),
        ) {
            let mut enc = ChunkEncoder::default();
            enc.set_chunk_size(chunk_size);
            let mut buf = Vec::new();
            for (csid, ts, ty, sid, p) in &msgs {
                enc.write(&mut buf, *csid, *ts, *ty, *sid, p);
            }
            let mut dec = ChunkDecoder::new(1 << 20, 1000);
            dec.set_chunk_size(chunk_size as u32).expect("valid size");
            // Feed byte-by-byte growing windows to exercise partial input.
            let mut out = Vec::new();
            let mut start = 0;
            let mut end = 0;
            while start < buf.len() {
                end = (end + 7).min(buf.len());
                match dec.decode(&buf[start..end]).expect("valid stream") {
                    None => continue,
                    Some((n, m)) => { start += n; out.extend(m); }
                }
            }
            prop_assert_eq!(out.len(), msgs.len());
            for (m, (csid, ts, ty, sid, p)) in out.iter().zip(&msgs) {
                prop_assert_eq!((m.csid, m.timestamp, m.type_id, m.stream_id), (*csid, *ts, *ty, *sid));
                prop_assert_eq!(m.payload.as_ref(), p.as_slice());
            }
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut dec = ChunkDecoder::new(4096, 8);
            let mut buf = &bytes[..];
            while let Ok(Some((n, _))) = dec.decode(buf) {
                if n == 0 { break; }
                buf = &buf[n..];
            }
        }
    }
}
