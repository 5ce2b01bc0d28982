//! AMF0 (Action Message Format 0) values, decoder and encoder.
//!
//! The decoder is strict about lengths, bounded in nesting depth and never panics on input.

use crate::error::{need, MediaError};

/// Maximum nesting depth of objects/arrays accepted by the decoder.
pub const MAX_DEPTH: usize = 32;
/// Maximum number of elements in one object or array accepted by the decoder.
pub const MAX_ELEMENTS: usize = 4096;

/// An AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    String(String),
    /// Anonymous object; property order is preserved.
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    /// ECMA (associative) array; property order is preserved.
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    Date {
        millis: f64,
        timezone: i16,
    },
    /// An object tagged with a class name.
    TypedObject {
        class: String,
        properties: Vec<(String, Amf0Value)>,
    },
    /// Marker 0x11: the rest is AMF3, which Sealcast does not decode.
    AvmPlus,
    Unsupported,
}

impl Amf0Value {
    /// The string, when this is a (long) string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, when this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Property lookup on objects, typed objects and ECMA arrays.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        match self {
            Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => p.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Amf0Value::TypedObject { properties, .. } => properties.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Shorthand for building an object from `(&str, value)` pairs.
    pub fn object<'a>(props: impl IntoIterator<Item = (&'a str, Amf0Value)>) -> Amf0Value {
        Amf0Value::Object(props.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Shorthand for a string value.
    pub fn string(s: impl Into<String>) -> Amf0Value {
        Amf0Value::String(s.into())
    }
}

/// Decodes every value in `buf` (a command or script-data body).
pub fn decode_all(buf: &[u8]) -> Result<Vec<Amf0Value>, MediaError> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while r.pos < buf.len() {
        if out.len() >= MAX_ELEMENTS {
            return Err(MediaError::Amf0("too many values".into()));
        }
        let v = r.value(0)?;
        let stop = matches!(v, Amf0Value::AvmPlus);
        out.push(v);
        if stop {
            break;
        }
    }
    Ok(out)
}

/// Decodes one value from the front of `buf`, returning it and the bytes consumed.
pub fn decode_one(buf: &[u8]) -> Result<(Amf0Value, usize), MediaError> {
    let mut r = Reader { buf, pos: 0 };
    let v = r.value(0)?;
    Ok((v, r.pos))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], MediaError> {
        let rest = &self.buf[self.pos..];
        need(what, rest, n)?;
        self.pos += n;
        Ok(&rest[..n])
    }

    fn u8(&mut self) -> Result<u8, MediaError> {
        Ok(self.take(1, "AMF0 marker")?[0])
    }

    fn u16(&mut self) -> Result<u16, MediaError> {
        let b = self.take(2, "AMF0 u16")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, MediaError> {
        let b = self.take(4, "AMF0 u32")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, MediaError> {
        let b = self.take(8, "AMF0 number")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    fn short_string(&mut self) -> Result<String, MediaError> {
        let n = self.u16()? as usize;
        let b = self.take(n, "AMF0 string")?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    fn long_string(&mut self) -> Result<String, MediaError> {
        let n = self.u32()? as usize;
        let b = self.take(n, "AMF0 long string")?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, MediaError> {
        let mut props = Vec::new();
        loop {
            // Object end: empty key followed by marker 0x09. Some encoders end ECMA arrays
            // without it (the buffer simply ends); accept that too.
            if self.pos == self.buf.len() {
                return Ok(props);
            }
            let key = self.short_string()?;
            if key.is_empty() && self.buf.get(self.pos) == Some(&0x09) {
                self.pos += 1;
                return Ok(props);
            }
            if props.len() >= MAX_ELEMENTS {
                return Err(MediaError::Amf0("too many object properties".into()));
            }
            let v = self.value(depth + 1)?;
            props.push((key, v));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, MediaError> {
        if depth > MAX_DEPTH {
            return Err(MediaError::Amf0TooDeep(MAX_DEPTH));
        }
        let marker = self.u8()?;
        Ok(match marker {
            0x00 => Amf0Value::Number(self.f64()?),
            0x01 => Amf0Value::Boolean(self.u8()? != 0),
            0x02 => Amf0Value::String(self.short_string()?),
            0x03 => Amf0Value::Object(self.properties(depth)?),
            0x05 => Amf0Value::Null,
            0x06 => Amf0Value::Undefined,
            0x07 => {
                return Err(MediaError::Amf0("object references are not supported".into()));
            }
            0x08 => {
                let _count_hint = self.u32()?;
                Amf0Value::EcmaArray(self.properties(depth)?)
            }
            0x09 => return Err(MediaError::Amf0("unexpected object-end marker".into())),
            0x0a => {
                let n = self.u32()? as usize;
                if n > MAX_ELEMENTS {
                    return Err(MediaError::Amf0(format!("strict array of {n} elements")));
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Amf0Value::StrictArray(items)
            }
            0x0b => {
                let millis = self.f64()?;
                let tz = self.u16()? as i16;
                Amf0Value::Date { millis, timezone: tz }
            }
            0x0c => Amf0Value::String(self.long_string()?),
            0x0d => Amf0Value::Unsupported,
            0x0f => Amf0Value::String(self.long_string()?),
            0x10 => {
                let class = self.short_string()?;
                let properties = self.properties(depth)?;
                Amf0Value::TypedObject { class, properties }
            }
            0x11 => Amf0Value::AvmPlus,
            other => return Err(MediaError::Amf0(format!("unknown marker 0x{other:02x}"))),
        })
    }
}

/// Appends the AMF0 encoding of `v` to `out`.
pub fn encode(v: &Amf0Value, out: &mut Vec<u8>) {
    match v {
        Amf0Value::Number(n) => {
            out.push(0x00);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => {
            out.push(0x01);
            out.push(u8::from(*b));
        }
        Amf0Value::String(s) => encode_string(s, out),
        Amf0Value::Object(props) => {
            out.push(0x03);
            encode_properties(props, out);
        }
        Amf0Value::Null => out.push(0x05),
        Amf0Value::Undefined => out.push(0x06),
        Amf0Value::EcmaArray(props) => {
            out.push(0x08);
            out.extend_from_slice(&(props.len() as u32).to_be_bytes());
            encode_properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.push(0x0a);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                encode(i, out);
            }
        }
        Amf0Value::Date { millis, timezone } => {
            out.push(0x0b);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&timezone.to_be_bytes());
        }
        Amf0Value::TypedObject { class, properties } => {
            out.push(0x10);
            encode_key(class, out);
            encode_properties(properties, out);
        }
        Amf0Value::AvmPlus => out.push(0x11),
        Amf0Value::Unsupported => out.push(0x0d),
    }
}

/// Encodes a sequence of values (a command body).
pub fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode(v, &mut out);
    }
    out
}

fn encode_string(s: &str, out: &mut Vec<u8>) {
    if s.len() <= u16::MAX as usize {
        out.push(0x02);
        encode_key(s, out);
    } else {
        out.push(0x0c);
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
}

fn encode_key(s: &str, out: &mut Vec<u8>) {
    // Keys are short strings; truncate at a char boundary rather than corrupt the stream.
    let mut end = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

fn encode_properties(props: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (k, v) in props {
        encode_key(k, out);
        encode(v, out);
    }
    out.extend_from_slice(&[0x00, 0x00, 0x09]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_ffmpeg_connect_command() {
        let cmd = vec![
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("type", Amf0Value::string("nonprivate")),
                ("tcUrl", Amf0Value::string("rtmp://localhost:1935/live")),
            ]),
        ];
        let bytes = encode_all(&cmd);
        let back = decode_all(&bytes).expect("valid AMF0");
        assert_eq!(back, cmd);
        assert_eq!(back[2].get("app").and_then(Amf0Value::as_str), Some("live"));
    }

    #[test]
    fn rejects_truncated_and_unknown() {
        assert!(matches!(decode_all(&[0x00, 1, 2]), Err(MediaError::Truncated { .. })));
        assert!(decode_all(&[0x02, 0x00, 0x05, b'a']).is_err());
        assert!(matches!(decode_all(&[0x42]), Err(MediaError::Amf0(_))));
        assert!(decode_all(&[0x07, 0, 1]).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let mut bytes = Vec::new();
        for _ in 0..100 {
            bytes.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
        }
        assert_eq!(decode_all(&bytes), Err(MediaError::Amf0TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn ecma_array_without_end_marker() {
        let mut bytes = vec![0x08, 0, 0, 0, 1, 0, 1, b'x', 0x00];
        bytes.extend_from_slice(&1.5f64.to_be_bytes());
        let v = decode_all(&bytes).expect("valid");
        assert_eq!(v[0].get("x"), Some(&Amf0Value::Number(1.5)));
    }

    fn arb_value() -> impl Strategy<Value = Amf0Value> {
        let leaf = prop_oneof![
            any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Amf0Value::Number),
            any::<bool>().prop_map(Amf0Value::Boolean),
            "[a-zA-Z0-9 ]{0,40}".prop_map(Amf0Value::String),
            Just(Amf0Value::Null),
            Just(Amf0Value::Undefined),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..6).prop_map(Amf0Value::Object),
                prop::collection::vec(("[a-z]{1,8}", inner.clone()), 0..6).prop_map(Amf0Value::EcmaArray),
                prop::collection::vec(inner, 0..6).prop_map(Amf0Value::StrictArray),
            ]
        })
    }

    proptest! {
        #[test]
        fn roundtrip(values in prop::collection::vec(arb_value(), 1..5)) {
            let bytes = encode_all(&values);
            prop_assert_eq!(decode_all(&bytes).expect("own encoding decodes"), values);
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_all(&bytes);
        }
    }
}
