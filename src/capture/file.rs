//! pcap (µs and ns) and pcapng capture files, read as a stream so multi-gigabyte files
//! need no more memory than their largest block.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError};

use super::Packet;
use crate::timestamp::Timestamp;

/// Read buffer to start with; grows for larger blocks up to `MAX_BLOCK_LEN`.
const INITIAL_BUFFER: usize = 256 * 1024;
/// Our own cap on one record or block. Real frames stay below 256 KiB (libpcap's
/// MAXIMUM_SNAPLEN); anything far beyond is corruption or an attack on our memory.
const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (unrecognised header at byte offset 0)")]
    NotACapture { path: PathBuf },
    #[error("{path}: truncated at byte offset {offset}: the file ends inside a record")]
    Truncated { path: PathBuf, offset: u64 },
    #[error("{path}: corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: read error at byte offset {offset}")]
    Read { path: PathBuf, offset: u64 },
}

/// Per-interface facts a pcapng file declares once and packets refer to by index.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second (if_tsresol).
    units_per_sec: u64,
    /// Seconds to add to every timestamp (if_tsoffset).
    offset_secs: i64,
}

pub struct CaptureFile {
    path: PathBuf,
    reader: Box<dyn PcapReaderIterator + Send>,
    /// Legacy pcap: the link type and whether timestamps are in nanoseconds.
    legacy: Option<(i32, bool)>,
    interfaces: Vec<Interface>,
    last_ts: Timestamp,
    size: u64,
}

impl CaptureFile {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Self::from_reader(path, BufReader::new(file), size)
    }

    /// A capture from any reader (`path` names it in errors): in-memory captures,
    /// fuzzing.
    pub fn from_reader(
        path: &Path,
        reader: impl std::io::Read + Send + 'static,
        size: u64,
    ) -> Result<Self, CaptureError> {
        let reader = pcap_parser::create_reader(INITIAL_BUFFER, reader).map_err(|e| match e {
            PcapError::ReadError => CaptureError::Read {
                path: path.to_owned(),
                offset: 0,
            },
            _ => CaptureError::NotACapture {
                path: path.to_owned(),
            },
        })?;
        Ok(CaptureFile {
            path: path.to_owned(),
            reader,
            legacy: None,
            interfaces: Vec::new(),
            last_ts: Timestamp::default(),
            size,
        })
    }

    /// File size in bytes, for progress reporting.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes consumed so far: the offset of the next record.
    pub fn position(&self) -> u64 {
        self.reader.consumed() as u64
    }

    /// Calls `on_packet` for every frame in file order. Stops at the first format error;
    /// every frame before it has been delivered, so callers keep what they found.
    pub fn read_packets(
        &mut self,
        mut on_packet: impl FnMut(Packet<'_>),
    ) -> Result<(), CaptureError> {
        let mut buffer_len = INITIAL_BUFFER;
        loop {
            let offset = self.position();
            match self.reader.next() {
                Ok((len, block)) => {
                    let packet = match &block {
                        PcapBlockOwned::LegacyHeader(header) => {
                            self.legacy =
                                Some((header.network.0, header.is_nanosecond_precision()));
                            None
                        }
                        PcapBlockOwned::Legacy(frame) => {
                            let (linktype, nanos) = self.legacy.unwrap_or((1, false));
                            let frac = if nanos {
                                frame.ts_usec
                            } else {
                                frame.ts_usec.saturating_mul(1000)
                            };
                            let ts = Timestamp::from_secs_nanos(frame.ts_sec as u64, frac);
                            let caplen = (frame.caplen as usize).min(frame.data.len());
                            Some(Packet {
                                ts,
                                linktype,
                                data: &frame.data[..caplen],
                                wire_len: frame.origlen,
                            })
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // Interface indices restart in every section.
                            self.interfaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                linktype: idb.linktype.0,
                                units_per_sec: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                                offset_secs: idb.ts_offset(),
                            });
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(iface) = self.interfaces.get(epb.if_id as usize).copied()
                            else {
                                return Err(CaptureError::Corrupt {
                                    path: self.path.clone(),
                                    offset,
                                    reason: format!(
                                        "packet refers to undeclared interface {}",
                                        epb.if_id
                                    ),
                                });
                            };
                            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let nanos =
                                u128::from(ticks) * 1_000_000_000 / u128::from(iface.units_per_sec);
                            let nanos = (nanos as i128
                                + i128::from(iface.offset_secs) * 1_000_000_000)
                                .clamp(0, i128::from(u64::MAX))
                                as u64;
                            Some(Packet {
                                ts: Timestamp(nanos),
                                linktype: iface.linktype,
                                data: epb.packet_data(),
                                wire_len: epb.origlen,
                            })
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            let Some(iface) = self.interfaces.first().copied() else {
                                return Err(CaptureError::Corrupt {
                                    path: self.path.clone(),
                                    offset,
                                    reason: "simple packet before any interface".into(),
                                });
                            };
                            // A simple packet block carries no timestamp: reuse the last one.
                            Some(Packet {
                                ts: self.last_ts,
                                linktype: iface.linktype,
                                data: spb.packet_data(),
                                wire_len: spb.origlen,
                            })
                        }
                        PcapBlockOwned::NG(_) => None,
                    };
                    if let Some(packet) = packet {
                        self.last_ts = packet.ts;
                        on_packet(packet);
                    }
                    self.reader.consume(len);
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    if self.reader.refill().is_err() {
                        return Err(CaptureError::Read {
                            path: self.path.clone(),
                            offset,
                        });
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    if buffer_len >= MAX_BLOCK_LEN || !self.reader.grow(buffer_len * 2) {
                        return Err(self.corrupt(
                            offset,
                            format!("record longer than the {} MiB limit", MAX_BLOCK_LEN >> 20),
                        ));
                    }
                    buffer_len *= 2;
                    if self.reader.refill().is_err() {
                        return Err(CaptureError::Read {
                            path: self.path.clone(),
                            offset,
                        });
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated {
                        path: self.path.clone(),
                        offset,
                    })
                }
                Err(PcapError::ReadError) => {
                    return Err(CaptureError::Read {
                        path: self.path.clone(),
                        offset,
                    })
                }
                Err(e) => {
                    let reason = match e {
                        PcapError::HeaderNotRecognized => "unrecognised block".to_string(),
                        PcapError::NomError(_, kind) => format!("malformed record ({kind:?})"),
                        PcapError::OwnedNomError(_, kind) => format!("malformed record ({kind:?})"),
                        _ => "malformed record".to_string(),
                    };
                    return Err(self.corrupt(offset, reason));
                }
            }
        }
    }

    fn corrupt(&self, offset: u64, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset,
            reason,
        }
    }
}
