//! Check digits and structure rules: what turns a digit run into a card number, an
//! IBAN or a national identifier. Every validator takes the matched bytes (separators
//! included) and answers yes or no; none allocates for ASCII input.

/// Digits of `s`, ignoring spaces, dashes, dots and slashes; `None` if anything else.
fn digits(s: &[u8]) -> Option<impl Iterator<Item = u8> + Clone + '_> {
    if s.iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'/'))
    {
        Some(s.iter().filter(|b| b.is_ascii_digit()).map(|b| b - b'0'))
    } else {
        None
    }
}

/// ISO/IEC 7812-1 Luhn check.
pub fn luhn(s: &[u8]) -> bool {
    let Some(ds) = digits(s) else { return false };
    let all: Vec<u8> = ds.collect();
    if all.len() < 2 {
        return false;
    }
    let sum: u32 = all
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Issuer identification ranges of the card schemes in use (ISO/IEC 7812, scheme
/// documentation), with the lengths each issues: (prefix low, prefix high, prefix
/// digits, min length, max length). Maestro is listed by its actual prefixes, not the
/// whole 50–69 block, which would take in IMSIs and other 15-digit identifiers.
const IIN_RANGES: [(u32, u32, u32, usize, usize); 19] = [
    (4, 4, 1, 13, 19),       // Visa
    (51, 55, 2, 16, 16),     // Mastercard
    (2221, 2720, 4, 16, 16), // Mastercard 2-series
    (34, 34, 2, 15, 15),     // American Express
    (37, 37, 2, 15, 15),     // American Express
    (6011, 6011, 4, 16, 19), // Discover
    (644, 659, 3, 16, 19),   // Discover
    (3528, 3589, 4, 16, 19), // JCB
    (300, 305, 3, 14, 19),   // Diners Club
    (36, 36, 2, 14, 19),     // Diners Club
    (38, 39, 2, 16, 19),     // Diners Club
    (62, 62, 2, 16, 19),     // UnionPay
    (5018, 5018, 4, 12, 19), // Maestro
    (5020, 5020, 4, 12, 19), // Maestro
    (5038, 5038, 4, 12, 19), // Maestro
    (5893, 5893, 4, 12, 19), // Maestro
    (6304, 6304, 4, 12, 19), // Maestro
    (6759, 6763, 4, 12, 19), // Maestro
    (60, 60, 2, 16, 16),     // RuPay
];

/// A payment card number: 12–19 digits, a known issuer range for its length, Luhn.
pub fn card_number(s: &[u8]) -> bool {
    let Some(ds) = digits(s) else { return false };
    let all: Vec<u8> = ds.collect();
    let len = all.len();
    if !(12..=19).contains(&len) {
        return false;
    }
    let prefix = |n: u32| {
        all.iter()
            .take(n as usize)
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let known = IIN_RANGES
        .iter()
        .any(|&(lo, hi, n, min, max)| (lo..=hi).contains(&prefix(n)) && (min..=max).contains(&len));
    known && luhn(s)
}

/// IBAN lengths by country (ISO 13616 registry, SWIFT release 2024).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// ISO 13616: country length and mod-97 = 1 over the rearranged number.
pub fn iban(s: &[u8]) -> bool {
    let compact: Vec<u8> = s
        .iter()
        .filter(|b| **b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() < 15 || !compact.iter().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let country = [compact[0], compact[1]];
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| **c == country) else {
        return false;
    };
    if len != compact.len() {
        return false;
    }
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    let mut remainder: u32 = 0;
    for &b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// US Social Security Number (SSA rules since 2011): area not 000, 666 or 9xx; group
/// not 00; serial not 0000.
pub fn us_ssn(s: &[u8]) -> bool {
    let Some(ds) = digits(s) else { return false };
    let d: Vec<u32> = ds.map(u32::from).collect();
    if d.len() != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// UK National Insurance number (HMRC NIM39110): two prefix letters (D, F, I, Q, U, V
/// never; O not second; BG, GB, KN, NK, NT, TN, ZZ not allocated), six digits, A–D.
pub fn uk_nino(s: &[u8]) -> bool {
    let compact: Vec<u8> = s
        .iter()
        .filter(|b| **b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() != 9 {
        return false;
    }
    let (a, b) = (compact[0], compact[1]);
    let bad_first = b"DFIQUV";
    let bad_second = b"DFIQUVO";
    let unallocated: [&[u8; 2]; 7] = [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"];
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !bad_first.contains(&a)
        && !bad_second.contains(&b)
        && !unallocated.contains(&&[a, b])
        && compact[2..8].iter().all(u8::is_ascii_digit)
        && matches!(compact[8], b'A'..=b'D')
}

/// E.164: at most 15 digits, at least 8 for a reachable subscriber number.
pub fn e164(s: &[u8]) -> bool {
    let n = s.iter().filter(|b| b.is_ascii_digit()).count();
    (8..=15).contains(&n) && !all_same_digit(s)
}

/// 1111111, 0000000: fillers, not numbers.
fn all_same_digit(s: &[u8]) -> bool {
    let mut it = s.iter().filter(|b| b.is_ascii_digit());
    match it.next() {
        Some(first) => it.all(|b| b == first),
        None => true,
    }
}

/// A national phone number found by context: 6–15 digits, not one repeated digit.
pub fn phone_national(s: &[u8]) -> bool {
    let n = s.iter().filter(|b| b.is_ascii_digit()).count();
    (6..=15).contains(&n) && !all_same_digit(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_cards() {
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        assert!(card_number(b"4111 1111 1111 1111"));
        assert!(card_number(b"5500-0000-0000-0004"));
        assert!(card_number(b"378282246310005"));
        assert!(card_number(b"6011111111111117"));
        assert!(!card_number(b"4111 1111 1111 1112"), "Luhn fails");
        assert!(
            !card_number(b"1234567812345670"),
            "Luhn ok but no issuer starts with 1"
        );
        assert!(!card_number(b"37828224631000"), "Amex is 15 digits");
        assert!(!card_number(b"41111111111"), "too short");
        assert!(card_number(b"6759649826438453"), "Maestro");
        assert!(
            !card_number(b"503114000000002"),
            "5031 is no Maestro prefix"
        );
    }

    #[test]
    fn ibans() {
        assert!(iban(b"DE89 3704 0044 0532 0130 00"));
        assert!(iban(b"GB82WEST12345698765432"));
        assert!(iban(b"FR1420041010050500013M02606"));
        assert!(!iban(b"DE89 3704 0044 0532 0130 01"), "mod 97");
        assert!(!iban(b"DE89 3704 0044 0532 0130"), "length");
        assert!(!iban(b"XX89370400440532013000"), "country");
    }

    #[test]
    fn national_ids() {
        assert!(us_ssn(b"123-45-6789"));
        assert!(!us_ssn(b"666-45-6789"));
        assert!(!us_ssn(b"900-45-6789"));
        assert!(!us_ssn(b"123-00-6789"));
        assert!(!us_ssn(b"123-45-0000"));
        assert!(uk_nino(b"AB 12 34 56 C"));
        assert!(uk_nino(b"JG103759A"));
        assert!(!uk_nino(b"BG123456C"), "unallocated prefix");
        assert!(!uk_nino(b"DA123456C"), "D never first");
        assert!(!uk_nino(b"AB123456E"), "suffix A-D");
    }

    #[test]
    fn phones() {
        assert!(e164(b"+441632960961"));
        assert!(!e164(b"+1234567"), "too short");
        assert!(!e164(b"+1234567890123456"), "too long");
        assert!(!e164(b"+11111111111"), "filler");
        assert!(phone_national(b"030 1234567"));
        assert!(!phone_national(b"12345"));
    }
}
