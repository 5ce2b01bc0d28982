//! The small part of DER that OCSP needs: a bounds-checked TLV reader and a writer.

use super::OcspError;

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// Context-specific primitive tag `[n]` (IMPLICIT over a primitive type).
pub(crate) const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

fn malformed(what: &'static str) -> OcspError {
    OcspError::Malformed(what)
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one element: its tag, its contents and the whole encoding (tag and length too).
    pub(crate) fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), OcspError> {
        let bytes = self.rest;
        let (&tag, after_tag) = bytes.split_first().ok_or(malformed("truncated element"))?;
        if tag & 0x1f == 0x1f {
            return Err(malformed("multi-byte tags are not used by OCSP"));
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(malformed("truncated length"))?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 {
                return Err(malformed("indefinite or oversized length"));
            }
            if after_len.len() < n {
                return Err(malformed("truncated length"));
            }
            let (len_bytes, rest) = after_len.split_at(n);
            after_len = rest;
            let len = len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            if len < 0x80 || len_bytes[0] == 0 {
                return Err(malformed("non-minimal length"));
            }
            len
        };
        if after_len.len() < len {
            return Err(malformed("element longer than its container"));
        }
        let header = bytes.len() - after_len.len();
        let (contents, rest) = after_len.split_at(len);
        self.rest = rest;
        Ok((tag, contents, &bytes[..header + len]))
    }

    /// Reads one element that must have tag `tag`; returns its contents.
    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], OcspError> {
        let (t, contents, _) = self.any()?;
        if t != tag {
            return Err(malformed(what));
        }
        Ok(contents)
    }

    /// Like [`Self::expect`] but returns the whole encoding.
    pub(crate) fn expect_whole(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], OcspError> {
        let (t, _, whole) = self.any()?;
        if t != tag {
            return Err(malformed(what));
        }
        Ok(whole)
    }

    /// Reads the next element only if it has tag `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, OcspError> {
        if self.peek_tag() == Some(tag) {
            self.any().map(|(_, c, _)| Some(c))
        } else {
            Ok(None)
        }
    }
}

/// Encodes one TLV.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// Encodes a SEQUENCE of already-encoded elements.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// Decodes an OID's contents to dotted form (for messages and matching).
pub(crate) fn oid_string(contents: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in contents.iter().enumerate() {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (first, second) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(first);
                parts.push(second);
            } else {
                parts.push(acc);
            }
            acc = 0;
        } else if i + 1 == contents.len() || acc > (u64::MAX >> 7) {
            return "invalid".into();
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// Parses a GeneralizedTime (`YYYYMMDDHHMMSS[.fff]Z`) to Unix seconds.
pub(crate) fn generalized_time(contents: &[u8]) -> Result<i64, OcspError> {
    let s = std::str::from_utf8(contents).map_err(|_| malformed("time is not ASCII"))?;
    let s = s.strip_suffix('Z').ok_or(malformed("time is not in UTC"))?;
    let digits = s.split('.').next().unwrap_or_default();
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("time is not YYYYMMDDHHMMSS"));
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i64>().unwrap_or(0);
    let (y, mo, d, h, mi, sec) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(malformed("time out of range"));
    }
    Ok(sealcast_crypto::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_bounds() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let enc = tlv(OCTET_STRING, &vec![7u8; len]);
            let mut r = Reader::new(&enc);
            assert_eq!(r.expect(OCTET_STRING, "octets").expect("decodes").len(), len);
            assert!(r.is_empty());
        }
        // Truncated, indefinite and non-minimal lengths are refused.
        for bad in [&[0x30u8, 0x05, 0x01][..], &[0x30, 0x80, 0x00, 0x00], &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5], &[0x30]] {
            assert!(Reader::new(bad).any().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oids_and_times() {
        assert_eq!(oid_string(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]), "1.3.6.1.5.5.7.48.1.1");
        assert_eq!(oid_string(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]), "1.2.840.10045.4.3.2");
        assert_eq!(generalized_time(b"19700101000000Z").expect("epoch"), 0);
        assert_eq!(generalized_time(b"20261124123456Z").expect("time"), 1_795_523_696);
        assert_eq!(generalized_time(b"20261124123456.123Z").expect("fraction"), 1_795_523_696);
        assert!(generalized_time(b"20261124123456").is_err());
        assert!(generalized_time(b"20261324123456Z").is_err());
    }
}
