//! MPEG-TS muxer for one H.264 video and one AAC audio elementary stream.
//!
//! Each segment starts with PAT and PMT; PCR rides on the video PID (on the audio PID for
//! audio-only streams); continuity counters run on per PID; every packet is 188 bytes.

/// TS packet size.
pub const PACKET_SIZE: usize = 188;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x100;
pub const AUDIO_PID: u16 = 0x101;
const STREAM_TYPE_H264: u8 = 0x1b;
const STREAM_TYPE_AAC: u8 = 0x0f;

/// Which elementary streams the program carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracks {
    pub video: bool,
    pub audio: bool,
}

impl Tracks {
    fn pcr_pid(self) -> u16 {
        if self.video {
            VIDEO_PID
        } else {
            AUDIO_PID
        }
    }
}

/// Stateful muxer: keeps continuity counters across segments of one stream.
#[derive(Debug, Clone)]
pub struct TsMuxer {
    tracks: Tracks,
    cc_pat: u8,
    cc_pmt: u8,
    cc_video: u8,
    cc_audio: u8,
}

/// A PES to write.
#[derive(Debug, Clone, Copy)]
pub struct Pes<'a> {
    pub video: bool,
    /// 90 kHz presentation timestamp (33 bits are used).
    pub pts: u64,
    /// 90 kHz decode timestamp; written only when it differs from `pts`.
    pub dts: u64,
    pub random_access: bool,
    pub payload: &'a [u8],
}

impl TsMuxer {
    pub fn new(tracks: Tracks) -> TsMuxer {
        TsMuxer { tracks, cc_pat: 0, cc_pmt: 0, cc_video: 0, cc_audio: 0 }
    }

    pub fn tracks(&self) -> Tracks {
        self.tracks
    }

    /// Changes the program's tracks (the next [`Self::write_tables`] announces them).
    pub fn set_tracks(&mut self, tracks: Tracks) {
        self.tracks = tracks;
    }

    /// Writes PAT and PMT.
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        // PAT: program 1 -> PMT PID.
        let mut pat = vec![0x00, 0xb0, 0x00, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01];
        pat.push(0xe0 | (PMT_PID >> 8) as u8);
        pat.push(PMT_PID as u8);
        finish_section(&mut pat);
        let cc = next_cc(&mut self.cc_pat);
        write_section_packet(out, 0, cc, &pat);

        let pcr = self.tracks.pcr_pid();
        let mut pmt = vec![0x02, 0xb0, 0x00, 0x00, 0x01, 0xc1, 0x00, 0x00];
        pmt.push(0xe0 | (pcr >> 8) as u8);
        pmt.push(pcr as u8);
        pmt.extend_from_slice(&[0xf0, 0x00]);
        if self.tracks.video {
            pmt.extend_from_slice(&[STREAM_TYPE_H264, 0xe0 | (VIDEO_PID >> 8) as u8, VIDEO_PID as u8, 0xf0, 0x00]);
        }
        if self.tracks.audio {
            pmt.extend_from_slice(&[STREAM_TYPE_AAC, 0xe0 | (AUDIO_PID >> 8) as u8, AUDIO_PID as u8, 0xf0, 0x00]);
        }
        finish_section(&mut pmt);
        let cc = next_cc(&mut self.cc_pmt);
        write_section_packet(out, PMT_PID, cc, &pmt);
    }

    /// Writes one PES packet split into TS packets.
    pub fn write_pes(&mut self, out: &mut Vec<u8>, pes: &Pes<'_>) {
        let (pid, stream_id) = if pes.video { (VIDEO_PID, 0xe0) } else { (AUDIO_PID, 0xc0) };
        let with_pcr = pid == self.tracks.pcr_pid();
        let with_dts = pes.dts != pes.pts;

        let mut header = Vec::with_capacity(19);
        header.extend_from_slice(&[0x00, 0x00, 0x01, stream_id]);
        let header_data_len: usize = if with_dts { 10 } else { 5 };
        let pes_len = 3 + header_data_len + pes.payload.len();
        // Video PES may be unbounded (length 0); audio carries its real length when it fits.
        let len_field = if pes.video || pes_len > 0xffff { 0 } else { pes_len as u16 };
        header.extend_from_slice(&len_field.to_be_bytes());
        header.push(0x80);
        header.push(if with_dts { 0xc0 } else { 0x80 });
        header.push(header_data_len as u8);
        write_timestamp(&mut header, if with_dts { 0x3 } else { 0x2 }, pes.pts);
        if with_dts {
            write_timestamp(&mut header, 0x1, pes.dts);
        }

        let total = header.len() + pes.payload.len();
        let mut written = 0usize;
        let mut first = true;
        while written < total {
            let cc = if pes.video { next_cc(&mut self.cc_video) } else { next_cc(&mut self.cc_audio) };
            let start = out.len();
            out.push(0x47);
            out.push(if first { 0x40 } else { 0x00 } | (pid >> 8) as u8);
            out.push(pid as u8);
            // Adaptation field: PCR + random access on the first packet, then stuffing.
            let mut af: Vec<u8> = Vec::new();
            if first && (with_pcr || pes.random_access) {
                let mut flags = 0u8;
                if pes.random_access {
                    flags |= 0x40;
                }
                af.push(flags);
                if with_pcr {
                    af[0] |= 0x10;
                    let pcr = pes.dts.saturating_sub(PCR_LEAD) & PTS_MASK;
                    af.extend_from_slice(&[
                        (pcr >> 25) as u8,
                        (pcr >> 17) as u8,
                        (pcr >> 9) as u8,
                        (pcr >> 1) as u8,
                        (((pcr & 1) << 7) as u8) | 0x7e,
                        0x00,
                    ]);
                }
            }
            let remaining = total - written;
            let af_total = if af.is_empty() { 0 } else { af.len() + 1 };
            let room = PACKET_SIZE - 4 - af_total;
            if remaining < room {
                // Stuff the adaptation field so the packet is exactly 188 bytes.
                let stuff = room - remaining;
                if af.is_empty() {
                    if stuff == 1 {
                        // An adaptation field of length 0 takes exactly one byte.
                    } else {
                        af.push(0x00);
                        af.extend(std::iter::repeat_n(0xff, stuff - 2));
                    }
                    out.push(0x30 | cc);
                    out.push(af.len() as u8);
                    out.extend_from_slice(&af);
                } else {
                    af.extend(std::iter::repeat_n(0xff, stuff));
                    out.push(0x30 | cc);
                    out.push(af.len() as u8);
                    out.extend_from_slice(&af);
                }
            } else if af.is_empty() {
                out.push(0x10 | cc);
            } else {
                out.push(0x30 | cc);
                out.push(af.len() as u8);
                out.extend_from_slice(&af);
            }
            let room = PACKET_SIZE - (out.len() - start);
            let take = room.min(remaining);
            // Copy from header first, then payload.
            let mut copied = 0;
            while copied < take {
                let idx = written + copied;
                if idx < header.len() {
                    let n = (header.len() - idx).min(take - copied);
                    out.extend_from_slice(&header[idx..idx + n]);
                    copied += n;
                } else {
                    let p = idx - header.len();
                    let n = take - copied;
                    out.extend_from_slice(&pes.payload[p..p + n]);
                    copied += n;
                }
            }
            written += take;
            first = false;
            debug_assert_eq!(out.len() - start, PACKET_SIZE);
        }
    }
}

/// PCR runs this far (in 90 kHz ticks) ahead of the DTS it accompanies: 100 ms of buffering.
const PCR_LEAD: u64 = 9000;
const PTS_MASK: u64 = (1 << 33) - 1;

fn next_cc(cc: &mut u8) -> u8 {
    let v = *cc;
    *cc = (*cc + 1) & 0x0f;
    v
}

fn write_timestamp(out: &mut Vec<u8>, prefix: u8, ts: u64) {
    let ts = ts & PTS_MASK;
    out.push((prefix << 4) | ((((ts >> 30) & 0x07) as u8) << 1) | 1);
    out.push((ts >> 22) as u8);
    out.push(((((ts >> 15) & 0x7f) as u8) << 1) | 1);
    out.push((ts >> 7) as u8);
    out.push((((ts & 0x7f) as u8) << 1) | 1);
}

/// Fills in the section length and appends the CRC.
fn finish_section(sec: &mut Vec<u8>) {
    let len = sec.len() - 3 + 4;
    sec[1] = 0xb0 | ((len >> 8) as u8 & 0x0f);
    sec[2] = len as u8;
    let crc = crc32_mpeg2(sec);
    sec.extend_from_slice(&crc.to_be_bytes());
}

fn write_section_packet(out: &mut Vec<u8>, pid: u16, cc: u8, section: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10 | cc, 0x00]);
    out.extend_from_slice(section);
    out.resize(start + PACKET_SIZE, 0xff);
}

/// CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection, no final xor).
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packets(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
        buf.chunks(PACKET_SIZE)
    }

    fn pid(p: &[u8]) -> u16 {
        (((p[1] & 0x1f) as u16) << 8) | p[2] as u16
    }

    #[test]
    fn crc_matches_known_value() {
        // CRC-32/MPEG-2 check value for "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_e6e7);
    }

    #[test]
    fn tables_are_valid_sections() {
        let mut m = TsMuxer::new(Tracks { video: true, audio: true });
        let mut out = Vec::new();
        m.write_tables(&mut out);
        assert_eq!(out.len(), 2 * PACKET_SIZE);
        for p in packets(&out) {
            let sec_len = (((p[6] & 0x0f) as usize) << 8) | p[7] as usize;
            let section = &p[5..5 + 3 + sec_len];
            // CRC over the whole section including its CRC is zero.
            assert_eq!(crc32_mpeg2(section), 0);
        }
    }

    fn check_stream(out: &[u8]) {
        assert_eq!(out.len() % PACKET_SIZE, 0);
        let mut ccs = std::collections::HashMap::new();
        for p in packets(out) {
            assert_eq!(p[0], 0x47);
            let cc = p[3] & 0x0f;
            if p[3] & 0x10 != 0 {
                if let Some(prev) = ccs.insert(pid(p), cc) {
                    assert_eq!(cc, (prev + 1) & 0x0f, "continuity on pid {}", pid(p));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn pes_packets_are_188_bytes_and_continuous(
            sizes in prop::collection::vec(0usize..2000, 1..20),
            video in any::<bool>(),
        ) {
            let mut m = TsMuxer::new(Tracks { video: true, audio: true });
            let mut out = Vec::new();
            m.write_tables(&mut out);
            for (i, n) in sizes.iter().enumerate() {
                let payload = vec![0xabu8; *n];
                let pts = 90_000 + i as u64 * 3000;
                m.write_pes(&mut out, &Pes { video, pts, dts: pts - 1500, random_access: i == 0, payload: &payload });
            }
            check_stream(&out);
            // The payload bytes survive: count them.
            let total: usize = sizes.iter().sum();
            let mut seen = 0;
            for p in packets(&out) {
                if pid(p) == if video { VIDEO_PID } else { AUDIO_PID } {
                    let start = if p[3] & 0x20 != 0 { 5 + p[4] as usize } else { 4 };
                    let mut body = &p[start..];
                    if p[1] & 0x40 != 0 {
                        let hlen = 9 + body[8] as usize;
                        body = &body[hlen..];
                    }
                    seen += body.iter().filter(|b| **b == 0xab).count();
                }
            }
            prop_assert_eq!(seen, total);
        }
    }

    #[test]
    fn pcr_on_video_pid_and_audio_length() {
        let mut m = TsMuxer::new(Tracks { video: true, audio: true });
        let mut out = Vec::new();
        m.write_pes(&mut out, &Pes { video: true, pts: 99000, dts: 90000, random_access: true, payload: &[1; 10] });
        let p = &out[..PACKET_SIZE];
        assert_eq!(p[3] & 0x30, 0x30);
        assert_eq!(p[5] & 0x50, 0x50, "PCR and random access flags");
        let base = ((p[6] as u64) << 25)
            | ((p[7] as u64) << 17)
            | ((p[8] as u64) << 9)
            | ((p[9] as u64) << 1)
            | ((p[10] as u64) >> 7);
        assert_eq!(base, 90000 - PCR_LEAD);
        let mut a = Vec::new();
        m.write_pes(&mut a, &Pes { video: false, pts: 1, dts: 1, random_access: false, payload: &[2; 7] });
        let hdr_start = 4 + 1 + a[4] as usize;
        let len = u16::from_be_bytes([a[hdr_start + 4], a[hdr_start + 5]]);
        assert_eq!(len as usize, 3 + 5 + 7);
    }
}
