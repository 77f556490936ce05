//! Turns what was read and the exposure analysis into the facts of one observation.
//!
//! Owns the facts schema: per-family exposure lists `(proto, port range, sources, interfaces,
//! via)`, the default for everything else, the conclusions checks read by JSON pointer
//! (admin ports open to the world, IPv6 more open than IPv4, published ports that bypass the
//! input chain, broad accepts, listening sockets joined with exposure, ufw rows without
//! effect), the ruleset digest, the full rules (internal), the change event against the
//! previous observation (`history`, internal), and the list of facts that are safe to publish.
//! It does not read anything and does not judge.
//!
//! `status` is `ok` only when every configured or enabled layer was read; otherwise it is
//! `indeterminate` and `indeterminate_reasons` lists one line per unread layer, each starting
//! with the layer (`nftables not read: …`, `iptables_nft not read: …`, `ufw not read: …`,
//! `cloud firewall not read (hetzner api …): …`) and naming the tool or URL and its error
//! (backend mismatches and unevaluable rules are listed the same way). An unread host layer
//! (backends, `/proc`) leaves every conclusion null and `default_inbound_*` `indeterminate`;
//! an unread ufw or cloud layer leaves only its own conclusions null (`ufw.state` `failed`
//! with `error`, `cloud_firewall.state` `indeterminate` with `reason`, `final_*`), the host
//! ones stand. `default_inbound_<family>` counts only what is let in without assuming an
//! unmodelled match holds (such exposure is listed with its `conditions` and noted under
//! `approximations`); `<family>.input_policy` is the input base chains' policy (`drop` if any
//! drops, `accept`, `none`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::cloud;
use super::eval::{evaluate, Exposure, Flow, Options};
use super::model::{ports_text, Family, Hook, IfSet, Proto, Ranges, MAX_PORT};
use super::{history, FirewallSettings, Reads};
use crate::PreviousObservation;

/// Facts that state conclusions only and may go to the public feed.
pub const PUBLIC_SAFE: [&str; 16] = [
    "status",
    "layers",
    "default_inbound_ipv4",
    "default_inbound_ipv6",
    "admin_ports_open_to_world_count",
    "unexpected_exposed_count",
    "ipv6_more_open_than_ipv4",
    "published_ports_bypassing_input_count",
    "broad_accepts_count",
    "exposed_and_listening_count",
    "listening_but_filtered_count",
    "ufw_ineffective_denies_count",
    "final_default_inbound_ipv4",
    "final_default_inbound_ipv6",
    "final_admin_ports_open_to_world_count",
    "cloud_firewall_defined_not_applied_count",
];

/// The most exposure entries listed per family; the count is always complete.
const MAX_ENTRIES: usize = 500;

/// The most lines of the full ruleset kept in the (internal) facts; the digest covers all.
const MAX_RULE_LINES: usize = 50_000;

/// A port range at least this wide counts as a broad accept.
const BROAD_PORTS: f64 = 1024.0;

/// One exposure entry: a contiguous port range of one protocol with its sources.
#[derive(Debug, Clone)]
struct Entry {
    family: Family,
    proto: Proto,
    ports: Ranges,
    src: Ranges,
    iif: IfSet,
    forward_to: Option<String>,
    conditions: BTreeSet<String>,
}

impl Entry {
    fn world(&self) -> bool {
        let space = self.family.max_addr() as f64 + 1.0;
        self.src.measure() / space >= 0.5
    }

    fn label(&self) -> String {
        let mut text =
            format!("{} {}/{}", self.family.as_str(), self.proto.as_str(), ports_text(&self.ports));
        let sources = self.family.prefixes_text(&self.src, 4).join(",");
        text.push_str(&format!(" from {sources}"));
        let interfaces = interfaces_text(&self.iif);
        if interfaces != "any" {
            text.push_str(&format!(" on {interfaces}"));
        }
        if let Some(to) = &self.forward_to {
            text.push_str(&format!(" -> {to}"));
        }
        text
    }

    fn to_json(&self) -> Value {
        let (low, high) = self.ports.spans().first().copied().unwrap_or((0, 0));
        json!({
            "proto": self.proto.as_str(),
            "ports": ports_text(&self.ports),
            "port_low": low,
            "port_high": high,
            "sources": self.family.prefixes_text(&self.src, 16),
            "any_source": self.src.is_full(self.family.max_addr()),
            "world": self.world(),
            "interfaces": interfaces_text(&self.iif),
            "via": if self.forward_to.is_some() { "forward" } else { "host" },
            "forward_to": self.forward_to,
            "conditions": self.conditions,
        })
    }
}

/// Interfaces as shown: `lo` is always excluded (traffic from outside), so not mentioned.
fn interfaces_text(iif: &IfSet) -> String {
    match iif {
        IfSet::Except(names) => {
            let others: Vec<&str> =
                names.iter().map(String::as_str).filter(|n| *n != "lo").collect();
            if others.is_empty() {
                "any".to_string()
            } else {
                format!("not {}", others.join(","))
            }
        }
        only => only.to_string(),
    }
}

/// Everything evaluated for one family.
struct FamilyResult {
    family: Family,
    entries: Vec<Entry>,
    open_fraction: f64,
    /// The part of `open_fraction` let in without assuming an unmodelled match holds.
    certain_fraction: f64,
    /// The policy of the input base chains: `drop` if any drops, `accept`, or `none`.
    input_policy: &'static str,
    /// Ports reachable through input when NAT is ignored, per protocol (for bypass).
    input_only: BTreeMap<Proto, Ranges>,
    approximations: BTreeSet<String>,
    failed: Option<String>,
}

/// Builds the facts; `previous` is the last observation of the same subject, for the change
/// event.
pub fn facts(
    settings: &FirewallSettings,
    reads: &Reads,
    previous: Option<&PreviousObservation>,
) -> Value {
    let mut facts = Map::new();
    facts.insert("backends".into(), backends_json(reads));
    facts.insert("layers".into(), json!(layers(reads)));
    facts.insert("not_applicable".into(), json!(reads.ruleset.not_applicable));
    facts.insert("rule_count".into(), json!(reads.ruleset.rule_count()));
    let (digest, rules) = digest_and_rules(reads);
    facts.insert("ruleset_sha256".into(), json!(digest));
    facts.insert("rules_truncated".into(), json!(rules.len() > MAX_RULE_LINES));
    let kept: Vec<&String> = rules.iter().take(MAX_RULE_LINES).collect();
    facts.insert("rules".into(), json!(kept));
    facts.insert("public_safe".into(), json!(PUBLIC_SAFE));
    let mut reasons = reads.indeterminate.clone();
    let families: Vec<FamilyResult> = applicable_families(reads)
        .into_iter()
        .map(|family| evaluate_family(reads, family))
        .collect();
    reasons.extend(families.iter().filter_map(|f| f.failed.clone()));
    if !reasons.is_empty() {
        reasons.extend(reads.outer_unread.iter().cloned());
        insert_indeterminate(&mut facts, reasons, reads);
        insert_outer_failures(&mut facts, reads);
        history::insert_change(&mut facts, previous);
        return Value::Object(facts);
    }
    // The host layers were read; an unread ufw or cloud layer still makes the whole result
    // indeterminate, and only its own conclusions are left out (null).
    let status = if reads.outer_unread.is_empty() { "ok" } else { "indeterminate" };
    facts.insert("status".into(), json!(status));
    facts.insert("indeterminate_reasons".into(), json!(reads.outer_unread));
    insert_families(&mut facts, &families, reads);
    insert_conclusions(&mut facts, settings, &families);
    insert_sockets(&mut facts, &families, reads);
    insert_ufw(&mut facts, &families, reads);
    insert_cloud(&mut facts, settings, &families, reads);
    let approximations: BTreeSet<&String> = families
        .iter()
        .flat_map(|f| &f.approximations)
        .chain(&reads.sockets.approximations)
        .collect();
    facts.insert("approximations".into(), json!(approximations));
    history::insert_change(&mut facts, previous);
    Value::Object(facts)
}

fn applicable_families(reads: &Reads) -> Vec<Family> {
    match reads.ipv6.not_applicable {
        Some(_) => vec![Family::Ipv4],
        None => Family::ALL.to_vec(),
    }
}

fn evaluate_family(reads: &Reads, family: Family) -> FamilyResult {
    let mut result = FamilyResult {
        family,
        entries: Vec::new(),
        open_fraction: 0.0,
        certain_fraction: 0.0,
        input_policy: input_policy(reads, family),
        input_only: BTreeMap::new(),
        approximations: BTreeSet::new(),
        failed: None,
    };
    let space = (family.max_addr() as f64 + 1.0) * (MAX_PORT as f64 + 1.0) * 2.0;
    for proto in Proto::ALL {
        let exposure = evaluate(&reads.ruleset, family, proto, Options { nat: true });
        // Only published (DNAT) ports need the second, NAT-less evaluation.
        let plain = if exposure.forwarded.is_empty() {
            Exposure::default()
        } else {
            evaluate(&reads.ruleset, family, proto, Options { nat: false })
        };
        result.input_only.insert(proto, union_ports(&plain.host));
        let world = || {
            exposure
                .host
                .iter()
                .chain(&exposure.forwarded)
                .filter(|flow| matches!(flow.iif, IfSet::Except(_)))
        };
        let measure = |flow: &Flow| flow.ports.measure() * flow.src.measure();
        let open: f64 = world().map(measure).sum();
        let certain: f64 = world().filter(|flow| flow.conditions.is_empty()).map(measure).sum();
        result.open_fraction += open / space;
        result.certain_fraction += certain / space;
        result.entries.extend(entries(family, proto, &exposure));
        result.approximations.extend(exposure.approximations);
        if let Some(why) = exposure.failed.or(plain.failed) {
            result.failed.get_or_insert(format!("{} {}: {why}", family.as_str(), proto.as_str()));
        }
    }
    result.open_fraction = result.open_fraction.min(1.0);
    result.certain_fraction = result.certain_fraction.min(1.0);
    if default_of(&result) != "open" && result.open_fraction >= 0.5 {
        // E.g. `-m conntrack` seen by nft as an opaque `xt` match: the rule is listed with its
        // condition, but it does not turn a dropping policy into "open".
        result.approximations.insert(format!(
            "default_inbound_{} counts only what is let in without assuming unmodelled matches \
             hold; with them {:.0}% of the space would be let in (listed with conditions)",
            family.as_str(),
            result.open_fraction * 100.0
        ));
    }
    result
}

/// `drop` if an input base chain seeing `family` drops by policy, `accept` if all accept,
/// `none` without one.
fn input_policy(reads: &Reads, family: Family) -> &'static str {
    let mut chains = reads
        .ruleset
        .base
        .iter()
        .filter(|base| base.hook == Hook::Input && !base.nat && base.scope.covers(family))
        .peekable();
    if chains.peek().is_none() {
        "none"
    } else if chains.any(|base| !base.policy_accept) {
        "drop"
    } else {
        "accept"
    }
}

fn union_ports(flows: &[Flow]) -> Ranges {
    flows.iter().fold(Ranges::empty(), |all, flow| all.union(&flow.ports))
}

/// Merges flows into entries: same interfaces, destination, conditions and sources share a
/// port set; then same ports share a source set; then one entry per contiguous port range.
fn entries(family: Family, proto: Proto, exposure: &Exposure) -> Vec<Entry> {
    type Key = (IfSet, Option<String>, BTreeSet<String>);
    // Flows that differ only in their interfaces first (a rule on `docker0` splits them).
    let mut by_iif: BTreeMap<(Option<String>, BTreeSet<String>, Ranges, Ranges), IfSet> =
        BTreeMap::new();
    for flow in exposure.host.iter().chain(&exposure.forwarded) {
        let key = (
            forward_to(family, flow),
            flow.conditions.clone(),
            flow.src.clone(),
            flow.ports.clone(),
        );
        let iif = by_iif.entry(key).or_insert_with(|| IfSet::Only(BTreeSet::new()));
        *iif = iif.union(&flow.iif);
    }
    let mut by_src: BTreeMap<(Key, Ranges), Ranges> = BTreeMap::new();
    for ((to, conditions, src, flow_ports), iif) in by_iif {
        let ports = by_src.entry(((iif, to, conditions), src)).or_default();
        *ports = ports.union(&flow_ports);
    }
    // Twice: joining sources can make port sets joinable again (and the other way round).
    let mut by_ports = BTreeMap::new();
    for round in 0..2 {
        by_ports = regroup(std::mem::take(&mut by_src));
        if round == 0 {
            by_src = regroup(std::mem::take(&mut by_ports));
        }
    }
    let mut out = Vec::new();
    for (((iif, forward_to, conditions), ports), src) in by_ports {
        for &(low, high) in ports.spans() {
            out.push(Entry {
                family,
                proto,
                ports: Ranges::span(low, high),
                src: src.clone(),
                iif: iif.clone(),
                forward_to: forward_to.clone(),
                conditions: conditions.clone(),
            });
        }
    }
    out.sort_by_key(|e| (e.ports.spans().first().copied(), e.forward_to.clone()));
    out
}

/// Swaps the roles of the two range sets: entries with equal values merge their keys.
fn regroup<K: Ord + Clone>(map: BTreeMap<(K, Ranges), Ranges>) -> BTreeMap<(K, Ranges), Ranges> {
    let mut out: BTreeMap<(K, Ranges), Ranges> = BTreeMap::new();
    for ((key, first), second) in map {
        let merged = out.entry((key, second)).or_default();
        *merged = merged.union(&first);
    }
    out
}

fn forward_to(family: Family, flow: &Flow) -> Option<String> {
    let (Some(addr), port) = flow.nat? else { return None };
    let addr = family.addr_text(addr);
    Some(match (family, port) {
        (Family::Ipv4, Some(port)) => format!("{addr}:{port}"),
        (Family::Ipv6, Some(port)) => format!("[{addr}]:{port}"),
        (_, None) => addr,
    })
}

fn insert_indeterminate(facts: &mut Map<String, Value>, reasons: Vec<String>, reads: &Reads) {
    facts.insert("status".into(), json!("indeterminate"));
    facts.insert("indeterminate_reasons".into(), json!(reasons));
    for family in Family::ALL {
        let name = family.as_str();
        let default = match (family, &reads.ipv6.not_applicable) {
            (Family::Ipv6, Some(_)) => "not_applicable",
            _ => "indeterminate",
        };
        facts.insert(format!("default_inbound_{name}"), json!(default));
        facts.insert(name.into(), Value::Null);
    }
    // Every other public conclusion is unknown too; status, layers and the defaults are set
    // above (or kept, for layers).
    let set_above = ["status", "layers", "default_inbound_ipv4", "default_inbound_ipv6"];
    for key in PUBLIC_SAFE.into_iter().filter(|key| !set_above.contains(key)) {
        facts.insert(key.into(), Value::Null);
    }
}

fn default_of(result: &FamilyResult) -> &'static str {
    if result.certain_fraction >= 0.5 {
        "open"
    } else {
        "blocked"
    }
}

fn insert_families(facts: &mut Map<String, Value>, families: &[FamilyResult], reads: &Reads) {
    if let Some(why) = &reads.ipv6.not_applicable {
        facts.insert("default_inbound_ipv6".into(), json!("not_applicable"));
        facts.insert("ipv6".into(), json!({"applicable": false, "reason": why}));
    }
    for result in families {
        let name = result.family.as_str();
        let listed: Vec<Value> =
            result.entries.iter().take(MAX_ENTRIES).map(Entry::to_json).collect();
        facts.insert(format!("default_inbound_{name}"), json!(default_of(result)));
        facts.insert(
            name.into(),
            json!({
                "applicable": true,
                "default_inbound": default_of(result),
                "input_policy": result.input_policy,
                "open_fraction": (result.open_fraction * 1e6).round() / 1e6,
                "exposed": listed,
                "exposed_count": result.entries.len(),
                "exposed_truncated": result.entries.len() > MAX_ENTRIES,
            }),
        );
    }
}

fn insert_conclusions(
    facts: &mut Map<String, Value>,
    settings: &FirewallSettings,
    families: &[FamilyResult],
) {
    let all: Vec<&Entry> = families.iter().flat_map(|f| &f.entries).collect();
    insert_list(facts, "admin_ports_open_to_world", admin_open(settings, &all));
    if settings.allowed.is_empty() {
        facts.insert("unexpected_exposed".into(), Value::Null);
        facts.insert("unexpected_exposed_count".into(), Value::Null);
    } else {
        insert_list(facts, "unexpected_exposed", unexpected(settings, &all));
    }
    let (more_open, detail) = ipv6_more_open(families);
    facts.insert("ipv6_more_open_than_ipv4".into(), json!(more_open));
    facts.insert("ipv6_more_open_detail".into(), json!(detail));
    let mut bypass = Vec::new();
    for result in families {
        for entry in result.entries.iter().filter(|e| e.forward_to.is_some()) {
            let input = result.input_only.get(&entry.proto).cloned().unwrap_or_default();
            if !entry.ports.subtract(&input).is_empty() {
                bypass.push(format!(
                    "{} (published port not covered by the input rules)",
                    entry.label()
                ));
            }
        }
    }
    insert_list(facts, "published_ports_bypassing_input", bypass);
    let broad =
        all.iter().filter(|e| e.ports.measure() >= BROAD_PORTS).map(|e| e.label()).collect();
    insert_list(facts, "broad_accepts", broad);
}

/// Admin ports inside entries open to the world, as `ipv4 tcp/22`.
fn admin_open(settings: &FirewallSettings, entries: &[&Entry]) -> Vec<String> {
    let mut admin = BTreeSet::new();
    for entry in entries.iter().filter(|e| e.world()) {
        for port in &settings.admin_ports {
            if entry.ports.contains(u128::from(*port)) {
                admin.insert(format!("{} {}/{port}", entry.family.as_str(), entry.proto.as_str()));
            }
        }
    }
    admin.into_iter().collect()
}

/// The cloud layer and the final exposure (host rules and cloud firewall together).
fn insert_cloud(
    facts: &mut Map<String, Value>,
    settings: &FirewallSettings,
    families: &[FamilyResult],
    reads: &Reads,
) {
    let layer = match &reads.cloud {
        None => {
            facts.insert("cloud_firewall".into(), json!({"state": "not_configured"}));
            None
        }
        Some(Err(why)) => {
            facts.insert("cloud_firewall".into(), json!({"state": "indeterminate", "reason": why}));
            for key in [
                "final_default_inbound_ipv4",
                "final_default_inbound_ipv6",
                "final_exposed",
                "final_admin_ports_open_to_world",
                "final_admin_ports_open_to_world_count",
                "cloud_firewall_defined_not_applied_count",
            ] {
                facts.insert(key.into(), Value::Null);
            }
            return;
        }
        Some(Ok(layer)) => {
            facts.insert(
                "cloud_firewall".into(),
                json!({
                    "state": if layer.filters() { "applied" } else { "not_applied" },
                    "applied": cloud::names(&layer.applied),
                    "pending": cloud::names(&layer.pending),
                    "defined_not_applied": cloud::names(&layer.defined_not_applied),
                }),
            );
            facts.insert(
                "cloud_firewall_defined_not_applied_count".into(),
                json!(layer.defined_not_applied.len()),
            );
            Some(layer)
        }
    };
    let mut finals: Vec<Entry> = Vec::new();
    let mut exposed = Map::new();
    for result in families {
        let family_entries: Vec<Entry> = match layer {
            Some(layer) if layer.filters() => behind_cloud(&result.entries, layer),
            _ => result.entries.clone(),
        };
        let fraction = open_fraction(result.family, &family_entries);
        let name = result.family.as_str();
        facts.insert(
            format!("final_default_inbound_{name}"),
            json!(if fraction >= 0.5 { "open" } else { "blocked" }),
        );
        let listed: Vec<Value> =
            family_entries.iter().take(MAX_ENTRIES).map(Entry::to_json).collect();
        exposed.insert(name.into(), json!(listed));
        finals.extend(family_entries);
    }
    if reads.ipv6.not_applicable.is_some() {
        facts.insert("final_default_inbound_ipv6".into(), json!("not_applicable"));
    }
    facts.insert("final_exposed".into(), Value::Object(exposed));
    let refs: Vec<&Entry> = finals.iter().collect();
    insert_list(facts, "final_admin_ports_open_to_world", admin_open(settings, &refs));
}

/// Host entries narrowed to what the cloud firewall also lets through.
fn behind_cloud(entries: &[Entry], layer: &cloud::CloudLayer) -> Vec<Entry> {
    let mut out = Vec::new();
    for entry in entries {
        for (ports, sources) in layer.allowed(entry.family, entry.proto) {
            let (ports, src) = (entry.ports.intersect(&ports), entry.src.intersect(&sources));
            if !ports.is_empty() && !src.is_empty() {
                for &(low, high) in ports.spans() {
                    out.push(Entry {
                        ports: Ranges::span(low, high),
                        src: src.clone(),
                        ..entry.clone()
                    });
                }
            }
        }
    }
    out
}

/// The share of (protocol, port, source) space exposed on unrestricted interfaces.
fn open_fraction(family: Family, entries: &[Entry]) -> f64 {
    let space = (family.max_addr() as f64 + 1.0) * (MAX_PORT as f64 + 1.0) * 2.0;
    let open: f64 = entries
        .iter()
        // As for the host default: only what needs no unmodelled match to hold.
        .filter(|e| matches!(e.iif, IfSet::Except(_)) && e.conditions.is_empty())
        .map(|e| e.ports.measure() * e.src.measure())
        .sum();
    (open / space).min(1.0)
}

fn insert_list(facts: &mut Map<String, Value>, key: &str, items: Vec<String>) {
    facts.insert(format!("{key}_count"), json!(items.len()));
    facts.insert(key.into(), json!(items));
}

fn unexpected(settings: &FirewallSettings, all: &[&Entry]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in all {
        let allowed = settings
            .allowed
            .iter()
            .filter(|(proto, _)| *proto == entry.proto)
            .fold(Ranges::empty(), |acc, (_, ports)| acc.union(ports));
        let outside = entry.ports.subtract(&allowed);
        if !outside.is_empty() {
            let mut shown = (*entry).clone();
            shown.ports = outside;
            out.push(shown.label());
        }
    }
    out
}

/// Ports open to the world over IPv6 that are not open to the world over IPv4.
fn ipv6_more_open(families: &[FamilyResult]) -> (bool, Vec<String>) {
    let world = |family: Family, proto: Proto| {
        families
            .iter()
            .filter(|f| f.family == family)
            .flat_map(|f| &f.entries)
            .filter(|e| e.proto == proto && e.world())
            .fold(Ranges::empty(), |acc, e| acc.union(&e.ports))
    };
    let mut detail = Vec::new();
    if families.iter().any(|f| f.family == Family::Ipv6) {
        for proto in Proto::ALL {
            let extra = world(Family::Ipv6, proto).subtract(&world(Family::Ipv4, proto));
            if !extra.is_empty() {
                detail.push(format!("{}/{}", proto.as_str(), ports_text(&extra)));
            }
        }
    }
    (!detail.is_empty(), detail)
}

fn insert_sockets(facts: &mut Map<String, Value>, families: &[FamilyResult], reads: &Reads) {
    if let Some(error) = &reads.sockets.error {
        // Listeners unknown: nothing may be concluded from their absence.
        facts.insert("exposed_and_listening_count".into(), Value::Null);
        facts.insert("listening_but_filtered_count".into(), Value::Null);
        facts.insert(
            "sockets".into(),
            json!({"state": "unreadable", "error": error, "sources": reads.sockets.sources}),
        );
        return;
    }
    let mut exposed_listening = Vec::new();
    let mut filtered = Vec::new();
    let mut local_only = Vec::new();
    let mut not_listening = Vec::new();
    for result in families {
        for proto in Proto::ALL {
            let host: Ranges = result
                .entries
                .iter()
                .filter(|e| e.proto == proto && e.forward_to.is_none())
                .fold(Ranges::empty(), |acc, e| acc.union(&e.ports));
            let mut listening = Ranges::empty();
            for listener in reads
                .sockets
                .listeners
                .iter()
                .filter(|l| l.family == result.family && l.proto == proto)
            {
                let text = format!("{} {}", result.family.as_str(), listener.text());
                if listener.is_loopback() {
                    local_only.push(text);
                    continue;
                }
                listening = listening.union(&Ranges::one(u128::from(listener.port)));
                if host.contains(u128::from(listener.port)) {
                    exposed_listening.push(text);
                } else {
                    filtered.push(text);
                }
            }
            let idle = host.subtract(&listening);
            if !idle.is_empty() {
                not_listening.push(format!(
                    "{} {}/{}",
                    result.family.as_str(),
                    proto.as_str(),
                    ports_text(&idle)
                ));
            }
        }
    }
    facts.insert("exposed_and_listening_count".into(), json!(exposed_listening.len()));
    facts.insert("listening_but_filtered_count".into(), json!(filtered.len()));
    facts.insert(
        "sockets".into(),
        json!({
            "state": "read",
            "sources": reads.sockets.sources,
            "exposed_and_listening": exposed_listening,
            "listening_but_filtered": filtered,
            "allowed_but_not_listening": not_listening,
            "loopback_only": local_only,
        }),
    );
}

/// With the host result indeterminate: which outer layers failed, and why.
fn insert_outer_failures(facts: &mut Map<String, Value>, reads: &Reads) {
    if let Some(Err(why)) = &reads.ufw {
        facts.insert("ufw".into(), json!({"state": "failed", "error": why}));
    }
    if let Some(Err(why)) = &reads.cloud {
        facts.insert("cloud_firewall".into(), json!({"state": "indeterminate", "reason": why}));
    }
}

fn insert_ufw(facts: &mut Map<String, Value>, families: &[FamilyResult], reads: &Reads) {
    let status = match &reads.ufw {
        Some(Ok(status)) => status,
        other => {
            let value = match other {
                Some(Err(why)) => json!({"state": "failed", "error": why}),
                _ => Value::Null,
            };
            facts.insert("ufw".into(), value);
            facts.insert("ufw_ineffective_denies_count".into(), Value::Null);
            return;
        }
    };
    let mut ineffective = Vec::new();
    for row in status
        .rows
        .iter()
        .filter(|r| r.inbound && r.from_anywhere && r.action != "ALLOW" && r.action != "LIMIT")
    {
        let Some(ports) = &row.ports else { continue };
        let family = if row.v6 { Family::Ipv6 } else { Family::Ipv4 };
        let hit = families
            .iter()
            .filter(|f| f.family == family)
            .flat_map(|f| &f.entries)
            .filter(|e| e.world() && row.proto.is_none_or(|p| p == e.proto))
            .find(|e| !e.ports.intersect(ports).is_empty());
        if let Some(entry) = hit {
            ineffective.push(format!("{}: exposed anyway as {}", row.text, entry.label()));
        }
    }
    facts.insert("ufw_ineffective_denies_count".into(), json!(ineffective.len()));
    facts.insert(
        "ufw".into(),
        json!({
            "state": "read",
            "active": status.active,
            "default_incoming": status.default_incoming,
            "rows": status.rows.iter().map(|r| r.text.clone()).collect::<Vec<_>>(),
            "ineffective_denies": ineffective,
        }),
    );
}

fn backends_json(reads: &Reads) -> Value {
    let mut out = Map::new();
    for (name, read) in &reads.backends {
        out.insert(
            (*name).to_string(),
            json!({
                "state": read.state,
                "tables": read.tables,
                "rules": read.rules,
                "present_but_empty": read.state == "read" && read.empty && !read.tables.is_empty(),
                "empty": read.empty,
                "note": read.note,
            }),
        );
    }
    Value::Object(out)
}

/// The layers that hold something: backends read with rules or non-accept policies, and ufw.
fn layers(reads: &Reads) -> Vec<String> {
    let mut out: Vec<String> = reads
        .backends
        .iter()
        .filter(|(_, read)| matches!(read.state, "read" | "read_text_fallback") && !read.empty)
        .map(|(name, _)| (*name).to_string())
        .collect();
    if reads.ufw.as_ref().is_some_and(|status| status.as_ref().is_ok_and(|s| s.active)) {
        out.push("ufw".to_string());
    }
    out
}

/// A digest that changes when rules, chains or policies change (not with counters).
fn digest_and_rules(reads: &Reads) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    for base in &reads.ruleset.base {
        lines.push(format!(
            "base {} ({}) hook {:?} priority {} policy {} nat {}",
            base.chain,
            base.backend.as_str(),
            base.hook,
            base.priority,
            if base.policy_accept { "accept" } else { "drop" },
            base.nat
        ));
    }
    for (key, chain) in &reads.ruleset.chains {
        lines.push(format!("chain {key}"));
        lines.extend(chain.rules.iter().map(|rule| rule.text.clone()));
    }
    // Rule order matters, so lines are not sorted; vmap elements repeat their rule's text.
    lines.dedup();
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    (hex::encode(hasher.finalize()), lines)
}
