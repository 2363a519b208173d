//! What the TLS/DTLS dissector tells the policy and the flow record.

use std::fmt;

use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherKx, TlsCipherMac, TlsCipherSuite};

/// A protocol version as negotiated or offered. DTLS keeps its own names (the output
/// says `DTLS 1.2`), but compares by the TLS version it is built on (RFC 6347 §1,
/// RFC 9147 §1): DTLS 1.0 is TLS 1.1, DTLS 1.2 is TLS 1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Ssl2,
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    Dtls10,
    Dtls12,
    Dtls13,
    /// A TLS 1.3 draft (0x7f01–0x7f1c) or one of Facebook's experimental TLS 1.3 codes
    /// (0xfb14–0xfb17, 0xfb1a) that Suricata names; the wire code is kept. TLS 1.3 for
    /// every rule.
    Tls13Draft(u16),
    /// A value nobody assigns (GREASE that slipped through, garbage).
    Unknown(u16),
}

impl TlsVersion {
    pub fn from_wire(v: u16) -> Self {
        match v {
            0x0002 => TlsVersion::Ssl2,
            0x0300 => TlsVersion::Ssl3,
            0x0301 => TlsVersion::Tls10,
            0x0302 => TlsVersion::Tls11,
            0x0303 => TlsVersion::Tls12,
            0x0304 => TlsVersion::Tls13,
            // OpenSSL's DTLS1_BAD_VER, the pre-RFC 4347 DTLS still spoken by Cisco
            // AnyConnect: DTLS 1.0 in all but the number.
            0xfeff | 0x0100 => TlsVersion::Dtls10,
            0xfefd => TlsVersion::Dtls12,
            0xfefc => TlsVersion::Dtls13,
            code if draft_name(code).is_some() => TlsVersion::Tls13Draft(code),
            other => TlsVersion::Unknown(other),
        }
    }

    /// The name Suricata writes in `tls.version` (`SSLVersionToString`, Suricata 8
    /// `rust/src/tls_version.rs`): `TLSv1` for 1.0 but `TLS 1.1` on, drafts as
    /// `TLS 1.3 draft-NN`. Suricata has no DTLS parser; the DTLS names are DESIGN §5's.
    /// Unknown codes are `unknown` here (a bounded label for metrics and the summary);
    /// the EVE line writes them as Suricata does, see [`fmt::Display`].
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Ssl2 => "SSLv2",
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
            TlsVersion::Dtls10 => "DTLS 1.0",
            TlsVersion::Dtls12 => "DTLS 1.2",
            TlsVersion::Dtls13 => "DTLS 1.3",
            TlsVersion::Tls13Draft(code) => draft_name(code).unwrap_or("TLS 1.3"),
            TlsVersion::Unknown(_) => "unknown",
        }
    }

    /// Security rank on the TLS scale: SSLv2 = 1 … TLS 1.3 = 6 (drafts and vendor codes
    /// of TLS 1.3 included); `None` for unknown values, which are neither weak nor
    /// strong: no rule fires on them alone.
    pub fn rank(self) -> Option<u8> {
        match self {
            TlsVersion::Ssl2 => Some(1),
            TlsVersion::Ssl3 => Some(2),
            TlsVersion::Tls10 => Some(3),
            TlsVersion::Tls11 | TlsVersion::Dtls10 => Some(4),
            TlsVersion::Tls12 | TlsVersion::Dtls12 => Some(5),
            TlsVersion::Tls13 | TlsVersion::Dtls13 | TlsVersion::Tls13Draft(_) => Some(6),
            TlsVersion::Unknown(_) => None,
        }
    }

    /// Whether this version is below `min`; never for an unknown code.
    pub fn below(self, min: TlsVersion) -> bool {
        matches!((self.rank(), min.rank()), (Some(v), Some(m)) if v < m)
    }

    /// Parses the configuration form: `1.2`, `TLS 1.2`, `tls1.2`, `SSLv3`.
    pub fn parse_config(s: &str) -> Option<Self> {
        let norm: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let norm = norm
            .strip_prefix("tls")
            .unwrap_or(&norm)
            .trim_start_matches('v');
        match norm {
            "1.0" | "1" => Some(TlsVersion::Tls10),
            "1.1" => Some(TlsVersion::Tls11),
            "1.2" => Some(TlsVersion::Tls12),
            "1.3" => Some(TlsVersion::Tls13),
            "sslv3" | "ssl3" => Some(TlsVersion::Ssl3),
            _ => None,
        }
    }
}

/// Suricata's names of the TLS 1.3 draft and Facebook experimental version codes.
fn draft_name(code: u16) -> Option<&'static str> {
    Some(match code {
        0x7f01..=0x7f0f => "TLS 1.3 draft-<16",
        0x7f10 => "TLS 1.3 draft-16",
        0x7f11 => "TLS 1.3 draft-17",
        0x7f12 => "TLS 1.3 draft-18",
        0x7f13 => "TLS 1.3 draft-19",
        0x7f14 => "TLS 1.3 draft-20",
        0x7f15 => "TLS 1.3 draft-21",
        0x7f16 => "TLS 1.3 draft-22",
        0x7f17 => "TLS 1.3 draft-23",
        0x7f18 => "TLS 1.3 draft-24",
        0x7f19 => "TLS 1.3 draft-25",
        0x7f1a => "TLS 1.3 draft-26",
        0x7f1b => "TLS 1.3 draft-27",
        0x7f1c => "TLS 1.3 draft-28",
        0xfb14 => "TLS 1.3 draft-20-fb",
        0xfb15 => "TLS 1.3 draft-21-fb",
        0xfb16 => "TLS 1.3 draft-22-fb",
        0xfb17 => "TLS 1.3 draft-23-fb",
        0xfb1a => "TLS 1.3 draft-26-fb",
        _ => return None,
    })
}

/// The EVE spelling: Suricata's name, and for a code nobody names the decimal number
/// Suricata 8 writes (`Cow::Owned(v.to_string())` in its `SSLVersionToString`).
impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsVersion::Unknown(code) => write!(f, "{code}"),
            known => f.write_str(known.as_str()),
        }
    }
}

/// A negotiated cipher: a TLS suite id, or an SSLv2 three-byte cipher kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Tls(u16),
    Ssl2(u32),
}

/// Why a cipher is weak, the classes of DESIGN §6 rule 1002.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherWeakness {
    Null,
    Export,
    Anonymous,
    Rc4,
    Des,
    TripleDes,
    Md5Mac,
}

impl CipherWeakness {
    pub fn as_str(self) -> &'static str {
        match self {
            CipherWeakness::Null => "NULL encryption",
            CipherWeakness::Export => "EXPORT-grade",
            CipherWeakness::Anonymous => "anonymous key exchange",
            CipherWeakness::Rc4 => "RC4",
            CipherWeakness::Des => "DES",
            CipherWeakness::TripleDes => "3DES",
            CipherWeakness::Md5Mac => "MD5 MAC",
        }
    }
}

/// SSLv2 cipher kinds (SSL 2.0 draft, appendix C); every one uses an MD5 MAC.
const SSL2_CIPHERS: [(u32, &str, CipherWeakness); 7] = [
    (0x010080, "SSL_CK_RC4_128_WITH_MD5", CipherWeakness::Rc4),
    (
        0x020080,
        "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
        CipherWeakness::Export,
    ),
    (
        0x030080,
        "SSL_CK_RC2_128_CBC_WITH_MD5",
        CipherWeakness::Md5Mac,
    ),
    (
        0x040080,
        "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
        CipherWeakness::Export,
    ),
    (
        0x050080,
        "SSL_CK_IDEA_128_CBC_WITH_MD5",
        CipherWeakness::Md5Mac,
    ),
    (0x060040, "SSL_CK_DES_64_CBC_WITH_MD5", CipherWeakness::Des),
    (
        0x0700c0,
        "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
        CipherWeakness::TripleDes,
    ),
];

impl Cipher {
    /// IANA name, or the hex value for suites no registry names.
    pub fn name(self) -> String {
        match self {
            Cipher::Tls(id) => match TlsCipherSuite::from_id(id) {
                Some(suite) => suite.name.to_string(),
                None => format!("0x{id:04X}"),
            },
            Cipher::Ssl2(kind) => match SSL2_CIPHERS.iter().find(|(k, _, _)| *k == kind) {
                Some((_, name, _)) => (*name).to_string(),
                None => format!("0x{kind:06X}"),
            },
        }
    }

    /// The first weakness class that applies, if any.
    pub fn weakness(self) -> Option<CipherWeakness> {
        match self {
            Cipher::Ssl2(kind) => Some(
                SSL2_CIPHERS
                    .iter()
                    .find(|(k, _, _)| *k == kind)
                    .map(|(_, _, w)| *w)
                    .unwrap_or(CipherWeakness::Md5Mac),
            ),
            Cipher::Tls(id) => {
                let suite = TlsCipherSuite::from_id(id)?;
                if suite.enc == TlsCipherEnc::Null {
                    Some(CipherWeakness::Null)
                } else if suite.name.contains("EXPORT") {
                    Some(CipherWeakness::Export)
                } else if suite.au == TlsCipherAu::Null
                    && !matches!(suite.kx, TlsCipherKx::Tls13 | TlsCipherKx::Psk)
                {
                    Some(CipherWeakness::Anonymous)
                } else if suite.enc == TlsCipherEnc::Rc4 {
                    Some(CipherWeakness::Rc4)
                } else if suite.enc == TlsCipherEnc::Des {
                    Some(CipherWeakness::Des)
                } else if suite.enc == TlsCipherEnc::TripleDes {
                    Some(CipherWeakness::TripleDes)
                } else if suite.mac == TlsCipherMac::HmacMd5 {
                    Some(CipherWeakness::Md5Mac)
                } else {
                    None
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsFact {
    /// The client's offer: the highest version it accepts (`supported_versions` when
    /// present, else the legacy field) and the server name it asked for.
    ClientHello {
        max_version: TlsVersion,
        sni: Option<String>,
    },
    /// The server's choice (a HelloRetryRequest is not a choice and never appears here).
    ServerHello { version: TlsVersion, cipher: Cipher },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_classes() {
        assert_eq!(Cipher::Tls(0x003b).weakness(), Some(CipherWeakness::Null)); // RSA_WITH_NULL_SHA256
        assert_eq!(Cipher::Tls(0x0005).weakness(), Some(CipherWeakness::Rc4)); // RSA_WITH_RC4_128_SHA
        assert_eq!(
            Cipher::Tls(0x000a).weakness(),
            Some(CipherWeakness::TripleDes)
        );
        assert_eq!(Cipher::Tls(0x0009).weakness(), Some(CipherWeakness::Des));
        assert_eq!(Cipher::Tls(0x0003).weakness(), Some(CipherWeakness::Export));
        assert_eq!(
            Cipher::Tls(0x0034).weakness(),
            Some(CipherWeakness::Anonymous)
        ); // DH_anon AES128
        assert_eq!(Cipher::Tls(0x0004).weakness(), Some(CipherWeakness::Rc4)); // RC4_128_MD5: RC4 first
        assert_eq!(Cipher::Tls(0xc02f).weakness(), None);
        assert_eq!(Cipher::Tls(0x1301).weakness(), None);
        assert_eq!(Cipher::Tls(0x00ae).weakness(), None); // PSK_WITH_AES_128_CBC_SHA256
        assert_eq!(
            Cipher::Tls(0xc02f).name(),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(Cipher::Tls(0xfefe).name(), "0xFEFE");
        assert_eq!(Cipher::Ssl2(0x010080).weakness(), Some(CipherWeakness::Rc4));
    }

    #[test]
    fn version_rank_and_config() {
        assert!(TlsVersion::Dtls10.rank() < TlsVersion::Tls12.rank());
        assert_eq!(TlsVersion::Dtls12.rank(), TlsVersion::Tls12.rank());
        assert_eq!(TlsVersion::parse_config("TLS 1.2"), Some(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse_config("1.3"), Some(TlsVersion::Tls13));
        assert_eq!(TlsVersion::parse_config("tlsv1.1"), Some(TlsVersion::Tls11));
        assert_eq!(TlsVersion::parse_config("2.0"), None);
    }

    /// The strings of Suricata's `SSLVersionToString`, drafts and vendor codes included.
    #[test]
    fn version_names_are_suricatas() {
        let name = |code| TlsVersion::from_wire(code).to_string();
        assert_eq!(name(0x0002), "SSLv2");
        assert_eq!(name(0x0300), "SSLv3");
        assert_eq!(name(0x0301), "TLSv1");
        assert_eq!(name(0x0302), "TLS 1.1");
        assert_eq!(name(0x0303), "TLS 1.2");
        assert_eq!(name(0x0304), "TLS 1.3");
        assert_eq!(name(0x7f05), "TLS 1.3 draft-<16");
        assert_eq!(name(0x7f12), "TLS 1.3 draft-18");
        assert_eq!(name(0x7f1c), "TLS 1.3 draft-28");
        assert_eq!(name(0xfb17), "TLS 1.3 draft-23-fb");
        assert_eq!(name(0xfb1a), "TLS 1.3 draft-26-fb");
        assert_eq!(name(0xfefd), "DTLS 1.2");
        // Not a draft Suricata names: its decimal code, as Suricata 8 writes it.
        assert_eq!(name(0x7f1d), "32541");
        assert_eq!(TlsVersion::from_wire(0x7f1d).as_str(), "unknown");
    }

    /// Issue 14: a draft or vendor TLS 1.3 is TLS 1.3; an unknown code is neither weak
    /// nor strong.
    #[test]
    fn drafts_are_tls13_and_unknown_is_never_below() {
        for code in [0x7f12, 0x7f01, 0xfb1a, 0xfb14] {
            let v = TlsVersion::from_wire(code);
            assert_eq!(v.rank(), TlsVersion::Tls13.rank(), "{code:#06x}");
            assert!(!v.below(TlsVersion::Tls13));
        }
        assert!(!TlsVersion::Unknown(0x1234).below(TlsVersion::Tls12));
        assert!(TlsVersion::Tls11.below(TlsVersion::Tls12));
        assert!(!TlsVersion::Tls12.below(TlsVersion::Tls12));
    }
}
