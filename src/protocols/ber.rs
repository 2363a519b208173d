//! BER framing shared by the LDAP and SNMP dissectors (X.690 §8.1): both protocols send
//! each message as one definite-length SEQUENCE, back to back on a stream.

use crate::protocols::Probe;

/// UNIVERSAL 16, constructed (X.690 §8.9).
pub(crate) const SEQUENCE: u8 = 0x30;
/// Length octets we accept after the first (X.690 §8.1.3.5 allows 126; four cover
/// every length a bounded buffer can hold).
const MAX_LENGTH_OCTETS: usize = 4;

/// The identifier and length octets at the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    Complete {
        tag: u8,
        /// Identifier plus length octets.
        header_len: usize,
        /// Content octets.
        len: usize,
    },
    Incomplete,
    /// High tag numbers, indefinite or over-long lengths: not what LDAP (RFC 4511
    /// §5.1: "only the definite form of length encoding") or SNMP (RFC 3417 §8)
    /// send.
    Invalid,
}

/// X.690 §8.1.2 (one identifier octet, tag number below 31) and §8.1.3 (definite
/// length, short form or long form of at most four octets).
pub(crate) fn header(data: &[u8]) -> Header {
    let Some(&tag) = data.first() else {
        return Header::Incomplete;
    };
    if tag & 0x1f == 0x1f {
        return Header::Invalid;
    }
    let Some(&first) = data.get(1) else {
        return Header::Incomplete;
    };
    if first < 0x80 {
        return Header::Complete {
            tag,
            header_len: 2,
            len: usize::from(first),
        };
    }
    let octets = usize::from(first & 0x7f);
    if octets == 0 || octets > MAX_LENGTH_OCTETS {
        return Header::Invalid;
    }
    let Some(bytes) = data.get(2..2 + octets) else {
        return Header::Incomplete;
    };
    let len = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    match usize::try_from(len) {
        // Leaves room for `header_len + len` without overflow on any target.
        Ok(len) if len <= usize::MAX / 2 => Header::Complete {
            tag,
            header_len: 2 + octets,
            len,
        },
        _ => Header::Invalid,
    }
}

/// The first step of the LDAP and SNMP probes: a SEQUENCE header, or the verdict.
pub(crate) fn probe_sequence(data: &[u8]) -> Result<(usize, usize), Probe> {
    match header(data) {
        Header::Incomplete => Err(Probe::NeedMore),
        Header::Complete {
            tag: SEQUENCE,
            header_len,
            len,
        } => Ok((header_len, len)),
        _ => Err(Probe::NoMatch),
    }
}

/// One complete TLV at the front of `data`: its tag, its content and what follows.
pub(crate) fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    match header(data) {
        Header::Complete {
            tag,
            header_len,
            len,
        } => {
            let content = data.get(header_len..header_len + len)?;
            Some((tag, content, &data[header_len + len..]))
        }
        _ => None,
    }
}

/// What the message handler wants after one message.
pub(crate) enum Next {
    Continue,
    /// The protocol changes here (StartTLS): stop framing, give back the rest.
    HandOff,
}

/// What became of one chunk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Whole messages handed over, any incomplete tail kept.
    Framed,
    /// Not BER any more, or a message above the cap: framing is lost until a chunk
    /// starts with something the resync check accepts.
    Lost,
    /// Still lost: the chunk was ignored.
    Ignored,
    /// The handler asked to stop; these bytes followed the last message.
    HandOff(Vec<u8>),
}

/// One direction of a stream of BER messages: reassembly across segments, several
/// messages per segment, a bounded buffer.
pub(crate) struct Stream {
    /// An incomplete message (at most `max` bytes).
    pending: Vec<u8>,
    lost: bool,
    max: usize,
}

impl Stream {
    pub(crate) fn new(max: usize) -> Self {
        Stream {
            pending: Vec::new(),
            lost: false,
            max,
        }
    }

    /// A hole in the stream: message boundaries are gone.
    pub(crate) fn gap(&mut self) {
        self.pending = Vec::new();
        self.lost = true;
    }

    /// Bytes held for an incomplete message.
    pub(crate) fn buffered(&self) -> usize {
        self.pending.capacity()
    }

    /// Bytes received but not yet framed.
    pub(crate) fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Frames `data` into whole messages (each a SEQUENCE) and hands each to
    /// `on_message`. A lost stream resumes at a chunk that `resync` accepts, as new
    /// messages usually start at the front of a segment.
    pub(crate) fn push(
        &mut self,
        data: &[u8],
        resync: fn(&[u8]) -> bool,
        mut on_message: impl FnMut(&[u8]) -> Next,
    ) -> Pushed {
        if self.lost {
            if !resync(data) {
                return Pushed::Ignored;
            }
            self.lost = false;
        }
        let mut buffer = std::mem::take(&mut self.pending);
        // Fast path: whole messages straight from the segment, no copy.
        let input: &[u8] = if buffer.is_empty() {
            data
        } else {
            buffer.extend_from_slice(data);
            &buffer
        };
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match header(rest) {
                Header::Complete {
                    tag: SEQUENCE,
                    header_len,
                    len,
                } if header_len + len <= self.max => {
                    let Some(message) = rest.get(..header_len + len) else {
                        break;
                    };
                    used += message.len();
                    if let Next::HandOff = on_message(message) {
                        return Pushed::HandOff(input[used..].to_vec());
                    }
                }
                Header::Incomplete => break,
                _ => {
                    self.lost = true;
                    return Pushed::Lost;
                }
            }
        }
        // What is left is shorter than one message, so at most `max` bytes.
        let tail = &input[used..];
        if !tail.is_empty() {
            self.pending = tail.to_vec();
        }
        Pushed::Framed
    }
}
