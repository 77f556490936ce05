//! Reads `nft -j list ruleset` output into the normalised model.
//!
//! Owns the translation of nftables' JSON schema (tables, chains with hook/priority/policy,
//! named sets and verdict maps, rules as expression lists) into base chains, chains and rules
//! with matches the analysis understands. Verdict maps become one rule per element. Tables of
//! the `bridge` and `arp` families are recorded as not applying to host IP traffic. Tables
//! that iptables-nft also reads are skipped when the caller says so, so no rule counts twice.
//! It does not run `nft` (see `mod`) and does not evaluate (see `eval`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{
    chain_key, parse_prefix, Backend, BaseChain, Family, Hook, IfSet, Match, Proto, Ranges, Rule,
    Ruleset, Scope, Verdict, MAX_PORT,
};

/// Why nft JSON could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// Not JSON, or not the `{"nftables": [...]}` shape.
    #[error("nft json output is malformed: {0}")]
    Malformed(String),
}

/// What an nft listing held besides the model.
#[derive(Debug, Clone, Default)]
pub struct NftSummary {
    /// `family name` of every table.
    pub tables: Vec<String>,
    /// The nft version from the metainfo object.
    pub version: Option<String>,
    /// `(family, table)` of tables with iptables compat (`xt`) expressions nft cannot show;
    /// iptables-nft reads those better.
    pub xt_tables: BTreeSet<(String, String)>,
}

/// Parses `nft -j list ruleset` output; tables whose `(family, name)` is in `skip` are left
/// out (they are read through iptables-nft instead).
pub fn parse(
    text: &str,
    skip: &BTreeSet<(String, String)>,
) -> Result<(Ruleset, NftSummary), NftError> {
    let root: Value = serde_json::from_str(text).map_err(|e| NftError::Malformed(e.to_string()))?;
    parse_value(&root, skip)
}

/// Like [`parse`], from an already parsed document (e.g. from `nft_text`).
pub fn parse_value(
    root: &Value,
    skip: &BTreeSet<(String, String)>,
) -> Result<(Ruleset, NftSummary), NftError> {
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| NftError::Malformed("no nftables array".into()))?;
    let mut reader = Reader::default();
    for item in items {
        reader.collect_declarations(item, skip);
    }
    for item in items {
        if let Some(rule) = item.get("rule") {
            reader.add_rule(rule, skip);
        }
    }
    Ok((reader.ruleset, reader.summary))
}

#[derive(Default)]
struct Reader {
    ruleset: Ruleset,
    summary: NftSummary,
    /// Named sets and maps by `family/table/name`: their element values.
    sets: BTreeMap<String, Vec<Value>>,
}

fn text_of<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_skipped(object: &Value, skip: &BTreeSet<(String, String)>) -> bool {
    let key = (text_of(object, "family").to_string(), text_of(object, "table").to_string());
    skip.contains(&key)
}

fn scope_of(family: &str) -> Option<Scope> {
    match family {
        "ip" => Some(Scope::Ipv4),
        "ip6" => Some(Scope::Ipv6),
        "inet" | "netdev" => Some(Scope::Both),
        _ => None,
    }
}

impl Reader {
    fn collect_declarations(&mut self, item: &Value, skip: &BTreeSet<(String, String)>) {
        if let Some(meta) = item.get("metainfo") {
            self.summary.version = meta.get("version").and_then(Value::as_str).map(str::to_string);
        }
        if let Some(table) = item.get("table") {
            let (family, name) = (text_of(table, "family"), text_of(table, "name"));
            if !skip.contains(&(family.to_string(), name.to_string())) {
                self.summary.tables.push(format!("{family} {name}"));
            }
        }
        for kind in ["set", "map"] {
            if let Some(set) = item.get(kind) {
                let key = format!(
                    "{}/{}/{}",
                    text_of(set, "family"),
                    text_of(set, "table"),
                    text_of(set, "name")
                );
                let elements =
                    set.get("elem").and_then(Value::as_array).cloned().unwrap_or_default();
                self.sets.insert(key, elements);
            }
        }
        if let Some(chain) = item.get("chain") {
            let (family, table) = (text_of(chain, "family"), text_of(chain, "table"));
            if table.is_empty() || is_skipped(chain, skip) {
                return;
            }
            let key = chain_key(Backend::Nftables, family, table, text_of(chain, "name"));
            self.ruleset.chains.entry(key.clone()).or_default();
            self.add_base(chain, key);
        }
    }

    fn add_base(&mut self, chain: &Value, key: String) {
        let Some(hook) = chain.get("hook").and_then(Value::as_str) else {
            return;
        };
        let family = text_of(chain, "family");
        let Some(scope) = scope_of(family) else {
            self.ruleset.not_applicable.push(format!(
                "{family} chain {} {} (hook {hook}) does not filter host ip traffic",
                text_of(chain, "table"),
                text_of(chain, "name")
            ));
            return;
        };
        let priority = chain.get("prio").and_then(Value::as_i64).unwrap_or(0);
        self.ruleset.base.push(BaseChain {
            chain: key,
            backend: Backend::Nftables,
            scope,
            hook: Hook::parse(hook),
            priority: i32::try_from(priority).unwrap_or(0),
            policy_accept: text_of(chain, "policy") != "drop",
            nat: text_of(chain, "type") == "nat",
            device: devices(chain.get("dev")),
        });
    }

    fn add_rule(&mut self, rule: &Value, skip: &BTreeSet<(String, String)>) {
        if is_skipped(rule, skip) {
            return;
        }
        let (family, table) = (text_of(rule, "family"), text_of(rule, "table"));
        let key = chain_key(Backend::Nftables, family, table, text_of(rule, "chain"));
        let exprs = rule.get("expr").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        if exprs.iter().any(|expr| expr.get("xt").is_some()) {
            self.summary.xt_tables.insert((family.to_string(), table.to_string()));
        }
        let text = rule_text(rule, exprs);
        let context = RuleContext { family, table, sets: &self.sets };
        let rules = context.translate(exprs, &text);
        self.ruleset.chains.entry(key).or_default().rules.extend(rules);
    }
}

/// `"dev": "eth0"` or `"dev": ["eth0", "eth1"]`.
fn devices(dev: Option<&Value>) -> Option<IfSet> {
    let names: BTreeSet<String> = match dev? {
        Value::String(name) => BTreeSet::from([super::model::normalise_ifname(name)]),
        Value::Array(items) => {
            items.iter().filter_map(Value::as_str).map(super::model::normalise_ifname).collect()
        }
        _ => return None,
    };
    Some(IfSet::Only(names))
}

/// A short description of a rule for evidence: location and compact expression JSON. The
/// handle is left out and a cut body ends with a digest of the whole, so that the text (and the
/// ruleset digest over it) changes exactly when the rule's content does.
fn rule_text(rule: &Value, exprs: &[Value]) -> String {
    // Counters change with every packet; they are not part of the rule.
    let stripped: Vec<Value> = exprs
        .iter()
        .map(
            |expr| {
                if expr.get("counter").is_some() {
                    Value::from("counter")
                } else {
                    expr.clone()
                }
            },
        )
        .collect();
    let mut body = serde_json::to_string(&stripped).unwrap_or_default();
    if body.len() > 400 {
        let whole = hex::encode(Sha256::digest(body.as_bytes()));
        let mut cut = 400;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str(&format!("… (sha256 {whole})"));
    }
    format!(
        "nft {} {} {}: {body}",
        text_of(rule, "family"),
        text_of(rule, "table"),
        text_of(rule, "chain")
    )
}

struct RuleContext<'a> {
    family: &'a str,
    table: &'a str,
    sets: &'a BTreeMap<String, Vec<Value>>,
}

/// What kind of value the left side of a match is, deciding how the right side is read.
#[derive(Clone, Copy)]
enum Key {
    Dport(Option<u8>),
    Sport(Option<u8>),
    Saddr(Family),
    Daddr(Family),
    L4(Option<Family>),
    Nfproto,
    Iif,
    Oif,
    CtState,
    CtStatus,
    FibDaddrType,
    ImpliesL4(u8),
}

impl RuleContext<'_> {
    /// Translates one rule's expressions into one rule, or several for a verdict map.
    fn translate(&self, exprs: &[Value], text: &str) -> Vec<Rule> {
        let mut matches = Vec::new();
        for expr in exprs {
            if let Some(m) = expr.get("match") {
                matches.extend(self.match_of(m));
                continue;
            }
            if let Some(vmap) = expr.get("vmap") {
                return self.expand_vmap(vmap, matches, text);
            }
            if let Some(map) = expr.get("dnat").and_then(|d| d.get("addr")?.get("map")) {
                return self.expand_dnat_map(map, matches, text);
            }
            if let Some(verdict) = self.verdict_of(expr, &mut matches) {
                return vec![Rule { matches, verdict, text: text.to_string() }];
            }
        }
        vec![Rule { matches, verdict: Verdict::Continue, text: text.to_string() }]
    }

    /// A terminal statement's verdict; non-terminal statements add matches or return `None`.
    fn verdict_of(&self, expr: &Value, matches: &mut Vec<Match>) -> Option<Verdict> {
        let (name, body) = expr.as_object()?.iter().next()?;
        let target = |body: &Value| {
            chain_key(Backend::Nftables, self.family, self.table, text_of(body, "target"))
        };
        match name.as_str() {
            "accept" => Some(Verdict::Accept),
            "drop" | "reject" => Some(Verdict::Drop),
            "return" => Some(Verdict::Return),
            "continue" => Some(Verdict::Continue),
            "queue" => Some(Verdict::Queue),
            "jump" => Some(Verdict::Jump(target(body))),
            "goto" => Some(Verdict::Goto(target(body))),
            "dnat" => Some(self.dnat_of(body, matches)),
            "redirect" => Some(Verdict::Redirect(body.get("port").and_then(port_value))),
            "limit" | "quota" => {
                matches.push(Match::Unknown(format!("{name} {}", compact(body))));
                None
            }
            "xt" => {
                let xt = format!("xt {} {}", text_of(body, "type"), text_of(body, "name"));
                matches.push(Match::Unknown(xt));
                (text_of(body, "type") == "target").then_some(Verdict::Accept)
            }
            _ => None,
        }
    }

    fn dnat_of(&self, body: &Value, matches: &mut Vec<Match>) -> Verdict {
        let addr = body.get("addr").and_then(Value::as_str).and_then(super::model::parse_addr);
        let port = body.get("port").and_then(port_value);
        // A map (`dnat to tcp dport map { … }`) is expanded per element before this.
        if body.get("addr").is_some_and(|a| !a.is_string()) {
            matches.push(Match::Unknown(format!("dnat through {}", compact(body))));
        }
        Verdict::Dnat { addr, port }
    }

    fn expand_vmap(&self, vmap: &Value, matches: Vec<Match>, text: &str) -> Vec<Rule> {
        let Some(key) = vmap.get("key").and_then(|k| self.key_of(k)) else {
            let mut matches = matches;
            matches.push(Match::Unknown(format!("vmap key {}", compact(vmap))));
            return vec![Rule { matches, verdict: Verdict::Accept, text: text.to_string() }];
        };
        let data = vmap.get("data").cloned().unwrap_or(Value::Null);
        let elements = match &data {
            Value::String(name) => match self.named_set(name) {
                Some(elements) => elements,
                None => {
                    // A map that is not in the listing may hold an accept: never matches-nothing.
                    let mut matches = matches;
                    matches.push(Match::Unknown(format!("vmap {name} not in the listing")));
                    return vec![Rule {
                        matches,
                        verdict: Verdict::Accept,
                        text: text.to_string(),
                    }];
                }
            },
            other => other.get("set").and_then(Value::as_array).cloned().unwrap_or_default(),
        };
        let mut rules = Vec::new();
        for element in elements {
            let (Some(value), Some(verdict)) = (element.get(0), element.get(1)) else { continue };
            let mut own = matches.clone();
            own.extend(self.build(key, "==", value));
            let mut extra = Vec::new();
            let verdict = self.verdict_of(verdict, &mut extra).unwrap_or(Verdict::Continue);
            own.extend(extra);
            rules.push(Rule { matches: own, verdict, text: text.to_string() });
        }
        rules
    }

    /// `dnat to <key> map { k : addr [. port], … }`: one DNAT rule per element. A key it
    /// cannot read or a map not in the listing leaves one rule with an unknown match.
    fn expand_dnat_map(&self, map: &Value, matches: Vec<Match>, text: &str) -> Vec<Rule> {
        let key = map.get("key").and_then(|k| self.key_of(k));
        let elements = match map.get("data") {
            Some(Value::String(name)) => self.named_set(name),
            Some(other) => other.get("set").and_then(Value::as_array).cloned(),
            None => None,
        };
        let (Some(key), Some(elements)) = (key, elements) else {
            let mut matches = matches;
            matches.push(Match::Unknown(format!("dnat through {}", compact(map))));
            let verdict = Verdict::Dnat { addr: None, port: None };
            return vec![Rule { matches, verdict, text: text.to_string() }];
        };
        let mut rules = Vec::new();
        for element in elements {
            let (Some(value), Some(data)) = (element.get(0), element.get(1)) else { continue };
            let mut own = matches.clone();
            own.extend(self.build(key, "==", value));
            let (addr, port) = match data.get("concat").and_then(Value::as_array) {
                Some(parts) => (parts.first(), parts.get(1).and_then(port_value)),
                None => (Some(data), None),
            };
            let addr = addr.and_then(Value::as_str).and_then(super::model::parse_addr);
            if addr.is_none() {
                own.push(Match::Unknown(format!("dnat to {}", compact(data))));
            }
            rules.push(Rule {
                matches: own,
                verdict: Verdict::Dnat { addr, port },
                text: text.into(),
            });
        }
        rules
    }

    fn named_set(&self, reference: &str) -> Option<Vec<Value>> {
        let name = reference.strip_prefix('@')?;
        self.sets.get(&format!("{}/{}/{name}", self.family, self.table)).cloned()
    }

    fn match_of(&self, m: &Value) -> Vec<Match> {
        let op = text_of(m, "op");
        let (Some(left), Some(right)) = (m.get("left"), m.get("right")) else {
            return vec![Match::Unknown(format!("match {}", compact(m)))];
        };
        match self.key_of(left) {
            Some(key) => self.build(key, op, right),
            None => vec![Match::Unknown(format!("{} {op} {}", compact(left), compact(right)))],
        }
    }

    fn key_of(&self, left: &Value) -> Option<Key> {
        if let Some(payload) = left.get("payload") {
            let protocol = text_of(payload, "protocol");
            let implied = if protocol == "th" { None } else { Proto::number_of(protocol) };
            return match (protocol, text_of(payload, "field")) {
                ("ip", "saddr") => Some(Key::Saddr(Family::Ipv4)),
                ("ip6", "saddr") => Some(Key::Saddr(Family::Ipv6)),
                ("ip", "daddr") => Some(Key::Daddr(Family::Ipv4)),
                ("ip6", "daddr") => Some(Key::Daddr(Family::Ipv6)),
                ("ip", "protocol") => Some(Key::L4(Some(Family::Ipv4))),
                ("ip6", "nexthdr") => Some(Key::L4(Some(Family::Ipv6))),
                (_, "dport") if protocol == "th" || implied.is_some() => Some(Key::Dport(implied)),
                (_, "sport") if protocol == "th" || implied.is_some() => Some(Key::Sport(implied)),
                // Any other field of a layer-4 header (icmp type, tcp flags) implies that
                // protocol; for TCP/UDP headers the match itself stays unknown.
                _ => match implied {
                    Some(number) if number != 6 && number != 17 => Some(Key::ImpliesL4(number)),
                    _ => None,
                },
            };
        }
        if let Some(meta) = left.get("meta") {
            return match text_of(meta, "key") {
                "l4proto" => Some(Key::L4(None)),
                "nfproto" | "protocol" => Some(Key::Nfproto),
                "iifname" | "iif" => Some(Key::Iif),
                "oifname" | "oif" => Some(Key::Oif),
                _ => None,
            };
        }
        if let Some(fib) = left.get("fib") {
            let flags = fib.get("flags").map(|f| f.to_string()).unwrap_or_default();
            let daddr_only = flags == r#"["daddr"]"# || flags == r#""daddr""#;
            return (text_of(fib, "result") == "type" && daddr_only).then_some(Key::FibDaddrType);
        }
        match left.get("ct").map(|ct| text_of(ct, "key")) {
            Some("state") => Some(Key::CtState),
            Some("status") => Some(Key::CtStatus),
            _ => None,
        }
    }

    /// Builds the matches for `key op right`.
    fn build(&self, key: Key, op: &str, right: &Value) -> Vec<Match> {
        let single = self.build_one(key, op, right);
        match key {
            // `ip protocol tcp` also says "IPv4", `ip6 nexthdr` "IPv6".
            Key::L4(Some(family)) => vec![Match::Family(family), single],
            Key::Saddr(family) | Key::Daddr(family) => vec![Match::Family(family), single],
            _ => vec![single],
        }
    }

    fn build_one(&self, key: Key, op: &str, right: &Value) -> Match {
        let values = self.values(right);
        let Some(values) = values else {
            return Match::Unknown(format!("unreadable value {}", compact(right)));
        };
        let negate = op == "!=";
        match key {
            Key::Dport(proto) | Key::Sport(proto) => {
                let Some(set) = port_set(&values, op) else {
                    return Match::Unknown(format!("port {op} {}", compact(right)));
                };
                match key {
                    Key::Dport(_) => Match::Dport { proto, ports: set },
                    _ => Match::Sport { proto },
                }
            }
            Key::Saddr(family) | Key::Daddr(family) => {
                let Some(mut set) = addr_set(&values, family) else {
                    return Match::Unknown(format!("address {op} {}", compact(right)));
                };
                if negate {
                    set = set.complement(family.max_addr());
                }
                match key {
                    Key::Saddr(_) => Match::Saddr(family, set),
                    _ => Match::Daddr(family, set),
                }
            }
            Key::L4(_) => l4_match(&values, negate),
            Key::Nfproto => family_match(&values, negate),
            Key::Iif | Key::Oif => {
                let names: BTreeSet<String> = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(super::model::normalise_ifname)
                    .collect();
                let set = if negate { IfSet::Except(names) } else { IfSet::Only(names) };
                if matches!(key, Key::Iif) {
                    Match::Iif(set)
                } else {
                    Match::Oif(set)
                }
            }
            Key::ImpliesL4(number) => Match::L4 { protos: BTreeSet::from([number]), negate: false },
            Key::FibDaddrType => {
                // Unicast connections to the host have destination type `local`.
                let local = values.iter().any(|v| v.as_str() == Some("local"));
                Match::DstLocal(local != negate)
            }
            Key::CtStatus => match values.as_slice() {
                [single] if single.as_str() == Some("dnat") => Match::CtDnat(!negate),
                _ => Match::Unknown(format!("ct status {op} {}", compact(right))),
            },
            Key::CtState => {
                let has_new = values.iter().any(|v| v.as_str() == Some("new"));
                Match::CtNew(has_new != negate)
            }
        }
    }

    /// The flat list of values on the right: literals, set elements, named set elements.
    fn values(&self, right: &Value) -> Option<Vec<Value>> {
        match right {
            Value::String(name) if name.starts_with('@') => {
                let elements = self.named_set(name)?;
                Some(elements.iter().map(unwrap_elem).collect())
            }
            Value::Array(items) => Some(items.clone()),
            Value::Object(object) if object.contains_key("set") => {
                let items = object.get("set")?.as_array()?;
                Some(items.iter().map(unwrap_elem).collect())
            }
            other => Some(vec![other.clone()]),
        }
    }
}

/// `{"elem": {"val": x, "timeout": …}}` → `x`.
fn unwrap_elem(value: &Value) -> Value {
    match value.get("elem").and_then(|e| e.get("val")) {
        Some(inner) => inner.clone(),
        None => value.clone(),
    }
}

fn compact(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    text.chars().take(120).collect()
}

/// Ports from literal values, ranges and service names; applies comparison operators.
fn port_set(values: &[Value], op: &str) -> Option<Ranges> {
    let mut spans = Vec::new();
    for value in values {
        if let Some(range) = value.get("range").and_then(Value::as_array) {
            let low = range.first().and_then(port_value)?;
            let high = range.get(1).and_then(port_value)?;
            spans.push((u128::from(low), u128::from(high)));
        } else {
            let port = u128::from(port_value(value)?);
            spans.push((port, port));
        }
    }
    let set = Ranges::from_spans(spans);
    let single = set.spans().first().map(|span| span.0);
    let result = match (op, single) {
        ("!=", _) => set.complement(MAX_PORT),
        ("<", Some(p)) => Ranges::span(0, p.checked_sub(1)?),
        ("<=", Some(p)) => Ranges::span(0, p),
        (">", Some(p)) => Ranges::span(p + 1, MAX_PORT),
        (">=", Some(p)) => Ranges::span(p, MAX_PORT),
        _ => set,
    };
    Some(result)
}

/// A port from a number or a service name nft may print.
pub fn port_value(value: &Value) -> Option<u16> {
    if let Some(number) = value.as_u64() {
        return u16::try_from(number).ok();
    }
    let text = value.as_str()?;
    text.parse().ok().or_else(|| service_port(text))
}

/// The few service names nft and iptables print instead of numbers (from /etc/services).
pub fn service_port(name: &str) -> Option<u16> {
    let port = match name {
        "ssh" => 22,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "mysql" => 3306,
        "postgresql" => 5432,
        "ftp" => 21,
        "telnet" => 23,
        "ntp" => 123,
        "snmp" => 161,
        "imaps" => 993,
        "pop3s" => 995,
        "submission" => 587,
        "rdp" | "ms-wbt-server" => 3389,
        _ => return None,
    };
    Some(port)
}

fn addr_set(values: &[Value], family: Family) -> Option<Ranges> {
    let mut set = Ranges::empty();
    for value in values {
        let part = if let Some(prefix) = value.get("prefix") {
            let text = format!("{}/{}", text_of(prefix, "addr"), prefix.get("len")?.as_u64()?);
            parse_prefix(&text)?
        } else if let Some(range) = value.get("range").and_then(Value::as_array) {
            let (f1, low) = parse_prefix(range.first()?.as_str()?)?;
            let (f2, high) = parse_prefix(range.get(1)?.as_str()?)?;
            let (low, high) = (low.spans().first()?.0, high.spans().first()?.0);
            if f1 != f2 {
                return None;
            }
            (f1, Ranges::span(low, high))
        } else {
            parse_prefix(value.as_str()?)?
        };
        if part.0 != family {
            return None;
        }
        set = set.union(&part.1);
    }
    Some(set)
}

fn l4_match(values: &[Value], negate: bool) -> Match {
    let mut protos = BTreeSet::new();
    for value in values {
        let number = match value {
            Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
            Value::String(name) => Proto::number_of(name),
            _ => None,
        };
        match number {
            Some(number) => protos.insert(number),
            None => return Match::Unknown(format!("protocol {}", compact(value))),
        };
    }
    Match::L4 { protos, negate }
}

fn family_match(values: &[Value], negate: bool) -> Match {
    let families: Vec<Family> = values
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|name| match name {
            "ipv4" | "ip" => Some(Family::Ipv4),
            "ipv6" | "ip6" => Some(Family::Ipv6),
            _ => None,
        })
        .collect();
    match (families.as_slice(), negate) {
        ([family], false) => Match::Family(*family),
        ([Family::Ipv4], true) => Match::Family(Family::Ipv6),
        ([Family::Ipv6], true) => Match::Family(Family::Ipv4),
        _ => Match::Unknown(format!("family {}", values.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FW06: &str = r#"{"nftables": [
      {"metainfo": {"version": "1.0.6"}},
      {"table": {"family": "inet", "name": "filter"}},
      {"set": {"family": "inet", "name": "admins", "table": "filter", "type": "ipv4_addr",
               "flags": ["interval"], "elem": [{"prefix": {"addr": "198.51.100.0", "len": 24}}]}},
      {"set": {"family": "inet", "name": "blocked", "table": "filter", "type": "ipv4_addr"}},
      {"chain": {"family": "inet", "table": "filter", "name": "input", "type": "filter",
                 "hook": "input", "prio": 0, "policy": "drop"}},
      {"chain": {"family": "bridge", "table": "br", "name": "in", "type": "filter",
                 "hook": "input", "prio": 0, "policy": "drop"}},
      {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": "@admins"}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"range": [20, 22]}}},
        {"counter": {"packets": 5, "bytes": 300}}, {"accept": null}]}},
      {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}},
                   "right": "echo-request"}}, {"accept": null}]}},
      {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [
        {"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}},
                  "data": {"set": [[8080, {"accept": null}], [8081, {"drop": null}]]}}}]}}
    ]}"#;

    #[test]
    fn reads_sets_vmaps_and_skips_bridge_and_counters() {
        let (ruleset, summary) = parse(FW06, &BTreeSet::new()).expect("valid json");
        assert_eq!(summary.version.as_deref(), Some("1.0.6"));
        assert_eq!(ruleset.base.len(), 1);
        assert_eq!(ruleset.not_applicable.len(), 1);
        let rules = &ruleset.chains["nftables/inet/filter/input"].rules;
        assert_eq!(rules.len(), 4, "the vmap becomes two rules");
        assert!(matches!(&rules[0].matches[1], Match::Saddr(Family::Ipv4, set)
            if Family::Ipv4.prefixes_text(set, 2) == ["198.51.100.0/24"]));
        assert!(matches!(&rules[0].matches[2], Match::Dport { proto: Some(6), ports }
            if ports.spans() == [(20, 22)]));
        assert!(!rules[0].text.contains("300"), "counters are not part of the rule text");
        assert!(matches!(&rules[1].matches[0], Match::L4 { protos, negate: false }
            if protos.contains(&1)));
        assert_eq!(rules[3].verdict, Verdict::Drop);
    }

    #[test]
    fn skipped_tables_are_left_to_iptables_nft() {
        let skip = BTreeSet::from([("inet".to_string(), "filter".to_string())]);
        let (ruleset, summary) = parse(FW06, &skip).expect("valid json");
        assert!(summary.tables.iter().all(|t| t != "inet filter"));
        assert_eq!(ruleset.rule_count(), 0);
        assert!(parse("{}", &skip).is_err());
    }

    #[test]
    fn rule_text_changes_with_a_late_set_element_and_not_with_the_handle() {
        let rule = |last: u16, handle: u64| {
            let ports: Vec<u16> = (1000..1100).chain([last]).collect();
            json!({"family": "inet", "table": "t", "chain": "c", "handle": handle})
                .as_object()
                .cloned()
                .map(|mut rule| {
                    let expr = json!([{"match": {"op": "==",
                        "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                        "right": {"set": ports}}}, {"accept": null}]);
                    rule.insert("expr".into(), expr);
                    Value::Object(rule)
                })
                .expect("object")
        };
        let text = |rule: &Value| rule_text(rule, rule["expr"].as_array().expect("list"));
        assert!(text(&rule(2000, 1)).len() < 600, "long bodies are cut");
        assert_ne!(text(&rule(2000, 1)), text(&rule(2001, 1)), "a cut body keeps its digest");
        assert_eq!(text(&rule(2000, 1)), text(&rule(2000, 7)), "the handle is not content");
    }
}
