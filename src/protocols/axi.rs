//! SIP-DECT OM AXI (Mitel OM Application XML Interface): XML elements terminated by
//! NUL over TCP 12621 (12622 is the TLS form). `Open` carries the login; user records
//! (`user`, `pp` … with `name`, `num`, `sipAuthId`, `sipPw` …) carry personal data.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::{Field, Match};
use crate::protocols::fact::PersonalData;
use crate::protocols::login::login;
use crate::protocols::{held_bytes, probe_prefixes, Ctx, Fact, Probe};
use crate::protocols::{AppProto, Dissector, Registration};

/// Our own cap on one XML message.
const MAX_MESSAGE: usize = 256 * 1024;

/// Attributes holding a person's name, a number, or a secret.
const NAME_ATTRIBUTES: [&str; 3] = ["name", "firstname", "lastname"];
const NUMBER_ATTRIBUTES: [&str; 4] = ["num", "number", "sipauthid", "extension"];
const SECRET_ATTRIBUTES: [&str; 5] = ["password", "sippw", "pin", "pw", "passwd"];

pub fn probe_axi(data: &[u8]) -> Probe {
    probe_prefixes(data, &[b"<Open ", b"<OpenResp "])
}

/// XML's five predefined entities; others stay as written.
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Elements of a message: (name, attributes).
fn elements(message: &str) -> Vec<(&str, Vec<(&str, String)>)> {
    let mut out = Vec::new();
    for tag in message.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        if tag.starts_with('/') || tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let (name, mut rest) = tag.split_at(name_end);
        let mut attributes = Vec::new();
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                break;
            };
            let body = &after[1..];
            let Some(close) = body.find(quote) else { break };
            attributes.push((key, unescape(&body[..close])));
            rest = &body[close + 1..];
        }
        out.push((name, attributes));
    }
    out
}

#[derive(Default)]
pub struct AxiDissector {
    pending: [Vec<u8>; 2],
}

impl AxiDissector {
    fn on_message(&mut self, message: &str, ctx: &mut Ctx<'_>) {
        let mut found: Vec<Match> = Vec::new();
        for (element, attributes) in elements(message) {
            if element == "Open" {
                let user = attributes
                    .iter()
                    .find(|(k, _)| *k == "username")
                    .map(|(_, v)| v.as_bytes());
                let password = attributes
                    .iter()
                    .find(|(k, _)| *k == "password")
                    .map_or(0, |(_, v)| v.chars().count());
                ctx.emit(login("axi", "Open", user, password));
                continue;
            }
            for (key, value) in &attributes {
                let key = key.to_ascii_lowercase();
                if value.is_empty() {
                    continue;
                }
                if NAME_ATTRIBUTES.contains(&key.as_str()) {
                    ctx.find(Field::PersonName, value.as_bytes(), &mut found);
                } else if NUMBER_ATTRIBUTES.contains(&key.as_str()) {
                    ctx.find(Field::PhoneNumber, value.as_bytes(), &mut found);
                } else if SECRET_ATTRIBUTES.contains(&key.as_str()) {
                    found.push(Match::credential(&key, value.chars().count()));
                } else {
                    ctx.find(Field::Text, value.as_bytes(), &mut found);
                }
            }
        }
        if !found.is_empty() {
            ctx.emit(Fact::PersonalData(PersonalData::matches(found)));
        }
    }
}

impl Dissector for AxiDissector {
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
        while let Some(end) = memchr::memchr(0, &buffer[used..]) {
            let message = String::from_utf8_lossy(&buffer[used..used + end]).into_owned();
            self.on_message(&message, ctx);
            used += end + 1;
        }
        buffer.drain(..used);
        if buffer.len() > MAX_MESSAGE {
            buffer.clear();
        }
        self.pending[d] = buffer;
    }
}

pub const AXI: Registration = Registration {
    app_proto: AppProto::Axi,
    l4: L4::Tcp,
    ports: &[12621],
    probe: probe_axi,
    start: || Box::new(AxiDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::{testing::with_ctx, AppProto};

    #[test]
    fn open_and_user_record() {
        let mut d = AxiDissector::default();
        let facts = with_ctx(AppProto::Failed, |ctx| {
            d.on_data(Direction::ToServer, b"<Open protocolVersion=\"45\" username=\"omm\" password=\"p&amp;ss\" />\0<GetPPUser seq=\"2\" uid=\"100\" />\0", ctx);
            d.on_data(Direction::ToClient, b"<GetPPUserResp seq=\"2\"><user uid=\"100\" name=\"Jane Doe\" num=\"4711\" sipPw=\"secret99\" /></GetPP", ctx);
            d.on_data(Direction::ToClient, b"UserResp>\0", ctx);
        });
        assert!(
            matches!(&facts[0], Fact::Credential(l) if l.user.as_deref() == Some("omm") && l.secret_len == 4)
        );
        let Fact::PersonalData(PersonalData { matches: m, .. }) = &facts[1] else {
            panic!("{facts:?}")
        };
        let evidence: Vec<&str> = m.iter().map(|m| m.evidence.as_str()).collect();
        assert_eq!(
            evidence,
            vec!["J*** D**", "**11", "sippw present (8 chars)"]
        );
        assert_eq!(probe_axi(b"<Open protocolVersion"), Probe::Match);
    }
}
