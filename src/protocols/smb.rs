//! SMB 2/3 ([MS-SMB2]) and SMB1 ([MS-CIFS], [MS-SMB]) over NetBIOS session framing
//! (RFC 1002 §4.3, or "direct TCP" on 445 with a 3-byte length, [MS-SMB2] §2.1).
//!
//! What the sensor wants from a file share (DESIGN §2): the dialect, signing and
//! encryption of the session; the NTLMSSP login (user name in clear, challenge–response:
//! rule 6006); and which files cross it in clear — call recordings and CDR exports read
//! or written in an unencrypted session raise 6005. SMB1 is obsolete and is flagged in
//! the flow record (`smb.obsolete`).
//!
//! Bulk READ/WRITE data is never buffered: a message longer than `MAX_MESSAGE` is read
//! up to that length (headers and fixed bodies live there) and the rest skipped by its
//! length. Open files are tracked only when their name is one the policy cares about,
//! in a table of at most `MAX_TRACKED_FILES`.

pub use crate::protocols::summaries::{Dialect, SmbSession};
use std::collections::VecDeque;

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::mask;
use crate::protocols::fact::{PersonalData, Record, Session};
use crate::protocols::login::challenge_login;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// Our own cap on the part of one message we hold: a NEGOTIATE, SESSION_SETUP or CREATE
/// fits many times over; READ responses and WRITE requests beyond it are skipped.
const MAX_MESSAGE: usize = 16 * 1024;
/// Our own cap on recordings / exports open at once in one flow (and on CREATEs awaiting
/// their response): the oldest is forgotten beyond, counted as `smb.files_evicted`.
pub const MAX_TRACKED_FILES: usize = 64;
/// Our own cap on a file name kept (UTF-16 code units): names are judged by their end.
const MAX_NAME_UNITS: usize = 512;

/// NetBIOS session service message types (RFC 1002 §4.3.1).
const NBSS_MESSAGE: u8 = 0x00;
const NBSS_REQUEST: u8 = 0x81;
const NBSS_POSITIVE: u8 = 0x82;
const NBSS_NEGATIVE: u8 = 0x83;
const NBSS_RETARGET: u8 = 0x84;
const NBSS_KEEPALIVE: u8 = 0x85;

/// Protocol identifiers at the start of an SMB message.
const SMB1_MAGIC: [u8; 4] = *b"\xffSMB";
const SMB2_MAGIC: [u8; 4] = *b"\xfeSMB";
/// SMB 3 transform header ([MS-SMB2] §2.2.41): what follows is encrypted.
const TRANSFORM_MAGIC: [u8; 4] = *b"\xfdSMB";
/// SMB 3.1.1 compression transform ([MS-SMB2] §2.2.42).
const COMPRESSED_MAGIC: [u8; 4] = *b"\xfcSMB";

/// An SMB message in NetBIOS framing, or (port 139) a NetBIOS session request whose two
/// encoded names (RFC 1001 §14.1: 32 half-ASCII bytes each) make its 68-byte body.
pub fn probe_smb(data: &[u8]) -> Probe {
    match data.first() {
        Some(&NBSS_MESSAGE) => {
            if data.len() < 4 {
                return Probe::NeedMore;
            }
            let len = nbss_length(data);
            if len < 4 {
                return Probe::NoMatch;
            }
            let magic = &data[4..data.len().min(8)];
            let known = [SMB1_MAGIC, SMB2_MAGIC, TRANSFORM_MAGIC, COMPRESSED_MAGIC];
            if known.iter().any(|m| m.starts_with(magic)) {
                if magic.len() == 4 {
                    Probe::Match
                } else {
                    Probe::NeedMore
                }
            } else {
                Probe::NoMatch
            }
        }
        Some(&NBSS_REQUEST) => match data.get(1..5) {
            Some([0, 0, 68, 0x20]) => Probe::Match,
            Some(_) => Probe::NoMatch,
            None if data.len() < 5 => Probe::NeedMore,
            None => Probe::NoMatch,
        },
        _ => Probe::NoMatch,
    }
}

/// The length of a NetBIOS session message: 24 bits after the type byte (the direct-TCP
/// form; RFC 1002's 17 bits are a subset).
fn nbss_length(header: &[u8]) -> usize {
    usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3])
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// UTF-16LE text, at most `MAX_NAME_UNITS` code units from its end (a name is judged
/// by its last component and extension).
fn utf16(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let from = units.len().saturating_sub(MAX_NAME_UNITS);
    String::from_utf16_lossy(&units[from..])
}

/// The SMB2 header ([MS-SMB2] §2.2.1): a checked view, no getter panics.
mod smb2 {
    pub const HEADER_LEN: usize = 64;
    pub const FLAGS: usize = 16;
    pub const NEXT_COMMAND: usize = 20;
    pub const MESSAGE_ID: usize = 24;
    pub const STATUS: usize = 8;
    pub const COMMAND: usize = 12;

    pub const FLAG_RESPONSE: u32 = 0x1;

    pub const NEGOTIATE: u16 = 0;
    pub const SESSION_SETUP: u16 = 1;
    pub const CREATE: u16 = 5;
    pub const CLOSE: u16 = 6;
    pub const READ: u16 = 8;
    pub const WRITE: u16 = 9;

    pub const STATUS_SUCCESS: u32 = 0;
    pub const STATUS_PENDING: u32 = 0x0000_0103;

    /// SMB2_SESSION_FLAG_ENCRYPT_DATA (§2.2.6).
    pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x4;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED (§2.2.4).
    pub const SIGNING_REQUIRED: u16 = 0x2;
}

/// The SMB1 header ([MS-CIFS] §2.2.3.1): 32 bytes, then WordCount and the words.
mod smb1 {
    pub const HEADER_LEN: usize = 32;
    pub const COMMAND: usize = 4;
    pub const STATUS: usize = 5;
    pub const FLAGS: usize = 9;
    pub const FLAGS2: usize = 10;
    pub const PID_LOW: usize = 26;
    pub const MID: usize = 30;

    pub const FLAG_REPLY: u8 = 0x80;
    pub const FLAGS2_UNICODE: u16 = 0x8000;
    pub const FLAGS2_SIGNATURES_REQUIRED: u16 = 0x0010;

    pub const CLOSE: u8 = 0x04;
    pub const READ_ANDX: u8 = 0x2e;
    pub const WRITE_ANDX: u8 = 0x2f;
    pub const NEGOTIATE: u8 = 0x72;
    pub const SESSION_SETUP_ANDX: u8 = 0x73;
    pub const NT_CREATE_ANDX: u8 = 0xa2;
}

/// What a file's name says it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Audio: a call recording (wav, mp3, gsm, ogg, opus …).
    Recording,
    /// Call detail records: a CSV export, or a CDR / SMDR file.
    CallRecords,
}

impl FileKind {
    /// Judges a file by the extension of its last path component. Alternate data
    /// streams (`x.wav:Zone.Identifier`) are metadata, not the file.
    pub fn of(path: &str) -> Option<FileKind> {
        let name = path.rsplit(['\\', '/']).next().unwrap_or(path);
        if name.contains(':') {
            return None;
        }
        let (stem, ext) = name.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        const AUDIO: &[&str] = &[
            "wav", "mp3", "gsm", "ogg", "oga", "opus", "flac", "m4a", "aac", "amr", "awb", "wma",
            "au", "spx", "g711", "g722", "g729", "ulaw", "alaw", "pcm",
        ];
        const RECORDS: &[&str] = &["csv", "cdr", "smdr"];
        if AUDIO.contains(&ext.as_str()) {
            Some(FileKind::Recording)
        } else if RECORDS.contains(&ext.as_str()) {
            Some(FileKind::CallRecords)
        } else {
            let stem = stem.to_ascii_lowercase();
            let textual = matches!(ext.as_str(), "txt" | "log" | "dat");
            (textual && (stem.contains("cdr") || stem.contains("smdr")))
                .then_some(FileKind::CallRecords)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Recording => "voice_recording",
            FileKind::CallRecords => "call_records",
        }
    }
}

/// A file of interest, from its CREATE until its CLOSE or first READ/WRITE.
#[derive(Clone, Debug)]
struct TrackedFile {
    kind: FileKind,
    name_masked: String,
}

/// One direction's NetBIOS framing: a partial message held, or a long one skipped.
#[derive(Default)]
struct Framer {
    /// The NetBIOS header and the part of the message held so far.
    held: Vec<u8>,
    /// Bytes of the current message beyond `MAX_MESSAGE`, still to skip.
    skip: usize,
    /// A gap or garbage: this direction is no longer read.
    lost: bool,
}

#[derive(Default)]
pub struct SmbDissector {
    framers: [Framer; 2],
    /// A transform header was seen, or the session setup said ENCRYPT_DATA.
    encrypted: bool,
    /// The NTLMSSP login (a challenge–response `Fact::Credential`), until the session shows whether it is
    /// encrypted.
    pending_login: Option<Fact>,
    /// CREATEs of interesting names awaiting their response, by message id.
    creating: VecDeque<(u64, TrackedFile)>,
    /// Open interesting files by FileId (SMB1 FIDs zero-extended).
    open: VecDeque<([u8; 16], TrackedFile)>,
    /// SMB1 dialect strings the client offered, for naming the one chosen.
    smb1_offered: Vec<String>,
}

/// Our own cap on the SMB1 dialects remembered from a NEGOTIATE request.
const MAX_SMB1_DIALECTS: usize = 16;

impl SmbDissector {
    /// One NetBIOS session message; `full_len` is its length on the wire, `message` the
    /// part of it held.
    fn on_frame(&mut self, d: usize, kind: u8, message: &[u8], full_len: usize, ctx: &mut Ctx<'_>) {
        match kind {
            NBSS_MESSAGE => {}
            NBSS_REQUEST | NBSS_POSITIVE | NBSS_NEGATIVE | NBSS_RETARGET | NBSS_KEEPALIVE => return,
            _ => {
                self.framers[d].lost = true;
                self.framers[d].skip = 0;
                ctx.anomaly("smb.bad_framing");
                return;
            }
        }
        let magic: Option<[u8; 4]> = message.get(..4).and_then(|m| m.try_into().ok());
        match magic {
            Some(SMB2_MAGIC) => self.on_smb2_chain(message, ctx),
            Some(TRANSFORM_MAGIC) => {
                self.encrypted = true;
                // Whatever login came before belongs to an encrypted session.
                self.pending_login = None;
            }
            Some(COMPRESSED_MAGIC) => ctx.anomaly("smb.compressed_message"),
            Some(SMB1_MAGIC) => self.on_smb1(message, ctx),
            _ if full_len == 0 => {}
            _ => {
                self.framers[d].lost = true;
                self.framers[d].skip = 0;
                ctx.anomaly("smb.bad_framing");
            }
        }
    }

    /// SMB2 messages compounded with NextCommand (§3.2.4.1.4); related operations
    /// (§2.2.1.2 SMB2_FLAGS_RELATED_OPERATIONS) name the previous CREATE's file by the
    /// all-ones FileId.
    fn on_smb2_chain(&mut self, mut message: &[u8], ctx: &mut Ctx<'_>) {
        let mut created: Option<TrackedFile> = None;
        loop {
            let next = u32_at(message, smb2::NEXT_COMMAND).unwrap_or(0) as usize;
            let this = if next >= smb2::HEADER_LEN && next <= message.len() {
                &message[..next]
            } else {
                message
            };
            self.on_smb2(this, &mut created, ctx);
            if next < smb2::HEADER_LEN || next >= message.len() {
                break;
            }
            message = &message[next..];
        }
    }

    fn on_smb2(&mut self, msg: &[u8], created: &mut Option<TrackedFile>, ctx: &mut Ctx<'_>) {
        let (Some(flags), Some(command), Some(status), Some(message_id)) = (
            u32_at(msg, smb2::FLAGS),
            u16_at(msg, smb2::COMMAND),
            u32_at(msg, smb2::STATUS),
            u64_at(msg, smb2::MESSAGE_ID),
        ) else {
            ctx.anomaly("smb.truncated_header");
            return;
        };
        let body = &msg[smb2::HEADER_LEN.min(msg.len())..];
        let response = flags & smb2::FLAG_RESPONSE != 0;
        if !response && matches!(command, smb2::CREATE | smb2::READ | smb2::WRITE) {
            self.login_in_clear(ctx);
        }
        match (command, response) {
            (smb2::NEGOTIATE, true) if status == smb2::STATUS_SUCCESS => {
                let (Some(mode), Some(dialect)) = (u16_at(body, 2), u16_at(body, 4)) else {
                    return;
                };
                ctx.emit(Fact::Session(Session::Smb(SmbSession {
                    dialect: Dialect::Smb2(dialect),
                    signing_required: mode & smb2::SIGNING_REQUIRED != 0,
                })));
            }
            (smb2::SESSION_SETUP, false) => {
                // SecurityBufferOffset (from the header's start) and length, §2.2.5.
                let (Some(offset), Some(len)) = (u16_at(body, 12), u16_at(body, 14)) else {
                    return;
                };
                let (offset, len) = (usize::from(offset), usize::from(len));
                if let Some(blob) = msg.get(offset..offset + len) {
                    self.on_security_blob(blob);
                }
            }
            (smb2::SESSION_SETUP, true)
                if status == smb2::STATUS_SUCCESS
                    && u16_at(body, 2)
                        .is_some_and(|f| f & smb2::SESSION_FLAG_ENCRYPT_DATA != 0) =>
            {
                self.encrypted = true;
                self.pending_login = None;
            }
            (smb2::CREATE, false) => {
                *created = None;
                // NameOffset (from the header's start) and NameLength, §2.2.13.
                let (Some(offset), Some(len)) = (u16_at(body, 44), u16_at(body, 46)) else {
                    return;
                };
                let (offset, len) = (usize::from(offset), usize::from(len));
                let Some(raw) = msg.get(offset..offset + len) else {
                    return;
                };
                if let Some(file) = tracked(&utf16(raw)) {
                    *created = Some(file.clone());
                    self.remember_create(message_id, file, ctx);
                }
            }
            (smb2::CREATE, true) if status != smb2::STATUS_PENDING => {
                let file = take_by_key(&mut self.creating, &message_id);
                if let (Some(file), Some(id), smb2::STATUS_SUCCESS) =
                    (file, body.get(64..80), status)
                {
                    let mut file_id = [0; 16];
                    file_id.copy_from_slice(id);
                    self.remember_open(file_id, file, ctx);
                }
            }
            (smb2::CLOSE, false) => {
                if let Some(id) = body.get(8..24) {
                    take_by_key(&mut self.open, id);
                }
            }
            (smb2::READ | smb2::WRITE, false) => {
                let (Some(length), Some(id)) = (u32_at(body, 4), body.get(16..32)) else {
                    return;
                };
                let operation = if command == smb2::READ {
                    "READ"
                } else {
                    "WRITE"
                };
                let file = if id.iter().all(|&b| b == 0xff) {
                    created.take()
                } else {
                    take_by_key(&mut self.open, id)
                };
                if let Some(file) = file {
                    transferred(operation, file, length, ctx);
                }
            }
            _ => {}
        }
    }

    /// SMB1: the dialect (NEGOTIATE), the NTLMSSP login (SESSION_SETUP_ANDX), and the
    /// files of NT_CREATE_ANDX read or written with READ_ANDX / WRITE_ANDX / CLOSE.
    fn on_smb1(&mut self, msg: &[u8], ctx: &mut Ctx<'_>) {
        let (Some(&command), Some(status), Some(&flags), Some(flags2), Some(pid), Some(mid)) = (
            msg.get(smb1::COMMAND),
            u32_at(msg, smb1::STATUS),
            msg.get(smb1::FLAGS),
            u16_at(msg, smb1::FLAGS2),
            u16_at(msg, smb1::PID_LOW),
            u16_at(msg, smb1::MID),
        ) else {
            ctx.anomaly("smb.truncated_header");
            return;
        };
        let reply = flags & smb1::FLAG_REPLY != 0;
        let key = u64::from(pid) << 16 | u64::from(mid);
        // WordCount, the words, ByteCount, the bytes (§2.2.3.2, §2.2.3.3).
        let Some(&word_count) = msg.get(smb1::HEADER_LEN) else {
            return;
        };
        let words_at = smb1::HEADER_LEN + 1;
        let bytes_at = words_at + 2 * usize::from(word_count) + 2;
        let words = msg.get(words_at..bytes_at - 2).unwrap_or(&[]);
        let bytes = msg.get(bytes_at..).unwrap_or(&[]);
        if !reply
            && matches!(
                command,
                smb1::NT_CREATE_ANDX | smb1::READ_ANDX | smb1::WRITE_ANDX
            )
        {
            self.login_in_clear(ctx);
        }
        match (command, reply) {
            (smb1::NEGOTIATE, false) => {
                self.smb1_offered = bytes
                    .split(|&b| b == 0)
                    .filter_map(|s| s.strip_prefix(&[0x02]))
                    .take(MAX_SMB1_DIALECTS)
                    .map(|s| String::from_utf8_lossy(&s[..s.len().min(32)]).into_owned())
                    .collect();
            }
            (smb1::NEGOTIATE, true) if status == 0 => {
                let Some(index) = u16_at(words, 0) else {
                    return;
                };
                // SecurityMode (the NT LM 0.12 response's third byte): bit 3 requires
                // signatures ([MS-CIFS] §2.2.4.52.2); older responses fall back on Flags2.
                let signing_required = match words.get(2) {
                    Some(mode) if word_count == 17 => mode & 0x08 != 0,
                    _ => flags2 & smb1::FLAGS2_SIGNATURES_REQUIRED != 0,
                };
                let name = self
                    .smb1_offered
                    .get(usize::from(index))
                    .cloned()
                    .unwrap_or_else(|| "SMB1".to_string());
                self.smb1_offered = Vec::new();
                ctx.emit(Fact::Session(Session::Smb(SmbSession {
                    dialect: Dialect::Smb1(name),
                    signing_required,
                })));
            }
            (smb1::SESSION_SETUP_ANDX, false) => self.on_security_blob(bytes),
            (smb1::NT_CREATE_ANDX, false) => {
                // NameLength is the word block's bytes 5..7; in Unicode the name starts
                // 2-aligned from the header ([MS-CIFS] §2.2.4.64.1).
                let Some(len) = u16_at(words, 5) else { return };
                let len = usize::from(len);
                let name = if flags2 & smb1::FLAGS2_UNICODE != 0 {
                    let pad = bytes_at % 2;
                    bytes.get(pad..pad + len).map(utf16)
                } else {
                    bytes
                        .get(..len)
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                };
                if let Some(file) = name
                    .as_deref()
                    .and_then(|n| tracked(n.trim_end_matches('\0')))
                {
                    self.remember_create(key, file, ctx);
                }
            }
            (smb1::NT_CREATE_ANDX, true) => {
                let file = take_by_key(&mut self.creating, &key);
                // FID after AndX (4 bytes) and the oplock level (§2.2.4.64.2).
                if let (Some(file), Some(fid), 0) = (file, words.get(5..7), status) {
                    self.remember_open(smb1_file_id(fid), file, ctx);
                }
            }
            (smb1::CLOSE, false) => {
                if let Some(fid) = words.get(0..2) {
                    take_by_key(&mut self.open, &smb1_file_id(fid));
                }
            }
            (smb1::READ_ANDX | smb1::WRITE_ANDX, false) => {
                // FID after AndX; READ_ANDX's MaxCountOfBytesToReturn at words 10..12,
                // WRITE_ANDX's DataLength at words 20..22.
                let Some(fid) = words.get(4..6) else { return };
                let (operation, length) = if command == smb1::READ_ANDX {
                    ("READ", u16_at(words, 10))
                } else {
                    ("WRITE", u16_at(words, 20))
                };
                if let Some(file) = take_by_key(&mut self.open, &smb1_file_id(fid)) {
                    transferred(operation, file, u32::from(length.unwrap_or(0)), ctx);
                }
            }
            _ => {}
        }
    }

    /// A SESSION_SETUP security blob (SPNEGO or raw NTLMSSP): the AUTHENTICATE message
    /// is held until the session shows whether it is encrypted.
    fn on_security_blob(&mut self, blob: &[u8]) {
        let Some(at) = find(blob, NTLMSSP_SIGNATURE) else {
            return;
        };
        if let Some(auth) = ntlm_authenticate(&blob[at..]) {
            self.pending_login = Some(challenge_login(
                "smb",
                auth.method,
                Some(auth.user.as_bytes()),
                auth.response_len,
            ));
        }
    }

    /// File activity in clear: the session is not encrypted, and the login held counts.
    fn login_in_clear(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.pending_login.take() {
            ctx.emit(login);
        }
    }

    fn remember_create(&mut self, key: u64, file: TrackedFile, ctx: &mut Ctx<'_>) {
        take_by_key(&mut self.creating, &key);
        push_bounded(&mut self.creating, (key, file), ctx);
    }

    fn remember_open(&mut self, id: [u8; 16], file: TrackedFile, ctx: &mut Ctx<'_>) {
        take_by_key(&mut self.open, &id);
        push_bounded(&mut self.open, (id, file), ctx);
    }
}

impl Dissector for SmbDissector {
    fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// Bytes held: partial messages and the file tables (the engine's memory budget).
    fn buffered(&self) -> usize {
        let tracked = |f: &TrackedFile| {
            std::mem::size_of::<([u8; 16], TrackedFile)>() + f.name_masked.capacity()
        };
        self.framers
            .iter()
            .map(|f| f.held.capacity())
            .sum::<usize>()
            + self.creating.iter().map(|(_, f)| tracked(f)).sum::<usize>()
            + self.open.iter().map(|(_, f)| tracked(f)).sum::<usize>()
            + self
                .smb1_offered
                .iter()
                .map(String::capacity)
                .sum::<usize>()
    }

    fn on_gap(&mut self, dir: Direction) {
        let framer = &mut self.framers[dir.index()];
        framer.held = Vec::new();
        framer.skip = 0;
        framer.lost = true;
    }

    /// A login still held (no message after it told) was made in a session not shown
    /// to be encrypted: it counts.
    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(login) = self.pending_login.take() {
            ctx.emit(login);
        }
    }

    fn on_data(&mut self, dir: Direction, mut data: &[u8], ctx: &mut Ctx<'_>) {
        let d = dir.index();
        while !data.is_empty() {
            let framer = &mut self.framers[d];
            if framer.lost {
                // After a gap or garbage (or a capture that starts mid-message), read on
                // from the next NetBIOS header that carries an SMB identifier.
                let Some(at) = resync_point(data) else { return };
                framer.lost = false;
                data = &data[at..];
            }
            if framer.skip > 0 {
                let n = framer.skip.min(data.len());
                framer.skip -= n;
                data = &data[n..];
                continue;
            }
            // Whole messages straight from the segment; the rest through `held`.
            if framer.held.is_empty() && data.len() >= 4 {
                let len = nbss_length(data);
                let keep = len.min(MAX_MESSAGE);
                if let Some(message) = data.get(4..4 + keep) {
                    let kind = data[0];
                    framer.skip = len - keep;
                    data = &data[4 + keep..];
                    self.on_frame(d, kind, message, len, ctx);
                    continue;
                }
            }
            let need = if framer.held.len() < 4 {
                4 - framer.held.len()
            } else {
                (4 + nbss_length(&framer.held).min(MAX_MESSAGE)) - framer.held.len()
            };
            let n = need.min(data.len());
            // Exactly the message's held part: no doubling past `MAX_MESSAGE`.
            framer.held.reserve_exact(n);
            framer.held.extend_from_slice(&data[..n]);
            data = &data[n..];
            if framer.held.len() >= 4 {
                let len = nbss_length(&framer.held);
                let keep = len.min(MAX_MESSAGE);
                if framer.held.len() == 4 + keep {
                    let held = std::mem::take(&mut framer.held);
                    framer.skip = len - keep;
                    self.on_frame(d, held[0], &held[4..], len, ctx);
                }
            }
        }
    }
}

/// Where in `data` a NetBIOS session message holding an SMB message starts: type 0,
/// then after the length one of the protocol identifiers.
fn resync_point(data: &[u8]) -> Option<usize> {
    let known = [SMB1_MAGIC, SMB2_MAGIC, TRANSFORM_MAGIC, COMPRESSED_MAGIC];
    data.windows(8)
        .position(|w| w[0] == NBSS_MESSAGE && known.iter().any(|m| w[4..] == m[..]))
}

fn smb1_file_id(fid: &[u8]) -> [u8; 16] {
    let mut id = [0; 16];
    id[..fid.len().min(16)].copy_from_slice(&fid[..fid.len().min(16)]);
    id
}

/// A name worth following: a recording or CDR export.
fn tracked(name: &str) -> Option<TrackedFile> {
    let kind = FileKind::of(name)?;
    let last = name.rsplit(['\\', '/']).next().unwrap_or(name);
    Some(TrackedFile {
        kind,
        name_masked: mask::file_name(last),
    })
}

fn transferred(operation: &'static str, file: TrackedFile, length: u32, ctx: &mut Ctx<'_>) {
    let what = match file.kind {
        FileKind::Recording => "voice recording",
        FileKind::CallRecords => "call records",
    };
    ctx.emit(Fact::PersonalData(PersonalData {
        matches: Vec::new(),
        record: Some(Record {
            kind: file.kind.as_str(),
            description: format!("{operation} {} ({what}), {length} bytes", file.name_masked),
        }),
        scope: None,
    }));
}

fn take_by_key<K: PartialEq<Q>, Q: ?Sized, V>(table: &mut VecDeque<(K, V)>, key: &Q) -> Option<V> {
    let at = table.iter().position(|(k, _)| k == key)?;
    table.remove(at).map(|(_, v)| v)
}

fn push_bounded<K, V>(table: &mut VecDeque<(K, V)>, entry: (K, V), ctx: &mut Ctx<'_>) {
    if table.len() >= MAX_TRACKED_FILES {
        table.pop_front();
        ctx.anomaly("smb.files_evicted");
    }
    table.push_back(entry);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

const NTLMSSP_SIGNATURE: &[u8] = b"NTLMSSP\0";

/// What an NTLMSSP AUTHENTICATE message says: the user, and the response's length.
#[derive(Debug, PartialEq, Eq)]
pub struct NtlmAuthenticate {
    pub user: String,
    /// `NTLMv2`, or `NTLMv1` (a 24-byte NT response, [MS-NLMP] §3.3.1).
    pub method: &'static str,
    pub response_len: usize,
}

/// [MS-NLMP] §2.2.1.3 AUTHENTICATE_MESSAGE: Signature(8) MessageType(4)=3, then
/// (Len u16, MaxLen u16, Offset u32) fields for LmChallengeResponse, NtChallengeResponse,
/// DomainName, UserName, Workstation, EncryptedRandomSessionKey; NegotiateFlags(4).
/// Offsets count from the signature. An anonymous login (empty user and response) is
/// no login.
pub fn ntlm_authenticate(msg: &[u8]) -> Option<NtlmAuthenticate> {
    if !msg.starts_with(NTLMSSP_SIGNATURE) || u32_at(msg, 8)? != 3 {
        return None;
    }
    let field = |at: usize| -> Option<&[u8]> {
        let len = usize::from(u16_at(msg, at)?);
        let offset = u32_at(msg, at + 4)? as usize;
        msg.get(offset..offset.checked_add(len)?)
    };
    let nt_response = field(20)?;
    let user = field(36)?;
    // NTLMSSP_NEGOTIATE_UNICODE; without flags (the oldest form) names are Unicode.
    let unicode = u32_at(msg, 60).is_none_or(|flags| flags & 1 != 0);
    let user = if unicode {
        utf16(user)
    } else {
        String::from_utf8_lossy(user).into_owned()
    };
    if user.is_empty() && nt_response.is_empty() {
        return None;
    }
    let method = if nt_response.len() == 24 {
        "NTLMv1"
    } else {
        "NTLMv2"
    };
    Some(NtlmAuthenticate {
        user,
        method,
        response_len: nt_response.len(),
    })
}

pub const SMB: Registration = Registration {
    app_proto: AppProto::Smb,
    l4: L4::Tcp,
    ports: &[445, 139],
    probe: probe_smb,
    start: || Box::new(SmbDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::testing::with_ctx;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::AppProto;

    fn nbss(message: &[u8]) -> Vec<u8> {
        let len = message.len() as u32;
        let mut out = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        out.extend_from_slice(message);
        out
    }

    fn smb2_header(command: u16, flags: u32, status: u32, message_id: u64) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&SMB2_MAGIC);
        h[4..6].copy_from_slice(&64u16.to_le_bytes());
        h[8..12].copy_from_slice(&status.to_le_bytes());
        h[12..14].copy_from_slice(&command.to_le_bytes());
        h[16..20].copy_from_slice(&flags.to_le_bytes());
        h[24..32].copy_from_slice(&message_id.to_le_bytes());
        h
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn create_request(message_id: u64, name: &str) -> Vec<u8> {
        let mut m = smb2_header(smb2::CREATE, 0, 0, message_id);
        let mut body = vec![0u8; 56];
        body[..2].copy_from_slice(&57u16.to_le_bytes());
        let name = utf16le(name);
        body[44..46].copy_from_slice(&120u16.to_le_bytes());
        body[46..48].copy_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&body);
        m.extend_from_slice(&name);
        m
    }

    fn create_response(message_id: u64, file_id: [u8; 16]) -> Vec<u8> {
        let mut m = smb2_header(smb2::CREATE, smb2::FLAG_RESPONSE, 0, message_id);
        let mut body = vec![0u8; 88];
        body[64..80].copy_from_slice(&file_id);
        m.extend_from_slice(&body);
        m
    }

    fn write_request(message_id: u64, file_id: [u8; 16], data_len: usize) -> Vec<u8> {
        let mut m = smb2_header(smb2::WRITE, 0, 0, message_id);
        let mut body = vec![0u8; 48];
        body[4..8].copy_from_slice(&(data_len as u32).to_le_bytes());
        body[16..32].copy_from_slice(&file_id);
        m.extend_from_slice(&body);
        m.extend(std::iter::repeat_n(0x55, data_len));
        m
    }

    fn transfers(facts: &[Fact]) -> Vec<(&'static str, &str)> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::PersonalData(PersonalData {
                    record: Some(Record { kind, description }),
                    ..
                }) => Some((*kind, description.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn probe_by_content() {
        assert_eq!(probe_smb(&nbss(b"\xfeSMB rest")), Probe::Match);
        assert_eq!(probe_smb(&nbss(b"\xffSMBr")), Probe::Match);
        assert_eq!(probe_smb(&nbss(b"\xfdSMB")), Probe::Match);
        assert_eq!(probe_smb(&[0, 0, 0]), Probe::NeedMore);
        assert_eq!(probe_smb(&[0, 0, 0, 9, 0xfe, b'S']), Probe::NeedMore);
        assert_eq!(probe_smb(&nbss(b"\xfeXYZ")), Probe::NoMatch);
        assert_eq!(probe_smb(b"GET / HTTP/1.1"), Probe::NoMatch);
        assert_eq!(probe_smb(&[0x81, 0, 0, 68, 0x20, b'C']), Probe::Match);
    }

    #[test]
    fn recording_written_after_its_create_is_reported_masked() {
        let id = [7u8; 16];
        let wire = [
            nbss(&create_request(5, "calls\\0612345678_smith.wav")),
            nbss(&create_response(5, id)),
            nbss(&write_request(6, id, 3000)),
        ];
        let facts = with_ctx(AppProto::Smb, |ctx| {
            let mut d = SmbDissector::default();
            d.on_data(Direction::ToServer, &wire[0], ctx);
            d.on_data(Direction::ToClient, &wire[1], ctx);
            // The WRITE a byte at a time: framing across segments.
            for b in wire[2].chunks(1) {
                d.on_data(Direction::ToServer, b, ctx);
            }
            assert!(d.buffered() < MAX_MESSAGE + 1024);
        });
        assert_eq!(
            transfers(&facts),
            [(
                "voice_recording",
                "WRITE ******5678_s****.wav (voice recording), 3000 bytes"
            )]
        );
    }

    #[test]
    fn framing_resumes_after_a_gap() {
        let id = [3u8; 16];
        let create = nbss(&create_request(5, "0612345678_smith.wav"));
        let facts = with_ctx(AppProto::Smb, |ctx| {
            let mut d = SmbDissector::default();
            // Half a WRITE, then bytes lost: the rest of the stream starts on a message.
            let write = nbss(&write_request(4, id, 3000));
            d.on_data(Direction::ToServer, &write[..100], ctx);
            d.on_gap(Direction::ToServer);
            let mut after = b"tail of the lost message".to_vec();
            after.extend_from_slice(&create);
            d.on_data(Direction::ToServer, &after, ctx);
            d.on_data(Direction::ToClient, &nbss(&create_response(5, id)), ctx);
            d.on_data(Direction::ToServer, &nbss(&write_request(6, id, 10)), ctx);
        });
        assert_eq!(
            transfers(&facts),
            [(
                "voice_recording",
                "WRITE ******5678_s****.wav (voice recording), 10 bytes"
            )]
        );
    }

    #[test]
    fn large_write_is_skipped_not_buffered() {
        let id = [9u8; 16];
        let write = nbss(&write_request(6, id, 1 << 20));
        with_ctx(AppProto::Smb, |ctx| {
            let mut d = SmbDissector::default();
            for chunk in write.chunks(1400) {
                d.on_data(Direction::ToServer, chunk, ctx);
                assert!(d.buffered() <= MAX_MESSAGE + 4 + 1400);
            }
            // The next message is read normally.
            d.on_data(Direction::ToServer, &nbss(&create_request(7, "a.csv")), ctx);
            assert_eq!(d.creating.len(), 1);
        });
    }

    #[test]
    fn other_files_are_not_tracked_and_the_table_is_bounded() {
        let out = with_ctx_output(AppProto::Smb, |ctx| {
            let mut d = SmbDissector::default();
            for i in 0..5000u64 {
                d.on_data(
                    Direction::ToServer,
                    &nbss(&create_request(i, "notes.docx")),
                    ctx,
                );
            }
            assert!(d.creating.is_empty());
            for i in 0..5000u64 {
                let name = format!("r{i}.wav");
                d.on_data(Direction::ToServer, &nbss(&create_request(i, &name)), ctx);
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&i.to_le_bytes());
                d.on_data(Direction::ToClient, &nbss(&create_response(i, id)), ctx);
            }
            assert_eq!(d.open.len(), MAX_TRACKED_FILES);
            assert!(d.buffered() < 16 * 1024);
        });
        let evicted = out.anomalies.get("smb.files_evicted").copied();
        assert_eq!(evicted, Some(5000 - MAX_TRACKED_FILES as u64));
    }

    #[test]
    fn transform_header_marks_the_session_encrypted() {
        let mut transform = TRANSFORM_MAGIC.to_vec();
        transform.extend_from_slice(&[0u8; 60]);
        with_ctx(AppProto::Smb, |ctx| {
            let mut d = SmbDissector::default();
            d.on_data(Direction::ToServer, &nbss(&transform), ctx);
            assert!(d.encrypted());
        });
    }

    #[test]
    fn ntlm_authenticate_user_and_response() {
        let user = utf16le("jane.doe");
        let mut msg = NTLMSSP_SIGNATURE.to_vec();
        msg.extend_from_slice(&3u32.to_le_bytes());
        msg.resize(64, 0);
        let nt_at = 64u32;
        let user_at = nt_at + 40;
        msg[20..22].copy_from_slice(&40u16.to_le_bytes());
        msg[24..28].copy_from_slice(&nt_at.to_le_bytes());
        msg[36..38].copy_from_slice(&(user.len() as u16).to_le_bytes());
        msg[40..44].copy_from_slice(&user_at.to_le_bytes());
        msg[60..64].copy_from_slice(&1u32.to_le_bytes());
        msg.extend_from_slice(&[0xaa; 40]);
        msg.extend_from_slice(&user);
        assert_eq!(
            ntlm_authenticate(&msg),
            Some(NtlmAuthenticate {
                user: "jane.doe".into(),
                method: "NTLMv2",
                response_len: 40
            })
        );
        // Truncated: the user field points past the end.
        assert_eq!(ntlm_authenticate(&msg[..msg.len() - 2]), None);
        assert_eq!(ntlm_authenticate(&msg[..30]), None);
    }

    #[test]
    fn file_kinds() {
        assert_eq!(FileKind::of("rec\\a.WAV"), Some(FileKind::Recording));
        assert_eq!(FileKind::of("x.opus"), Some(FileKind::Recording));
        assert_eq!(FileKind::of("export.csv"), Some(FileKind::CallRecords));
        assert_eq!(FileKind::of("smdr-2026.txt"), Some(FileKind::CallRecords));
        assert_eq!(FileKind::of("notes.txt"), None);
        assert_eq!(FileKind::of("a.wav:Zone.Identifier"), None);
        assert_eq!(FileKind::of("wav"), None);
    }
}
