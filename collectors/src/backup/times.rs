//! Turning the timestamps backup tools print into UTC, keeping the raw text.
//!
//! Owns the one rule every source relies on: a timestamp with an offset is honoured as is
//! (restic writes the offset in force when the snapshot was taken, borg 2 writes one too); a
//! timestamp without an offset (borg 1.x, mariabackup logs, most log files) is local time of a
//! configured zone, applied for that very date so summer and winter differ. It does not know
//! which tool printed the text; the source modules call it.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

/// The zone that zone-less timestamps are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Coordinated universal time (what the collector asks borg for with `TZ=UTC`).
    Utc,
    /// A named IANA zone, e.g. `Europe/Berlin`.
    Named(Tz),
    /// The zone of the host the agent runs on (`/etc/localtime` or `TZ`).
    HostLocal,
}

impl Zone {
    /// Parses `UTC`, `local` or an IANA zone name.
    pub fn parse(text: &str) -> Option<Zone> {
        match text {
            "UTC" | "utc" | "Z" => Some(Zone::Utc),
            "local" => Some(Zone::HostLocal),
            name => name.parse::<Tz>().ok().map(Zone::Named),
        }
    }

    /// The name recorded next to converted times.
    pub fn name(self) -> String {
        match self {
            Zone::Utc => "UTC".to_string(),
            Zone::Named(tz) => tz.name().to_string(),
            Zone::HostLocal => "local".to_string(),
        }
    }

    /// Reads a zone-less time in this zone; an ambiguous time (clocks going back) takes the
    /// earlier instant, a time that does not exist (clocks going forward) is `None`.
    pub fn to_utc(self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        let pick = |result: LocalResult<DateTime<Utc>>| match result {
            LocalResult::Single(time) => Some(time),
            LocalResult::Ambiguous(early, _) => Some(early),
            LocalResult::None => None,
        };
        match self {
            Zone::Utc => Some(Utc.from_utc_datetime(&naive)),
            Zone::Named(tz) => pick(tz.from_local_datetime(&naive).map(|t| t.with_timezone(&Utc))),
            Zone::HostLocal => {
                pick(chrono::Local.from_local_datetime(&naive).map(|t| t.with_timezone(&Utc)))
            }
        }
    }
}

/// A timestamp read from tool output: the instant, the raw text and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The instant in UTC.
    pub utc: DateTime<Utc>,
    /// The text as the tool printed it.
    pub raw: String,
    /// `offset` when the text carried one, else the zone applied.
    pub zone_used: String,
}

impl Stamp {
    /// The stamp as a JSON object: `utc`, `raw`, `zone_used`.
    pub fn to_json(&self) -> Value {
        json!({ "utc": rfc3339(self.utc), "raw": self.raw, "zone_used": self.zone_used })
    }
}

/// The zone-less forms accepted, tried in order.
const NAIVE_FORMATS: [&str; 4] =
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"];

/// Reads an ISO 8601 timestamp: with an offset as is, without one in `zone`.
pub fn parse_iso(raw: &str, zone: Zone) -> Option<Stamp> {
    let text = raw.trim();
    if let Ok(with_offset) = DateTime::<FixedOffset>::parse_from_rfc3339(text) {
        return Some(Stamp {
            utc: with_offset.with_timezone(&Utc),
            raw: raw.to_string(),
            zone_used: "offset".to_string(),
        });
    }
    let naive =
        NAIVE_FORMATS.iter().find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
    parse_naive(naive, raw, zone)
}

/// Reads a timestamp in a strftime `format`; a format with `%z`/`%:z` keeps its offset.
pub fn parse_with_format(raw: &str, format: &str, zone: Zone) -> Option<Stamp> {
    if let Ok(with_offset) = DateTime::<FixedOffset>::parse_from_str(raw, format) {
        return Some(Stamp {
            utc: with_offset.with_timezone(&Utc),
            raw: raw.to_string(),
            zone_used: "offset".to_string(),
        });
    }
    let naive = NaiveDateTime::parse_from_str(raw, format).ok()?;
    parse_naive(naive, raw, zone)
}

fn parse_naive(naive: NaiveDateTime, raw: &str, zone: Zone) -> Option<Stamp> {
    Some(Stamp { utc: zone.to_utc(naive)?, raw: raw.to_string(), zone_used: zone.name() })
}

/// A time as RFC 3339 in UTC with millisecond precision, e.g. `2026-08-20T01:30:00.512Z`.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Hours from `then` to `now`, rounded to 0.01 h; negative when `then` is in the future.
pub fn hours_between(then: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let seconds = (now - then).num_milliseconds() as f64 / 1000.0;
    (seconds / 36.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test time").with_timezone(&Utc)
    }

    #[test]
    fn offsets_are_honoured_and_nanoseconds_kept() {
        let stamp = parse_iso("2026-08-20T02:10:00.123456789+02:00", Zone::Utc).expect("parse");
        assert_eq!(rfc3339(stamp.utc), "2026-08-20T00:10:00.123Z");
        assert_eq!(stamp.zone_used, "offset");
        let zulu = parse_iso("2026-08-20T01:30:00.512345678Z", Zone::HostLocal).expect("parse");
        assert_eq!(rfc3339(zulu.utc), "2026-08-20T01:30:00.512Z");
    }

    #[test]
    fn zone_less_times_use_the_zone_for_that_date() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        let summer = parse_iso("2026-08-20T02:00:05.000000", berlin).expect("summer");
        assert_eq!(summer.utc, utc("2026-08-20T00:00:05Z"));
        assert_eq!(summer.zone_used, "Europe/Berlin");
        assert_eq!(summer.raw, "2026-08-20T02:00:05.000000");
        let winter = parse_iso("2026-01-20T02:00:05.000000", berlin).expect("winter");
        assert_eq!(winter.utc, utc("2026-01-20T01:00:05Z"));
        let as_utc = parse_iso("2026-08-20 02:00:05", Zone::Utc).expect("utc");
        assert_eq!(as_utc.utc, utc("2026-08-20T02:00:05Z"));
    }

    #[test]
    fn gaps_and_overlaps_in_local_time() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        // 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 happens twice.
        assert_eq!(parse_iso("2026-03-29T02:30:00", berlin), None);
        let twice = parse_iso("2026-10-25T02:30:00", berlin).expect("ambiguous");
        assert_eq!(twice.utc, utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn custom_formats_and_garbage() {
        let stamp = parse_with_format("20/Aug/2026:03:30:12", "%d/%b/%Y:%H:%M:%S", Zone::Utc)
            .expect("rsnapshot form");
        assert_eq!(stamp.utc, utc("2026-08-20T03:30:12Z"));
        assert_eq!(parse_iso("yesterday", Zone::Utc), None);
        assert_eq!(Zone::parse("Mars/Base"), None);
        let now = utc("2026-08-20T12:00:00Z");
        assert_eq!(hours_between(utc("2026-08-20T01:30:00.512Z"), now), 10.5);
        assert_eq!(hours_between(utc("2026-08-18T02:00:03Z"), now), 58.0);
    }
}
