//! Masking rules of DESIGN §5, the only way evidence is made. Cards keep at most the
//! first 6 and last 4 digits, phone numbers the last 4, e-mail addresses the first
//! letter and the domain, names the first letter of each word; passwords, communities,
//! keys and PINs are never shown — only that they are present and how long they are.

use serde::Deserialize;

/// How a matched value is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskStyle {
    Card,
    Iban,
    Email,
    Phone,
    NationalId,
    Name,
    /// Never shown: presence and length only.
    Secret,
}

/// Keeps `keep_head` leading and `keep_tail` trailing digits, stars the others;
/// separators stay so the shape is recognisable.
fn star_digits(value: &str, keep_head: usize, keep_tail: usize) -> String {
    let total = value.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= keep_head || seen > total.saturating_sub(keep_tail) {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// `4111 1111 1111 1111` → `4111 11** **** 1111`.
pub fn card(value: &str) -> String {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    // Short numbers show less, so that head and tail never cover more than half.
    let (head, tail) = if digits >= 16 { (6, 4) } else { (4, 4) };
    star_digits(value, head, tail)
}

/// `+44 1632 960961` → `+** **** **0961`. Never more than half the digits: a
/// four-digit extension shows two, not all four.
pub fn phone(value: &str) -> String {
    let total = value.chars().filter(char::is_ascii_digit).count();
    star_digits(value, 0, 4.min(total / 2))
}

/// `DE89 3704 0044 0532 0130 00` → `DE** **** **** **** **30 00`: country and last 4.
pub fn iban(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let total = value.chars().filter(char::is_ascii_alphanumeric).count();
    let mut seen = 0;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            seen += 1;
            out.push(if seen <= 2 || seen > total.saturating_sub(4) {
                c
            } else {
                '*'
            });
        } else {
            out.push(c);
        }
    }
    out
}

/// `alice.martin@example.com` → `a***@example.com`.
pub fn email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", user_name(local)),
        None => user_name(value),
    }
}

/// Identifiers show their last 2 characters only: `123-45-6789` → `***-**-**89`.
pub fn national_id(value: &str) -> String {
    let total = value.chars().filter(char::is_ascii_alphanumeric).count();
    let keep = 2.min(total / 2);
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                seen += 1;
                if seen > total - keep {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// `Jane Doe` → `J*** D**`: each word's initial, the rest starred.
pub fn name(value: &str) -> String {
    value
        .split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => std::iter::once(first)
                    .chain(chars.map(|_| '*'))
                    .collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `alice.martin` → `a***`. The length is hidden too; one letter is all an auditor
/// needs to tell accounts apart on one flow.
pub fn user_name(value: &str) -> String {
    match value.chars().next() {
        Some(first) => format!("{first}***"),
        None => "(empty)".to_string(),
    }
}

/// A file name: `0612345678_smith.wav` → `******5678_s****.wav`. Recorders and exports
/// name files after numbers and people, so the stem is masked as a phone number (the
/// last 4 of its digits) and each run of letters as a name (its initial); separators and
/// the extension (what the finding is about) stay.
pub fn file_name(value: &str) -> String {
    let (stem, ext) = match value.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (stem, Some(ext))
        }
        _ => (value, None),
    };
    let mut previous_letter = false;
    let mut out: String = phone(stem)
        .chars()
        .map(|c| {
            let letter = c.is_alphabetic();
            let shown = if letter && previous_letter { '*' } else { c };
            previous_letter = letter;
            shown
        })
        .collect();
    if let Some(ext) = ext {
        out.push('.');
        out.push_str(ext);
    }
    out
}

/// A password, token or key: presence and length, never content.
pub fn secret(what: &str, len: usize) -> String {
    if len == 0 {
        format!("{what} empty")
    } else {
        format!("{what} present ({len} chars)")
    }
}

/// Applies `style` to a matched value; `label` names a secret (`password`, `pin`).
pub fn apply(style: MaskStyle, value: &str, label: &str) -> String {
    match style {
        MaskStyle::Card => card(value),
        MaskStyle::Iban => iban(value),
        MaskStyle::Email => email(value),
        MaskStyle::Phone => phone(value),
        MaskStyle::NationalId => national_id(value),
        MaskStyle::Name => name(value),
        MaskStyle::Secret => secret(label, value.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(file_name("0612345678_smith.wav"), "******5678_s****.wav");
        assert_eq!(
            file_name("rec-441632960961-jane-doe.wav"),
            "r**-********0961-j***-d**.wav"
        );
        assert_eq!(file_name("Jane Doe.mp3"), "J*** D**.mp3");
        assert_eq!(file_name("noextension"), "n**********");
        assert_eq!(file_name(".wav"), ".w**");
    }

    #[test]
    fn masks() {
        assert_eq!(card("4111 1111 1111 1111"), "4111 11** **** 1111");
        assert_eq!(card("378282246310005"), "3782*******0005");
        assert_eq!(phone("+441632960961"), "+********0961");
        assert_eq!(phone("sip:3510"), "sip:**10");
        assert_eq!(phone("12"), "*2");
        assert_eq!(national_id("A1"), "*1");
        assert_eq!(
            iban("DE89 3704 0044 0532 0130 00"),
            "DE** **** **** **** **30 00"
        );
        assert_eq!(email("alice.martin@example.com"), "a***@example.com");
        assert_eq!(national_id("123-45-6789"), "***-**-**89");
        assert_eq!(name("Jane  Doe"), "J*** D**");
        assert_eq!(name("Élodie"), "É*****");
        assert_eq!(user_name("alice.martin"), "a***");
        assert_eq!(user_name(""), "(empty)");
        assert_eq!(secret("password", 21), "password present (21 chars)");
        assert_eq!(
            apply(MaskStyle::Secret, "hunter2", "pin"),
            "pin present (7 chars)"
        );
    }
}
