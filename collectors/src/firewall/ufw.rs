//! Reads `ufw status verbose` into rows the report can compare with the real exposure.
//!
//! ufw is a front end that writes iptables rules; its own listing says what the operator
//! asked for, not what the kernel does (Docker's published ports bypass it). So the rows are
//! not evaluated; `report` marks deny rows whose port is exposed anyway as ineffective. It
//! does not run ufw.

use super::model::{Proto, Ranges};
use super::xtables::port_list;

/// The parsed status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UfwStatus {
    /// `Status: active`.
    pub active: bool,
    /// The default for incoming traffic (`deny`, `allow`, `reject`), when shown.
    pub default_incoming: Option<String>,
    /// The rule rows.
    pub rows: Vec<UfwRow>,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UfwRow {
    /// The row as printed, whitespace collapsed.
    pub text: String,
    /// The protocol, or none for both.
    pub proto: Option<Proto>,
    /// The ports, or none when the row names no port (an application or all traffic).
    pub ports: Option<Ranges>,
    /// `ALLOW`, `DENY`, `REJECT`, `LIMIT`.
    pub action: String,
    /// Whether the row applies to inbound traffic.
    pub inbound: bool,
    /// Whether the source is `Anywhere`.
    pub from_anywhere: bool,
    /// Whether it is the IPv6 row (`(v6)`).
    pub v6: bool,
}

/// Parses the output of `ufw status [verbose]`.
pub fn parse(text: &str) -> UfwStatus {
    let mut status = UfwStatus::default();
    let mut in_table = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(value) = trimmed.strip_prefix("Status:") {
            status.active = value.trim() == "active";
        } else if let Some(value) = trimmed.strip_prefix("Default:") {
            status.default_incoming = value
                .split(',')
                .find(|part| part.contains("(incoming)"))
                .and_then(|part| part.split_whitespace().next())
                .map(str::to_string);
        } else if trimmed.starts_with("--") {
            in_table = true;
        } else if in_table && !trimmed.is_empty() {
            if let Some(row) = parse_row(trimmed) {
                status.rows.push(row);
            }
        }
    }
    status
}

fn parse_row(line: &str) -> Option<UfwRow> {
    // Columns are separated by runs of two or more spaces.
    let columns: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    let (to, action, from) = (columns.first()?, columns.get(1)?, columns.get(2).unwrap_or(&""));
    let v6 = to.contains("(v6)");
    let target = to.replace("(v6)", "");
    let target = target.trim();
    let (ports_text, proto) = match target.split_once('/') {
        Some((ports, proto)) => (ports, Proto::ALL.into_iter().find(|p| p.as_str() == proto)),
        None => (target, None),
    };
    let ports = port_list(ports_text);
    let mut words = action.split_whitespace();
    let verb = words.next()?.to_string();
    let direction = words.next().unwrap_or("IN");
    Some(UfwRow {
        text: line.split_whitespace().collect::<Vec<_>>().join(" "),
        proto,
        ports,
        action: verb,
        inbound: direction == "IN",
        from_anywhere: from.starts_with("Anywhere"),
        v6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verbose_status_with_ranges_and_v6_rows() {
        let text = "Status: active\nLogging: on (low)\n\
            Default: deny (incoming), allow (outgoing), deny (routed)\nNew profiles: skip\n\n\
            To                         Action      From\n\
            --                         ------      ----\n\
            22/tcp                     ALLOW IN    Anywhere\n\
            60000:61000/udp            DENY IN     198.51.100.0/24\n\
            8080/tcp (v6)              DENY IN     Anywhere (v6)\n";
        let status = parse(text);
        assert!(status.active);
        assert_eq!(status.default_incoming.as_deref(), Some("deny"));
        assert_eq!(status.rows.len(), 3);
        let range = &status.rows[1];
        assert_eq!(range.ports.as_ref().map(|p| p.spans().to_vec()), Some(vec![(60000, 61000)]));
        assert_eq!(range.proto, Some(Proto::Udp));
        assert!(!range.from_anywhere && range.inbound);
        assert!(status.rows[2].v6 && status.rows[2].from_anywhere);
    }
}
