//! SDP (RFC 8866) as carried in SIP bodies: the media each side will send or receive,
//! how (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF …), with which keys (`a=crypto`, RFC 4568)
//! and which payload type carries DTMF (`a=rtpmap:N telephone-event`, RFC 4733), plus
//! the fields that hold personal data (`o=` user, `e=`, `p=`).

use std::net::IpAddr;

/// Media sections kept per description; more is not a real offer.
const MAX_MEDIA: usize = 8;
/// Payload-type mappings kept per media section.
const MAX_RTPMAP: usize = 16;

/// An SDES crypto attribute with the key left out: suite and key length only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crypto {
    pub suite: String,
    /// Length of the `inline:` key-salt text; the key itself is never kept.
    pub key_len: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `image` …
    pub kind: String,
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl` …
    pub proto: String,
    /// `c=` of the media section, else of the session.
    pub address: Option<IpAddr>,
    /// `a=rtcp:` port (RFC 3605); RTCP is on `port + 1` when absent.
    pub rtcp_port: Option<u16>,
    pub rtcp_mux: bool,
    pub crypto: Vec<Crypto>,
    /// `a=fingerprint` present: keys come from DTLS (RFC 5763).
    pub fingerprint: bool,
    /// (payload type, encoding name) from `a=rtpmap`.
    pub rtpmap: Vec<(u8, String)>,
    /// First payload type of the `m=` line's format list.
    pub first_format: Option<u8>,
}

impl Media {
    /// SRTP profiles (RFC 3711 §?: SAVP, SAVPF; RFC 5764 for DTLS-SRTP).
    pub fn secure(&self) -> bool {
        self.proto.to_ascii_uppercase().contains("SAVP")
    }

    pub fn telephone_event(&self) -> Option<u8> {
        self.rtpmap
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case("telephone-event"))
            .map(|(pt, _)| *pt)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` username, unless `-`.
    pub origin_user: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub media: Vec<Media>,
}

/// Static payload types of RFC 3551 with their encoding names.
pub fn static_codec(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        5 | 6 => "DVI4",
        7 => "LPC",
        8 => "PCMA",
        9 => "G722",
        10 | 11 => "L16",
        12 => "QCELP",
        13 => "CN",
        14 => "MPA",
        15 => "G728",
        16 | 17 => "DVI4",
        18 => "G729",
        25 => "CelB",
        26 => "JPEG",
        28 => "nv",
        31 => "H261",
        32 => "MPV",
        33 => "MP2T",
        34 => "H263",
        _ => return None,
    })
}

/// Parses an SDP body; lines it does not know are skipped, a broken line never fails
/// the rest.
pub fn parse(body: &[u8]) -> Option<SessionDescription> {
    let text = String::from_utf8_lossy(body);
    if !text.trim_start().starts_with("v=") {
        return None;
    }
    let mut sdp = SessionDescription::default();
    let mut session_address: Option<IpAddr> = None;
    for line in text.lines() {
        let line = line.trim_end();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "o" => {
                let user = value.split_whitespace().next().unwrap_or("-");
                if user != "-" {
                    sdp.origin_user = Some(user.chars().take(64).collect());
                }
            }
            "e" if sdp.emails.len() < 4 => sdp.emails.push(value.chars().take(128).collect()),
            "p" if sdp.phones.len() < 4 => sdp.phones.push(value.chars().take(64).collect()),
            "c" => {
                // c=IN IP4 192.0.2.1[/ttl]
                let address = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse().ok());
                match sdp.media.last_mut() {
                    Some(m) => m.address = address.or(m.address),
                    None => session_address = address,
                }
            }
            "m" if sdp.media.len() < MAX_MEDIA => {
                // m=audio 49170 RTP/AVP 0 8 101
                let mut parts = value.split_whitespace();
                let kind = parts.next().unwrap_or("").to_string();
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let proto = parts.next().unwrap_or("").to_string();
                let first_format = parts.next().and_then(|f| f.parse().ok());
                sdp.media.push(Media {
                    kind,
                    port,
                    proto,
                    address: session_address,
                    first_format,
                    ..Media::default()
                });
            }
            "a" => {
                let Some(m) = sdp.media.last_mut() else {
                    continue;
                };
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                match name {
                    "rtcp" => {
                        m.rtcp_port = arg.split_whitespace().next().and_then(|p| p.parse().ok())
                    }
                    "rtcp-mux" => m.rtcp_mux = true,
                    "fingerprint" => m.fingerprint = true,
                    "crypto" => {
                        // a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:32
                        let mut parts = arg.split_whitespace();
                        let _tag = parts.next();
                        let suite = parts.next().unwrap_or("").chars().take(64).collect();
                        let key_len = parts
                            .next()
                            .and_then(|k| k.strip_prefix("inline:"))
                            .map_or(0, |k| k.split('|').next().map_or(0, str::len));
                        if m.crypto.len() < 4 {
                            m.crypto.push(Crypto { suite, key_len });
                        }
                    }
                    "rtpmap" if m.rtpmap.len() < MAX_RTPMAP => {
                        // a=rtpmap:101 telephone-event/8000
                        let mut parts = arg.split_whitespace();
                        let pt = parts.next().and_then(|p| p.parse().ok());
                        let name = parts.next().and_then(|e| e.split('/').next()).unwrap_or("");
                        if let Some(pt) = pt {
                            m.rtpmap.push((pt, name.chars().take(32).collect()));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Some(sdp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_with_crypto_dtmf_and_rtcp() {
        let body = b"v=0\r\no=jdoe 53655765 2353687637 IN IP4 10.0.0.1\r\ns=-\r\ne=jane.doe@example.com\r\n\
            c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/SAVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
            a=rtpmap:101 telephone-event/8000\r\na=rtcp:49180\r\n\
            a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoJGRvb2xz|2^20|1:32\r\n\
            m=video 0 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\n";
        let sdp = parse(body).expect("sdp");
        assert_eq!(sdp.origin_user.as_deref(), Some("jdoe"));
        assert_eq!(sdp.emails.len(), 1);
        let audio = &sdp.media[0];
        assert_eq!(
            (audio.port, audio.secure(), audio.telephone_event()),
            (49170, true, Some(101))
        );
        assert_eq!(audio.address, "10.0.0.1".parse().ok());
        assert_eq!(audio.rtcp_port, Some(49180));
        assert_eq!(
            audio.crypto,
            vec![Crypto {
                suite: "AES_CM_128_HMAC_SHA1_80".into(),
                key_len: 52
            }]
        );
        assert_eq!(audio.first_format, Some(8));
        assert_eq!(sdp.media[1].address, "10.0.0.9".parse().ok());
        assert!(!format!("{sdp:?}").contains("WVNf"), "the key is not kept");
    }

    #[test]
    fn not_sdp_and_garbage_lines() {
        assert!(parse(b"hello").is_none());
        let sdp = parse(b"v=0\nm=audio x RTP/AVP\na=rtpmap:bad\nc=IN IP4 not-an-ip\n=\n")
            .expect("lenient");
        assert_eq!(sdp.media[0].port, 0);
        assert!(sdp.media[0].rtpmap.is_empty());
    }
}
