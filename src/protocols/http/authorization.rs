//! The `Authorization` and `Proxy-Authorization` header values of HTTP (RFC 9110
//! §11.6): which scheme, which user, how long a secret. SIP reuses HTTP's authentication
//! framework (RFC 3261 §22), so the SIP dissector reads its headers with this too.

use base64::Engine as _;

/// Longest user name kept in a fact (it is masked before any output anyway).
const MAX_USER: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    Basic,
    Digest,
    Bearer,
    /// NTLM, Negotiate, vendor schemes: named, token length known.
    Other(String),
}

/// Schemes whose secret never crosses the wire: the client answers the server's
/// challenge (Digest, NTLM, Negotiate, SCRAM, HOBA, Mutual) or signs the request (AWS
/// SigV4). What they expose is the user name (rule 6006); Basic, bearer and key
/// schemes send a secret that can be replayed or read (6001).
const CHALLENGE_RESPONSE_SCHEMES: [&str; 7] = [
    "NTLM",
    "Negotiate",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "HOBA",
    "Mutual",
    "AWS4-HMAC-SHA256",
];

impl AuthScheme {
    pub fn challenge_response(&self) -> bool {
        match self {
            AuthScheme::Digest => true,
            AuthScheme::Other(name) => CHALLENGE_RESPONSE_SCHEMES.contains(&name.as_str()),
            AuthScheme::Basic | AuthScheme::Bearer => false,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            AuthScheme::Basic => "Basic",
            AuthScheme::Digest => "Digest",
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Other(name) => name,
        }
    }
}

/// Credentials seen in an `Authorization` or `Proxy-Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCredentials {
    /// The header's name as RFC 9110 spells it.
    pub header: &'static str,
    pub scheme: AuthScheme,
    /// The user name (Basic's user-id, Digest's `username`), raw: mask before output.
    pub user: Option<String>,
    /// Length of the secret part: Basic password, bearer token, digest response.
    pub secret_len: usize,
}

/// IANA HTTP Authentication Scheme Registry, plus NTLM and AWS SigV4 seen in practice.
const REGISTERED_SCHEMES: [&str; 16] = [
    "Concealed",
    "DPoP",
    "GNAP",
    "HOBA",
    "Mutual",
    "Negotiate",
    "OAuth",
    "PrivateToken",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "vapid",
    "NTLM",
    "AWS4-HMAC-SHA256",
    "Token",
    "ApiKey",
    "Key",
];

/// Parses an `Authorization`-style value.
pub(crate) fn credentials(header: &'static str, value: &[u8]) -> Option<HttpCredentials> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let truncate = |s: &str| s.chars().take(MAX_USER).collect::<String>();
    let creds = if scheme.eq_ignore_ascii_case("basic") {
        // RFC 7617 §2: base64(user-id ":" password)
        match base64::engine::general_purpose::STANDARD.decode(rest) {
            Ok(decoded) => {
                let text = String::from_utf8_lossy(&decoded);
                let (user, password) = text.split_once(':').unwrap_or((&text, ""));
                HttpCredentials {
                    header,
                    scheme: AuthScheme::Basic,
                    user: Some(truncate(user)),
                    secret_len: password.chars().count(),
                }
            }
            Err(_) => HttpCredentials {
                header,
                scheme: AuthScheme::Basic,
                user: None,
                secret_len: rest.len(),
            },
        }
    } else if scheme.eq_ignore_ascii_case("digest") {
        // RFC 7616 §3.4: comma-separated auth-params; username="…", response="…"
        let param = |name: &str| {
            rest.split(',').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        };
        HttpCredentials {
            header,
            scheme: AuthScheme::Digest,
            user: param("username").map(|u| truncate(&u)),
            secret_len: param("response").map_or(0, |r| r.len()),
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        HttpCredentials {
            header,
            scheme: AuthScheme::Bearer,
            user: None,
            secret_len: rest.len(),
        }
    } else {
        // Only registered scheme names reach the evidence: a client that sends a bare
        // token ("Authorization: s3cret") would otherwise have its secret printed as
        // the scheme.
        let known = REGISTERED_SCHEMES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(scheme));
        // NTLM's AUTHENTICATE message (also inside Negotiate) names the user.
        let user = matches!(known, Some(&"NTLM" | &"Negotiate"))
            .then(|| base64::engine::general_purpose::STANDARD.decode(rest).ok())
            .flatten()
            .and_then(|token| ntlm_user(&token))
            .map(|u| truncate(&u));
        HttpCredentials {
            header,
            scheme: AuthScheme::Other(known.map_or("unregistered scheme", |k| k).to_string()),
            user,
            secret_len: if known.is_some() {
                rest.len()
            } else {
                value.len()
            },
        }
    };
    Some(creds)
}

/// The user name of an NTLM AUTHENTICATE message (MS-NLMP §2.2.1.3), found in a
/// token that may wrap it (SPNEGO): `NTLMSSP\0`, message type 3, the UserName field's
/// length and offset at 36 and 40, in UTF-16LE when the UNICODE flag (bit 0 of the
/// flags at 60) is set.
pub(crate) fn ntlm_user(token: &[u8]) -> Option<String> {
    const SIGNATURE: &[u8] = b"NTLMSSP\0";
    let at = token
        .windows(SIGNATURE.len())
        .position(|w| w == SIGNATURE)?;
    let message = &token[at..];
    let le16 = |i: usize| Some(u16::from_le_bytes([*message.get(i)?, *message.get(i + 1)?]));
    let le32 = |i: usize| Some(u32::from_le_bytes(message.get(i..i + 4)?.try_into().ok()?));
    if le32(8)? != 3 {
        return None;
    }
    let len = usize::from(le16(36)?);
    let offset = usize::try_from(le32(40)?).ok()?;
    let name = message.get(offset..offset.checked_add(len)?)?;
    let unicode = le32(60).is_some_and(|flags| flags & 1 != 0);
    let user = if unicode {
        let units: Vec<u16> = name
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(name).into_owned()
    };
    (!user.is_empty()).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unregistered_scheme_never_shows_the_value() {
        let c = credentials("Authorization", b"hunter2-secret").expect("credentials");
        assert_eq!(c.scheme, AuthScheme::Other("unregistered scheme".into()));
        assert_eq!(c.secret_len, 14);
        let c = credentials("Authorization", b"ntlm TlRMTVNTUAAB").expect("credentials");
        assert_eq!(c.scheme.as_str(), "NTLM");
    }

    #[test]
    fn ntlm_authenticate_names_the_user_and_is_challenge_response() {
        use base64::Engine as _;
        // NTLMSSP type 3: fields at 12..60, flags at 60 (UNICODE), user "bob" at 72.
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&3u32.to_le_bytes());
        m.resize(72, 0);
        m[36..38].copy_from_slice(&6u16.to_le_bytes());
        m[38..40].copy_from_slice(&6u16.to_le_bytes());
        m[40..44].copy_from_slice(&72u32.to_le_bytes());
        m[60..64].copy_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&[b'b', 0, b'o', 0, b'b', 0]);
        let value = format!(
            "NTLM {}",
            base64::engine::general_purpose::STANDARD.encode(&m)
        );
        let c = credentials("Authorization", value.as_bytes()).expect("credentials");
        assert_eq!(c.user.as_deref(), Some("bob"));
        assert!(c.scheme.challenge_response());
        // A user-name field pointing past the message is ignored, not a panic.
        m[40..44].copy_from_slice(&9000u32.to_le_bytes());
        assert_eq!(ntlm_user(&m), None);
        let basic = credentials("Authorization", b"Basic dTpw").expect("credentials");
        assert!(!basic.scheme.challenge_response());
    }
}
