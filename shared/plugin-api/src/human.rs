//! Durations the way a person says them, for every message a CLI, MCP or Matrix user reads:
//! "45 seconds", "2-4 minutes", "1 hour 30 minutes", and the compact "1 h 20 min" of a
//! progress line, plus the human steps ("check again in 10 seconds") a polling client is
//! told to wait.
//!
//! Every function rounds the same way: a duration is first rounded to whole seconds (never
//! below one, since a running job is never "0 seconds" away), then to the coarsest unit
//! that still reads naturally: seconds below a minute, minutes below an hour, hours with
//! minutes rounded to five below a day, days beyond. Thresholds are tested on the rounded
//! value, so 59.6 s reads "1 minute", never "60 seconds". `format_range` reuses that
//! rounding so a range and a single estimate of the same time never disagree.

use std::time::Duration;

/// How a person says `d`: "1 second", "45 seconds", "2 minutes", "1 hour 30 minutes",
/// "2 days". Below one second reads "1 second": something still running is never "0 seconds"
/// away.
pub fn format_duration(d: Duration) -> String {
    Spoken::of(d).to_string()
}

/// A range of durations: "30-60 seconds", "2-4 minutes", "45 seconds-2 minutes", or
/// "about 30 seconds" when both ends read the same. The ends are swapped if `min > max`.
pub fn format_range(min: Duration, max: Duration) -> String {
    let (min, max) = if min > max { (max, min) } else { (min, max) };
    let (low, high) = (Spoken::of(min), Spoken::of(max));
    if low == high {
        return format!("about {low}");
    }
    // Rule: when the smaller end reads in seconds and the larger end is under two minutes
    // (rounded), both ends are said in seconds: "30-60 seconds" and "45-90 seconds" read
    // better than "30 seconds-1 minute", and "1 minute" would hide the 60..90 s spread.
    // From two minutes on, minutes are precise enough: "45 seconds-2 minutes".
    let high_secs = rounded_secs(max);
    if low.unit == Unit::Second && high_secs < 120 {
        return format!("{}-{high_secs} seconds", low.count);
    }
    if low.unit == high.unit && low.extra_minutes == 0 && high.extra_minutes == 0 {
        // The upper count is above the lower and at least 1, so it is at least 2: plural.
        return format!(
            "{}-{} {}",
            low.count,
            high.count,
            high.unit.name(high.count)
        );
    }
    format!("{low}-{high}")
}

/// The compact form for progress lines: "<1 s", "25 s", "3 min", "1 h 20 min", "2 d".
/// Rounds like [`format_duration`] so a progress line and a status message agree, except
/// that below one second it says so ("<1 s"): a progress line may show elapsed time, where
/// a fraction of a second is a fact rather than an estimate.
pub fn format_short(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return "<1 s".to_owned();
    }
    let spoken = Spoken::of(d);
    let unit = match spoken.unit {
        Unit::Second => "s",
        Unit::Minute => "min",
        Unit::Hour => "h",
        Unit::Day => "d",
    };
    if spoken.extra_minutes > 0 {
        format!("{} {unit} {} min", spoken.count, spoken.extra_minutes)
    } else {
        format!("{} {unit}", spoken.count)
    }
}

const MINUTE: u128 = 60;
const HOUR: u128 = 60 * MINUTE;
const DAY: u128 = 24 * HOUR;

/// `d` rounded to the nearest whole second, at least 1. Millisecond precision is plenty
/// for rounding to seconds, and `u128` keeps `Duration::MAX` from overflowing.
fn rounded_secs(d: Duration) -> u128 {
    ((d.as_millis() + 500) / 1000).max(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn name(self, count: u128) -> &'static str {
        let plural = count != 1;
        match (self, plural) {
            (Unit::Second, false) => "second",
            (Unit::Second, true) => "seconds",
            (Unit::Minute, false) => "minute",
            (Unit::Minute, true) => "minutes",
            (Unit::Hour, false) => "hour",
            (Unit::Hour, true) => "hours",
            (Unit::Day, false) => "day",
            (Unit::Day, true) => "days",
        }
    }
}

/// A duration as it will be said: a count of one unit, plus minutes after whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spoken {
    count: u128,
    unit: Unit,
    /// Minutes after the hours, a multiple of 5; 0 for every other unit.
    extra_minutes: u128,
}

impl Spoken {
    fn of(d: Duration) -> Self {
        let secs = rounded_secs(d);
        let spoken = |count, unit| Spoken {
            count,
            unit,
            extra_minutes: 0,
        };
        if secs < MINUTE {
            return spoken(secs, Unit::Second);
        }
        // Each coarser unit rounds the seconds afresh (not the previous unit's rounded
        // count), and its threshold is tested after rounding, so 59 min 40 s is "1 hour".
        let minutes = (secs + MINUTE / 2) / MINUTE;
        if minutes < 60 {
            return spoken(minutes, Unit::Minute);
        }
        // Past an hour, minutes to the nearest five: "1 hour 30 minutes", not "1 hour 31".
        let five_minutes = (secs + 150) / 300 * 5;
        let hours = five_minutes / 60;
        if hours < 24 {
            return Spoken {
                count: hours,
                unit: Unit::Hour,
                extra_minutes: five_minutes % 60,
            };
        }
        spoken((secs + DAY / 2) / DAY, Unit::Day)
    }
}

impl std::fmt::Display for Spoken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.count, self.unit.name(self.count))?;
        if self.extra_minutes > 0 {
            write!(f, " {} minutes", self.extra_minutes)?;
        }
        Ok(())
    }
}

/// How many characters of a person's (or a model's) input a message may repeat.
pub const ECHO_CHARS: usize = 200;

/// `text` cut to its first `chars` characters, with "…" when something was cut.
pub fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `message` with every repetition of a long piece of `inputs` (over [`ECHO_CHARS`]
/// characters) shortened to [`ECHO_CHARS`], as written or as Rust's `{:?}` quotes it (which
/// error messages use): a 5 MB id must not come back as a 5 MB error.
pub fn clip_echoes(message: &str, inputs: &[&str]) -> String {
    let mut out = message.to_owned();
    for input in inputs {
        let input = input.trim();
        if input.chars().count() <= ECHO_CHARS {
            continue;
        }
        out = out.replace(input, &shorten(input, ECHO_CHARS));
        let quoted = format!("{input:?}");
        let inner = &quoted[1..quoted.len() - 1];
        if inner != input {
            out = out.replace(inner, &shorten(inner, ECHO_CHARS));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn min(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }
    fn h(n: u64) -> Duration {
        Duration::from_secs(n * 3600)
    }

    #[test]
    fn format_duration_table() {
        #[track_caller]
        fn check(d: Duration, expected: &str) {
            assert_eq!(format_duration(d), expected, "format_duration({d:?})");
        }
        check(Duration::ZERO, "1 second");
        check(ms(1), "1 second");
        check(ms(999), "1 second");
        check(s(1), "1 second");
        check(ms(1_499), "1 second");
        check(ms(1_500), "2 seconds");
        check(s(45), "45 seconds");
        check(s(59), "59 seconds");
        check(ms(59_499), "59 seconds");
        check(ms(59_500), "1 minute");
        check(s(60), "1 minute");
        check(s(89), "1 minute");
        check(s(90), "2 minutes");
        check(min(2), "2 minutes");
        check(min(59), "59 minutes");
        check(s(59 * 60 + 29), "59 minutes");
        check(s(59 * 60 + 30), "1 hour");
        check(h(1), "1 hour");
        check(h(1) + min(2), "1 hour");
        check(h(1) + min(3), "1 hour 5 minutes");
        check(h(1) + min(30), "1 hour 30 minutes");
        check(h(1) + min(58), "2 hours");
        check(h(2), "2 hours");
        check(h(23) + min(55), "23 hours 55 minutes");
        check(h(23) + min(58), "1 day");
        check(h(24), "1 day");
        check(h(35), "1 day");
        check(h(36), "2 days");
        check(h(48), "2 days");
        check(Duration::MAX, "213503982334601 days");
    }

    #[test]
    fn format_range_table() {
        #[track_caller]
        fn check(lo: Duration, hi: Duration, expected: &str) {
            assert_eq!(
                format_range(lo, hi),
                expected,
                "format_range({lo:?}, {hi:?})"
            );
        }
        check(s(30), s(60), "30-60 seconds");
        check(s(45), s(90), "45-90 seconds");
        check(s(45), s(119), "45-119 seconds");
        check(s(45), min(2), "45 seconds-2 minutes");
        check(s(1), s(2), "1-2 seconds");
        check(Duration::ZERO, s(30), "1-30 seconds");
        check(min(2), min(4), "2-4 minutes");
        check(min(1), min(2), "1-2 minutes");
        check(min(4), min(2), "2-4 minutes");
        check(s(30), s(30), "about 30 seconds");
        check(ms(200), ms(800), "about 1 second");
        check(s(61), s(80), "about 1 minute");
        check(min(30), h(1), "30 minutes-1 hour");
        check(h(1), h(2), "1-2 hours");
        check(h(1), h(1) + min(30), "1 hour-1 hour 30 minutes");
        check(h(1) + min(30), h(3), "1 hour 30 minutes-3 hours");
        check(h(2), h(2) + min(1), "about 2 hours");
        check(h(12), h(48), "12 hours-2 days");
        check(h(48), h(96), "2-4 days");
    }

    #[test]
    fn format_short_table() {
        #[track_caller]
        fn check(d: Duration, expected: &str) {
            assert_eq!(format_short(d), expected, "format_short({d:?})");
        }
        check(Duration::ZERO, "<1 s");
        check(ms(999), "<1 s");
        check(s(1), "1 s");
        check(s(25), "25 s");
        check(ms(59_500), "1 min");
        check(min(3), "3 min");
        check(s(150), "3 min");
        check(h(1), "1 h");
        check(h(1) + min(20), "1 h 20 min");
        check(h(1) + min(22), "1 h 20 min");
        check(h(30), "1 d");
        check(h(60), "3 d");
    }

    const UNITS: [&str; 8] = [
        "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days",
    ];

    /// A decimal count without sign or leading zeros.
    fn count(word: &str) -> Option<u128> {
        let digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
        if digits && !(word.len() > 1 && word.starts_with('0')) {
            word.parse().ok()
        } else {
            None
        }
    }

    /// Checks `^\d+ (second|seconds|…|days)( \d+ minutes?)?$` by hand, plus what the regex
    /// cannot: the unit is singular exactly when the count is 1.
    fn well_formed(text: &str) -> bool {
        let words: Vec<&str> = text.split(' ').collect();
        let agrees = |n: u128, unit: &str| (n == 1) != unit.ends_with('s');
        let head = match words.as_slice() {
            [n, unit] | [n, unit, _, _] => {
                count(n).is_some_and(|n| UNITS.contains(unit) && agrees(n, unit))
            }
            _ => false,
        };
        let tail = match words.as_slice() {
            [_, _] => true,
            [_, _, n, unit] => {
                count(n).is_some_and(|n| ["minute", "minutes"].contains(unit) && agrees(n, unit))
            }
            _ => false,
        };
        head && tail
    }

    #[test]
    fn well_formed_rejects_malformed() {
        for bad in [
            "",
            "0x seconds",
            "1 seconds",
            "2 second",
            "1 hour 30",
            "seconds",
            " 1 day",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        assert!(well_formed("1 hour 30 minutes"));
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..200_000_000).prop_map(Duration::from_millis),
            any::<u64>().prop_map(Duration::from_secs),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    proptest! {
        #[test]
        fn format_duration_is_well_formed(d in any_duration()) {
            let text = format_duration(d);
            prop_assert!(!text.is_empty());
            // "Never 0 seconds" means no count is zero; the substring itself is fine in
            // "10 seconds".
            prop_assert!(text != "0 seconds" && !text.split(' ').any(|w| w == "0"), "{text}");
            prop_assert!(well_formed(&text), "{text}");
        }

        #[test]
        fn format_range_is_a_range(a in any_duration(), b in any_duration()) {
            let text = format_range(a, b);
            prop_assert!(text.contains('-') || text.starts_with("about "), "{text}");
            prop_assert_eq!(&text, &format_range(b, a));
        }

        #[test]
        fn format_short_is_compact(d in any_duration()) {
            let text = format_short(d);
            let words: Vec<&str> = text.split(' ').collect();
            let positive = |w: &str| count(w).is_some_and(|n| n > 0);
            let shaped = match words.as_slice() {
                ["<1", "s"] => true,
                [n, unit] => positive(n) && ["s", "min", "h", "d"].contains(unit),
                [n, "h", m, "min"] => positive(n) && positive(m),
                _ => false,
            };
            prop_assert!(shaped, "{text}");
        }
    }
}
