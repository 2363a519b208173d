//! DTMF digits collected from one source (an RTP stream's RFC 4733 events, a dialog's
//! SIP INFO requests). Digits are held only to count them and test whether they form
//! a card number; they are never written anywhere.

use crate::personal_data::validators;

/// Digits kept per source; a PIN or card number is far shorter.
const MAX_DIGITS: usize = 64;

/// Where the digits were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfSource {
    /// RFC 4733 telephone-events in RTP.
    RtpEvents,
    /// SIP INFO `application/dtmf-relay` or `application/dtmf`.
    SipInfo,
}

impl DtmfSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DtmfSource::RtpEvents => "RFC 4733 events",
            DtmfSource::SipInfo => "SIP INFO",
        }
    }
}

/// What the policy learns: how many digits, and whether they are a card number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtmfFact {
    pub source: DtmfSource,
    pub digits: usize,
    /// The digits (0–9 only) form a Luhn-valid number of a card issuer range.
    pub card_number: bool,
    /// SIP dialog (Call-ID hash) the digits belong to, when known.
    pub dialog: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct DigitCollector {
    digits: Vec<u8>,
    /// Digits beyond `MAX_DIGITS`: counted, not kept.
    overflow: usize,
}

impl DigitCollector {
    /// Adds one key press (`0`–`9`, `*`, `#`, `A`–`D`).
    pub fn push(&mut self, key: u8) {
        if self.digits.len() < MAX_DIGITS {
            self.digits.push(key);
        } else {
            self.overflow += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// The fact for these digits; the collector is emptied.
    pub fn take(&mut self, source: DtmfSource, dialog: Option<u64>) -> Option<DtmfFact> {
        if self.digits.is_empty() {
            return None;
        }
        let numeric: Vec<u8> = self
            .digits
            .iter()
            .copied()
            .filter(u8::is_ascii_digit)
            .collect();
        let fact = DtmfFact {
            source,
            digits: self.digits.len() + self.overflow,
            card_number: validators::card_number(&numeric),
            dialog,
        };
        self.digits.clear();
        self.overflow = 0;
        Some(fact)
    }
}

/// RFC 4733 §3.2 event codes 0–15 as keys; 16 (flash) and others are not digits.
pub fn event_key(event: u8) -> Option<u8> {
    Some(match event {
        0..=9 => b'0' + event,
        10 => b'*',
        11 => b'#',
        12..=15 => b'A' + (event - 12),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_and_pin() {
        let mut c = DigitCollector::default();
        for k in b"4111111111111111" {
            c.push(*k);
        }
        let fact = c.take(DtmfSource::SipInfo, Some(7)).expect("digits");
        assert_eq!((fact.digits, fact.card_number), (16, true));
        assert!(c.take(DtmfSource::SipInfo, None).is_none(), "emptied");
        for k in b"1234#" {
            c.push(*k);
        }
        let pin = c.take(DtmfSource::RtpEvents, None).expect("digits");
        assert_eq!((pin.digits, pin.card_number), (5, false));
        assert_eq!(event_key(11), Some(b'#'));
        assert_eq!(event_key(16), None);
    }
}
