//! Presenters: how command results look on a terminal.
//!
//! Command output goes to stdout through these functions; logging goes elsewhere. Colour is
//! used only when stdout is a terminal and `NO_COLOR` is unset. JSON output is produced by the
//! commands themselves from serialisable views, not here.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use chrono::{DateTime, Utc};

use crate::config::{Catalog, Config};
use crate::controls::{percentages, ControlState, Rate, Status};
use crate::runner::RunReport;

/// Whether stdout gets colour.
pub(crate) fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Renders the status table: one block per CSF function, then the overall rates.
pub(crate) fn status_table(
    config: &Config,
    states: &[ControlState],
    since: &HashMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    colour: bool,
) -> String {
    let catalog = Catalog::get(config.profile.catalog);
    let rates = percentages(states, catalog);
    let mut out = String::new();
    let excluded = states.iter().filter(|s| s.status == Status::NotApplicable).count();
    let _ = writeln!(
        out,
        "beweis status: {}, {}, {excluded} not applicable, evaluated {}\n",
        config.profile.catalog.as_str(),
        plural(states.len() - excluded, "control", "controls") + " in scope",
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(
        out,
        "  {:<10} {:<14} {:<16}  {:<16}  reason",
        "control", "status", "since (UTC)", "evidence from"
    );
    for (function, tally) in &rates.functions {
        let members: Vec<&ControlState> =
            states.iter().filter(|s| s.control.split('.').next() == Some(function)).collect();
        if members.is_empty() {
            continue;
        }
        let name = catalog
            .functions()
            .iter()
            .find(|f| &f.id == function)
            .map(|f| f.name.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{function}  {name:<10} proven {}  automated {}",
            rate(&tally.all_proof),
            rate(&tally.automated)
        );
        for state in members {
            out.push_str(&control_line(state, since.get(&state.control), colour));
        }
        out.push('\n');
    }
    let overall = &rates.overall;
    let _ = writeln!(
        out,
        "Overall   proven {}  = {}",
        rate(&overall.all_proof),
        rates.formula_all_proof
    );
    let _ = writeln!(
        out,
        "       automated {}  = {}",
        rate(&overall.automated),
        rates.formula_automated
    );
    out
}

fn control_line(state: &ControlState, since: Option<&DateTime<Utc>>, colour: bool) -> String {
    let word = format!("{:<14}", state.status.as_str());
    let word = if colour { paint(state.status, &word) } else { word };
    let minute = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let since = since.map(minute).unwrap_or_default();
    let collected = state.evidence.as_ref().map(|e| minute(&e.collected_at));
    let collected = collected.unwrap_or_else(|| "-".to_owned());
    // The whole reason: the cause of a failure is usually at its end.
    let reason = printable(&state.reason);
    format!("  {:<10} {word} {since:<16}  {collected:<16}  {reason}\n", state.control)
}

/// `count` with the singular or plural noun: "1 control", "2 controls".
pub(crate) fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn rate(rate: &Rate) -> String {
    match rate.percent {
        Some(p) => format!("{}/{} ({p:.1}%)", rate.numerator, rate.denominator),
        None => format!("{}/{} (n/a)", rate.numerator, rate.denominator),
    }
}

fn paint(status: Status, text: &str) -> String {
    let code = match status {
        Status::Passing => "32",
        Status::Attested | Status::Inherited => "36",
        Status::Failing | Status::Error => "31",
        Status::Stale => "33",
        Status::Unknown | Status::NotApplicable => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `text` with control characters (terminal escapes, newlines) shown escaped, so that a file
/// name or a server's message cannot rewrite the operator's terminal.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// An observation for a terminal: where it came from, then its facts.
pub(crate) fn observation(detail: &crate::store::ObservationDetail) -> serde_json::Result<String> {
    let row = &detail.row;
    let mut out = String::new();
    let _ = writeln!(out, "observation {} (log entry {})", row.id, row.seq);
    let _ = writeln!(
        out,
        "  instance     {} ({} {})",
        printable(&row.instance),
        row.collector,
        detail.collector_version
    );
    let _ = writeln!(out, "  subject      {}", printable(&row.subject));
    let _ = writeln!(out, "  collected at {}", row.collected_at.to_rfc3339());
    if let Some(effective) = row.effective_at {
        let _ = writeln!(out, "  effective at {}", effective.to_rfc3339());
    }
    let _ = writeln!(out, "  run          {} ({})", row.run_id, detail.run_outcome.as_str());
    let _ = writeln!(
        out,
        "  payload      sha256 {} ({} bytes)",
        row.payload_sha256, detail.payload_size
    );
    let _ = writeln!(out, "  custody      {}", serde_json::to_string(&detail.custody)?);
    match &detail.facts {
        Some(facts) => {
            let _ = writeln!(out, "facts:\n{}", serde_json::to_string_pretty(facts)?);
        }
        None => out.push_str("facts: dropped by retention (the digest above still verifies)\n"),
    }
    Ok(out)
}

/// One progress line for a finished run.
pub(crate) fn run_line(report: &RunReport) -> String {
    let mut line = format!(
        "{:<20} {:<10} {} observation(s), {} failure(s), {} ms",
        report.instance,
        report.outcome.as_str(),
        report.observations,
        report.failures,
        report.duration_ms
    );
    if let Some(error) = &report.error {
        let _ = write!(line, "  ({})", truncate(&printable(error), 80));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mRED\nFAKE"), "a\\u{1b}[31mRED\\nFAKE");
        assert_eq!(printable("plain ü"), "plain ü");
    }
}

/// The cause chain in one line, leaving out a cause whose text the line already holds (typed
/// errors often include their source in their own message).
pub(crate) fn chain_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
