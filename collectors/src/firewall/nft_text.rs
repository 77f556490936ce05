//! Reads `nft list ruleset` text (or an `/etc/nftables.conf`-style file) by rewriting it into
//! the JSON shape of `nft -j list ruleset`, which `nft` then translates.
//!
//! Used when `nft` has no JSON support. It owns tokenising (quotes, braces, comments,
//! statement ends), tables, chains with their `type … hook … priority …; policy …;` lines
//! (also a policy on its own line), named sets and maps, and rule statements. A rule word it
//! does not know becomes an unknown match, never a silently dropped condition, so the
//! analysis stays conservative. It does not run `nft`.

use serde_json::{json, Map, Value};

/// Converts ruleset text into `{"nftables": [...]}`.
pub fn to_json(text: &str) -> Value {
    let tokens = tokenise(text);
    let mut parser = Parser { tokens, pos: 0, items: Vec::new() };
    parser.ruleset();
    json!({ "nftables": parser.items })
}

/// Whether `text` has the shape of a ruleset listing: balanced braces, and at the top level
/// only `table …` blocks (and `flush`/`define`/`include` lines of a file). The converter itself
/// skips what it does not know, so without this check garbage would read as "no rules".
pub fn check(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut at_start = true;
    for token in tokenise(text) {
        match token.as_str() {
            "{" => depth += 1,
            "}" if depth == 0 => return Err("unbalanced `}`".into()),
            "}" => depth -= 1,
            end if is_end(end) => {
                at_start |= depth == 0;
                continue;
            }
            word if depth == 0 && at_start => {
                if !matches!(word, "table" | "flush" | "define" | "include") {
                    return Err(format!("unexpected `{word}` outside a table"));
                }
            }
            _ => {}
        }
        at_start = depth == 0 && token == "}";
    }
    if depth != 0 {
        return Err(format!("{depth} unclosed `{{`"));
    }
    Ok(())
}

/// A token: a word or one of `{ } ; \n`.
fn tokenise(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for inner in chars.by_ref() {
                    if inner == '"' {
                        break;
                    }
                    current.push(inner);
                }
            }
            '#' => {
                flush(&mut current, &mut out);
                while chars.peek().is_some_and(|next| *next != '\n') {
                    chars.next();
                }
            }
            '{' | '}' | ';' | '\n' => {
                flush(&mut current, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut current, &mut out),
            c => current.push(c),
        }
    }
    flush(&mut current, &mut out);
    out
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
    items: Vec<Value>,
}

fn is_end(token: &str) -> bool {
    token == "\n" || token == ";"
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn skip_ends(&mut self) {
        while self.peek().is_some_and(is_end) {
            self.pos += 1;
        }
    }

    /// Skips a balanced `{ … }` block starting at the current `{`.
    fn skip_block(&mut self) {
        let mut depth = 0;
        while let Some(token) = self.next() {
            match token.as_str() {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth <= 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Words up to the end of a statement; a `{ … }` inside stays one group of tokens.
    fn statement(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut depth = 0;
        while let Some(token) = self.peek() {
            if depth == 0 && (is_end(token) || token == "}") {
                break;
            }
            match token {
                "{" => depth += 1,
                "}" => depth -= 1,
                "\n" => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            out.push(token.to_string());
            self.pos += 1;
        }
        out
    }

    fn ruleset(&mut self) {
        while let Some(token) = self.next() {
            if token != "table" {
                continue;
            }
            let mut words = Vec::new();
            while let Some(word) = self.next() {
                if word == "{" || is_end(&word) {
                    break;
                }
                words.push(word);
            }
            let (family, name) = match words.as_slice() {
                [family, name] => (family.clone(), name.clone()),
                [name] => ("ip".to_string(), name.clone()),
                _ => continue,
            };
            self.items.push(json!({"table": {"family": family, "name": name}}));
            self.table_body(&family, &name);
        }
    }

    fn table_body(&mut self, family: &str, table: &str) {
        loop {
            self.skip_ends();
            let Some(token) = self.next() else { return };
            match token.as_str() {
                "}" => return,
                "chain" => {
                    let name = self.next().unwrap_or_default();
                    if self.next().as_deref() == Some("{") {
                        self.chain_body(family, table, &name);
                    }
                }
                "set" | "map" => {
                    let name = self.next().unwrap_or_default();
                    if self.next().as_deref() == Some("{") {
                        self.set_body(family, table, &name, &token);
                    }
                }
                "{" => {
                    self.pos -= 1;
                    self.skip_block();
                }
                _ => {
                    let words = self.statement();
                    if words.iter().any(|w| w == "{") {
                        self.skip_block();
                    }
                }
            }
        }
    }

    fn set_body(&mut self, family: &str, table: &str, name: &str, kind: &str) {
        let mut set = Map::new();
        set.insert("family".into(), json!(family));
        set.insert("table".into(), json!(table));
        set.insert("name".into(), json!(name));
        // A map to addresses (`type inet_service : ipv4_addr . inet_service`), not verdicts.
        let mut data_map = false;
        loop {
            self.skip_ends();
            match self.peek() {
                None => break,
                Some("}") => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let words = self.statement();
            if words.first().map(String::as_str) == Some("elements") {
                let values = words.iter().skip_while(|w| *w != "{").cloned().collect::<Vec<_>>();
                let elements = match kind {
                    "map" if data_map => data_map_elements(&values),
                    "map" => map_elements(&values),
                    _ => set_elements(&values),
                };
                set.insert("elem".into(), Value::Array(elements));
            } else if words.first().map(String::as_str) == Some("type") {
                set.insert("type".into(), json!(words.get(1)));
                data_map = kind == "map" && !words.iter().any(|w| w == "verdict");
            }
        }
        self.items.push(json!({ kind: Value::Object(set) }));
    }

    fn chain_body(&mut self, family: &str, table: &str, name: &str) {
        let mut chain = Map::new();
        chain.insert("family".into(), json!(family));
        chain.insert("table".into(), json!(table));
        chain.insert("name".into(), json!(name));
        let mut rules = Vec::new();
        loop {
            self.skip_ends();
            match self.peek() {
                None => break,
                Some("}") => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let words = self.statement();
            match words.first().map(String::as_str) {
                Some("type") => base_chain(&words, &mut chain),
                Some("policy") => {
                    chain.insert("policy".into(), json!(words.get(1)));
                }
                Some("comment") | None => {}
                Some(_) => rules.push(json!({"rule": {
                    "family": family, "table": table, "chain": name,
                    "expr": rule_exprs(&words),
                }})),
            }
        }
        self.items.push(json!({ "chain": Value::Object(chain) }));
        self.items.extend(rules);
    }
}

/// `type filter hook input [device eth0] priority filter + 10`.
fn base_chain(words: &[String], chain: &mut Map<String, Value>) {
    let after = |key: &str| words.iter().position(|w| w == key).and_then(|p| words.get(p + 1));
    chain.insert("type".into(), json!(words.get(1)));
    if let Some(hook) = after("hook") {
        chain.insert("hook".into(), json!(hook));
    }
    if let Some(device) = after("device") {
        chain.insert("dev".into(), json!(device));
    }
    if let Some(position) = words.iter().position(|w| w == "priority") {
        chain.insert("prio".into(), json!(priority(&words[position + 1..])));
    }
}

fn priority(words: &[String]) -> i64 {
    let base = |word: &str| -> i64 {
        match word {
            "raw" => -300,
            "mangle" => -150,
            "dstnat" => -100,
            "filter" => 0,
            "security" => 50,
            "srcnat" => 100,
            other => other.parse().unwrap_or(0),
        }
    };
    let mut value = words.first().map_or(0, |w| base(w));
    if let (Some(sign), Some(offset)) = (words.get(1), words.get(2)) {
        let offset: i64 = offset.parse().unwrap_or(0);
        value += if sign == "-" {
            -offset
        } else if sign == "+" {
            offset
        } else {
            0
        };
    }
    value
}

/// The values between `{` and `}` (commas separate).
fn braced(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter(|w| *w != "{" && *w != "}")
        .flat_map(|w| w.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect()
}

fn set_elements(words: &[String]) -> Vec<Value> {
    braced(words).iter().map(|w| value(w)).collect()
}

/// `{ 8080 : accept, 8081 : drop }` → `[[8080, {"accept": null}], …]`.
fn map_elements(words: &[String]) -> Vec<Value> {
    let flat = braced(words);
    let mut out = Vec::new();
    let mut index = 0;
    while index + 2 < flat.len() + 1 {
        let (Some(key), Some(colon), Some(verdict)) =
            (flat.get(index), flat.get(index + 1), flat.get(index + 2))
        else {
            break;
        };
        if colon != ":" {
            index += 1;
            continue;
        }
        let mut verdict_json = json!({ verdict.as_str(): null });
        if verdict == "jump" || verdict == "goto" {
            let target = flat.get(index + 3).cloned().unwrap_or_default();
            verdict_json = json!({ verdict.as_str(): {"target": target} });
            index += 1;
        }
        out.push(json!([value(key), verdict_json]));
        index += 3;
    }
    out
}

/// One value: number, range, prefix, or string.
fn value(word: &str) -> Value {
    if let Ok(number) = word.parse::<u64>() {
        return json!(number);
    }
    if let Some((addr, len)) = word.split_once('/') {
        if let Ok(len) = len.parse::<u64>() {
            return json!({"prefix": {"addr": addr, "len": len}});
        }
    }
    if let Some((low, high)) = word.split_once('-') {
        let (l, h) = (low.parse::<u64>(), high.parse::<u64>());
        if let (Ok(l), Ok(h)) = (l, h) {
            return json!({"range": [l, h]});
        }
        if low.parse::<std::net::IpAddr>().is_ok() && high.parse::<std::net::IpAddr>().is_ok() {
            return json!({"range": [low, high]});
        }
    }
    json!(word)
}

const OPS: [&str; 6] = ["==", "!=", "<", ">", "<=", ">="];

/// Translates the words of one rule into nft JSON statements.
fn rule_exprs(words: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    while i < words.len() {
        let (left, used) = match (word(i), word(i + 1)) {
            (
                "ip" | "ip6" | "tcp" | "udp" | "th" | "sctp" | "udplite" | "icmp" | "icmpv6",
                field,
            ) => (Some(json!({"payload": {"protocol": word(i), "field": field}})), 2),
            ("meta", key) => (Some(json!({"meta": {"key": key}})), 2),
            ("fib", "daddr") if word(i + 2) == "type" => {
                (Some(json!({"fib": {"result": "type", "flags": ["daddr"]}})), 3)
            }
            ("ct", key) => (Some(json!({"ct": {"key": key}})), 2),
            ("iifname" | "oifname" | "iif" | "oif" | "l4proto" | "nfproto", _) => {
                (Some(json!({"meta": {"key": word(i)}})), 1)
            }
            _ => (None, 0),
        };
        if let Some(left) = left {
            i += used;
            i = operand(words, i, left, &mut out);
            continue;
        }
        i = statement(words, i, &mut out);
    }
    out
}

/// Reads `[op] value` or `vmap { … }` after a left-hand side.
fn operand(words: &[String], mut i: usize, left: Value, out: &mut Vec<Value>) -> usize {
    let mut op = "==";
    if let Some(found) = words.get(i).and_then(|w| OPS.iter().find(|op| *op == w)) {
        op = found;
        i += 1;
    }
    if words.get(i).map(String::as_str) == Some("vmap") {
        let (group, next) = group_at(words, i + 1);
        if let Some(name) = group.first().filter(|w| w.starts_with('@')) {
            // A named verdict map: its elements are the table's `map` block, as in JSON.
            out.push(json!({"vmap": {"key": left, "data": name}}));
            return next;
        }
        out.push(json!({"vmap": {"key": left, "data": {"set": map_elements(&group)}}}));
        return next;
    }
    let (group, next) = group_at(words, i);
    let right = if group.first().map(String::as_str) == Some("{") {
        json!({"set": set_elements(&group)})
    } else {
        let single = group.first().cloned().unwrap_or_default();
        if single.contains(',') {
            Value::Array(single.split(',').map(value).collect())
        } else {
            value(&single)
        }
    };
    let op = if left.get("ct").is_some() && op == "==" { "in" } else { op };
    out.push(json!({"match": {"op": op, "left": left, "right": right}}));
    next
}

/// The word at `i`, or the whole `{ … }` group starting there; and the index after it.
fn group_at(words: &[String], i: usize) -> (Vec<String>, usize) {
    if words.get(i).map(String::as_str) != Some("{") {
        return (words.get(i).cloned().into_iter().collect(), i + 1);
    }
    let mut depth = 0;
    let mut end = i;
    while end < words.len() {
        match words[end].as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        end += 1;
    }
    (words[i..=end.min(words.len().saturating_sub(1))].to_vec(), end + 1)
}

/// A non-match statement at `i`; returns the index after it.
fn statement(words: &[String], i: usize, out: &mut Vec<Value>) -> usize {
    let word = |k: usize| words.get(k).map(String::as_str).unwrap_or("");
    match word(i) {
        "accept" | "drop" | "return" | "continue" | "queue" => {
            out.push(json!({ word(i): null }));
            words.len()
        }
        "reject" => {
            out.push(json!({"reject": null}));
            words.len()
        }
        "jump" | "goto" => {
            out.push(json!({ word(i): {"target": word(i + 1)} }));
            words.len()
        }
        "counter" => {
            let mut k = i + 1;
            while matches!(word(k), "packets" | "bytes") {
                k += 2;
            }
            k
        }
        "log" => {
            let mut k = i + 1;
            while matches!(word(k), "prefix" | "level" | "flags" | "group") {
                k += 2;
            }
            k
        }
        "comment" => i + 2,
        "xt" => {
            out.push(json!({"xt": {"type": word(i + 1), "name": word(i + 2)}}));
            i + 3
        }
        "dnat" if words[i + 1..].iter().any(|w| w == "map") => {
            out.push(dnat_map(&words[i + 1..]));
            words.len()
        }
        "dnat" | "redirect" => {
            let target = words[i + 1..].iter().find(|w| !matches!(w.as_str(), "ip" | "ip6" | "to"));
            out.push(nat_target(word(i), target.map(String::as_str).unwrap_or("")));
            words.len()
        }
        "limit" | "quota" => {
            let rest: Vec<&str> = words[i + 1..]
                .iter()
                .map(String::as_str)
                .take_while(|w| {
                    !matches!(
                        *w,
                        "accept" | "drop" | "reject" | "counter" | "log" | "jump" | "goto"
                    )
                })
                .collect();
            out.push(json!({ word(i): rest.join(" ") }));
            i + 1 + rest.len()
        }
        other => {
            // Unknown: kept as a match the analysis cannot decide.
            let unknown = json!({"match": {"op": "==", "left": {"text": other}, "right": other}});
            out.push(unknown);
            i + 1
        }
    }
}

/// `[ip] to tcp dport map { 8443 : 172.17.0.5, 8445 : 172.17.0.7 . 444 }` or `… map @name`
/// after `dnat`: the JSON `{"dnat": {"addr": {"map": …}}}`. Keys other than a port are left
/// as text, which the JSON reader reports as unreadable.
fn dnat_map(words: &[String]) -> Value {
    let rest: Vec<&String> =
        words.iter().skip_while(|w| matches!(w.as_str(), "ip" | "ip6" | "to")).collect();
    let key = match rest.as_slice() {
        [proto, field, ..] if field.as_str() == "dport" => {
            json!({"payload": {"protocol": proto, "field": "dport"}})
        }
        _ => json!({"text": rest.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" ")}),
    };
    let after: Vec<String> = words.iter().skip_while(|w| *w != "map").skip(1).cloned().collect();
    let data = match after.first() {
        Some(name) if name.starts_with('@') => json!(name),
        _ => json!({"set": data_map_elements(&after)}),
    };
    json!({"dnat": {"addr": {"map": {"key": key, "data": data}}}})
}

/// `{ 8443 : 172.17.0.5, 8445 : 172.17.0.7 . 444 }` → `[[8443, "172.17.0.5"],
/// [8445, {"concat": ["172.17.0.7", 444]}]]`.
fn data_map_elements(words: &[String]) -> Vec<Value> {
    let flat = braced(words);
    let mut out = Vec::new();
    let mut index = 0;
    while let (Some(key), Some(":"), Some(addr)) =
        (flat.get(index), flat.get(index + 1).map(String::as_str), flat.get(index + 2))
    {
        if flat.get(index + 3).map(String::as_str) == Some(".") {
            let port = flat.get(index + 4).map_or(Value::Null, |p| value(p));
            out.push(json!([value(key), {"concat": [addr, port]}]));
            index += 5;
        } else {
            out.push(json!([value(key), addr]));
            index += 3;
        }
    }
    out
}

/// `dnat to 172.17.0.2:80`, `dnat ip to 10.0.0.2`, `redirect to :8080`.
fn nat_target(kind: &str, target: &str) -> Value {
    let (addr, port) = match target.rsplit_once(':') {
        Some((addr, port)) if !addr.contains(':') || addr.ends_with(']') => {
            (addr.trim_matches(['[', ']']), port.parse::<u64>().ok())
        }
        _ => (target, None),
    };
    if kind == "redirect" {
        return json!({"redirect": {"port": port}});
    }
    let mut body = Map::new();
    if !addr.is_empty() {
        body.insert("addr".into(), json!(addr));
    }
    if let Some(port) = port {
        body.insert("port".into(), json!(port));
    }
    json!({"dnat": Value::Object(body)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_a_ruleset_fails_the_check_naming_why() {
        let ok = "#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n\tchain input {\n\
            \t\ttype filter hook input priority 0; policy drop;\n\t}\n}\ntable ip nat {\n}\n";
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check(""), Ok(()));
        assert_eq!(check("table inet filter {{{ garbage\n"), Err("3 unclosed `{`".into()));
        assert_eq!(check("table inet filter { }\n}\n"), Err("unbalanced `}`".into()));
        assert_eq!(
            check("Usage: nft [options]\n"),
            Err("unexpected `Usage:` outside a table".into())
        );
    }

    #[test]
    fn policy_on_its_own_line_and_braces_inside_sets() {
        let text = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\
            \t\tpolicy accept;\n\t\ttcp dport { 22, 80 } accept\n\
            \t\tct state established,related accept\n\t}\n}\n";
        let json = to_json(text);
        let items = json["nftables"].as_array().expect("array");
        let chain = items.iter().find_map(|i| i.get("chain")).expect("chain");
        assert_eq!(chain["policy"], "accept");
        assert_eq!(chain["hook"], "input");
        let rules: Vec<&Value> = items.iter().filter_map(|i| i.get("rule")).collect();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["expr"][0]["match"]["right"], json!({"set": [22, 80]}));
        assert_eq!(rules[1]["expr"][0]["match"]["right"], json!(["established", "related"]));
    }

    #[test]
    fn a_named_verdict_map_is_read_like_its_json_listing() {
        let text = "table inet filter {\n\tmap svc {\n\t\ttype inet_service : verdict\n\
            \t\telements = { 25 : accept, 80 : drop }\n\t}\n\tchain input {\n\
            \t\ttype filter hook input priority 0; policy drop;\n\
            \t\ttcp dport vmap @svc\n\t}\n}\n";
        let json = to_json(text);
        let items = json["nftables"].as_array().expect("array");
        let map = items.iter().find_map(|i| i.get("map")).expect("map item");
        assert_eq!(map["elem"], json!([[25, {"accept": null}], [80, {"drop": null}]]));
        let rules: Vec<&Value> = items.iter().filter_map(|i| i.get("rule")).collect();
        assert_eq!(rules.len(), 1, "the vmap rule must not be dropped: {json}");
        assert_eq!(rules[0]["expr"][0]["vmap"]["data"], "@svc");
    }

    #[test]
    fn priorities_with_offsets_and_nat_targets() {
        assert_eq!(priority(&["filter".into(), "+".into(), "10".into()]), 10);
        assert_eq!(priority(&["dstnat".into()]), -100);
        assert_eq!(
            nat_target("dnat", "172.17.0.2:80"),
            json!({"dnat": {"addr": "172.17.0.2", "port": 80}})
        );
        assert_eq!(
            nat_target("dnat", "[2001:db8::2]:80"),
            json!({"dnat": {"addr": "2001:db8::2", "port": 80}})
        );
        assert_eq!(nat_target("redirect", ":8080"), json!({"redirect": {"port": 8080}}));
    }
}
