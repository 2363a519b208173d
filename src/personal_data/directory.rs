//! Directory attributes that hold personal data (LDAP entries today): which ones, and
//! how their values are looked at. Part of the personal-data vocabulary, so a
//! dissector only asks and never decides what is personal.

/// How a personal attribute's values are looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Treatment {
    /// A person's name: `Field::PersonName`.
    Name,
    /// A telephone number: `Field::PhoneNumber`.
    Phone,
    /// Free text (mail, title, address, identifiers): `Field::Text`.
    Text,
    /// A password or its hash: never scanned, only counted.
    Secret,
    /// An image: not scanned, its presence is reported.
    Photo,
}

/// A personal attribute: its names (the first is canonical; the others are RFC 4519
/// aliases) and its OID.
pub struct PersonalAttribute {
    pub names: &'static [&'static str],
    pub oid: &'static str,
    pub treatment: Treatment,
}

const fn attr(
    names: &'static [&'static str],
    oid: &'static str,
    treatment: Treatment,
) -> PersonalAttribute {
    PersonalAttribute {
        names,
        oid,
        treatment,
    }
}

/// RFC 4519, RFC 2798 (inetOrgPerson), RFC 1274 and Active Directory's schema.
const PERSONAL_ATTRIBUTES: &[PersonalAttribute] = &[
    attr(&["cn", "commonName"], "2.5.4.3", Treatment::Name),
    attr(&["sn", "surname"], "2.5.4.4", Treatment::Name),
    attr(&["givenName", "gn"], "2.5.4.42", Treatment::Name),
    attr(
        &["displayName"],
        "2.16.840.1.113730.3.1.241",
        Treatment::Name,
    ),
    attr(
        &["mail", "rfc822Mailbox"],
        "0.9.2342.19200300.100.1.3",
        Treatment::Text,
    ),
    attr(&["telephoneNumber"], "2.5.4.20", Treatment::Phone),
    attr(
        &["mobile", "mobileTelephoneNumber"],
        "0.9.2342.19200300.100.1.41",
        Treatment::Phone,
    ),
    attr(
        &["homePhone", "homeTelephoneNumber"],
        "0.9.2342.19200300.100.1.20",
        Treatment::Phone,
    ),
    attr(&["ipPhone"], "1.2.840.113556.1.4.721", Treatment::Phone),
    attr(
        &["facsimileTelephoneNumber", "fax"],
        "2.5.4.23",
        Treatment::Phone,
    ),
    attr(
        &["jpegPhoto"],
        "0.9.2342.19200300.100.1.60",
        Treatment::Photo,
    ),
    attr(
        &["thumbnailPhoto"],
        "1.2.840.113556.1.4.7000.102.50",
        Treatment::Photo,
    ),
    attr(&["title"], "2.5.4.12", Treatment::Text),
    attr(&["department"], "1.2.840.113556.1.2.141", Treatment::Text),
    attr(&["street", "streetAddress"], "2.5.4.9", Treatment::Text),
    attr(&["l", "localityName"], "2.5.4.7", Treatment::Text),
    attr(&["postalCode"], "2.5.4.17", Treatment::Text),
    attr(&["employeeID"], "1.2.840.113556.1.4.35", Treatment::Text),
    attr(
        &["employeeNumber"],
        "2.16.840.1.113730.3.1.3",
        Treatment::Text,
    ),
    attr(
        &["uid", "userid"],
        "0.9.2342.19200300.100.1.1",
        Treatment::Text,
    ),
    attr(
        &["sAMAccountName"],
        "1.2.840.113556.1.4.221",
        Treatment::Text,
    ),
    attr(&["userPassword"], "2.5.4.35", Treatment::Secret),
    attr(&["unicodePwd"], "1.2.840.113556.1.4.90", Treatment::Secret),
];

/// The personal attribute an AttributeDescription (RFC 4512 §2.5) names: options
/// (`cn;lang-en`) are dropped, names compare case-insensitively, OIDs exactly (with
/// or without the old `OID.` prefix).
pub fn personal_attribute(description: &str) -> Option<&'static PersonalAttribute> {
    let base = description.split(';').next().unwrap_or(description).trim();
    let base = match base.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("oid.") => &base[4..],
        _ => base,
    };
    PERSONAL_ATTRIBUTES
        .iter()
        .find(|a| a.oid == base || a.names.iter().any(|n| n.eq_ignore_ascii_case(base)))
}
