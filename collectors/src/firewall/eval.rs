//! The exposure analysis: which NEW inbound TCP/UDP connections a ruleset lets reach the host
//! or, through destination NAT, a forwarded destination.
//!
//! It evaluates the normalised model the way the kernel does, symbolically: a *flow* is a set
//! of packets (input interfaces × destination ports × source addresses) of one family and
//! protocol, and each rule splits the flows it sees into the part it matches and the rest,
//! using interval arithmetic. Base chains run per hook in priority order; `accept` ends only
//! its base chain, `drop` is final; jumps return, gotos do not; falling off a base chain
//! applies its policy. NAT chains in prerouting rewrite the destination, and packets sent to
//! another address go through the forward hook instead of input (Docker's published ports).
//!
//! Matches the model cannot decide are handled so that exposure is never understated: a rule
//! that would accept (or jump) is taken as matching *and* not matching; a rule that would drop
//! is taken as not matching. Each such place is listed as an approximation. It does not read
//! rulesets (see `nft`, `xtables`) or sockets.

use std::collections::BTreeSet;

use super::model::{
    BaseChain, Family, Hook, IfSet, Match, Proto, Ranges, Rule, Ruleset, Verdict, MAX_PORT,
};

/// How deep jumps may nest before evaluation gives up (the kernel allows 16 in iptables).
const MAX_DEPTH: usize = 64;

/// The most flows kept alive at once before evaluation gives up as too large.
const MAX_FLOWS: usize = 200_000;

/// A flow's destination after DNAT, if it was translated: address (none for a redirect to the
/// host) and port.
pub type Nat = Option<(Option<u128>, Option<u16>)>;

/// A set of packets of one family and protocol, with the conditions assumed on the way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flow {
    /// Input interfaces.
    pub iif: IfSet,
    /// Destination ports as sent by the client.
    pub ports: Ranges,
    /// Source addresses.
    pub src: Ranges,
    /// The destination after DNAT: address (none for a redirect to the host) and port.
    pub nat: Nat,
    /// Unmodelled matches assumed true on the way, described.
    pub conditions: BTreeSet<String>,
}

/// What one family/protocol evaluation found.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// Flows accepted for local delivery.
    pub host: Vec<Flow>,
    /// Flows DNATed to another address and accepted in forward.
    pub forwarded: Vec<Flow>,
    /// Places where the analysis over-approximated, described once each.
    pub approximations: BTreeSet<String>,
    /// Why the result cannot be trusted at all, if it cannot.
    pub failed: Option<String>,
}

/// Options of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Whether NAT chains are applied; without them every flow goes to input (used to tell
    /// which published ports bypass the host's input rules).
    pub nat: bool,
}

/// Evaluates `ruleset` for NEW inbound packets of `family` and `proto` from outside (any
/// interface but `lo`).
pub fn evaluate(ruleset: &Ruleset, family: Family, proto: Proto, options: Options) -> Exposure {
    let mut engine =
        Engine { ruleset, family, proto, approximations: BTreeSet::new(), failed: None };
    let start = Flow {
        iif: IfSet::Except(BTreeSet::from(["lo".to_string()])),
        ports: Ranges::full(MAX_PORT),
        src: Ranges::full(family.max_addr()),
        nat: None,
        conditions: BTreeSet::new(),
    };
    let mut flows = vec![start];
    for hook in [Hook::Ingress, Hook::Prerouting] {
        flows = engine.run_hook(hook, flows, options);
    }
    let (forward, local): (Vec<Flow>, Vec<Flow>) =
        flows.into_iter().partition(|flow| matches!(flow.nat, Some((Some(_), _))));
    let host = engine.run_hook(Hook::Input, local, options);
    let forwarded = engine.run_hook(Hook::Forward, forward, options);
    Exposure { host, forwarded, approximations: engine.approximations, failed: engine.failed }
}

/// The result of running flows through one chain.
#[derive(Default)]
struct ChainOutcome {
    accepted: Vec<Flow>,
    returned: Vec<Flow>,
}

struct Engine<'a> {
    ruleset: &'a Ruleset,
    family: Family,
    proto: Proto,
    approximations: BTreeSet<String>,
    failed: Option<String>,
}

/// What a rule restricts, for one flow: `None` means "any".
struct Restriction {
    iif: Option<IfSet>,
    ports: Option<Ranges>,
    src: Option<Ranges>,
    never: bool,
    unknown: Vec<String>,
}

impl Engine<'_> {
    fn run_hook(&mut self, hook: Hook, mut flows: Vec<Flow>, options: Options) -> Vec<Flow> {
        let mut chains: Vec<&BaseChain> = self
            .ruleset
            .base
            .iter()
            .filter(|base| base.hook == hook && base.scope.covers(self.family))
            .filter(|base| options.nat || !base.nat)
            .collect();
        chains.sort_by_key(|base| base.priority);
        for base in chains {
            flows = self.run_base(base, flows);
        }
        flows
    }

    /// Runs one base chain: accepted and (with policy accept) unmatched flows pass on.
    fn run_base(&mut self, base: &BaseChain, flows: Vec<Flow>) -> Vec<Flow> {
        let mut passing = Vec::new();
        let mut entering = Vec::new();
        for flow in flows {
            // A NAT chain sees only the first packet, and a connection is translated once.
            if base.nat && flow.nat.is_some() {
                passing.push(flow);
                continue;
            }
            match &base.device {
                Some(scope) => {
                    let inside = flow.iif.intersect(scope);
                    let outside = flow.iif.subtract(scope);
                    if !outside.is_empty() {
                        passing.push(Flow { iif: outside, ..flow.clone() });
                    }
                    if !inside.is_empty() {
                        entering.push(Flow { iif: inside, ..flow });
                    }
                }
                None => entering.push(flow),
            }
        }
        let outcome = self.run_chain(&base.chain, entering, 0);
        passing.extend(outcome.accepted);
        if base.policy_accept {
            passing.extend(outcome.returned);
        }
        passing
    }

    fn run_chain(&mut self, key: &str, flows: Vec<Flow>, depth: usize) -> ChainOutcome {
        let mut outcome = ChainOutcome::default();
        let Some(chain) = self.ruleset.chains.get(key) else {
            self.fail(format!("chain {key} is referenced but was not read"));
            outcome.returned = flows;
            return outcome;
        };
        if depth > MAX_DEPTH {
            self.fail(format!("jumps nest deeper than {MAX_DEPTH} at chain {key}"));
            outcome.returned = flows;
            return outcome;
        }
        let mut live = flows;
        for rule in &chain.rules {
            if live.is_empty() {
                break;
            }
            live = self.apply_rule(rule, live, depth, &mut outcome);
            if live.len() > MAX_FLOWS {
                self.fail(format!("more than {MAX_FLOWS} distinct flows; ruleset too fragmented"));
                break;
            }
        }
        outcome.returned.extend(live);
        outcome
    }

    /// Applies one rule to the live flows; returns the flows that go on to the next rule.
    fn apply_rule(
        &mut self,
        rule: &Rule,
        live: Vec<Flow>,
        depth: usize,
        outcome: &mut ChainOutcome,
    ) -> Vec<Flow> {
        if rule.verdict == Verdict::Continue {
            return live;
        }
        let mut next = Vec::with_capacity(live.len());
        let mut matched = Vec::new();
        // What a rule requires depends on a flow only through its NAT state: computed once per
        // state, not once per flow (a large ruleset splits into thousands of flows).
        let mut cached: Option<(Nat, Restriction)> = None;
        for flow in live {
            if cached.as_ref().is_none_or(|(nat, _)| *nat != flow.nat) {
                cached = Some((flow.nat, self.restriction(rule, &flow)));
            }
            let (_, restriction) = cached.as_ref().expect("the restriction was just computed");
            if restriction.never {
                next.push(flow);
                continue;
            }
            if !restriction.unknown.is_empty() {
                let text = restriction.unknown.join(", ");
                if !may_expose(&rule.verdict) {
                    self.approximate(format!(
                        "ignored drop rule with unmodelled match ({text}): {}",
                        rule.text
                    ));
                    next.push(flow);
                    continue;
                }
                self.approximate(format!(
                    "assumed unmodelled match ({text}) may hold: {}",
                    rule.text
                ));
                if let Some(mut hit) = split(flow.clone(), restriction).0 {
                    hit.conditions.insert(text);
                    matched.push(hit);
                }
                next.push(flow);
                continue;
            }
            let (hit, rest) = split(flow, restriction);
            matched.extend(hit);
            next.extend(rest);
        }
        if !matched.is_empty() {
            next.extend(self.apply_verdict(rule, matched, depth, outcome));
        }
        next
    }

    /// Sends matched flows where the verdict says; returns those that continue in this chain.
    fn apply_verdict(
        &mut self,
        rule: &Rule,
        matched: Vec<Flow>,
        depth: usize,
        outcome: &mut ChainOutcome,
    ) -> Vec<Flow> {
        match &rule.verdict {
            Verdict::Accept => outcome.accepted.extend(matched),
            Verdict::Queue => {
                self.approximate(format!("queue to userspace taken as accept: {}", rule.text));
                outcome.accepted.extend(matched);
            }
            Verdict::Drop => {}
            Verdict::Continue => return matched,
            Verdict::Return => outcome.returned.extend(matched),
            Verdict::Jump(target) => {
                let inner = self.run_chain(target, matched, depth + 1);
                outcome.accepted.extend(inner.accepted);
                return inner.returned;
            }
            Verdict::Goto(target) => {
                let inner = self.run_chain(target, matched, depth + 1);
                outcome.accepted.extend(inner.accepted);
                outcome.returned.extend(inner.returned);
            }
            Verdict::Dnat { addr, port } => {
                let addr =
                    addr.and_then(|(family, value)| (family == self.family).then_some(value));
                for mut flow in matched {
                    flow.nat = Some((addr, *port));
                    outcome.accepted.push(flow);
                }
            }
            Verdict::Redirect(port) => {
                for mut flow in matched {
                    flow.nat = Some((None, *port));
                    outcome.accepted.push(flow);
                }
            }
        }
        Vec::new()
    }

    /// What `rule` requires of packets in `flow`.
    fn restriction(&self, rule: &Rule, flow: &Flow) -> Restriction {
        let mut r =
            Restriction { iif: None, ports: None, src: None, never: false, unknown: Vec::new() };
        for condition in &rule.matches {
            self.restrict(condition, flow, &mut r);
            if r.never {
                break;
            }
        }
        r
    }

    fn restrict(&self, condition: &Match, flow: &Flow, r: &mut Restriction) {
        let proto = self.proto.number();
        let implied_ok = |implied: &Option<u8>| implied.is_none_or(|p| p == proto);
        match condition {
            Match::L4 { protos, negate } => r.never |= protos.contains(&proto) == *negate,
            Match::Family(family) => r.never |= *family != self.family,
            Match::Dport { proto: implied, ports } => {
                if !implied_ok(implied) {
                    r.never = true;
                } else if let Some((_, Some(mapped))) = flow.nat {
                    // After DNAT the rule sees the translated port.
                    r.never |= !ports.contains(u128::from(mapped));
                } else {
                    r.ports = Some(narrow(r.ports.take(), ports));
                }
            }
            Match::Sport { proto: implied } => {
                if implied_ok(implied) {
                    r.unknown.push("source port".to_string());
                } else {
                    r.never = true;
                }
            }
            Match::Saddr(family, set) => {
                if *family == self.family {
                    r.src = Some(narrow(r.src.take(), set));
                } else {
                    r.never = true;
                }
            }
            Match::Daddr(family, set) => self.restrict_daddr(*family, set, flow, r),
            Match::Iif(set) => {
                r.iif = Some(match r.iif.take() {
                    Some(current) => current.intersect(set),
                    None => set.clone(),
                });
            }
            // FIXME(firewall-routing): routes are not modelled; a forwarded packet's output
            // interface is assumed to match (listed as an approximation).
            Match::Oif(set) => {
                if flow.nat.is_none() {
                    // Locally delivered packets have no output interface.
                    r.never = true;
                } else if !set.is_any() {
                    r.unknown.push(format!("output interface {set}"));
                }
            }
            Match::CtNew(matches_new) => r.never |= !matches_new,
            Match::CtDnat(dnat) => r.never |= flow.nat.is_some() != *dnat,
            Match::DstLocal(matches) => r.never |= !matches,
            Match::Never => r.never = true,
            Match::Unknown(text) => r.unknown.push(text.clone()),
        }
    }

    fn restrict_daddr(&self, family: Family, set: &Ranges, flow: &Flow, r: &mut Restriction) {
        if family != self.family {
            r.never = true;
            return;
        }
        match flow.nat {
            Some((Some(addr), _)) => r.never |= !set.contains(addr),
            _ if set.is_full(family.max_addr()) => {}
            _ => {
                let text = family.prefixes_text(set, 3).join(",");
                r.unknown.push(format!("destination address {text}"));
            }
        }
    }

    fn approximate(&mut self, text: String) {
        if self.approximations.len() < 200 {
            self.approximations.insert(text);
        }
    }

    fn fail(&mut self, text: String) {
        self.failed.get_or_insert(text);
    }
}

/// Whether a verdict can let a packet in (so an unknown match must be assumed true).
fn may_expose(verdict: &Verdict) -> bool {
    !matches!(verdict, Verdict::Drop | Verdict::Return)
}

fn narrow(current: Option<Ranges>, with: &Ranges) -> Ranges {
    match current {
        Some(current) => current.intersect(with),
        None => with.clone(),
    }
}

/// Splits `flow` into the part the restriction matches and the rest (at most three flows).
/// A flow the restriction does not touch is returned as it is, without copying.
fn split(flow: Flow, r: &Restriction) -> (Option<Flow>, Vec<Flow>) {
    let iif_hit = r.iif.as_ref().map(|set| flow.iif.intersect(set));
    let ports_hit = r.ports.as_ref().map(|set| flow.ports.intersect(set));
    let src_hit = r.src.as_ref().map(|set| flow.src.intersect(set));
    let misses = iif_hit.as_ref().is_some_and(IfSet::is_empty)
        || ports_hit.as_ref().is_some_and(Ranges::is_empty)
        || src_hit.as_ref().is_some_and(Ranges::is_empty);
    if misses {
        return (None, vec![flow]);
    }
    let mut rest = Vec::new();
    if let Some(hit) = &iif_hit {
        let outside = flow.iif.subtract(hit);
        if !outside.is_empty() {
            rest.push(Flow { iif: outside, ..flow.clone() });
        }
    }
    let iif = iif_hit.unwrap_or_else(|| flow.iif.clone());
    if let Some(hit) = &ports_hit {
        let outside = flow.ports.subtract(hit);
        if !outside.is_empty() {
            rest.push(Flow { iif: iif.clone(), ports: outside, ..flow.clone() });
        }
    }
    let ports = ports_hit.unwrap_or_else(|| flow.ports.clone());
    if let Some(hit) = &src_hit {
        let outside = flow.src.subtract(hit);
        if !outside.is_empty() {
            rest.push(Flow {
                iif: iif.clone(),
                ports: ports.clone(),
                src: outside,
                ..flow.clone()
            });
        }
    }
    let src = src_hit.unwrap_or_else(|| flow.src.clone());
    (Some(Flow { iif, ports, src, ..flow }), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::model::{Backend, Chain, Scope};

    fn rule(matches: Vec<Match>, verdict: Verdict) -> Rule {
        Rule { matches, verdict, text: String::new() }
    }

    fn dport(low: u128, high: u128) -> Match {
        Match::Dport { proto: Some(6), ports: Ranges::span(low, high) }
    }

    fn base(chain: &str, hook: Hook, priority: i32, policy_accept: bool) -> BaseChain {
        BaseChain {
            chain: chain.to_string(),
            backend: Backend::Nftables,
            scope: Scope::Both,
            hook,
            priority,
            policy_accept,
            nat: false,
            device: None,
        }
    }

    fn ports(exposure: &Exposure) -> Ranges {
        exposure.host.iter().fold(Ranges::empty(), |all, flow| all.union(&flow.ports))
    }

    #[test]
    fn accept_ends_only_its_base_chain_and_drop_is_final() {
        let mut ruleset = Ruleset::default();
        let first = Chain { rules: vec![rule(vec![dport(1000, 2000)], Verdict::Accept)] };
        let second = Chain { rules: vec![rule(vec![dport(1500, 1500)], Verdict::Drop)] };
        ruleset.chains.insert("a".into(), first);
        ruleset.chains.insert("b".into(), second);
        ruleset.base.push(base("a", Hook::Input, 0, false));
        ruleset.base.push(base("b", Hook::Input, 10, true));
        let exposure = evaluate(&ruleset, Family::Ipv4, Proto::Tcp, Options { nat: true });
        assert_eq!(ports(&exposure).spans(), [(1000, 1499), (1501, 2000)]);
        let udp = evaluate(&ruleset, Family::Ipv4, Proto::Udp, Options { nat: true });
        assert!(udp.host.is_empty());
    }

    #[test]
    fn jump_returns_and_goto_does_not() {
        let mut ruleset = Ruleset::default();
        let main = Chain {
            rules: vec![
                rule(vec![dport(1, 100)], Verdict::Goto("g".into())),
                rule(vec![], Verdict::Jump("j".into())),
                rule(vec![dport(200, 300)], Verdict::Accept),
            ],
        };
        let g = Chain { rules: vec![rule(vec![dport(22, 22)], Verdict::Accept)] };
        let j = Chain { rules: vec![rule(vec![dport(250, 250)], Verdict::Drop)] };
        ruleset.chains.insert("main".into(), main);
        ruleset.chains.insert("g".into(), g);
        ruleset.chains.insert("j".into(), j);
        ruleset.base.push(base("main", Hook::Input, 0, false));
        let exposure = evaluate(&ruleset, Family::Ipv6, Proto::Tcp, Options { nat: true });
        assert_eq!(ports(&exposure).spans(), [(22, 22), (200, 249), (251, 300)]);
    }

    #[test]
    fn unknown_match_overstates_accepts_and_ignores_drops() {
        let mut ruleset = Ruleset::default();
        let chain = Chain {
            rules: vec![
                rule(vec![Match::Unknown("mark".into())], Verdict::Drop),
                rule(vec![dport(5, 5), Match::Unknown("limit".into())], Verdict::Accept),
            ],
        };
        ruleset.chains.insert("c".into(), chain);
        ruleset.base.push(base("c", Hook::Input, 0, false));
        let exposure = evaluate(&ruleset, Family::Ipv4, Proto::Tcp, Options { nat: true });
        assert_eq!(ports(&exposure).spans(), [(5, 5)]);
        assert_eq!(exposure.host[0].conditions.iter().collect::<Vec<_>>(), ["limit"]);
        assert_eq!(exposure.approximations.len(), 2);
    }
}
