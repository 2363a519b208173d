//! WebSocket framing (RFC 6455 §5.2), for protocols carried inside an upgraded HTTP
//! connection: SIP over WebSocket (RFC 7118) and text frames scanned as payload.

/// Our own cap on one frame we reassemble; SIP messages and chat lines are far smaller.
const MAX_FRAME: usize = 64 * 1024;

/// One direction of a WebSocket connection: bytes in, unmasked frame payloads out.
#[derive(Default)]
pub struct Deframer {
    pending: Vec<u8>,
    lost: bool,
}

impl Deframer {
    /// Bytes held for an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.pending.capacity()
    }
}

/// `(header length, payload length, masking key)` of the frame at the front of `buf`.
fn frame_header(buf: &[u8]) -> Option<(usize, u64, Option<[u8; 4]>)> {
    let b1 = *buf.get(1)?;
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let key = if masked {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    Some((at, len, key))
}

impl Deframer {
    /// Feeds stream bytes; calls `on_payload` with each complete data frame's payload
    /// (opcode 1 text or 2 binary; continuation and control frames are skipped).
    pub fn push(&mut self, data: &[u8], on_payload: &mut dyn FnMut(&[u8])) {
        if self.lost {
            return;
        }
        self.pending.extend_from_slice(data);
        let mut used = 0;
        while let Some((header, len, key)) = frame_header(&self.pending[used..]) {
            let Ok(len) = usize::try_from(len) else {
                self.lost = true;
                break;
            };
            if len > MAX_FRAME {
                self.lost = true;
                break;
            }
            let start = used + header;
            let Some(payload) = self.pending.get(start..start + len) else {
                break;
            };
            let opcode = self.pending[used] & 0x0f;
            if matches!(opcode, 1 | 2) {
                let mut bytes = payload.to_vec();
                if let Some(key) = key {
                    for (i, b) in bytes.iter_mut().enumerate() {
                        *b ^= key[i % 4];
                    }
                }
                on_payload(&bytes);
            }
            used = start + len;
        }
        if self.lost {
            self.pending = Vec::new();
        } else {
            self.pending.drain(..used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_frames_split_across_chunks() {
        let payload = b"OPTIONS sip:a@b SIP/2.0\r\n\r\n";
        let key = [1u8, 2, 3, 4];
        let mut frame = vec![0x81, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        frame.extend_from_slice(&[0x89, 0x00]); // ping: skipped
        let mut d = Deframer::default();
        let mut got = Vec::new();
        let (a, b) = frame.split_at(7);
        d.push(a, &mut |p| got.push(p.to_vec()));
        d.push(b, &mut |p| got.push(p.to_vec()));
        assert_eq!(got, vec![payload.to_vec()]);
    }

    #[test]
    fn oversize_frame_stops() {
        let mut d = Deframer::default();
        let mut n = 0;
        d.push(&[0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0], &mut |_| n += 1);
        d.push(&[0x81, 1, b'x'], &mut |_| n += 1);
        assert_eq!(n, 0);
    }
}
