//! AASP (Aastra Signalling Protocol) bodies in SIP, `Content-Type:
//! message/x-aasp-signalling`: how Aastra / MiVoice-5000-class PBXs drive their phones'
//! displays and keys. The layout follows Wireshark's `packet-aastra-aasp.c` (no public
//! specification): the body is `a=` and then binary commands, each a byte with bit 7
//! set followed by attribute bytes below 0x80 up to the next command byte; a body
//! without `a=` is plain text.
//!
//! What is personal data: display text (`Set Text`: the caller's name and number the
//! phone shows), the incoming caller (`Incoming Caller`) and the dialled number (`Do
//! Command`).

use crate::personal_data::Field;

const SET_TEXT: u8 = 0x89;
const INCOMING_CALLER: u8 = 0xA5;
const DO_COMMAND: u8 = 0xA9;

/// Our own cap on the commands read from one body.
const MAX_COMMANDS: usize = 256;
/// Shortest printable run of an `Incoming Caller` command taken as a value.
const MIN_RUN: usize = 2;

/// The values of an AASP body worth scanning, each with the field it is.
pub fn values(body: &[u8]) -> Vec<(Field, &[u8])> {
    let Some(commands) = body.strip_prefix(b"a=") else {
        return vec![(Field::Text, body)];
    };
    let mut out = Vec::new();
    for command in split(commands).take(MAX_COMMANDS) {
        match command {
            // id, three attribute bytes, a length, the text.
            [SET_TEXT, _, _, _, len, text @ ..] => {
                let text = &text[..text.len().min(usize::from(*len))];
                out.push((display_field(text), text));
            }
            // id, line, a length, the called party number.
            [DO_COMMAND, _line, len, number @ ..] => {
                out.push((
                    Field::PhoneNumber,
                    &number[..number.len().min(usize::from(*len))],
                ));
            }
            // Layout unpublished: its printable runs are the caller's name and number
            // (a run of digits is read as a number by the name field).
            [INCOMING_CALLER, rest @ ..] => {
                for run in rest
                    .split(|b| !(0x20..0x7F).contains(b))
                    .filter(|r| r.len() >= MIN_RUN)
                {
                    out.push((Field::PersonName, run));
                }
            }
            _ => {}
        }
    }
    out
}

/// Commands: from each byte with bit 7 set to the next.
fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let start = rest.iter().position(|b| b & 0x80 != 0)?;
        let after = &rest[start + 1..];
        let end = after
            .iter()
            .position(|b| b & 0x80 != 0)
            .unwrap_or(after.len());
        let command = &rest[start..start + 1 + end];
        rest = &after[end..];
        Some(command)
    })
}

/// Display text is a person's name when it reads as one (two to four capitalised
/// words: `Jane Doe`, not `Call forwarding`), a number when it is digits; else it is
/// scanned as free text.
fn display_field(text: &[u8]) -> Field {
    let words: Vec<&[u8]> = text
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let name_word = |w: &&[u8]| {
        w[0].is_ascii_uppercase()
            && w.iter()
                .all(|b| b.is_ascii_alphabetic() || b"-'.".contains(b))
    };
    let numeric = text.iter().any(u8::is_ascii_digit)
        && text
            .iter()
            .all(|b| b.is_ascii_digit() || b"+-. ()".contains(b));
    if (2..=4).contains(&words.len()) && words.iter().all(name_word) {
        Field::PersonName
    } else if numeric {
        Field::PhoneNumber
    } else {
        Field::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_give_display_text_caller_and_dialled_number() {
        let mut body = b"a=".to_vec();
        body.extend_from_slice(&[0x80, 0x81, 0x01]);
        body.extend_from_slice(&[SET_TEXT, 0, 1, 0, 8]);
        body.extend_from_slice(b"Jane Doe");
        body.extend_from_slice(&[SET_TEXT, 0, 2, 0, 15]);
        body.extend_from_slice(b"+44 1632 960961");
        body.extend_from_slice(&[SET_TEXT, 0, 3, 0, 15]);
        body.extend_from_slice(b"Call forwarding");
        body.extend_from_slice(&[INCOMING_CALLER, 1, 8]);
        body.extend_from_slice(b"Jane Doe");
        body.extend_from_slice(&[2, 13]);
        body.extend_from_slice(b"+441632960961");
        body.extend_from_slice(&[DO_COMMAND, 1, 40]); // a length past the end
        body.extend_from_slice(b"+441632960962");
        body.push(0xFE);
        let got: Vec<(Field, &[u8])> = values(&body);
        assert_eq!(
            got,
            vec![
                (Field::PersonName, &b"Jane Doe"[..]),
                (Field::PhoneNumber, b"+44 1632 960961"),
                (Field::Text, b"Call forwarding"),
                (Field::PersonName, b"Jane Doe"),
                (Field::PersonName, b"+441632960961"),
                (Field::PhoneNumber, b"+441632960962"),
            ]
        );
    }

    #[test]
    fn plain_text_and_hostile_bodies() {
        assert_eq!(values(b"hello"), vec![(Field::Text, &b"hello"[..])]);
        assert!(values(b"a=").is_empty());
        assert!(values(&[b'a', b'=', SET_TEXT, 0]).is_empty());
        let flood = [&b"a="[..], &[0x80; 10_000]].concat();
        assert!(values(&flood).is_empty());
        assert_eq!(split(&[0x80; 10_000]).count(), 10_000);
    }
}
