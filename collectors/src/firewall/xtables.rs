//! Reads `iptables-save` / `ip6tables-save` output (legacy and nf_tables backends) into the
//! normalised model.
//!
//! Owns the table/chain/rule syntax of the save format, the hook and priority of each
//! built-in chain, and the common matches and targets (`-p`, `-s`, `-d`, `-i`, `-o`, `tcp`,
//! `udp`, `multiport`, `conntrack`, `state`, `addrtype`, `iprange`, `comment`; `ACCEPT`,
//! `DROP`, `REJECT`, `RETURN`, `DNAT`, `REDIRECT`, user chains, `-g`). Anything else becomes
//! an unknown match, which the analysis treats conservatively. It does not run the programs.

use std::collections::BTreeSet;

use super::model::{
    chain_key, normalise_ifname, parse_addr, parse_prefix, Backend, BaseChain, Chain, Family, Hook,
    IfSet, Match, Proto, Ranges, Rule, Ruleset, Scope, Verdict, MAX_PORT,
};
use super::nft::service_port;

/// Summary of one save listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveSummary {
    /// Table names present.
    pub tables: Vec<String>,
    /// Rules over all tables.
    pub rules: usize,
    /// Whether some built-in chain has policy DROP.
    pub any_drop_policy: bool,
}

impl SaveSummary {
    /// Whether the listing holds no rule and only ACCEPT policies (what an unused backend
    /// shows).
    pub fn is_empty(&self) -> bool {
        self.rules == 0 && !self.any_drop_policy
    }
}

/// Parses one save listing of `family` read through `backend`.
pub fn parse(text: &str, family: Family, backend: Backend) -> (Ruleset, SaveSummary) {
    let mut ruleset = Ruleset::default();
    let mut summary = SaveSummary::default();
    let fam = match family {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ip6",
    };
    let mut table = String::new();
    let mut user_chains: BTreeSet<String> = BTreeSet::new();
    // Chains are declared before rules within a table; collect all first.
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
            summary.tables.push(table.clone());
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let name = parts.next().unwrap_or("");
            let policy = parts.next().unwrap_or("-");
            user_chains.insert(format!("{table}/{name}"));
            let key = chain_key(backend, fam, &table, name);
            ruleset.chains.entry(key.clone()).or_default();
            if policy != "-" {
                summary.any_drop_policy |= policy == "DROP";
                add_base(&mut ruleset, key, &table, name, policy, family, backend);
            }
        }
    }
    table.clear();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let context = Context { family, backend, fam, table: &table, chains: &user_chains };
            match context.rule(rest) {
                Some((chain, rule)) => {
                    summary.rules += 1;
                    let key = chain_key(backend, fam, &table, &chain);
                    ruleset.chains.entry(key).or_insert_with(Chain::default).rules.push(rule);
                }
                None => {
                    ruleset.unreadable.push(format!("{}: cannot parse {line}", backend.as_str()))
                }
            }
        }
    }
    (ruleset, summary)
}

fn add_base(
    ruleset: &mut Ruleset,
    key: String,
    table: &str,
    chain: &str,
    policy: &str,
    family: Family,
    backend: Backend,
) {
    let (hook, priority, nat) = match (table, chain) {
        ("raw", "PREROUTING") => (Hook::Prerouting, -300, false),
        ("mangle", "PREROUTING") => (Hook::Prerouting, -150, false),
        ("mangle", "INPUT") => (Hook::Input, -150, false),
        ("mangle", "FORWARD") => (Hook::Forward, -150, false),
        ("nat", "PREROUTING") => (Hook::Prerouting, -100, true),
        ("filter", "INPUT") => (Hook::Input, 0, false),
        ("filter", "FORWARD") => (Hook::Forward, 0, false),
        ("security", "INPUT") => (Hook::Input, 50, false),
        ("security", "FORWARD") => (Hook::Forward, 50, false),
        _ => return,
    };
    let scope = match family {
        Family::Ipv4 => Scope::Ipv4,
        Family::Ipv6 => Scope::Ipv6,
    };
    ruleset.base.push(BaseChain {
        chain: key,
        backend,
        scope,
        hook,
        priority,
        policy_accept: policy != "DROP",
        nat,
        device: None,
    });
}

struct Context<'a> {
    family: Family,
    backend: Backend,
    fam: &'a str,
    table: &'a str,
    chains: &'a BTreeSet<String>,
}

/// Splits a rule line into words, honouring double quotes (comments).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut started = false;
    for c in line.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
            started = true;
        } else if c.is_whitespace() && !quoted {
            if started {
                out.push(std::mem::take(&mut current));
                started = false;
            }
        } else {
            current.push(c);
            started = true;
        }
    }
    if started {
        out.push(current);
    }
    out
}

impl Context<'_> {
    /// Parses the words after `-A`: the chain name and the rule.
    fn rule(&self, rest: &str) -> Option<(String, Rule)> {
        let words = words(rest);
        let chain = words.first()?.clone();
        let mut matches = Vec::new();
        let mut verdict = Verdict::Continue;
        let mut proto: Option<u8> = None;
        let mut negate = false;
        let mut i = 1;
        while i < words.len() {
            let word = words[i].as_str();
            i += 1;
            if word == "!" {
                negate = true;
                continue;
            }
            let arg = words.get(i).map(String::as_str);
            let mut take = || {
                i += 1;
                arg
            };
            match word {
                "-p" | "--protocol" => {
                    let name = take()?;
                    let number = if name == "all" { None } else { Some(Proto::number_of(name)?) };
                    if let Some(number) = number {
                        proto = (!negate).then_some(number);
                        matches.push(Match::L4 { protos: BTreeSet::from([number]), negate });
                    }
                }
                "-s" | "--source" | "-d" | "--destination" => {
                    let set = self.addr_list(take()?)?;
                    let set = if negate { set.complement(self.family.max_addr()) } else { set };
                    matches.push(if word.starts_with("-s") || word == "--source" {
                        Match::Saddr(self.family, set)
                    } else {
                        Match::Daddr(self.family, set)
                    });
                }
                "-i" | "--in-interface" | "-o" | "--out-interface" => {
                    let set = IfSet::named(&normalise_ifname(take()?));
                    let set = if negate { set.complement() } else { set };
                    let is_in = word == "-i" || word == "--in-interface";
                    matches.push(if is_in { Match::Iif(set) } else { Match::Oif(set) });
                }
                "-m" | "--match" => {
                    take()?;
                }
                "-j" | "--jump" | "-g" | "--goto" => {
                    let target = take()?.to_string();
                    let options = target_options(&words[i..]);
                    i += options.len();
                    let goto = word == "-g" || word == "--goto";
                    verdict = self.target(&target, &options, goto, &mut matches);
                }
                _ => {
                    let consumed = self.option(word, &words[i..], negate, proto, &mut matches);
                    i += consumed;
                }
            }
            negate = false;
        }
        let text = format!("{} {} -A {rest}", self.backend.as_str(), self.fam);
        Some((chain, Rule { matches, verdict, text }))
    }

    /// Handles a match option; returns how many argument words it used.
    fn option(
        &self,
        word: &str,
        args: &[String],
        negate: bool,
        proto: Option<u8>,
        out: &mut Vec<Match>,
    ) -> usize {
        let arg = args.first().map(String::as_str).unwrap_or("");
        match word {
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                match port_list(arg) {
                    Some(set) => {
                        let ports = if negate { set.complement(MAX_PORT) } else { set };
                        out.push(Match::Dport { proto, ports });
                    }
                    None => out.push(Match::Unknown(format!("{word} {arg}"))),
                }
                1
            }
            "--sport" | "--source-port" | "--sports" | "--source-ports" => {
                out.push(Match::Sport { proto });
                1
            }
            "--ctstate" | "--state" => {
                let has_new = arg.split(',').any(|state| state.eq_ignore_ascii_case("NEW"));
                out.push(Match::CtNew(has_new != negate));
                1
            }
            "--dst-type" => {
                // Unicast connections to the host have destination type LOCAL.
                let local = arg.split(',').any(|t| t == "LOCAL");
                out.push(Match::DstLocal(local != negate));
                1
            }
            "--src-type" => {
                // Traffic from outside never has a local source address.
                let only_local = arg == "LOCAL";
                out.push(if only_local && !negate {
                    Match::Never
                } else {
                    Match::Unknown(format!("--src-type {arg}"))
                });
                1
            }
            "--src-range" => {
                match self.addr_range(arg) {
                    Some(set) => {
                        let set = if negate { set.complement(self.family.max_addr()) } else { set };
                        out.push(Match::Saddr(self.family, set));
                    }
                    None => out.push(Match::Unknown(format!("--src-range {arg}"))),
                }
                1
            }
            "--comment" => 1,
            _ => {
                // An option of an unmodelled match: everything up to the next option.
                let used = args.iter().take_while(|w| !w.starts_with('-') && *w != "!").count();
                let mut text = word.to_string();
                for extra in &args[..used] {
                    text.push(' ');
                    text.push_str(extra);
                }
                out.push(Match::Unknown(if negate { format!("! {text}") } else { text }));
                used
            }
        }
    }

    fn target(
        &self,
        target: &str,
        options: &[String],
        goto: bool,
        matches: &mut Vec<Match>,
    ) -> Verdict {
        let option = |name: &str| {
            options
                .iter()
                .position(|w| w == name)
                .and_then(|p| options.get(p + 1))
                .map(String::as_str)
        };
        match target {
            "ACCEPT" => Verdict::Accept,
            "DROP" | "REJECT" => Verdict::Drop,
            "RETURN" => Verdict::Return,
            "NFQUEUE" | "QUEUE" => Verdict::Queue,
            "DNAT" => self.dnat(option("--to-destination").unwrap_or(""), matches),
            "REDIRECT" => {
                let port =
                    option("--to-ports").and_then(|p| p.split(['-', ':']).next()?.parse().ok());
                Verdict::Redirect(port)
            }
            "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "MASQUERADE" | "SNAT" | "CT" | "TRACE"
            | "TCPMSS" | "NOTRACK" | "CHECKSUM" | "AUDIT" | "ULOG" => Verdict::Continue,
            chain if self.chains.contains(&format!("{}/{chain}", self.table)) => {
                let key = chain_key(self.backend, self.fam, self.table, chain);
                if goto {
                    Verdict::Goto(key)
                } else {
                    Verdict::Jump(key)
                }
            }
            other => {
                matches.push(Match::Unknown(format!("target {other}")));
                Verdict::Accept
            }
        }
    }

    fn dnat(&self, to: &str, matches: &mut Vec<Match>) -> Verdict {
        // `172.17.0.2:80`, `[2001:db8::2]:80`, `172.17.0.2`, `:80`, ranges `a-b:p1-p2`.
        let (addr, port) = match to.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((addr, port)) => (addr, port.strip_prefix(':')),
                None => (rest, None),
            },
            None if self.family == Family::Ipv4 => match to.split_once(':') {
                Some((addr, port)) => (addr, Some(port)),
                None => (to, None),
            },
            None => (to, None),
        };
        let parsed = parse_addr(addr);
        if parsed.is_none() && !addr.is_empty() {
            matches.push(Match::Unknown(format!("dnat to {to}")));
        }
        let port = port.and_then(|p| p.split('-').next()?.parse().ok());
        Verdict::Dnat { addr: parsed, port }
    }

    fn addr_list(&self, text: &str) -> Option<Ranges> {
        let mut set = Ranges::empty();
        for part in text.split(',') {
            let (family, range) = parse_prefix(part)?;
            if family != self.family {
                return None;
            }
            set = set.union(&range);
        }
        Some(set)
    }

    fn addr_range(&self, text: &str) -> Option<Ranges> {
        let (low, high) = text.split_once('-').unwrap_or((text, text));
        let (f1, low) = parse_addr(low)?;
        let (f2, high) = parse_addr(high)?;
        (f1 == self.family && f2 == self.family).then(|| Ranges::span(low, high))
    }
}

/// The words after a target that belong to it (its `--options` and their values).
fn target_options(rest: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = rest.iter().peekable();
    while let Some(word) = iter.next() {
        if !word.starts_with("--") {
            break;
        }
        out.push(word.clone());
        if let Some(value) = iter.peek() {
            if !value.starts_with('-') {
                out.push((*value).clone());
                iter.next();
            }
        }
    }
    out
}

/// `22`, `60000:61000`, `22,80,8000:8100`, service names.
pub fn port_list(text: &str) -> Option<Ranges> {
    let mut spans = Vec::new();
    for part in text.split(',') {
        let (low, high) = part.split_once([':', '-']).unwrap_or((part, part));
        let low = if low.is_empty() { 0 } else { one_port(low)? };
        let high = if high.is_empty() { 65535 } else { one_port(high)? };
        spans.push((u128::from(low), u128::from(high)));
    }
    Some(Ranges::from_spans(spans))
}

fn one_port(text: &str) -> Option<u16> {
    text.parse().ok().or_else(|| service_port(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_comments() {
        let got = words(r#"INPUT -m comment --comment "allow \"web\" x" -j ACCEPT"#);
        assert_eq!(got, ["INPUT", "-m", "comment", "--comment", "allow \"web\" x", "-j", "ACCEPT"]);
    }

    #[test]
    fn port_lists_and_ranges() {
        assert_eq!(
            port_list("22,80,8000:8100").expect("valid").spans(),
            [(22, 22), (80, 80), (8000, 8100)]
        );
        assert_eq!(port_list("60000:").expect("valid").spans(), [(60000, 65535)]);
        assert!(port_list("x").is_none());
    }

    #[test]
    fn negations_and_targets() {
        let save = "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n\
            -A INPUT ! -i eth0 -p tcp -m tcp ! --dport 22 -j X\n\
            -A INPUT -s 10.0.0.0/255.0.0.0 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n";
        let (ruleset, summary) = parse(save, Family::Ipv4, Backend::IptablesLegacy);
        assert_eq!(summary.rules, 2);
        assert!(!summary.is_empty());
        let rules = &ruleset.chains["iptables_legacy/ip/filter/INPUT"].rules;
        assert_eq!(rules[0].verdict, Verdict::Jump("iptables_legacy/ip/filter/X".into()));
        assert!(matches!(&rules[0].matches[0], Match::Iif(IfSet::Except(n)) if n.contains("eth0")));
        assert!(matches!(&rules[0].matches[2],
                Match::Dport { ports, .. } if !ports.contains(22) && ports.contains(23)));
        assert_eq!(rules[1].verdict, Verdict::Drop);
        assert_eq!(ruleset.base.len(), 1);
        assert!(!ruleset.base[0].policy_accept);
    }
}
