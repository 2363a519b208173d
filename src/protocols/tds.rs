//! MS-TDS, SQL Server's protocol (TCP 1433): the contact centre's calling lists, user
//! records and call logs. The client's PRELOGIN and the server's answer carry the
//! ENCRYPTION option (MS-TDS 2.2.6.5), which decides the session's fate:
//!
//! - both sides OFF: TLS only for LOGIN7, then the session goes on in clear;
//! - ON or REQ: TLS for the whole session (the handshake inside PRELOGIN packets,
//!   then bare TLS records);
//! - NOT_SUP on either side: nothing encrypted.
//!
//! The TLS handshake inside PRELOGIN packets goes to the TLS dissector (rules 1001,
//! 1002 as on any port). In clear, LOGIN7 gives the user name and the password, whose
//! "obfuscation" (each byte's nibbles swapped, then XOR 0xA5; MS-TDS 2.2.6.4) is
//! reversed by anyone who reads the packet: only its length is kept. SQL batches, RPC
//! parameters and the text columns of result rows go to the personal-data scanner.

use std::borrow::Cow;

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::{Field, Match};
use crate::protocols::fact::PersonalData;
use crate::protocols::login::login;
use crate::protocols::tls::TlsDissector;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// MS-TDS 2.2.3.1.1 packet types.
const SQL_BATCH: u8 = 0x01;
const RPC: u8 = 0x03;
const TABULAR_RESULT: u8 = 0x04;
const LOGIN7: u8 = 0x10;
const PRELOGIN: u8 = 0x12;
/// Status bit: the last packet of a message.
const END_OF_MESSAGE: u8 = 0x01;

const HEADER_LEN: usize = 8;
/// The largest packet size a client may negotiate (MS-TDS 2.2.6.4, PacketSize).
const MAX_PACKET: usize = 32767;
/// Record header plus the largest TLSCiphertext (RFC 5246 §6.2.3).
const MAX_TLS_RECORD: usize = 5 + (1 << 14) + 2048;
/// Our own cap on one message reassembled from packets (a batch, a result set): the
/// rest of a longer one is skipped; the scanner's per-flow budget bounds the work.
const MAX_MESSAGE: usize = 64 * 1024;
/// Our own cap on the columns of a result set we follow.
const MAX_COLUMNS: usize = 1024;

/// PRELOGIN option tokens.
const OPTION_VERSION: u8 = 0x00;
const OPTION_ENCRYPTION: u8 = 0x01;
const OPTION_TERMINATOR: u8 = 0xFF;
/// The highest option token defined (NONCEOPT).
const OPTION_MAX: u8 = 0x08;

/// The 8-byte packet header (MS-TDS 2.2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    packet_type: u8,
    status: u8,
    /// Length of the packet, header included.
    length: usize,
}

impl Header {
    fn parse(data: &[u8]) -> Option<Header> {
        let &[packet_type, status, hi, lo, ..] = data.get(..HEADER_LEN)? else {
            return None;
        };
        Some(Header {
            packet_type,
            status,
            length: usize::from(u16::from_be_bytes([hi, lo])),
        })
    }

    fn end_of_message(&self) -> bool {
        self.status & END_OF_MESSAGE != 0
    }
}

/// The ENCRYPTION option's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    Off,
    On,
    NotSupported,
    Required,
}

impl Encryption {
    fn from_byte(b: u8) -> Option<Self> {
        // Bit 0x80 (ENCRYPT_CLIENT_CERT) is a flag on top of the value.
        match b & 0x7F {
            0 => Some(Encryption::Off),
            1 => Some(Encryption::On),
            2 => Some(Encryption::NotSupported),
            3 => Some(Encryption::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Off => "ENCRYPT_OFF",
            Encryption::On => "ENCRYPT_ON",
            Encryption::NotSupported => "ENCRYPT_NOT_SUP",
            Encryption::Required => "ENCRYPT_REQ",
        }
    }
}

/// What the two ENCRYPTION options agree on (MS-TDS 2.2.6.5's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// No TLS at all.
    Clear,
    /// TLS for LOGIN7 only.
    LoginOnly,
    /// TLS for the whole session.
    Full,
}

fn negotiate(client: Encryption, server: Encryption) -> Protection {
    use Encryption::*;
    match (client, server) {
        (NotSupported, _) | (_, NotSupported) => Protection::Clear,
        (Off, Off) => Protection::LoginOnly,
        _ => Protection::Full,
    }
}

/// The PRELOGIN option table: `(token, offset, length)` entries up to the terminator,
/// every one inside `payload`. None if it is not one.
fn prelogin_options(payload: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut options = Vec::new();
    let mut at = 0;
    loop {
        let token = *payload.get(at)?;
        if token == OPTION_TERMINATOR {
            return Some(options);
        }
        let entry = payload.get(at + 1..at + 5)?;
        let offset = usize::from(u16::from_be_bytes([entry[0], entry[1]]));
        let len = usize::from(u16::from_be_bytes([entry[2], entry[3]]));
        if token > OPTION_MAX || options.len() > usize::from(OPTION_MAX) {
            return None;
        }
        options.push((token, payload.get(offset..offset + len)?));
        at += 5;
    }
}

fn prelogin_encryption(payload: &[u8]) -> Option<Encryption> {
    prelogin_options(payload)?
        .into_iter()
        .find(|(token, _)| *token == OPTION_ENCRYPTION)
        .and_then(|(_, value)| Encryption::from_byte(*value.first()?))
}

/// A client's PRELOGIN packet (type 0x12, a whole message) whose option table starts
/// with the 6-byte VERSION and holds together.
pub fn probe_tds(data: &[u8]) -> Probe {
    match data.first() {
        None => return Probe::NeedMore,
        Some(&PRELOGIN) => {}
        Some(_) => return Probe::NoMatch,
    }
    let Some(header) = Header::parse(data) else {
        return Probe::NeedMore;
    };
    if !header.end_of_message() || header.status & !0x1F != 0 || header.length < HEADER_LEN + 6 {
        return Probe::NoMatch;
    }
    let Some(packet) = data.get(..header.length) else {
        // The detector holds 512 bytes; a PRELOGIN is well under that.
        return if header.length <= 512 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    match prelogin_options(&packet[HEADER_LEN..]) {
        Some(options) if matches!(options.first(), Some((OPTION_VERSION, v)) if v.len() == 6) => {
            Probe::Match
        }
        _ => Probe::NoMatch,
    }
}

/// A bounded reader over a message.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.data.get(..n)?, self.data.get(n..)?);
        self.data = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// B_VARCHAR / US_VARCHAR: a length in UTF-16 code units, then the text.
    fn utf16(&mut self, chars: usize) -> Option<String> {
        Some(utf16le(self.take(chars.checked_mul(2)?)?))
    }
}

fn utf16le(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Skips ALL_HEADERS (TDS 7.2+, MS-TDS 2.2.5.3) when the message starts with one.
fn after_all_headers(payload: &[u8]) -> &[u8] {
    let Some(&[a, b, c, d]) = payload.get(..4) else {
        return payload;
    };
    let total = u32::from_le_bytes([a, b, c, d]) as usize;
    let first = payload
        .get(4..8)
        .map(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize);
    match first {
        Some(first) if total >= 8 && first >= 6 && first <= total - 4 => {
            payload.get(total..).unwrap_or(payload)
        }
        _ => payload,
    }
}

/// How a value of a column or parameter is laid out (MS-TDS 2.2.5.4 / 2.2.5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Fixed(usize),
    /// One length byte.
    ByteLen,
    /// Two length bytes (0xFFFF: NULL).
    UShortLen,
    /// Partially length-prefixed (the `max` types): total length, then chunks.
    Plp,
}

/// Text the scanner should read, and how it is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Text {
    None,
    /// VARCHAR / CHAR: single-byte code page (read as Latin-1).
    Narrow,
    /// NVARCHAR / NCHAR: UTF-16LE.
    Wide,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TypeInfo {
    layout: Layout,
    text: Text,
}

/// TYPE_INFO of the types a calling list or call log is made of; None for the rest
/// (TEXT/NTEXT/IMAGE, XML, UDT, sql_variant …): the message is read no further.
fn type_info(r: &mut Reader<'_>) -> Option<TypeInfo> {
    let fixed = |n| TypeInfo {
        layout: Layout::Fixed(n),
        text: Text::None,
    };
    let byte_len = TypeInfo {
        layout: Layout::ByteLen,
        text: Text::None,
    };
    Some(match r.u8()? {
        0x1F => fixed(0),
        0x30 | 0x32 => fixed(1),
        0x34 => fixed(2),
        0x38 | 0x3A | 0x3B | 0x7A => fixed(4),
        0x3C | 0x3D | 0x3E | 0x7F => fixed(8),
        // GUID, INTN, BITN, FLTN, MONEYN, DATETIMN: a maximum length.
        0x24 | 0x26 | 0x68 | 0x6D | 0x6E | 0x6F => {
            r.skip(1)?;
            byte_len
        }
        // DECIMALN, NUMERICN: length, precision, scale.
        0x6A | 0x6C => {
            r.skip(3)?;
            byte_len
        }
        0x28 => byte_len,
        // TIMEN, DATETIME2N, DATETIMEOFFSETN: a scale.
        0x29..=0x2B => {
            r.skip(1)?;
            byte_len
        }
        code @ (0xA5 | 0xAD | 0xA7 | 0xAF | 0xE7 | 0xEF) => {
            let max = r.u16()?;
            let text = match code {
                0xA7 | 0xAF => Text::Narrow,
                0xE7 | 0xEF => Text::Wide,
                _ => Text::None,
            };
            if text != Text::None {
                r.skip(5)?; // collation
            }
            let layout = if max == 0xFFFF {
                Layout::Plp
            } else {
                Layout::UShortLen
            };
            TypeInfo { layout, text }
        }
        _ => return None,
    })
}

/// Reads one value; Some(None) for NULL. PLP chunks are joined (they all lie inside
/// the message, itself at most `MAX_MESSAGE`).
fn value<'a>(r: &mut Reader<'a>, info: TypeInfo) -> Option<Option<Cow<'a, [u8]>>> {
    let borrowed = |bytes: Option<&'a [u8]>| bytes.map(|b| Some(Cow::Borrowed(b)));
    match info.layout {
        Layout::Fixed(n) => borrowed(r.take(n)),
        Layout::ByteLen => {
            let n = r.u8()?;
            borrowed(r.take(usize::from(n)))
        }
        Layout::UShortLen => match r.u16()? {
            0xFFFF => Some(None),
            n => borrowed(r.take(usize::from(n))),
        },
        Layout::Plp => {
            let total = r.take(8)?;
            if total == [0xFF; 8] {
                return Some(None);
            }
            let mut joined = Vec::new();
            loop {
                let chunk = r.u32()? as usize;
                if chunk == 0 {
                    return Some(Some(Cow::Owned(joined)));
                }
                joined.extend_from_slice(r.take(chunk)?);
            }
        }
    }
}

/// Scans a text value as the field its column name says it holds.
fn scan_value(info: TypeInfo, field: Field, bytes: &[u8], ctx: &mut Ctx<'_>, out: &mut Vec<Match>) {
    let text = match info.text {
        Text::None => return,
        Text::Narrow => latin1(bytes),
        Text::Wide => utf16le(bytes),
    };
    ctx.find(field, text.as_bytes(), out);
}

/// A column or parameter name that says what its values are.
fn field_for(name: &str) -> Field {
    let name = name.to_ascii_lowercase();
    if name.contains("name") {
        Field::PersonName
    } else if ["phone", "mobile", "msisdn", "dialled", "dialed", "caller"]
        .iter()
        .any(|w| name.contains(w))
        || name == "number"
    {
        Field::PhoneNumber
    } else {
        Field::Text
    }
}

struct Column {
    info: TypeInfo,
    field: Field,
}

/// The token stream of a tabular result (MS-TDS 2.2.7): text columns of ROW and
/// NBCROW tokens are scanned. Stops at the first token it cannot step over.
fn read_tabular(payload: &[u8], ctx: &mut Ctx<'_>, out: &mut Vec<Match>) {
    let mut r = Reader { data: payload };
    let mut columns: Vec<Column> = Vec::new();
    while let Some(token) = r.u8() {
        let step = match token {
            0x81 => col_metadata(&mut r, &mut columns),
            0xD1 => row(&mut r, &columns, None, ctx, out),
            0xD2 => {
                let bitmap = r.take(columns.len().div_ceil(8));
                bitmap.and_then(|b| row(&mut r, &columns, Some(b), ctx, out))
            }
            // DONE, DONEPROC, DONEINPROC.
            0xFD..=0xFF => r.skip(12),
            0x79 => r.skip(4),
            // ENVCHANGE, LOGINACK, ERROR, INFO, ORDER, TABNAME, COLINFO, SSPI.
            0xE3 | 0xAD | 0xAA | 0xAB | 0xA9 | 0xA4 | 0xA5 | 0xED => {
                r.u16().and_then(|n| r.skip(usize::from(n)))
            }
            // FEDAUTHINFO, SESSIONSTATE.
            0xEE | 0xE4 => r.u32().and_then(|n| r.skip(n as usize)),
            0xAE => feature_ext_ack(&mut r),
            _ => None,
        };
        if step.is_none() {
            return;
        }
    }
}

fn col_metadata(r: &mut Reader<'_>, columns: &mut Vec<Column>) -> Option<()> {
    columns.clear();
    let count = r.u16()?;
    if count == 0xFFFF {
        return Some(());
    }
    if usize::from(count) > MAX_COLUMNS {
        return None;
    }
    for _ in 0..count {
        r.skip(4 + 2)?; // UserType, Flags
        let info = type_info(r)?;
        let name_len = r.u8()?;
        let name = r.utf16(usize::from(name_len))?;
        columns.push(Column {
            info,
            field: field_for(&name),
        });
    }
    Some(())
}

fn row(
    r: &mut Reader<'_>,
    columns: &[Column],
    null_bitmap: Option<&[u8]>,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<Match>,
) -> Option<()> {
    for (i, column) in columns.iter().enumerate() {
        let null =
            null_bitmap.is_some_and(|b| b.get(i / 8).is_some_and(|x| x & (1 << (i % 8)) != 0));
        if null {
            continue;
        }
        if let Some(bytes) = value(r, column.info)? {
            scan_value(column.info, column.field, &bytes, ctx, out);
        }
    }
    Some(())
}

fn feature_ext_ack(r: &mut Reader<'_>) -> Option<()> {
    while r.u8()? != 0xFF {
        let n = r.u32()?;
        r.skip(n as usize)?;
    }
    Some(())
}

/// RPC requests (MS-TDS 2.2.6.6): the procedure name, then parameters; text
/// parameters (the statement of `sp_executesql`, its arguments) are scanned.
fn read_rpc(payload: &[u8], ctx: &mut Ctx<'_>, out: &mut Vec<Match>) {
    let mut r = Reader {
        data: after_all_headers(payload),
    };
    let _ = (|| {
        match r.u16()? {
            0xFFFF => r.skip(2)?, // a well-known procedure id
            n => r.skip(usize::from(n) * 2)?,
        }
        r.skip(2)?; // option flags
        while !r.data.is_empty() {
            let name_len = r.u8()?;
            let name = r.utf16(usize::from(name_len))?;
            r.skip(1)?; // status flags
            let info = type_info(&mut r)?;
            if let Some(bytes) = value(&mut r, info)? {
                scan_value(info, field_for(&name), &bytes, ctx, out);
            }
        }
        Some(())
    })();
}

/// LOGIN7 (MS-TDS 2.2.6.4): user name and password length from the offset table
/// (offsets from the start of the message, lengths in UTF-16 code units).
fn read_login7(payload: &[u8], ctx: &mut Ctx<'_>) {
    let field = |at: usize| {
        let b = payload.get(at..at + 4)?;
        Some((
            usize::from(u16::from_le_bytes([b[0], b[1]])),
            usize::from(u16::from_le_bytes([b[2], b[3]])),
        ))
    };
    let (Some((user_at, user_len)), Some((_, password_len))) = (field(40), field(44)) else {
        return;
    };
    // Integrated (SSPI) logins carry neither.
    if user_len == 0 && password_len == 0 {
        return;
    }
    let user = payload
        .get(user_at..user_at + user_len * 2)
        .map(utf16le)
        .filter(|u| !u.is_empty());
    ctx.emit(login(
        "tds",
        "LOGIN7",
        user.as_deref().map(str::as_bytes),
        password_len,
    ));
}

/// One direction of the session.
#[derive(Default)]
struct Half {
    /// Bytes of an incomplete TDS packet or TLS record.
    pending: Vec<u8>,
    /// Payload of the packets of an incomplete message, up to `MAX_MESSAGE`.
    message: Vec<u8>,
    /// The current message's type (its first packet's).
    message_type: Option<u8>,
    /// The current message passed `MAX_MESSAGE`: its head was read, the rest is skipped.
    overflowed: bool,
    /// Framing lost (a gap, an impossible length): nothing more is read.
    lost: bool,
}

#[derive(Default)]
pub struct TdsDissector {
    halves: [Half; 2],
    client: Option<Encryption>,
    server: Option<Encryption>,
    /// The handshake carried in PRELOGIN packets and the records after it.
    tls: Option<TlsDissector>,
    /// The server's answer to PRELOGIN has been read; later server messages are
    /// token streams.
    prelogin_answered: bool,
}

impl TdsDissector {
    /// What the PRELOGIN exchange agreed, once both sides have spoken.
    pub fn protection(&self) -> Option<Protection> {
        Some(negotiate(self.client?, self.server?))
    }

    /// Reads whole TDS packets and bare TLS records; returns the bytes used.
    fn read_units(&mut self, dir: Direction, input: &[u8], ctx: &mut Ctx<'_>) -> usize {
        let mut at = 0;
        while let Some(unit) = input.get(at..).filter(|r| !r.is_empty()) {
            let len = match unit_length(unit) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(()) => {
                    ctx.anomaly("tds.framing_lost");
                    self.on_gap(dir);
                    return at;
                }
            };
            let Some(unit) = unit.get(..len) else { break };
            if matches!(unit[0], 20..=23) {
                self.tls_bytes(dir, unit, ctx);
            } else {
                self.packet(dir, unit, ctx);
            }
            at += len;
        }
        at
    }

    fn tls_bytes(&mut self, dir: Direction, bytes: &[u8], ctx: &mut Ctx<'_>) {
        let tls = self.tls.get_or_insert_with(TlsDissector::stream);
        if !tls.finished() {
            tls.on_data(dir, bytes, ctx);
        }
    }

    fn packet(&mut self, dir: Direction, packet: &[u8], ctx: &mut Ctx<'_>) {
        let Some(header) = Header::parse(packet) else {
            return;
        };
        let payload = &packet[HEADER_LEN..];
        // The TLS handshake travels in PRELOGIN packets once the options are agreed.
        if header.packet_type == PRELOGIN && self.prelogin_answered {
            return self.tls_bytes(dir, payload, ctx);
        }
        let half = &mut self.halves[dir.index()];
        let message_type = *half.message_type.get_or_insert(header.packet_type);
        if header.end_of_message() {
            half.message_type = None;
        }
        if half.overflowed {
            half.overflowed = !header.end_of_message();
            return;
        }
        let room = MAX_MESSAGE.saturating_sub(half.message.len());
        if payload.len() > room {
            // A longer message is read up to the cap, now, and the rest skipped.
            half.message.extend_from_slice(&payload[..room]);
            half.overflowed = !header.end_of_message();
            ctx.anomaly("tds.message_too_long");
        } else {
            half.message.extend_from_slice(payload);
            if !header.end_of_message() {
                return;
            }
        }
        let message = std::mem::take(&mut half.message);
        self.message(dir, message_type, &message, ctx);
    }

    fn message(&mut self, dir: Direction, message_type: u8, payload: &[u8], ctx: &mut Ctx<'_>) {
        let mut found = Vec::new();
        match (dir, message_type) {
            (Direction::ToServer, PRELOGIN) => self.client = prelogin_encryption(payload),
            (Direction::ToClient, TABULAR_RESULT) if !self.prelogin_answered => {
                self.prelogin_answered = true;
                self.server = prelogin_encryption(payload);
                if let (Some(client), Some(server)) = (self.client, self.server) {
                    let detail = match negotiate(client, server) {
                        Protection::Full => None,
                        Protection::LoginOnly => {
                            Some("ENCRYPT_OFF on both sides: only LOGIN7 is encrypted, the session continues in clear")
                        }
                        Protection::Clear => Some(if server == Encryption::NotSupported {
                            "the server answers ENCRYPT_NOT_SUP: the whole session is in clear"
                        } else {
                            "the client sends ENCRYPT_NOT_SUP: the whole session is in clear"
                        }),
                    };
                    if let Some(detail) = detail {
                        ctx.emit(Fact::clear_channel(format!("tds: {detail}")));
                    }
                }
            }
            (Direction::ToClient, TABULAR_RESULT) => read_tabular(payload, ctx, &mut found),
            (Direction::ToServer, LOGIN7) => read_login7(payload, ctx),
            (Direction::ToServer, SQL_BATCH) => {
                let text = utf16le(after_all_headers(payload));
                ctx.find(Field::Text, text.as_bytes(), &mut found);
            }
            (Direction::ToServer, RPC) => read_rpc(payload, ctx, &mut found),
            _ => {}
        }
        if !found.is_empty() {
            ctx.emit(Fact::PersonalData(PersonalData::matches(found)));
        }
    }
}

impl Dissector for TdsDissector {
    /// Encrypted only when the whole session runs in TLS (login-only leaves the
    /// session readable).
    fn encrypted(&self) -> bool {
        self.protection() == Some(Protection::Full)
            && self.tls.as_ref().is_some_and(TlsDissector::encrypted)
    }

    fn finished(&self) -> bool {
        self.protection() == Some(Protection::Full)
            && self.tls.as_ref().is_some_and(TlsDissector::finished)
    }

    fn on_gap(&mut self, dir: Direction) {
        let half = &mut self.halves[dir.index()];
        *half = Half {
            lost: true,
            ..Half::default()
        };
        if let Some(tls) = &mut self.tls {
            tls.on_gap(dir);
        }
    }

    /// Bytes of partial packets and messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.halves
            .iter()
            .map(|h| h.pending.capacity() + h.message.capacity())
            .sum::<usize>()
            + self.tls.as_ref().map_or(0, TlsDissector::buffered)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        let d = dir.index();
        if self.halves[d].lost {
            return;
        }
        let mut pending = std::mem::take(&mut self.halves[d].pending);
        let input: &[u8] = if pending.is_empty() {
            data
        } else {
            pending.extend_from_slice(data);
            &pending
        };
        let used = self.read_units(dir, input, ctx);
        let rest = &input[used..];
        let keep = if self.halves[d].lost {
            Vec::new()
        } else {
            rest.to_vec()
        };
        self.halves[d].pending = keep;
    }
}

/// The length of the unit at the start of `data`: a bare TLS record (content types
/// 20–23; TDS packet types stop at 0x12) or a TDS packet. Ok(None): too few bytes to
/// tell; Err: not a length we follow.
fn unit_length(data: &[u8]) -> Result<Option<usize>, ()> {
    if matches!(data[0], 20..=23) {
        let Some(h) = data.get(..5) else {
            return Ok(None);
        };
        if h[1] != 3 {
            return Err(());
        }
        let len = 5 + usize::from(u16::from_be_bytes([h[3], h[4]]));
        return if len <= MAX_TLS_RECORD {
            Ok(Some(len))
        } else {
            Err(())
        };
    }
    let Some(header) = Header::parse(data) else {
        return Ok(None);
    };
    if header.length < HEADER_LEN || header.length > MAX_PACKET {
        return Err(());
    }
    Ok(Some(header.length))
}

pub const TDS: Registration = Registration {
    app_proto: AppProto::Tds,
    l4: L4::Tcp,
    ports: &[1433],
    probe: probe_tds,
    start: || Box::new(TdsDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal_data::Kind;
    use crate::protocols::fact::ClearChannel;
    use crate::protocols::testing::with_ctx;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::AppProto;

    fn packet(packet_type: u8, status: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(HEADER_LEN + payload.len()).unwrap();
        let mut p = vec![packet_type, status];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0, 0, 1, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn prelogin(encryption: u8) -> Vec<u8> {
        // VERSION at 11 (6 bytes), ENCRYPTION at 17 (1 byte), terminator.
        let mut p = vec![0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xFF];
        p.extend_from_slice(&[16, 0, 7, 0xD0, 0, 0, encryption]);
        p
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// MS-TDS 2.2.6.4: swap the nibbles, then XOR 0xA5.
    fn obfuscate(password: &str) -> Vec<u8> {
        utf16(password)
            .into_iter()
            .map(|b| b.rotate_left(4) ^ 0xA5)
            .collect()
    }

    fn login7(user: &str, password: &str) -> Vec<u8> {
        let mut p = vec![0u8; 94];
        let user = utf16(user);
        let password_bytes = obfuscate(password);
        let user_at = 94u16;
        let password_at = user_at + u16::try_from(user.len()).unwrap();
        p[40..42].copy_from_slice(&user_at.to_le_bytes());
        p[42..44].copy_from_slice(&u16::try_from(user.len() / 2).unwrap().to_le_bytes());
        p[44..46].copy_from_slice(&password_at.to_le_bytes());
        p[46..48].copy_from_slice(&u16::try_from(password.len()).unwrap().to_le_bytes());
        p.extend_from_slice(&user);
        p.extend_from_slice(&password_bytes);
        p
    }

    fn all_headers(text: &[u8]) -> Vec<u8> {
        // ALL_HEADERS with one transaction-descriptor header (18 bytes).
        let mut p = 22u32.to_le_bytes().to_vec();
        p.extend_from_slice(&18u32.to_le_bytes());
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(text);
        p
    }

    fn session(
        client_encryption: u8,
        server_encryption: u8,
        then: &[(Direction, Vec<u8>)],
    ) -> Vec<Fact> {
        let mut d = TdsDissector::default();
        with_ctx(AppProto::Tds, |ctx| {
            d.on_data(
                Direction::ToServer,
                &packet(PRELOGIN, 1, &prelogin(client_encryption)),
                ctx,
            );
            d.on_data(
                Direction::ToClient,
                &packet(TABULAR_RESULT, 1, &prelogin(server_encryption)),
                ctx,
            );
            for (dir, bytes) in then {
                d.on_data(*dir, bytes, ctx);
            }
        })
    }

    fn kinds(facts: &[Fact]) -> Vec<Kind> {
        facts
            .iter()
            .flat_map(|f| match f {
                Fact::PersonalData(PersonalData { matches: m, .. }) => {
                    m.iter().map(|m| m.kind).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn probe_wants_a_prelogin_with_a_version_first() {
        let client = packet(PRELOGIN, 1, &prelogin(2));
        assert_eq!(probe_tds(&client), Probe::Match);
        assert_eq!(probe_tds(&client[..10]), Probe::NeedMore);
        assert_eq!(probe_tds(&[22, 3, 1, 0, 4]), Probe::NoMatch);
        let mut no_version = client.clone();
        no_version[HEADER_LEN] = OPTION_ENCRYPTION;
        assert_eq!(probe_tds(&no_version), Probe::NoMatch);
        let mut outside = client;
        outside[HEADER_LEN + 2] = 0xF0; // VERSION's offset past the packet
        assert_eq!(probe_tds(&outside), Probe::NoMatch);
    }

    #[test]
    fn the_two_options_decide_the_protection() {
        use Encryption::*;
        assert_eq!(negotiate(Off, Off), Protection::LoginOnly);
        assert_eq!(negotiate(On, Off), Protection::Full);
        assert_eq!(negotiate(Off, Required), Protection::Full);
        assert_eq!(negotiate(NotSupported, Off), Protection::Clear);
        assert_eq!(negotiate(On, NotSupported), Protection::Clear);
        assert_eq!(Encryption::from_byte(0x81), Some(On), "client-cert flag");
    }

    #[test]
    fn clear_login_gives_the_user_and_the_password_length_only() {
        let facts = session(
            2,
            2,
            &[(
                Direction::ToServer,
                packet(LOGIN7, 1, &login7("jane", "s3cr3t-pw")),
            )],
        );
        assert_eq!(
            facts,
            vec![
                Fact::clear_channel(
                    "tds: the server answers ENCRYPT_NOT_SUP: the whole session is in clear"
                ),
                login("tds", "LOGIN7", Some(b"jane"), 9)
            ]
        );
        // The obfuscation is no protection: XOR 0xA5 and a nibble swap give it back.
        let wire = login7("jane", "s3cr3t-pw");
        let read: Vec<u8> = wire[102..]
            .iter()
            .map(|b| (b ^ 0xA5).rotate_left(4))
            .collect();
        assert_eq!(read, utf16("s3cr3t-pw"));
    }

    #[test]
    fn batches_rpc_parameters_and_rows_are_scanned() {
        let batch = all_headers(&utf16("DELETE FROM calls WHERE number='+441632960961'"));
        // sp_executesql (procedure id 10) with an NVARCHAR(max) statement in two PLP
        // chunks and a VARCHAR(32) parameter @caller.
        let statement = utf16("UPDATE list SET card='4111 1111 1111 1111'");
        let (a, b) = statement.split_at(10);
        let mut rpc = all_headers(&[0xFF, 0xFF, 10, 0, 0, 0]);
        rpc.extend_from_slice(&[0, 0, 0xE7, 0xFF, 0xFF, 9, 4, 0xD0, 0, 0x34]);
        rpc.extend_from_slice(&(statement.len() as u64).to_le_bytes());
        for chunk in [a, b] {
            rpc.extend_from_slice(&u32::try_from(chunk.len()).unwrap().to_le_bytes());
            rpc.extend_from_slice(chunk);
        }
        rpc.extend_from_slice(&[0; 4]);
        rpc.push(7);
        rpc.extend_from_slice(&utf16("@caller"));
        rpc.extend_from_slice(&[0, 0xA7, 32, 0, 9, 4, 0xD0, 0, 0x34, 13, 0]);
        rpc.extend_from_slice(b"+447700900123");
        // A result of one NVARCHAR column `customer_name`: a NULL row (NBCROW), a row.
        let mut rows = vec![
            0x81, 1, 0, 0, 0, 0, 0, 1, 0, 0xE7, 200, 0, 9, 4, 0xD0, 0, 0x34, 13,
        ];
        rows.extend_from_slice(&utf16("customer_name"));
        rows.extend_from_slice(&[0xD2, 0x01]);
        let name = utf16("Jane Doe");
        rows.push(0xD1);
        rows.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
        rows.extend_from_slice(&name);
        rows.extend_from_slice(&[0xFD, 0x10, 0, 0xC1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        // The result split over two packets.
        let (r1, r2) = rows.split_at(20);
        let facts = session(
            0,
            0,
            &[
                (Direction::ToServer, packet(SQL_BATCH, 1, &batch)),
                (Direction::ToServer, packet(RPC, 1, &rpc)),
                (Direction::ToClient, packet(TABULAR_RESULT, 0, r1)),
                (Direction::ToClient, packet(TABULAR_RESULT, 1, r2)),
            ],
        );
        assert!(matches!(
            &facts[0],
            Fact::ClearChannel(ClearChannel { description, .. }) if description.starts_with("tds: ENCRYPT_OFF on both sides")
        ));
        assert_eq!(
            kinds(&facts),
            vec![
                Kind::PhoneNumber,
                Kind::CardNumber,
                Kind::PhoneNumber,
                Kind::PersonName
            ]
        );
    }

    #[test]
    fn handshake_in_prelogin_then_bare_records() {
        // ClientHello: TLS 1.2, one suite, no extensions.
        let hello = crate::build::tls::client_hello(0x0303, &[0xc02f]);
        let mut d = TdsDissector::default();
        let facts = with_ctx(AppProto::Tds, |ctx| {
            d.on_data(Direction::ToServer, &packet(PRELOGIN, 1, &prelogin(1)), ctx);
            d.on_data(
                Direction::ToClient,
                &packet(TABULAR_RESULT, 1, &prelogin(3)),
                ctx,
            );
            d.on_data(Direction::ToServer, &packet(PRELOGIN, 1, &hello), ctx);
        });
        assert!(
            matches!(
                facts.as_slice(),
                [Fact::Encryption(
                    crate::protocols::tls::TlsFact::ClientHello { .. }
                )]
            ),
            "{facts:?}"
        );
        assert_eq!(d.protection(), Some(Protection::Full));
        assert!(!d.encrypted(), "no server hello yet");
        // A bare application-data record: read as TLS, not as a TDS packet.
        with_ctx(AppProto::Tds, |ctx| {
            d.on_data(Direction::ToServer, &[23, 3, 3, 0, 2, 0xAB, 0xCD], ctx);
        });
        assert_eq!(
            d.buffered(),
            d.tls.as_ref().map_or(0, TlsDissector::buffered)
        );
    }

    #[test]
    fn long_messages_are_read_to_the_cap_and_buffers_stay_bounded() {
        let mut text = utf16("card 4111 1111 1111 1111 ");
        text.resize(MAX_MESSAGE * 3, b' ');
        let body = all_headers(&text);
        let mut d = TdsDissector::default();
        let mut peak = 0;
        let out = with_ctx_output(AppProto::Tds, |ctx| {
            d.on_data(Direction::ToServer, &packet(PRELOGIN, 1, &prelogin(2)), ctx);
            let chunks: Vec<&[u8]> = body.chunks(4000).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let status = u8::from(i + 1 == chunks.len());
                d.on_data(Direction::ToServer, &packet(SQL_BATCH, status, chunk), ctx);
                peak = peak.max(d.buffered());
            }
        });
        assert!(peak <= 2 * MAX_MESSAGE, "{peak}");
        assert_eq!(kinds(&out.facts), vec![Kind::CardNumber]);
        assert_eq!(out.anomalies.get("tds.message_too_long"), Some(&1));
        // An impossible packet length loses the framing, counted; nothing is held.
        let out = with_ctx_output(AppProto::Tds, |ctx| {
            d.on_data(Direction::ToServer, &[SQL_BATCH, 1, 0, 4, 0, 0, 1, 0], ctx);
            d.on_data(
                Direction::ToServer,
                &packet(SQL_BATCH, 1, &text[..100]),
                ctx,
            );
        });
        assert!(out.facts.is_empty());
        assert_eq!(out.anomalies.get("tds.framing_lost"), Some(&1));
        assert_eq!(d.buffered(), 0);
    }
}
