//! Capture timestamps: nanoseconds since the Unix epoch, printed the EVE way.

use std::fmt;

/// A point in capture time. Nanoseconds since 1970-01-01T00:00:00Z; pcap and pcapng
/// both fit (their seconds fields are 32-bit unsigned), and nanosecond captures keep
/// their precision until the output rounds to microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as u64),
        )
    }

    pub const fn from_secs(secs: u64) -> Self {
        Self::from_secs_nanos(secs, 0)
    }

    pub fn secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// Time elapsed since `earlier`, zero when the capture goes back in time.
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Wall-clock now (for expiry dates, never for packet time).
    pub fn now() -> Self {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| Timestamp(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
            .unwrap_or_default()
    }

    /// The UTC calendar date, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days((self.secs() / 86_400) as i64);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// UTC with microseconds, written exactly as Suricata's EVE does
/// (`2026-11-22T20:36:45.123456+0000`, DESIGN §5): parsers built for Suricata expect
/// the `+0000` offset, not RFC 3339's `Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_utc(f, "+0000")
    }
}

impl Timestamp {
    /// RFC 3339 with `Z` (`2026-11-22T20:36:45.123456Z`), which RFC 5424 syslog
    /// headers require.
    pub fn rfc3339(self) -> String {
        struct Rfc3339(Timestamp);
        impl fmt::Display for Rfc3339 {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_utc(f, "Z")
            }
        }
        Rfc3339(self).to_string()
    }

    fn write_utc(self, f: &mut fmt::Formatter<'_>, zone: &str) -> fmt::Result {
        let secs = self.secs();
        let micros = (self.0 % 1_000_000_000) / 1_000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}{zone}",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Days since the epoch to a proleptic Gregorian date (Howard Hinnant's algorithm),
/// so the crate needs no calendar dependency for one conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_micros() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000+0000");
        let t = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.123456+0000");
        let leap = Timestamp::from_secs(951_782_400); // 2000-02-29
        assert_eq!(leap.to_string(), "2000-02-29T00:00:00.000000+0000");
        assert_eq!(leap.rfc3339(), "2000-02-29T00:00:00.000000Z");
        assert_eq!(leap.date(), "2000-02-29");
    }
}
