//! The ruleset's change history: a change event when the digest differs from the previous
//! observation of the same subject.
//!
//! Owns the diff between two observations' facts: the rule lines added and removed (each
//! qualified by its chain, order-insensitive, repeated lines counted) and the exposure entries
//! opened and closed per family. It reads only facts (the previous observation's as stored, the
//! new one's as built by `report`), so it neither reads the system nor judges. Everything it
//! produces is internal: it names full rules, so none of it is in `report::PUBLIC_SAFE`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::PreviousObservation;

/// The most added or removed rule lines listed in one event; the counts are always complete.
const MAX_DIFF_LINES: usize = 1000;

/// Inserts `ruleset_changed` (true, false, or null when unknown) and `ruleset_change` (the
/// event, or null) into `facts`, which must already hold `ruleset_sha256`, `rules` and the
/// per-family exposure.
pub fn insert_change(facts: &mut Map<String, Value>, previous: Option<&PreviousObservation>) {
    let (changed, event) = change(facts, previous);
    facts.insert("ruleset_changed".into(), json!(changed));
    facts.insert("ruleset_change".into(), event);
}

fn change(current: &Map<String, Value>, previous: Option<&PreviousObservation>) -> (Value, Value) {
    let Some(previous) = previous else {
        return (Value::Null, Value::Null);
    };
    let to_digest = current.get("ruleset_sha256").cloned().unwrap_or(Value::Null);
    let Some(old) = previous.facts.as_ref() else {
        // Retention dropped the previous facts: whether anything changed is unknown.
        let event = json!({
            "from_digest": null,
            "to_digest": to_digest,
            "previous_collected_at": previous.collected_at.to_rfc3339(),
            "unknown": "the previous observation's facts were dropped by retention",
        });
        return (Value::Null, event);
    };
    let from_digest = old.get("ruleset_sha256").cloned().unwrap_or(Value::Null);
    if from_digest == to_digest {
        return (json!(false), Value::Null);
    }
    let (added, removed) = rule_diff(old, current);
    let mut event = Map::new();
    event.insert("from_digest".into(), from_digest);
    event.insert("to_digest".into(), to_digest);
    event.insert("previous_collected_at".into(), json!(previous.collected_at.to_rfc3339()));
    event.insert("added_count".into(), json!(added.len()));
    event.insert("removed_count".into(), json!(removed.len()));
    event.insert("added".into(), json!(added.iter().take(MAX_DIFF_LINES).collect::<Vec<_>>()));
    event.insert("removed".into(), json!(removed.iter().take(MAX_DIFF_LINES).collect::<Vec<_>>()));
    let truncated = |facts: &Value| facts.get("rules_truncated") == Some(&json!(true));
    let current_truncated = current.get("rules_truncated") == Some(&json!(true));
    event.insert("rules_truncated".into(), json!(truncated(old) || current_truncated));
    event.insert("exposure_changes".into(), exposure_changes(old, current));
    (json!(true), Value::Object(event))
}

/// Rule lines of `new` not in `old` and of `old` not in `new`, as `chain: rule`.
fn rule_diff(old: &Value, new: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let old_lines = qualified_lines(old.get("rules"));
    let new_lines = qualified_lines(new.get("rules"));
    (minus(&new_lines, &old_lines), minus(&old_lines, &new_lines))
}

/// The `rules` fact with every rule line prefixed by its chain, so that the same rule text in
/// two chains stays two lines. Base-chain lines (`base …`) stand on their own.
fn qualified_lines(rules: Option<&Value>) -> Vec<String> {
    let mut chain = String::new();
    let mut out = Vec::new();
    for line in rules.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if let Some(name) = line.strip_prefix("chain ") {
            chain = name.to_string();
        } else if line.starts_with("base ") {
            out.push(line.to_string());
        } else {
            out.push(format!("{chain}: {line}"));
        }
    }
    out
}

/// The lines of `a` left after taking out one occurrence per line of `b`, in `a`'s order.
fn minus(a: &[String], b: &[String]) -> Vec<String> {
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for line in b {
        *left.entry(line).or_default() += 1;
    }
    let mut out = Vec::new();
    for line in a {
        match left.get_mut(line.as_str()) {
            Some(count) if *count > 0 => *count -= 1,
            _ => out.push(line.clone()),
        }
    }
    out
}

/// Exposure entries opened and closed per family; a family not evaluated on one side (status
/// indeterminate, IPv6 not applicable) is reported as such instead of as a wholesale change.
fn exposure_changes(old: &Value, new: &Map<String, Value>) -> Value {
    let mut out = Vec::new();
    for family in ["ipv4", "ipv6"] {
        let (Some(before), Some(after)) =
            (exposure_labels(old.get(family)), exposure_labels(new.get(family)))
        else {
            out.push(json!({"family": family, "change": "not_comparable"}));
            continue;
        };
        for label in after.difference(&before) {
            out.push(json!({"family": family, "change": "opened", "exposure": label}));
        }
        for label in before.difference(&after) {
            out.push(json!({"family": family, "change": "closed", "exposure": label}));
        }
    }
    Value::Array(out)
}

/// `tcp/22 from any`, `tcp/8080 from any on not docker0 -> 172.17.0.2:80` for each exposure
/// entry of one family's facts; `None` when the family was not evaluated.
fn exposure_labels(family: Option<&Value>) -> Option<BTreeSet<String>> {
    let entries = family?.get("exposed")?.as_array()?;
    let text = |value: &Value| value.as_str().unwrap_or("").to_string();
    let labels = entries.iter().map(|entry| {
        let sources: Vec<String> =
            entry["sources"].as_array().into_iter().flatten().map(text).collect();
        let mut label = format!(
            "{}/{} from {}",
            text(&entry["proto"]),
            text(&entry["ports"]),
            sources.join(",")
        );
        let interfaces = text(&entry["interfaces"]);
        if interfaces != "any" {
            label.push_str(&format!(" on {interfaces}"));
        }
        if let Some(to) = entry["forward_to"].as_str() {
            label.push_str(&format!(" -> {to}"));
        }
        label
    });
    Some(labels.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(digest: &str, rules: &[&str], v4: &[(&str, &str)]) -> Map<String, Value> {
        let exposed: Vec<Value> = v4
            .iter()
            .map(|(proto, ports)| {
                json!({"proto": proto, "ports": ports, "sources": ["any"], "interfaces": "any",
                       "forward_to": null})
            })
            .collect();
        let value = json!({
            "ruleset_sha256": digest, "rules": rules, "rules_truncated": false,
            "ipv4": {"exposed": exposed}, "ipv6": null,
        });
        value.as_object().cloned().expect("object")
    }

    fn previous(facts: Option<Map<String, Value>>) -> PreviousObservation {
        PreviousObservation {
            collected_at: "2026-12-01T10:00:00Z".parse().expect("time"),
            facts: facts.map(Value::Object),
            payload_sha256: "00".repeat(32),
        }
    }

    #[test]
    fn same_rule_in_two_chains_and_repeated_lines_are_diffed_as_lines() {
        let old = facts("a", &["chain x", "accept", "accept", "chain y", "drop"], &[]);
        let mut new = facts("b", &["chain x", "accept", "chain y", "drop", "accept"], &[]);
        insert_change(&mut new, Some(&previous(Some(old))));
        assert_eq!(new["ruleset_changed"], true);
        let event = &new["ruleset_change"];
        assert_eq!(event["added"], json!(["y: accept"]));
        assert_eq!(event["removed"], json!(["x: accept"]));
        assert_eq!(
            event["exposure_changes"],
            json!([{"family": "ipv6", "change": "not_comparable"}])
        );
    }

    #[test]
    fn dropped_previous_facts_make_the_change_unknown_not_false() {
        let mut new = facts("b", &[], &[("tcp", "22")]);
        insert_change(&mut new, Some(&previous(None)));
        assert_eq!(new["ruleset_changed"], Value::Null);
        assert_eq!(new["ruleset_change"]["from_digest"], Value::Null);
        assert_eq!(new["ruleset_change"]["previous_collected_at"], "2026-12-01T10:00:00+00:00");
        let mut first = facts("b", &[], &[]);
        insert_change(&mut first, None);
        assert_eq!(
            (&first["ruleset_changed"], &first["ruleset_change"]),
            (&Value::Null, &Value::Null)
        );
    }
}
