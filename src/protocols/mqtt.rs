//! MQTT 3.1, 3.1.1 and 5 (OASIS): CONNECT credentials and PUBLISH topics and payloads.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::{looks_textual, Field};
use crate::protocols::login::login;
use crate::protocols::{held_bytes, Ctx, Probe};
use crate::protocols::{AppProto, Dissector, Registration};

/// Our own cap on a packet we buffer; bigger PUBLISH payloads are skipped unread.
const MAX_PACKET: usize = 256 * 1024;

const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;

/// Remaining Length (MQTT 3.1.1 §2.2.3): up to four 7-bit groups. (value, bytes used)
fn remaining_length(data: &[u8]) -> Option<Result<(usize, usize), ()>> {
    let mut value = 0usize;
    for i in 0..4 {
        let &b = data.get(i)?;
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(Ok((value, i + 1)));
        }
    }
    Some(Err(()))
}

/// A CONNECT with protocol name `MQTT` (3.1.1, 5) or `MQIsdp` (3.1).
pub fn probe_mqtt(data: &[u8]) -> Probe {
    if data.first() != Some(&0x10) {
        return Probe::NoMatch;
    }
    let Some(Ok((_, used))) = remaining_length(&data[1..]) else {
        return if data.len() < 5 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    match data.get(1 + used..1 + used + 8) {
        Some([0, 4, b'M', b'Q', b'T', b'T', ..])
        | Some([0, 6, b'M', b'Q', b'I', b's', b'd', b'p']) => Probe::Match,
        None => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

/// A length-prefixed UTF-8 string or binary field (§1.5.3).
fn field(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
    Some((data.get(2..2 + len)?, &data[2 + len..]))
}

/// MQTT 5 properties: a Remaining-Length-style length, then the properties (skipped).
fn skip_properties(data: &[u8]) -> Option<&[u8]> {
    let Some(Ok((len, used))) = remaining_length(data) else {
        return None;
    };
    data.get(used + len..)
}

#[derive(Default)]
pub struct MqttDissector {
    pending: [Vec<u8>; 2],
    /// Bytes of an oversized packet still to skip.
    skip: [usize; 2],
    /// Protocol level from CONNECT: 5 adds property blocks.
    level: u8,
    lost: [bool; 2],
}

impl MqttDissector {
    fn on_packet(&mut self, first: u8, body: &[u8], ctx: &mut Ctx<'_>) {
        match first >> 4 {
            CONNECT => self.on_connect(body, ctx),
            PUBLISH => {
                let qos = (first >> 1) & 3;
                let Some((topic, rest)) = field(body) else {
                    return;
                };
                let rest = if qos > 0 {
                    rest.get(2..).unwrap_or(b"")
                } else {
                    rest
                };
                let payload = if self.level >= 5 {
                    skip_properties(rest).unwrap_or(b"")
                } else {
                    rest
                };
                ctx.scan(Field::Text, topic);
                if looks_textual(payload) {
                    ctx.scan(Field::Text, payload);
                }
            }
            _ => {}
        }
    }

    /// §3.1: protocol name, level, flags, keep-alive, [properties], client id,
    /// [will properties, topic, payload], [user name], [password].
    fn on_connect(&mut self, body: &[u8], ctx: &mut Ctx<'_>) {
        let Some((_name, rest)) = field(body) else {
            return;
        };
        let (Some(&level), Some(&flags)) = (rest.first(), rest.get(1)) else {
            return;
        };
        self.level = level;
        let Some(mut rest) = rest.get(4..) else {
            return;
        };
        if level >= 5 {
            let Some(r) = skip_properties(rest) else {
                return;
            };
            rest = r;
        }
        let Some((_client_id, r)) = field(rest) else {
            return;
        };
        rest = r;
        if flags & 0x04 != 0 {
            if level >= 5 {
                let Some(r) = skip_properties(rest) else {
                    return;
                };
                rest = r;
            }
            let Some((_, r)) = field(rest) else { return };
            let Some((_, r)) = field(r) else { return };
            rest = r;
        }
        let mut user = None;
        if flags & 0x80 != 0 {
            let Some((u, r)) = field(rest) else { return };
            user = Some(u);
            rest = r;
        }
        if flags & 0x40 != 0 {
            let Some((password, _)) = field(rest) else {
                return;
            };
            ctx.emit(login(
                "mqtt",
                "CONNECT",
                user,
                String::from_utf8_lossy(password).chars().count(),
            ));
        } else if let Some(u) = user {
            ctx.emit(login("mqtt", "CONNECT", Some(u), 0));
        }
    }
}

impl Dissector for MqttDissector {
    fn on_gap(&mut self, dir: crate::flow::Direction) {
        self.pending[dir.index()] = Vec::new();
        self.lost[dir.index()] = true;
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        held_bytes(&self.pending)
    }

    fn on_data(&mut self, dir: Direction, mut data: &[u8], ctx: &mut Ctx<'_>) {
        let d = dir.index();
        if self.lost[d] {
            return;
        }
        if self.skip[d] > 0 {
            let n = self.skip[d].min(data.len());
            self.skip[d] -= n;
            data = &data[n..];
        }
        let mut buffer = std::mem::take(&mut self.pending[d]);
        buffer.extend_from_slice(data);
        let mut used = 0;
        loop {
            let rest = &buffer[used..];
            let Some(&first) = rest.first() else { break };
            let Some(header) = rest.get(1..).and_then(remaining_length) else {
                break;
            };
            let Ok((len, len_bytes)) = header else {
                self.lost[d] = true;
                used = buffer.len();
                break;
            };
            let start = 1 + len_bytes;
            if len > MAX_PACKET {
                let available = rest.len() - start;
                self.skip[d] = len.saturating_sub(available);
                used = buffer.len();
                break;
            }
            let Some(body) = rest.get(start..start + len) else {
                break;
            };
            self.on_packet(first, body, ctx);
            used += start + len;
        }
        buffer.drain(..used.min(buffer.len()));
        self.pending[d] = buffer;
    }
}

pub const MQTT: Registration = Registration {
    app_proto: AppProto::Mqtt,
    l4: L4::Tcp,
    ports: &[1883],
    probe: probe_mqtt,
    start: || Box::new(MqttDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::fact::PersonalData;
    use crate::protocols::{testing::with_ctx, AppProto, Fact};

    fn connect() -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0xc2, 0, 60];
        for f in [&b"client1"[..], b"jane.doe", b"pw-12345"] {
            body.extend_from_slice(&(f.len() as u16).to_be_bytes());
            body.extend_from_slice(f);
        }
        let mut p = vec![0x10, body.len() as u8];
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn connect_and_publish_split() {
        let mut publish = vec![0x30, 0];
        let topic = b"pbx/calls";
        publish.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        publish.extend_from_slice(topic);
        publish.extend_from_slice(b"{\"caller\":\"+44 1632 960961\"}");
        publish[1] = (publish.len() - 2) as u8;
        let mut stream = connect();
        stream.extend_from_slice(&publish);
        assert_eq!(probe_mqtt(&stream), Probe::Match);
        let mut d = MqttDissector::default();
        let facts = with_ctx(AppProto::Failed, |ctx| {
            let (a, b) = stream.split_at(13);
            d.on_data(Direction::ToServer, a, ctx);
            d.on_data(Direction::ToServer, b, ctx);
        });
        assert!(
            matches!(&facts[0], Fact::Credential(l) if l.user.as_deref() == Some("jane.doe") && l.secret_len == 8)
        );
        assert!(
            matches!(&facts[1], Fact::PersonalData(PersonalData { matches: m, .. }) if m[0].evidence.ends_with("0961"))
        );
        assert_eq!(facts.len(), 2);
    }

    #[test]
    fn garbage_is_safe() {
        let mut d = MqttDissector::default();
        with_ctx(AppProto::Failed, |ctx| {
            d.on_data(
                Direction::ToServer,
                &[0x10, 0xff, 0xff, 0xff, 0xff, 0xff],
                ctx,
            );
            d.on_data(Direction::ToServer, &[0x30, 0x05, 0xff, 0xff], ctx);
        });
    }
}
