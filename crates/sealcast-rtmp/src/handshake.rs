//! The plain (version 3) RTMP handshake, server side.
//!
//! S1 carries zero "version" bytes, which tells digest-capable clients (librtmp, OBS) to
//! fall back to the plain handshake.

use crate::error::RtmpError;

/// Size of C1/C2/S1/S2.
pub const HANDSHAKE_SIZE: usize = 1536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeState {
    /// Waiting for C0 + C1.
    C0C1,
    /// S0/S1/S2 sent; waiting for C2.
    C2,
    Done,
}

/// Consumes handshake bytes from `input`; returns bytes consumed and appends replies to `out`.
pub(crate) fn step(
    state: &mut HandshakeState,
    input: &[u8],
    out: &mut Vec<u8>,
    seed: &mut u64,
) -> Result<usize, RtmpError> {
    match *state {
        HandshakeState::C0C1 => {
            let Some(&version) = input.first() else {
                return Ok(0);
            };
            if version != 3 {
                return Err(RtmpError::BadVersion(version));
            }
            if input.len() < 1 + HANDSHAKE_SIZE {
                return Ok(0);
            }
            let c1 = &input[1..1 + HANDSHAKE_SIZE];
            out.push(3);
            // S1: time (0), zero version, then pseudo-random filler.
            out.extend_from_slice(&[0; 8]);
            for _ in 0..(HANDSHAKE_SIZE - 8) / 8 {
                out.extend_from_slice(&xorshift(seed).to_le_bytes());
            }
            // S2 echoes C1.
            out.extend_from_slice(c1);
            *state = HandshakeState::C2;
            Ok(1 + HANDSHAKE_SIZE)
        }
        HandshakeState::C2 => {
            if input.len() < HANDSHAKE_SIZE {
                return Ok(0);
            }
            *state = HandshakeState::Done;
            Ok(HANDSHAKE_SIZE)
        }
        HandshakeState::Done => Ok(0),
    }
}

fn xorshift(s: &mut u64) -> u64 {
    let mut x = *s | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}
