//! Timestamps as Step Functions reads them (TimestampPath, Wait's
//! Timestamp, the Choice rules' Timestamp comparisons): Java's
//! `DateTimeFormatter.ISO_OFFSET_DATE_TIME`, which AWS's own cause names
//! ("does not reference a valid ISO-8601 extended offset date-time format
//! string"). That formatter reads letters in any case (`t`, `z`), makes the
//! seconds optional (`2020-01-01T10:15Z`), takes up to nine fraction digits
//! (a lone `.` too), an offset of hours alone or with minutes and seconds
//! (`+01`, `+01:00`, `+01:00:30`; it parses offsets leniently), a year of
//! four digits or, signed, of five to ten, and resolves strictly: no 24th
//! hour, 60th second or 30th of February.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

/// Parses `s` as `ISO_OFFSET_DATE_TIME` does, or `None`.
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let year = c.year()?;
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    c.eat_either(b'T')?;
    let hour = c.digits(2)?;
    c.eat(b':')?;
    let minute = c.digits(2)?;
    let (mut second, mut nanos) = (0, 0);
    if c.peek() == Some(b':') {
        c.i += 1;
        second = c.digits(2)?;
        if c.peek() == Some(b'.') {
            c.i += 1;
            nanos = c.fraction()?;
        }
    }
    let offset = c.offset()?;
    if c.i != c.b.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).filter(|_| second < 60)?;
    date.and_time(time).and_local_timezone(offset).single()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A letter in either case.
    fn eat_either(&mut self, c: u8) -> Option<()> {
        self.peek()?.eq_ignore_ascii_case(&c).then(|| self.i += 1)
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let run = self.b.get(self.i..self.i + n)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(run.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
    }

    /// Four digits, or a sign and five to ten (Java's `EXCEEDS_PAD`, strict).
    fn year(&mut self) -> Option<i32> {
        let negative = match self.peek()? {
            b'+' => Some(false),
            b'-' => Some(true),
            _ => None,
        };
        if negative.is_some() {
            self.i += 1;
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let len = self.i - start;
        let fits = if negative.is_some() { (5..=10).contains(&len) } else { len == 4 };
        if !fits {
            return None;
        }
        let y: i64 = std::str::from_utf8(&self.b[start..self.i]).ok()?.parse().ok()?;
        i32::try_from(if negative == Some(true) { -y } else { y }).ok()
    }

    /// Up to nine digits after the point, as nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) && self.i - start < 9 {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        Some(value * 10u32.pow(9 - digits.len() as u32))
    }

    /// `Z` (either case), or a sign, hours and optionally `:MM` and `:ss`.
    fn offset(&mut self) -> Option<FixedOffset> {
        if self.eat_either(b'Z').is_some() {
            return FixedOffset::east_opt(0);
        }
        let sign = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.i += 1;
        let hours = self.digits(2)?;
        let mut minutes = 0;
        let mut seconds = 0;
        if self.peek() == Some(b':') {
            self.i += 1;
            minutes = self.digits(2)?;
            if self.peek() == Some(b':') {
                self.i += 1;
                seconds = self.digits(2)?;
            }
        }
        if hours > 18 || minutes > 59 || seconds > 59 {
            return None;
        }
        let total = (hours * 3600 + minutes * 60 + seconds) as i32;
        if total > 18 * 3600 {
            return None;
        }
        FixedOffset::east_opt(sign * total)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn forms_java_reads() {
        for (s, rfc) in [
            ("2016-03-14T01:59:00Z", "2016-03-14T01:59:00+00:00"),
            ("2016-03-14t01:59:00z", "2016-03-14T01:59:00+00:00"),
            ("2016-03-14T01:59Z", "2016-03-14T01:59:00+00:00"),
            ("2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.500+00:00"),
            ("2016-03-14T01:59:00.123456789Z", "2016-03-14T01:59:00.123456789+00:00"),
            ("2016-03-14T01:59:00.Z", "2016-03-14T01:59:00+00:00"),
            ("2016-03-14T01:59:00+01", "2016-03-14T01:59:00+01:00"),
            ("2016-03-14T01:59:00-05:30", "2016-03-14T01:59:00-05:30"),
            ("+12016-03-14T01:59:00Z", "+12016-03-14T01:59:00+00:00"),
        ] {
            let t = parse_timestamp(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(t.to_rfc3339(), rfc, "{s}");
        }
        let t = parse_timestamp("2016-03-14T01:59:00+01:00:30").unwrap();
        assert_eq!(t.offset().local_minus_utc(), 3630);
    }

    #[test]
    fn forms_java_refuses() {
        for s in [
            "2016-03-14T01:59:00",
            "2016-03-14 01:59:00Z",
            "2016-03-14T01:59:00.1234567891Z",
            "2016-03-14T24:00:00Z",
            "2016-03-14T01:59:60Z",
            "2016-02-30T01:59:00Z",
            "+2016-03-14T01:59:00Z",
            "20160-03-14T01:59:00Z",
            "2016-03-14T01:59:00+0100",
            "2016-03-14T01:59:00+19:00",
            "2016-3-14T01:59:00Z",
            "2016-03-14T1:59:00Z",
            "",
        ] {
            assert!(parse_timestamp(s).is_none(), "{s}");
        }
    }
}
