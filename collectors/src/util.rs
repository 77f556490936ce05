//! Small helpers shared by the collectors.
//!
//! Owns the capped, hashing byte sink (digest of everything seen, only a prefix kept in memory),
//! compiling named regex tables during validation, and the formatting of times and durations in
//! facts and messages, and the process-group guard every collector that runs programs uses
//! (`command`, `backup`, `firewall`). It knows nothing about any one collector's facts or subjects.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use regex::{Regex, RegexBuilder};
use sha2::{Digest, Sha256};

use crate::ParamError;

/// The largest compiled size a configured regex may have, so a config cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Hashes every byte pushed into it and keeps only the first `cap` bytes.
#[derive(Debug)]
pub(crate) struct CappedSink {
    hasher: Sha256,
    kept: Vec<u8>,
    cap: usize,
    total: u64,
}

/// What a [`CappedSink`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Captured {
    /// Lowercase hex SHA-256 of every byte pushed.
    pub(crate) sha256: String,
    /// How many bytes were pushed.
    pub(crate) total: u64,
    /// The first `cap` bytes.
    pub(crate) kept: Vec<u8>,
    /// Whether more than `cap` bytes were pushed.
    pub(crate) truncated: bool,
}

impl CappedSink {
    /// A sink keeping at most `cap` bytes (saturating at the address space).
    pub(crate) fn new(cap: u64) -> CappedSink {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        CappedSink { hasher: Sha256::new(), kept: Vec::new(), cap, total: 0 }
    }

    /// Bytes the sink still keeps before it only counts and hashes.
    pub(crate) fn room(&self) -> usize {
        self.cap.saturating_sub(self.kept.len())
    }

    /// Hashes and counts `bytes`; keeps what fits under the cap.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.total = self.total.saturating_add(bytes.len() as u64);
        let keep = bytes.len().min(self.room());
        self.kept.extend_from_slice(&bytes[..keep]);
    }

    /// The digest, count and kept prefix.
    pub(crate) fn finish(self) -> Captured {
        let truncated = self.total > self.kept.len() as u64;
        Captured {
            sha256: hex::encode(self.hasher.finalize()),
            total: self.total,
            kept: self.kept,
            truncated,
        }
    }
}

/// Compiles a table of named regexes found under `key`, pushing one error per bad entry.
pub(crate) fn compile_regex_table(
    key: &str,
    raw: BTreeMap<String, String>,
    errors: &mut Vec<ParamError>,
) -> BTreeMap<String, Regex> {
    let mut compiled = BTreeMap::new();
    for (name, source) in raw {
        let entry_key = format!("{key}.{name}");
        if name.is_empty() {
            errors.push(ParamError::new(entry_key, "name must not be empty"));
            continue;
        }
        match compile_regex(&entry_key, &source) {
            Ok(regex) => {
                compiled.insert(name, regex);
            }
            Err(error) => errors.push(error),
        }
    }
    compiled
}

/// Compiles one configured regex, naming `key` in the error.
pub(crate) fn compile_regex(key: &str, source: &str) -> Result<Regex, ParamError> {
    RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| ParamError::new(key, format!("invalid regex: {}", one_line(&error))))
}

/// A time as RFC 3339 in UTC with second precision, e.g. `2026-01-31T08:00:00Z`.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A duration in seconds for messages: `5` for whole seconds, `0.2` otherwise.
pub(crate) fn seconds_text(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{:.1}", duration.as_secs_f64())
    }
}

/// An error and its sources on one line, joined by `: `, without repeated parts.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|seen| seen.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    one_line(&parts.join(": "))
}

/// Collapses any whitespace runs (regex errors span several lines) into single spaces.
pub(crate) fn one_line(text: &dyn std::fmt::Display) -> String {
    text.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_hashes_everything_and_keeps_the_cap() {
        let mut sink = CappedSink::new(4);
        sink.push(b"abc");
        sink.push(b"def");
        let captured = sink.finish();
        assert_eq!(captured.kept, b"abcd");
        assert_eq!(captured.total, 6);
        assert!(captured.truncated);
        // sha256("abcdef")
        assert_eq!(
            captured.sha256,
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
    }

    #[test]
    fn sink_at_exact_cap_is_not_truncated() {
        let mut sink = CappedSink::new(3);
        sink.push(b"abc");
        let captured = sink.finish();
        assert!(!captured.truncated);
        assert_eq!(captured.total, 3);
    }

    #[test]
    fn regex_table_reports_each_bad_entry_by_key() {
        let raw = BTreeMap::from([
            ("good".to_string(), "^a+$".to_string()),
            ("bad".to_string(), "(".to_string()),
            (String::new(), "x".to_string()),
        ]);
        let mut errors = Vec::new();
        let table = compile_regex_table("patterns", raw, &mut errors);
        assert_eq!(table.keys().collect::<Vec<_>>(), ["good"]);
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["patterns.", "patterns.bad"]);
        assert!(errors[1].message.starts_with("invalid regex: "), "{}", errors[1].message);
        assert!(!errors[1].message.contains('\n'));
    }

    #[test]
    fn seconds_text_is_short() {
        assert_eq!(seconds_text(Duration::from_secs(5)), "5");
        assert_eq!(seconds_text(Duration::from_millis(200)), "0.2");
    }
}

/// The process group of one spawned program (spawn it with `process_group(0)`): every member
/// is killed when the guard drops, so nothing a probe started outlives it, whether the run ends
/// normally, times out, or is dropped by the runner's hard stop.
#[derive(Debug)]
pub(crate) struct ProcessGroup(i32);

impl ProcessGroup {
    /// The group led by `child`; `None` when the child has no pid (already reaped).
    pub(crate) fn of(child: &tokio::process::Child) -> Option<ProcessGroup> {
        child.id().and_then(|id| i32::try_from(id).ok()).map(ProcessGroup)
    }

    /// Sends SIGKILL to every member.
    pub(crate) fn kill(&self) {
        // SAFETY: killpg has no memory-safety preconditions; ESRCH (group gone) is ignored.
        // The group id could only be reused after every member exited and another process made
        // itself a group leader with the same number, in the moments since.
        unsafe {
            libc::killpg(self.0, libc::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
