//! FLV audio/video tag bodies and codec configuration records.

use crate::error::{need, MediaError};

/// The video codec a tag announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoCodec {
    Avc,
    /// Anything else, named for error messages (legacy codec id or Enhanced-RTMP FourCC).
    Other(String),
}

/// Identifies the codec of an FLV video tag body, including Enhanced RTMP (`IsExHeader`).
pub fn video_codec(body: &[u8]) -> Result<VideoCodec, MediaError> {
    need("video tag", body, 1)?;
    let b0 = body[0];
    if b0 & 0x80 != 0 {
        // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:32]
        need("enhanced video tag", body, 5)?;
        let fourcc = String::from_utf8_lossy(&body[1..5]).into_owned();
        return Ok(VideoCodec::Other(format!("'{fourcc}' (Enhanced RTMP)")));
    }
    Ok(match b0 & 0x0f {
        7 => VideoCodec::Avc,
        2 => VideoCodec::Other("Sorenson H.263".into()),
        3 => VideoCodec::Other("Screen video".into()),
        4 => VideoCodec::Other("VP6".into()),
        5 => VideoCodec::Other("VP6 with alpha".into()),
        6 => VideoCodec::Other("Screen video v2".into()),
        12 => VideoCodec::Other("HEVC (codec id 12)".into()),
        13 => VideoCodec::Other("AV1 (codec id 13)".into()),
        id => VideoCodec::Other(format!("codec id {id}")),
    })
}

/// Checks that an audio tag body is AAC; returns a precise error otherwise.
pub fn check_audio_codec(body: &[u8]) -> Result<(), MediaError> {
    need("audio tag", body, 1)?;
    match body[0] >> 4 {
        10 => Ok(()),
        0 | 3 => Err(MediaError::UnsupportedAudioCodec("linear PCM".into())),
        1 => Err(MediaError::UnsupportedAudioCodec("ADPCM".into())),
        2 | 14 => Err(MediaError::UnsupportedAudioCodec("MP3".into())),
        4..=6 => Err(MediaError::UnsupportedAudioCodec("Nellymoser".into())),
        7 => Err(MediaError::UnsupportedAudioCodec("G.711 A-law".into())),
        8 => Err(MediaError::UnsupportedAudioCodec("G.711 mu-law".into())),
        9 => Err(MediaError::UnsupportedAudioCodec("Enhanced RTMP audio".into())),
        11 => Err(MediaError::UnsupportedAudioCodec("Speex".into())),
        n => Err(MediaError::UnsupportedAudioCodec(format!("sound format {n}"))),
    }
}

/// A parsed AVC video tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcPacket<'a> {
    pub keyframe: bool,
    /// 0 = sequence header, 1 = NAL units, 2 = end of sequence.
    pub packet_type: u8,
    /// Composition time offset (PTS - DTS) in milliseconds.
    pub composition_time: i32,
    pub data: &'a [u8],
}

/// Parses a legacy (codec id 7) AVC video tag body.
pub fn parse_avc_packet(body: &[u8]) -> Result<AvcPacket<'_>, MediaError> {
    need("AVC video tag", body, 5)?;
    if body[0] & 0x0f != 7 || body[0] & 0x80 != 0 {
        return Err(MediaError::UnsupportedVideoCodec(format!("codec id {}", body[0] & 0x0f)));
    }
    let raw = ((body[2] as u32) << 16) | ((body[3] as u32) << 8) | body[4] as u32;
    // Sign-extend the 24-bit composition time.
    let composition_time = ((raw << 8) as i32) >> 8;
    Ok(AvcPacket { keyframe: body[0] >> 4 == 1, packet_type: body[1], composition_time, data: &body[5..] })
}

/// A parsed AAC audio tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacPacket<'a> {
    /// 0 = AudioSpecificConfig, 1 = raw AAC frame.
    pub packet_type: u8,
    pub data: &'a [u8],
}

/// Parses an AAC audio tag body.
pub fn parse_aac_packet(body: &[u8]) -> Result<AacPacket<'_>, MediaError> {
    check_audio_codec(body)?;
    need("AAC audio tag", body, 2)?;
    Ok(AacPacket { packet_type: body[1], data: &body[2..] })
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15): parameter sets and NALU length size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    pub profile: u8,
    pub level: u8,
    pub nalu_length_size: usize,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

impl AvcConfig {
    pub fn parse(rec: &[u8]) -> Result<AvcConfig, MediaError> {
        need("AVCDecoderConfigurationRecord", rec, 6)?;
        if rec[0] != 1 {
            return Err(MediaError::InvalidAvcConfig("configurationVersion is not 1"));
        }
        let nalu_length_size = (rec[4] & 0x03) as usize + 1;
        if nalu_length_size == 3 {
            return Err(MediaError::InvalidAvcConfig("NAL unit length size 3 is not allowed"));
        }
        let mut pos = 5;
        let read_sets = |count: usize, pos: &mut usize| -> Result<Vec<Vec<u8>>, MediaError> {
            let mut sets = Vec::with_capacity(count);
            for _ in 0..count {
                let len_bytes =
                    rec.get(*pos..*pos + 2).ok_or(MediaError::InvalidAvcConfig("truncated parameter set length"))?;
                let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
                *pos += 2;
                let set = rec.get(*pos..*pos + len).ok_or(MediaError::InvalidAvcConfig("truncated parameter set"))?;
                if set.is_empty() {
                    return Err(MediaError::InvalidAvcConfig("empty parameter set"));
                }
                sets.push(set.to_vec());
                *pos += len;
            }
            Ok(sets)
        };
        let num_sps = (rec[5] & 0x1f) as usize;
        pos += 1;
        let sps = read_sets(num_sps, &mut pos)?;
        let num_pps = *rec.get(pos).ok_or(MediaError::InvalidAvcConfig("missing PPS count"))? as usize;
        pos += 1;
        let pps = read_sets(num_pps, &mut pos)?;
        if sps.is_empty() {
            return Err(MediaError::InvalidAvcConfig("no SPS"));
        }
        if pps.is_empty() {
            return Err(MediaError::InvalidAvcConfig("no PPS"));
        }
        Ok(AvcConfig { profile: rec[1], level: rec[3], nalu_length_size, sps, pps })
    }
}

/// Iterates over the NAL units of a length-prefixed (AVCC) access unit.
pub fn avcc_nalus(data: &[u8], length_size: usize) -> impl Iterator<Item = Result<&[u8], MediaError>> {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= data.len() {
            return None;
        }
        let Some(len_bytes) = data.get(pos..pos + length_size) else {
            failed = true;
            return Some(Err(MediaError::InvalidNalu("truncated NAL unit length")));
        };
        let len = len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        pos += length_size;
        let Some(nalu) = data.get(pos..pos + len) else {
            failed = true;
            return Some(Err(MediaError::InvalidNalu("NAL unit longer than the message")));
        };
        pos += len;
        Some(Ok(nalu))
    })
}

/// MPEG-4 AudioSpecificConfig, enough to write ADTS headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacConfig {
    /// Audio object type (2 = AAC LC).
    pub object_type: u8,
    pub sampling_index: u8,
    pub sample_rate: u32,
    pub channels: u8,
}

const AAC_RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

impl AacConfig {
    pub fn parse(asc: &[u8]) -> Result<AacConfig, MediaError> {
        need("AudioSpecificConfig", asc, 2)?;
        let bits = u16::from_be_bytes([asc[0], asc[1]]);
        let object_type = (bits >> 11) as u8;
        let sampling_index = ((bits >> 7) & 0x0f) as u8;
        let channels = ((bits >> 3) & 0x0f) as u8;
        if object_type == 0 || object_type == 31 {
            return Err(MediaError::InvalidAacConfig("unsupported audio object type"));
        }
        if object_type > 4 {
            // ADTS can only signal object types 1..=4 (profile is 2 bits).
            return Err(MediaError::InvalidAacConfig(
                "audio object type cannot be carried in ADTS (only AAC Main/LC/SSR/LTP)",
            ));
        }
        let sample_rate = *AAC_RATES
            .get(sampling_index as usize)
            .ok_or(MediaError::InvalidAacConfig("explicit or reserved sampling frequency index"))?;
        if channels == 0 || channels > 7 {
            return Err(MediaError::InvalidAacConfig("unsupported channel configuration"));
        }
        Ok(AacConfig { object_type, sampling_index, sample_rate, channels })
    }

    /// The 7-byte ADTS header (no CRC) for a raw AAC frame of `payload_len` bytes.
    pub fn adts_header(&self, payload_len: usize) -> [u8; 7] {
        let frame_len = (payload_len + 7) as u32;
        let profile = self.object_type - 1;
        [
            0xff,
            0xf1,
            (profile << 6) | (self.sampling_index << 2) | ((self.channels >> 2) & 0x1),
            ((self.channels & 0x3) << 6) | ((frame_len >> 11) & 0x3) as u8,
            ((frame_len >> 3) & 0xff) as u8,
            (((frame_len & 0x7) << 5) as u8) | 0x1f,
            0xfc,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real AVCDecoderConfigurationRecord as x264 emits it (baseline, 320x240).
    pub(crate) const AVC_RECORD: &[u8] = &[
        0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x0a, 0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xe8, 0x40, 0x00,
        0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
    ];

    #[test]
    fn parses_avc_record() {
        let c = AvcConfig::parse(AVC_RECORD).expect("valid record");
        assert_eq!(c.nalu_length_size, 4);
        assert_eq!(c.sps.len(), 1);
        assert_eq!(c.pps[0], vec![0x68, 0xce, 0x3c, 0x80]);
        for n in 0..AVC_RECORD.len() {
            assert!(AvcConfig::parse(&AVC_RECORD[..n]).is_err(), "truncated at {n} must fail");
        }
    }

    #[test]
    fn aac_lc_stereo_44100() {
        let c = AacConfig::parse(&[0x12, 0x10]).expect("valid ASC");
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 44100, 2));
        let h = c.adts_header(100);
        assert_eq!(h[0..2], [0xff, 0xf1]);
        let len = ((h[3] as usize & 3) << 11) | ((h[4] as usize) << 3) | (h[5] as usize >> 5);
        assert_eq!(len, 107);
    }

    #[test]
    fn detects_codecs() {
        assert_eq!(video_codec(&[0x17, 0]), Ok(VideoCodec::Avc));
        let ex = [0x90, b'h', b'v', b'c', b'1'];
        assert!(matches!(video_codec(&ex), Ok(VideoCodec::Other(s)) if s.contains("hvc1")));
        assert!(matches!(video_codec(&[0x1c]), Ok(VideoCodec::Other(s)) if s.contains("HEVC")));
        assert!(check_audio_codec(&[0xaf]).is_ok());
        assert!(matches!(check_audio_codec(&[0x2f]), Err(MediaError::UnsupportedAudioCodec(s)) if s == "MP3"));
    }

    #[test]
    fn composition_time_is_signed() {
        let p = parse_avc_packet(&[0x27, 1, 0xff, 0xff, 0xd8, 9]).expect("valid");
        assert_eq!(p.composition_time, -40);
    }

    #[test]
    fn nalu_iteration_bounds() {
        let data = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 9, 1];
        let v: Vec<_> = avcc_nalus(&data, 4).collect();
        assert_eq!(v[0], Ok(&[0x65, 0x88][..]));
        assert!(v[1].is_err());
        assert_eq!(v.len(), 2);
    }
}
