//! Media playlist model and renderer (RFC 8216).

use std::fmt::Write as _;

/// EXT-X-KEY attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTag {
    /// Key URI (relative to the playlist or absolute).
    pub uri: String,
    /// Explicit IV; when absent players use the media sequence number.
    pub iv: Option<[u8; 16]>,
    /// KEYFORMAT; `None` means the default "identity".
    pub keyformat: Option<String>,
    pub keyformat_versions: Option<String>,
}

/// One segment line of a media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistSegment {
    pub uri: String,
    pub duration_ms: u64,
    /// EXT-X-DISCONTINUITY before this segment.
    pub discontinuity: bool,
    /// Encryption of this segment; `None` is METHOD=NONE.
    pub key: Option<KeyTag>,
}

impl PlaylistSegment {
    pub fn new(uri: impl Into<String>, duration_ms: u64) -> Self {
        PlaylistSegment { uri: uri.into(), duration_ms, discontinuity: false, key: None }
    }
}

/// A live (sliding-window) or ended media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist {
    pub target_duration: u64,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub segments: Vec<PlaylistSegment>,
    pub ended: bool,
}

/// Rounds a millisecond duration to the nearest whole second, as RFC 8216 §4.3.3.1 compares.
pub fn rounded_secs(ms: u64) -> u64 {
    (ms + 500) / 1000
}

impl MediaPlaylist {
    pub fn new(target_duration: u64) -> Self {
        MediaPlaylist {
            target_duration,
            media_sequence: 0,
            discontinuity_sequence: 0,
            segments: Vec::new(),
            ended: false,
        }
    }

    fn version(&self) -> u8 {
        let keyformat = self.segments.iter().any(|s| s.key.as_ref().is_some_and(|k| k.keyformat.is_some()));
        if keyformat {
            5
        } else {
            3
        }
    }

    /// Renders the playlist text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(256 + self.segments.len() * 200);
        let _ = writeln!(out, "#EXTM3U");
        let _ = writeln!(out, "#EXT-X-VERSION:{}", self.version());
        let target =
            self.segments.iter().map(|s| rounded_secs(s.duration_ms)).max().unwrap_or(0).max(self.target_duration);
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        if self.discontinuity_sequence > 0 {
            let _ = writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{}", self.discontinuity_sequence);
        }
        let mut prev_key: Option<&Option<KeyTag>> = None;
        for seg in &self.segments {
            if seg.discontinuity {
                let _ = writeln!(out, "#EXT-X-DISCONTINUITY");
            }
            if prev_key != Some(&seg.key) {
                match &seg.key {
                    Some(k) => {
                        let _ = write!(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\"", k.uri);
                        if let Some(iv) = k.iv {
                            out.push_str(",IV=0x");
                            for b in iv {
                                let _ = write!(out, "{b:02x}");
                            }
                        }
                        if let Some(f) = &k.keyformat {
                            let _ = write!(out, ",KEYFORMAT=\"{f}\"");
                        }
                        if let Some(v) = &k.keyformat_versions {
                            let _ = write!(out, ",KEYFORMATVERSIONS=\"{v}\"");
                        }
                        out.push('\n');
                    }
                    None if prev_key.is_some() => {
                        let _ = writeln!(out, "#EXT-X-KEY:METHOD=NONE");
                    }
                    None => {}
                }
                prev_key = Some(&seg.key);
            }
            let _ = writeln!(out, "#EXTINF:{}.{:03},", seg.duration_ms / 1000, seg.duration_ms % 1000);
            let _ = writeln!(out, "{}", seg.uri);
        }
        if self.ended {
            let _ = writeln!(out, "#EXT-X-ENDLIST");
        }
        out
    }
}

/// Rewrites every URI of a rendered media playlist with `f`: segment lines and the `URI`
/// attribute of EXT-X-KEY and EXT-X-MAP tags. Everything else is kept byte for byte. Used to
/// sign the URIs of a playlist per request (the rendered playlist is shared).
pub fn rewrite_uris(playlist: &str, mut f: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(playlist.len() * 2);
    for line in playlist.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let eol = &line[body.len()..];
        if body.is_empty() {
            out.push_str(line);
        } else if !body.starts_with('#') {
            out.push_str(&f(body));
            out.push_str(eol);
        } else if body.starts_with("#EXT-X-KEY:") || body.starts_with("#EXT-X-MAP:") {
            match body.find("URI=\"").and_then(|i| {
                let start = i + 5;
                body[start..].find('"').map(|len| (start, start + len))
            }) {
                Some((start, end)) => {
                    out.push_str(&body[..start]);
                    out.push_str(&f(&body[start..end]));
                    out.push_str(&body[end..]);
                }
                None => out.push_str(body),
            }
            out.push_str(eol);
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn rewrite_uris_touches_only_uris() {
        let src = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-KEY:METHOD=AES-128,URI=\"cam/key?d=x&ct=AA\",IV=0x01\n\
                   #EXTINF:2.000,\ncam/a-1.ts\n#EXT-X-MAP:URI=\"init.mp4\"\n\n#EXTINF:2.000,\r\ncam/a-2.ts\r\n#EXT-X-ENDLIST\n";
        let out = rewrite_uris(src, |u| format!("/live/{u}#"));
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-KEY:METHOD=AES-128,URI=\"/live/cam/key?d=x&ct=AA#\",IV=0x01\n\
             #EXTINF:2.000,\n/live/cam/a-1.ts#\n#EXT-X-MAP:URI=\"/live/init.mp4#\"\n\n#EXTINF:2.000,\r\n/live/cam/a-2.ts#\r\n\
             #EXT-X-ENDLIST\n"
        );
        assert_eq!(rewrite_uris("#EXT-X-KEY:METHOD=NONE\nx.ts", |u| u.to_uppercase()), "#EXT-X-KEY:METHOD=NONE\nX.TS");
    }
    use super::*;

    fn key(uri: &str, iv: u8) -> Option<KeyTag> {
        Some(KeyTag { uri: uri.into(), iv: Some([iv; 16]), keyformat: None, keyformat_versions: None })
    }

    #[test]
    fn renders_live_encrypted_playlist() {
        let mut pl = MediaPlaylist::new(2);
        pl.media_sequence = 7;
        let mut a = PlaylistSegment::new("x/7.ts", 2002);
        a.key = key("x/key?k=A", 1);
        let mut b = PlaylistSegment::new("x/8.ts", 2600);
        b.key = key("x/key?k=A", 2);
        b.discontinuity = true;
        pl.segments = vec![a, b];
        let text = pl.render();
        let expected = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:7\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"x/key?k=A\",IV=0x01010101010101010101010101010101\n#EXTINF:2.002,\nx/7.ts\n\
#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=AES-128,URI=\"x/key?k=A\",IV=0x02020202020202020202020202020202\n#EXTINF:2.600,\nx/8.ts\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn endlist_keyformat_and_method_none() {
        let mut pl = MediaPlaylist::new(2);
        let mut a = PlaylistSegment::new("a.ts", 1000);
        a.key = Some(KeyTag {
            uri: "k".into(),
            iv: None,
            keyformat: Some("com.sealcast.envelope".into()),
            keyformat_versions: Some("1".into()),
        });
        pl.segments = vec![a, PlaylistSegment::new("b.ts", 1000)];
        pl.ended = true;
        pl.discontinuity_sequence = 2;
        let t = pl.render();
        assert!(t.contains("#EXT-X-VERSION:5\n"));
        assert!(t.contains("KEYFORMAT=\"com.sealcast.envelope\",KEYFORMATVERSIONS=\"1\""));
        assert!(t.contains("#EXT-X-KEY:METHOD=NONE\n#EXTINF:1.000,\nb.ts"));
        assert!(t.contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"));
        assert!(t.ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn rounding_rule() {
        assert_eq!(rounded_secs(2499), 2);
        assert_eq!(rounded_secs(2500), 3);
    }
}
