//! A reader for the HLS playlists players follow (RFC 8216): media playlists with their
//! keys, sequence numbers and discontinuities, and master playlists' variant URIs. Bounded
//! and total: any input gives a result or a precise error.

use thiserror::Error;

/// Playlist parsing errors.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlaylistError {
    #[error("not an HLS playlist: the first line must be #EXTM3U")]
    NotM3u8,
    #[error("line {line}: {reason}")]
    Invalid { line: usize, reason: String },
    #[error("playlist longer than {0} bytes")]
    TooLarge(usize),
}

/// Largest playlist accepted.
pub const MAX_PLAYLIST_BYTES: usize = 4 << 20;

/// An EXT-X-KEY in force for a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentKey {
    /// `AES-128` or `SAMPLE-AES` (`NONE` is represented as no key).
    pub method: String,
    pub uri: String,
    pub iv: Option<[u8; 16]>,
    /// `identity` when absent.
    pub keyformat: String,
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSegment {
    pub uri: String,
    pub duration_ms: u64,
    /// Media sequence number.
    pub sequence: u64,
    pub discontinuity: bool,
    pub key: Option<SegmentKey>,
}

/// A media playlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaPlaylistInfo {
    pub target_duration: u64,
    pub media_sequence: u64,
    pub segments: Vec<MediaSegment>,
    pub ended: bool,
}

/// What a playlist is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedPlaylist {
    Media(MediaPlaylistInfo),
    /// Variant stream URIs in order.
    Master(Vec<String>),
}

/// Splits an attribute list (`A=1,B="x,y"`) into pairs; quoted values lose their quotes.
pub fn attributes(list: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else { break };
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], q[end + 1..].strip_prefix(',').unwrap_or(&q[end + 1..])),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i + 1..]),
                None => (after, ""),
            }
        };
        out.push((name.trim(), value));
        rest = next;
    }
    out
}

fn parse_iv(v: &str) -> Option<[u8; 16]> {
    let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
    if hex.len() != 32 {
        return None;
    }
    let mut iv = [0u8; 16];
    for (b, pair) in iv.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *b = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(iv)
}

/// Parses EXTINF's duration (`2.000,` or `2,title`) into milliseconds.
fn parse_duration_ms(v: &str) -> Option<u64> {
    let d = v.split(',').next()?.trim();
    let secs: f64 = d.parse().ok()?;
    (secs.is_finite() && (0.0..=86_400.0).contains(&secs)).then(|| (secs * 1000.0).round() as u64)
}

/// Parses a playlist.
pub fn parse_playlist(text: &str) -> Result<ParsedPlaylist, PlaylistError> {
    if text.len() > MAX_PLAYLIST_BYTES {
        return Err(PlaylistError::TooLarge(MAX_PLAYLIST_BYTES));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    match lines.next() {
        Some((_, l)) if l.trim_start_matches('\u{feff}') == "#EXTM3U" => {}
        _ => return Err(PlaylistError::NotM3u8),
    }
    let mut media = MediaPlaylistInfo::default();
    let mut variants = Vec::new();
    let mut expect_variant = false;
    let mut duration: Option<u64> = None;
    let mut discontinuity = false;
    let mut key: Option<SegmentKey> = None;
    let mut sequence: Option<u64> = None;
    let bad = |line: usize, reason: &str| PlaylistError::Invalid { line, reason: reason.to_string() };
    for (n, line) in lines {
        if line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            duration = Some(parse_duration_ms(v).ok_or_else(|| bad(n, "EXTINF needs a duration in seconds"))?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            media.target_duration = v.parse().map_err(|_| bad(n, "EXT-X-TARGETDURATION must be an integer"))?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            media.media_sequence = v.parse().map_err(|_| bad(n, "EXT-X-MEDIA-SEQUENCE must be an integer"))?;
        } else if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if line == "#EXT-X-ENDLIST" {
            media.ended = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-KEY:") {
            let attrs = attributes(v);
            let get = |k: &str| attrs.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
            let method = get("METHOD").ok_or_else(|| bad(n, "EXT-X-KEY without METHOD"))?;
            key = if method == "NONE" {
                None
            } else {
                let uri = get("URI").ok_or_else(|| bad(n, "EXT-X-KEY without URI"))?;
                let iv = match get("IV") {
                    Some(v) => Some(parse_iv(v).ok_or_else(|| bad(n, "IV must be 0x and 32 hex digits"))?),
                    None => None,
                };
                Some(SegmentKey {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    iv,
                    keyformat: get("KEYFORMAT").unwrap_or("identity").to_string(),
                })
            };
        } else if line.starts_with("#EXT-X-STREAM-INF:") {
            expect_variant = true;
        } else if line.starts_with('#') {
            // Other tags and comments do not change what a player fetches.
        } else if expect_variant {
            variants.push(line.to_string());
            expect_variant = false;
        } else {
            let duration_ms = duration.take().ok_or_else(|| bad(n, "a segment URI without EXTINF"))?;
            let seq = sequence.map_or(media.media_sequence, |s| s + 1);
            sequence = Some(seq);
            media.segments.push(MediaSegment {
                uri: line.to_string(),
                duration_ms,
                sequence: seq,
                discontinuity: std::mem::take(&mut discontinuity),
                key: key.clone(),
            });
        }
    }
    if !variants.is_empty() {
        return Ok(ParsedPlaylist::Master(variants));
    }
    Ok(ParsedPlaylist::Media(media))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::playlist::{KeyTag, MediaPlaylist, PlaylistSegment};

    #[test]
    fn reads_what_the_renderer_writes() {
        let mut p = MediaPlaylist::new(2);
        p.media_sequence = 7;
        for i in 0..3u8 {
            let mut s = PlaylistSegment::new(format!("cam/e-{i}.ts"), 2000 + u64::from(i));
            s.key = Some(KeyTag {
                uri: format!("cam/key?d=x&ct=K{}", i / 2),
                iv: Some([i; 16]),
                keyformat: (i == 2).then(|| "com.sealcast.envelope".to_string()),
                keyformat_versions: (i == 2).then(|| "1".to_string()),
            });
            s.discontinuity = i == 1;
            p.segments.push(s);
        }
        p.ended = true;
        let ParsedPlaylist::Media(m) = parse_playlist(&p.render()).expect("parses") else { panic!("media") };
        assert!(m.ended);
        assert_eq!(m.segments.len(), 3);
        assert_eq!(m.segments.iter().map(|s| s.sequence).collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(m.segments[1].duration_ms, 2001);
        assert!(m.segments[1].discontinuity && !m.segments[0].discontinuity);
        let k = m.segments[2].key.as_ref().expect("key");
        assert_eq!(
            (k.uri.as_str(), k.iv, k.keyformat.as_str()),
            ("cam/key?d=x&ct=K1", Some([2; 16]), "com.sealcast.envelope")
        );
        assert_eq!(m.segments[0].key.as_ref().map(|k| k.keyformat.as_str()), Some("identity"));
    }

    #[test]
    fn master_playlists_and_errors() {
        let master =
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"a,b\"\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nhi.m3u8\n";
        assert_eq!(parse_playlist(master), Ok(ParsedPlaylist::Master(vec!["low.m3u8".into(), "hi.m3u8".into()])));
        assert_eq!(parse_playlist("hello"), Err(PlaylistError::NotM3u8));
        assert!(matches!(parse_playlist("#EXTM3U\nseg.ts\n"), Err(PlaylistError::Invalid { line: 2, .. })));
        assert!(parse_playlist("#EXTM3U\n#EXTINF:abc,\nseg.ts\n").is_err());
        assert!(parse_playlist("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x12\n").is_err());
        let none = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:1,\na.ts\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:1,\nb.ts\n";
        let ParsedPlaylist::Media(m) = parse_playlist(none).expect("parses") else { panic!("media") };
        assert!(m.segments[0].key.is_some() && m.segments[1].key.is_none());
        assert_eq!(attributes("A=1,B=\"x,y\",C=z"), vec![("A", "1"), ("B", "x,y"), ("C", "z")]);
    }
}
