//! ESPA 4.4.4 (European Selective Paging Association, 1984): the serial paging protocol
//! of nurse-call and DECT event managers, carried over TCP on no fixed port. It has no
//! encryption at all, so any call address or display text on the wire is a finding.
//!
//! ```text
//! link control:  ENQ (05)  ACK (06)  NAK (15)  EOT (04)
//! data block:    SOH (01) type STX (02) id US (1F) value RS (1E) id US value … ETX (03) BCC
//! ```
//! BCC is the XOR of every byte after SOH up to and including ETX; some systems mask
//! it to 7 bits, so both forms are accepted. Records of type '1' (call): 1 = call
//! address, 2 = display message, 3 = beep coding, 4 = call type, 5 = number of
//! transmissions, 6 = priority, 7 = call status.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::{mask, Field};
use crate::protocols::fact::{PersonalData, Record};
use crate::protocols::{held_bytes, Ctx, Fact, Probe};
use crate::protocols::{AppProto, Dissector, Registration};

const SOH: u8 = 0x01;
const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const EOT: u8 = 0x04;
const ENQ: u8 = 0x05;
const ACK: u8 = 0x06;
const NAK: u8 = 0x15;
const US: u8 = 0x1f;
const RS: u8 = 0x1e;
/// Our own cap on a block (the protocol's display texts are short).
const MAX_BLOCK: usize = 4096;

/// A lone link-control byte, a station selection (`address ENQ`, ESPA 4.4.4 §4.2),
/// or the start of a data block `SOH digit STX`.
pub fn probe_espa(data: &[u8]) -> Probe {
    match data {
        [ENQ] | [EOT] | [ENQ, EOT] => Probe::Match,
        [b'0'..=b'9', ENQ, ..] => Probe::Match,
        [b'0'..=b'9'] => Probe::NeedMore,
        [SOH, b'1'..=b'9', STX, ..] => Probe::Match,
        [SOH] | [SOH, b'1'..=b'9'] => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

/// A paging record seen in clear: the masked call address and the length of the
/// display text (the text's own personal data comes as matches).
fn paging_record(call_address: Option<String>, text_len: usize) -> Fact {
    let mut parts = Vec::new();
    if let Some(address) = call_address {
        parts.push(format!("call address {address}"));
    }
    if text_len > 0 {
        parts.push(format!("display text present ({text_len} chars)"));
    }
    Fact::PersonalData(PersonalData {
        matches: Vec::new(),
        record: Some(Record {
            kind: "paging",
            description: parts.join(", "),
        }),
        scope: None,
    })
}

#[derive(Default)]
pub struct EspaDissector {
    pending: [Vec<u8>; 2],
}

fn bcc_ok(block: &[u8], bcc: u8) -> bool {
    let x = block.iter().fold(0u8, |acc, b| acc ^ b);
    x == bcc || (x & 0x7f) == (bcc & 0x7f)
}

/// ESPA text is Latin-1: one byte, one character.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl EspaDissector {
    /// `type STX id US value RS …` (without SOH and ETX).
    fn on_block(&mut self, block: &[u8], ctx: &mut Ctx<'_>) {
        let Some(stx) = block.iter().position(|b| *b == STX) else {
            return;
        };
        if block.get(..stx) != Some(&b"1"[..]) {
            return;
        }
        let mut call_address = None;
        let mut text_len = 0;
        for record in block[stx + 1..].split(|b| *b == RS) {
            let Some(us) = record.iter().position(|b| *b == US) else {
                continue;
            };
            let (id, value) = (&record[..us], &record[us + 1..]);
            match id {
                b"1" => call_address = Some(mask::phone(&latin1(value))),
                b"2" => {
                    let text = latin1(value);
                    text_len = text.chars().count();
                    ctx.scan(Field::Text, text.as_bytes());
                }
                _ => {}
            }
        }
        if call_address.is_some() || text_len > 0 {
            ctx.emit(paging_record(call_address, text_len));
        }
    }
}

impl Dissector for EspaDissector {
    fn on_gap(&mut self, dir: Direction) {
        self.pending[dir.index()] = Vec::new();
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        held_bytes(&self.pending)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        let d = dir.index();
        let mut buffer = std::mem::take(&mut self.pending[d]);
        buffer.extend_from_slice(data);
        let mut used = 0;
        while used < buffer.len() {
            let rest = &buffer[used..];
            match rest[0] {
                ENQ | ACK | NAK | EOT => used += 1,
                SOH => {
                    // Block ends at ETX followed by its BCC.
                    let Some(etx) = rest.iter().position(|b| *b == ETX) else {
                        break;
                    };
                    let Some(&bcc) = rest.get(etx + 1) else { break };
                    let block = &rest[1..=etx];
                    if bcc_ok(block, bcc) {
                        self.on_block(&rest[1..etx], ctx);
                    } else {
                        ctx.anomaly("espa.bad_bcc");
                    }
                    used += etx + 2;
                }
                _ => used += 1,
            }
        }
        buffer.drain(..used.min(buffer.len()));
        if buffer.len() > MAX_BLOCK {
            buffer.clear();
        }
        self.pending[d] = buffer;
    }
}

/// Builds a call block as a paging system expects it (used by tests; the capture
/// generator in `pcaps/tools/espa444.py` writes the same bytes).
pub fn call_block(records: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut block = vec![b'1', STX];
    for (i, (id, value)) in records.iter().enumerate() {
        if i > 0 {
            block.push(RS);
        }
        block.extend_from_slice(id);
        block.push(US);
        block.extend_from_slice(value);
    }
    block.push(ETX);
    let bcc = block.iter().fold(0u8, |acc, b| acc ^ b);
    let mut out = vec![SOH];
    out.extend_from_slice(&block);
    out.push(bcc);
    out
}

pub const ESPA: Registration = Registration {
    app_proto: AppProto::Espa,
    l4: L4::Tcp,
    ports: &[],
    probe: probe_espa,
    start: || Box::new(EspaDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::{testing::with_ctx, AppProto};

    #[test]
    fn call_with_display_text() {
        let block = call_block(&[
            (b"1", b"550"),
            (b"2", b"CALL ME 101"),
            (b"3", b"3"),
            (b"4", b"3"),
        ]);
        assert_eq!(probe_espa(&block), Probe::Match);
        assert_eq!(probe_espa(&[ENQ]), Probe::Match);
        assert_eq!(probe_espa(b"1\x052\x05"), Probe::Match);
        let mut bad = block.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        let mut d = EspaDissector::default();
        let out = with_ctx_output(AppProto::Failed, |ctx| {
            d.on_data(Direction::ToServer, &[ENQ], ctx);
            let (a, b) = block.split_at(6);
            d.on_data(Direction::ToServer, a, ctx);
            d.on_data(Direction::ToServer, b, ctx);
            d.on_data(Direction::ToServer, &bad, ctx);
            d.on_data(Direction::ToServer, &[EOT], ctx);
        });
        assert_eq!(out.facts, vec![paging_record(Some("**0".into()), 11)]);
        assert_eq!(out.anomalies.get("espa.bad_bcc"), Some(&1));
    }

    #[test]
    fn seven_bit_bcc_and_latin1() {
        let mut block = call_block(&[(b"1", b"4711"), (b"2", b"Zimmer 3 M\xfcller")]);
        let last = block.len() - 1;
        block[last] &= 0x7f;
        let mut d = EspaDissector::default();
        let facts = with_ctx(AppProto::Failed, |ctx| {
            d.on_data(Direction::ToServer, &block, ctx)
        });
        assert_eq!(facts, vec![paging_record(Some("**11".into()), 15)]);
    }
}
