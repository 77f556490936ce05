//! Crontab schedules: a 5-field expression (or `@daily` & co.) in a named time zone, with splay.
//!
//! Users write schedules the way crontab(5) defines them, and that is not the dialect of the
//! `cron` crate this module wraps. The crate wants six or seven fields starting with seconds,
//! numbers weekdays 1–7 from Sunday where crontab numbers them 0–7 with both 0 and 7 meaning
//! Sunday, and always ANDs day-of-month with day-of-week, where crontab runs a job on either day
//! when both fields are restricted (`0 9 13 * 5` is "the 13th, and every Friday"). Passed through
//! unchanged, `0 0 * * 1-5` would silently run Sunday to Thursday and `0 9 13 * 5` only on a
//! Friday the 13th; both are valid syntax to the crate, so nothing would ever complain. The
//! wrapper therefore parses and validates each crontab field itself (so that an error names the
//! field and the value at fault), expands it to an explicit set, writes weekdays as names, and
//! hands the crate only expressions whose meaning is the same in both dialects; for the OR rule
//! it builds two crate schedules and takes the earlier next time. The crate still does the
//! calendar arithmetic, including time zones. Nothing else in beweis names the crate: the
//! scheduler asks [`Schedule::next_after`] and adds at most [`Schedule::splay`] of random delay.
//!
//! Daylight saving time, as the crate handles it: times are matched against the wall clock of
//! the schedule's time zone. A wall-clock time that does not exist on a spring-forward day (02:30
//! in Europe/Berlin on the last Sunday of March) is skipped that day, not moved to 03:00. A time
//! that occurs twice on a fall-back day runs once, at its first occurrence, when each next time
//! is computed from the previous one; for the same reason an hourly schedule does not fire in
//! the repeated hour's second pass. Schedules in `UTC` (the default) have neither effect.
//!
//! This module only computes times; it does not sleep, spawn or pick the random splay.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A validated crontab schedule in a time zone.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    expr: String,
    timezone: Tz,
    splay: Duration,
    /// One rule, or two when day-of-month and day-of-week are both restricted (OR rule).
    rules: Vec<cron::Schedule>,
}

/// Why a schedule or its time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScheduleError {
    #[error("expected 5 fields (minute hour day-of-month month day-of-week), found {found}")]
    FieldCount { found: usize },
    #[error("unknown shorthand `{name}` (known: @hourly, @daily, @weekly, @monthly, @yearly)")]
    Shorthand { name: String },
    #[error("{field} field `{text}`: {problem}")]
    Field { field: &'static str, text: String, problem: String },
    #[error("never fires (no date matches all fields)")]
    NeverFires,
    #[error("unknown time zone `{name}` (use an IANA name such as `Europe/Berlin`, or `UTC`)")]
    TimeZone { name: String },
}

impl Schedule {
    /// Parses a crontab expression (5 fields or a shorthand) in the IANA time zone `timezone`.
    pub(crate) fn parse(
        expr: &str,
        timezone: &str,
        splay_secs: u64,
    ) -> Result<Schedule, ScheduleError> {
        let tz: Tz =
            timezone.parse().map_err(|_| ScheduleError::TimeZone { name: timezone.to_owned() })?;
        let fields = split_fields(expr)?;
        let rules = build_rules(&fields)?;
        let schedule = Schedule {
            expr: expr.trim().to_owned(),
            timezone: tz,
            splay: Duration::from_secs(splay_secs),
            rules,
        };
        schedule.ensure_fires()?;
        Ok(schedule)
    }

    /// The first time strictly after `after` at which the schedule fires, or `None` when the
    /// calendar the crate covers has no more matching times.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.rules.iter().filter_map(|rule| first_after(rule, &local, after)).min()
    }

    /// The largest random delay to add to each scheduled time.
    pub(crate) fn splay(&self) -> Duration {
        self.splay
    }

    /// The expression as configured (trimmed).
    pub(crate) fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA name of the schedule's time zone.
    pub(crate) fn timezone(&self) -> &str {
        self.timezone.name()
    }

    /// Rejects expressions such as `0 0 30 2 *` that match no date at all.
    fn ensure_fires(&self) -> Result<(), ScheduleError> {
        let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        match start.and_then(|start| self.next_after(start)) {
            Some(_) => Ok(()),
            None => Err(ScheduleError::NeverFires),
        }
    }
}

/// The crate's iterator yields both instants of an ambiguous local time; the first one later
/// than `after` is the answer.
fn first_after(
    rule: &cron::Schedule,
    local: &DateTime<Tz>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    rule.after(local).take(3).map(|t| t.with_timezone(&Utc)).find(|t| *t > after)
}

/// The five crontab fields, shorthands expanded.
fn split_fields(expr: &str) -> Result<[String; 5], ScheduleError> {
    let expr = expr.trim();
    let expanded = match expr.strip_prefix('@') {
        Some(name) => {
            shorthand(name).ok_or_else(|| ScheduleError::Shorthand { name: expr.to_owned() })?
        }
        None => expr,
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    match <[&str; 5]>::try_from(parts.as_slice()) {
        Ok(parts) => Ok(parts.map(str::to_owned)),
        Err(_) => Err(ScheduleError::FieldCount { found: parts.len() }),
    }
}

fn shorthand(name: &str) -> Option<&'static str> {
    match name {
        "hourly" => Some("0 * * * *"),
        "daily" | "midnight" => Some("0 0 * * *"),
        "weekly" => Some("0 0 * * 0"),
        "monthly" => Some("0 0 1 * *"),
        "yearly" | "annually" => Some("0 0 1 1 *"),
        _ => None,
    }
}

/// One crontab field's grammar.
struct FieldSpec {
    name: &'static str,
    min: u8,
    max: u8,
    /// Names accepted for values, starting at `min`.
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: FieldSpec = FieldSpec { name: "hour", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldSpec = FieldSpec { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// The cron crate's spelling of weekdays, indexed by crontab number (0 = Sunday).
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed field: the values it allows, and whether it starts with `*`. As in Vixie cron and
/// cronie, a field starting with `*` (`*`, `*/2`) does not count as restricted for the
/// day-of-month/day-of-week OR rule.
struct FieldSet {
    values: Vec<u8>,
    starred: bool,
    full: bool,
}

fn build_rules(fields: &[String; 5]) -> Result<Vec<cron::Schedule>, ScheduleError> {
    let minute = parse_field(&fields[0], &MINUTE)?;
    let hour = parse_field(&fields[1], &HOUR)?;
    let dom = parse_field(&fields[2], &DAY_OF_MONTH)?;
    let month = parse_field(&fields[3], &MONTH)?;
    let dow = parse_weekdays(&fields[4])?;
    let head = format!("0 {} {}", numbers(&minute), numbers(&hour));
    let month = numbers(&month);
    let texts = if dom.starred || dow.starred {
        vec![format!("{head} {} {month} {}", numbers(&dom), weekdays(&dow))]
    } else {
        vec![
            format!("{head} {} {month} *", numbers(&dom)),
            format!("{head} * {month} {}", weekdays(&dow)),
        ]
    };
    texts.iter().map(|text| crate_schedule(text)).collect()
}

/// Hands a translated expression to the crate; its syntax was checked field by field already.
fn crate_schedule(text: &str) -> Result<cron::Schedule, ScheduleError> {
    text.parse().map_err(|err: cron::error::Error| ScheduleError::Field {
        field: "translated",
        text: text.to_owned(),
        problem: err.to_string().to_lowercase(),
    })
}

fn numbers(set: &FieldSet) -> String {
    if set.full {
        return "*".to_owned();
    }
    set.values.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
}

fn weekdays(set: &FieldSet) -> String {
    if set.full {
        return "*".to_owned();
    }
    set.values.iter().map(|&day| WEEKDAY_NAMES[usize::from(day)]).collect::<Vec<_>>().join(",")
}

/// Day-of-week with 7 folded onto 0 (Sunday).
fn parse_weekdays(text: &str) -> Result<FieldSet, ScheduleError> {
    let mut set = parse_field(text, &DAY_OF_WEEK)?;
    let mut values: Vec<u8> = set.values.iter().map(|&d| d % 7).collect();
    values.sort_unstable();
    values.dedup();
    set.full = values.len() == 7;
    set.values = values;
    Ok(set)
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<FieldSet, ScheduleError> {
    let error =
        |problem: String| ScheduleError::Field { field: spec.name, text: text.to_owned(), problem };
    let mut values = Vec::new();
    for item in text.split(',') {
        values.extend(parse_item(item, spec).map_err(error)?);
    }
    values.sort_unstable();
    values.dedup();
    let full = values.len() == usize::from(spec.max - spec.min) + 1;
    Ok(FieldSet { values, starred: text.starts_with('*'), full })
}

/// One list item: `*`, `N`, `N-M`, each optionally followed by `/STEP`.
fn parse_item(item: &str, spec: &FieldSpec) -> Result<Vec<u8>, String> {
    if item.is_empty() {
        return Err("empty list item".to_owned());
    }
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(step)?)),
        None => (item, None),
    };
    let (low, high) = match base {
        "*" => (spec.min, spec.max),
        _ => match base.split_once('-') {
            Some((low, high)) => (parse_value(low, spec)?, parse_value(high, spec)?),
            None => {
                let value = parse_value(base, spec)?;
                // `N/STEP` means from N to the end of the range, as in cronie.
                (value, if step.is_some() { spec.max } else { value })
            }
        },
    };
    if low > high {
        return Err(format!("range {low}-{high} runs backwards"));
    }
    let step = usize::from(step.unwrap_or(1));
    Ok((low..=high).step_by(step).collect())
}

fn parse_step(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(0) => Err("step must be at least 1".to_owned()),
        Ok(step) => Ok(step),
        Err(_) => Err(format!("step `{text}` is not a number")),
    }
}

fn parse_value(text: &str, spec: &FieldSpec) -> Result<u8, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = spec.names.iter().position(|name| *name == lower) {
        let index = u8::try_from(index).expect("name tables have fewer than 256 entries");
        return Ok(spec.min + index);
    }
    let value: u8 = match text.parse() {
        Ok(value) => value,
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() => u8::MAX,
        Err(_) => return Err(not_a_value(text, spec)),
    };
    if value < spec.min || value > spec.max {
        return Err(format!("{text} is out of range {}-{}", spec.min, spec.max));
    }
    Ok(value)
}

fn not_a_value(text: &str, spec: &FieldSpec) -> String {
    if spec.names.is_empty() {
        format!("`{text}` is not a number")
    } else {
        format!("`{text}` is neither a number nor a name ({})", spec.names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test time is rfc 3339").with_timezone(&Utc)
    }

    /// The next `n` times after `start`, written in the schedule's own time zone.
    fn next_times(expr: &str, timezone: &str, start: &str, n: usize) -> Vec<String> {
        let schedule = Schedule::parse(expr, timezone, 0).expect("test schedule is valid");
        let tz: Tz = timezone.parse().expect("test time zone is valid");
        let mut at = utc(start);
        let mut out = Vec::new();
        for _ in 0..n {
            at = schedule.next_after(at).expect("schedule fires again");
            out.push(at.with_timezone(&tz).format("%Y-%m-%d %H:%M %a %Z").to_string());
        }
        out
    }

    fn error(expr: &str) -> String {
        Schedule::parse(expr, "UTC", 0).expect_err("expression is invalid").to_string()
    }

    #[test]
    fn both_day_fields_restricted_means_either_day() {
        assert_eq!(
            next_times("0 9 13 * 5", "UTC", "2024-10-01T00:00:00Z", 6),
            [
                "2024-10-04 09:00 Fri UTC",
                "2024-10-11 09:00 Fri UTC",
                "2024-10-13 09:00 Sun UTC",
                "2024-10-18 09:00 Fri UTC",
                "2024-10-25 09:00 Fri UTC",
                "2024-11-01 09:00 Fri UTC",
            ]
        );
    }

    #[test]
    fn a_starred_day_field_is_anded_as_in_cronie() {
        // `*/10` starts with `*`, so it does not count as restricted: days 1, 11, 21 and 31
        // that are also Mondays.
        assert_eq!(
            next_times("0 0 */10 * mon", "UTC", "2024-01-01T00:00:00Z", 3),
            ["2024-03-11 00:00 Mon UTC", "2024-04-01 00:00 Mon UTC", "2024-07-01 00:00 Mon UTC"]
        );
    }

    #[test]
    fn steps_over_minutes() {
        assert_eq!(
            next_times("*/15 * * * *", "UTC", "2024-01-01T10:07:00Z", 4),
            [
                "2024-01-01 10:15 Mon UTC",
                "2024-01-01 10:30 Mon UTC",
                "2024-01-01 10:45 Mon UTC",
                "2024-01-01 11:00 Mon UTC",
            ]
        );
    }

    #[test]
    fn sunday_is_0_and_7() {
        let expected = ["2024-01-07 00:00 Sun UTC", "2024-01-14 00:00 Sun UTC"];
        assert_eq!(next_times("0 0 * * 0", "UTC", "2024-01-01T00:00:00Z", 2), expected);
        assert_eq!(next_times("0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", 2), expected);
        assert_eq!(next_times("0 0 * * sun", "UTC", "2024-01-01T00:00:00Z", 2), expected);
        assert_eq!(next_times("@weekly", "UTC", "2024-01-01T00:00:00Z", 2), expected);
    }

    #[test]
    fn weekday_lists_ranges_and_steps_are_translated() {
        assert_eq!(
            next_times("0 12 * * 0,6", "UTC", "2024-01-01T00:00:00Z", 3),
            ["2024-01-06 12:00 Sat UTC", "2024-01-07 12:00 Sun UTC", "2024-01-13 12:00 Sat UTC"]
        );
        assert_eq!(
            next_times("0 12 * * */2", "UTC", "2024-01-01T00:00:00Z", 5),
            [
                "2024-01-02 12:00 Tue UTC",
                "2024-01-04 12:00 Thu UTC",
                "2024-01-06 12:00 Sat UTC",
                "2024-01-07 12:00 Sun UTC",
                "2024-01-09 12:00 Tue UTC",
            ]
        );
        assert_eq!(
            next_times("0 12 * * 5-7", "UTC", "2024-01-01T00:00:00Z", 3),
            ["2024-01-05 12:00 Fri UTC", "2024-01-06 12:00 Sat UTC", "2024-01-07 12:00 Sun UTC"]
        );
    }

    #[test]
    fn yearly_on_new_year() {
        let expected = ["2025-01-01 00:00 Wed UTC", "2026-01-01 00:00 Thu UTC"];
        assert_eq!(next_times("0 0 1 1 *", "UTC", "2024-06-01T00:00:00Z", 2), expected);
        assert_eq!(next_times("@yearly", "UTC", "2024-06-01T00:00:00Z", 2), expected);
    }

    #[test]
    fn weekdays_in_berlin_across_the_spring_change() {
        // 2024-03-31 is the switch to CEST; the run stays at 02:30 local time, one hour earlier
        // in UTC.
        assert_eq!(
            next_times("30 2 * * 1-5", "Europe/Berlin", "2024-03-28T12:00:00Z", 3),
            ["2024-03-29 02:30 Fri CET", "2024-04-01 02:30 Mon CEST", "2024-04-02 02:30 Tue CEST",]
        );
        let schedule = Schedule::parse("30 2 * * 1-5", "Europe/Berlin", 0).expect("valid");
        assert_eq!(
            schedule.next_after(utc("2024-03-29T12:00:00Z")),
            Some(utc("2024-04-01T00:30:00Z"))
        );
    }

    #[test]
    fn a_time_missing_on_the_spring_day_is_skipped() {
        assert_eq!(
            next_times("30 2 * * *", "Europe/Berlin", "2024-03-29T12:00:00Z", 3),
            ["2024-03-30 02:30 Sat CET", "2024-04-01 02:30 Mon CEST", "2024-04-02 02:30 Tue CEST",]
        );
    }

    #[test]
    fn a_time_repeated_on_the_autumn_day_runs_once() {
        assert_eq!(
            next_times("30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00Z", 2),
            ["2024-10-27 02:30 Sun CEST", "2024-10-28 02:30 Mon CET"]
        );
        // Asked from inside the repeated hour's second pass, the second 02:30 is next.
        let schedule = Schedule::parse("30 2 * * *", "Europe/Berlin", 0).expect("valid");
        assert_eq!(
            schedule.next_after(utc("2024-10-27T01:00:00Z")),
            Some(utc("2024-10-27T01:30:00Z"))
        );
    }

    #[test]
    fn hourly_skips_the_repeated_hour() {
        assert_eq!(
            next_times("@hourly", "Europe/Berlin", "2024-10-26T23:30:00Z", 3),
            ["2024-10-27 02:00 Sun CEST", "2024-10-27 03:00 Sun CET", "2024-10-27 04:00 Sun CET"]
        );
    }

    #[test]
    fn next_is_strictly_after() {
        let schedule = Schedule::parse("0 * * * *", "UTC", 0).expect("valid");
        assert_eq!(
            schedule.next_after(utc("2024-01-01T10:00:00Z")),
            Some(utc("2024-01-01T11:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(utc("2024-01-01T09:59:59.5Z")),
            Some(utc("2024-01-01T10:00:00Z"))
        );
    }

    #[test]
    fn accessors_return_what_was_configured() {
        let schedule = Schedule::parse(" 0 3 * * * ", "Europe/Berlin", 900).expect("valid");
        assert_eq!(schedule.expr(), "0 3 * * *");
        assert_eq!(schedule.timezone(), "Europe/Berlin");
        assert_eq!(schedule.splay(), Duration::from_secs(900));
    }

    #[test]
    fn bad_expressions_say_which_field_is_wrong() {
        let cases = [
            (
                "0 0 * * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), found 6",
            ),
            ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 3"),
            ("", "expected 5 fields (minute hour day-of-month month day-of-week), found 0"),
            ("60 * * * *", "minute field `60`: 60 is out of range 0-59"),
            ("0 24 * * *", "hour field `24`: 24 is out of range 0-23"),
            ("0 0 0 * *", "day-of-month field `0`: 0 is out of range 1-31"),
            ("0 0 * 13 *", "month field `13`: 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week field `8`: 8 is out of range 0-7"),
            ("0 0 * * 1-300", "day-of-week field `1-300`: 300 is out of range 0-7"),
            ("0 0 * * 5-1", "day-of-week field `5-1`: range 5-1 runs backwards"),
            ("*/0 * * * *", "minute field `*/0`: step must be at least 1"),
            ("0 0 1,,2 * *", "day-of-month field `1,,2`: empty list item"),
            ("x * * * *", "minute field `x`: `x` is not a number"),
            (
                "0 0 * * funday",
                "day-of-week field `funday`: `funday` is neither a number nor a name \
                 (sun, mon, tue, wed, thu, fri, sat)",
            ),
            ("0 0 30 2 *", "never fires (no date matches all fields)"),
            (
                "@reboot",
                "unknown shorthand `@reboot` (known: @hourly, @daily, @weekly, @monthly, @yearly)",
            ),
        ];
        for (expr, message) in cases {
            assert_eq!(error(expr), message, "{expr}");
        }
    }

    #[test]
    fn unknown_time_zone_is_an_error() {
        let err = Schedule::parse("@daily", "Europe/Atlantis", 0).expect_err("unknown zone");
        assert_eq!(err, ScheduleError::TimeZone { name: "Europe/Atlantis".into() });
    }
}
