//! The normalised firewall model shared by every reader and by the exposure analysis.
//!
//! Owns the value sets the analysis works with (inclusive integer ranges for ports and
//! addresses, interface sets), and the ruleset shape every backend is translated into: base
//! chains registered at a netfilter hook with a priority and a policy, regular chains, and
//! rules as a conjunction of matches plus one verdict. It does not read any backend (see
//! `nft`, `xtables`) and does not evaluate anything (see `eval`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ranges(Vec<(u128, u128)>);

impl Ranges {
    /// The empty set.
    pub fn empty() -> Ranges {
        Ranges(Vec::new())
    }

    /// Every value from 0 to `max`.
    pub fn full(max: u128) -> Ranges {
        Ranges(vec![(0, max)])
    }

    /// The values `low..=high` (empty when `low > high`).
    pub fn span(low: u128, high: u128) -> Ranges {
        if low > high {
            return Ranges::empty();
        }
        Ranges(vec![(low, high)])
    }

    /// One value.
    pub fn one(value: u128) -> Ranges {
        Ranges(vec![(value, value)])
    }

    /// The union of arbitrary, possibly overlapping ranges.
    pub fn from_spans(mut spans: Vec<(u128, u128)>) -> Ranges {
        spans.retain(|(low, high)| low <= high);
        spans.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(spans.len());
        for (low, high) in spans {
            match merged.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        Ranges(merged)
    }

    /// The ranges, sorted.
    pub fn spans(&self) -> &[(u128, u128)] {
        &self.0
    }

    /// Whether the set has no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: u128) -> bool {
        let index = self.0.partition_point(|(_, high)| *high < value);
        self.0.get(index).is_some_and(|(low, _)| *low <= value)
    }

    /// Whether every value of `0..=max` is in the set.
    pub fn is_full(&self, max: u128) -> bool {
        self.0 == [(0, max)]
    }

    /// The values in both sets.
    pub fn intersect(&self, other: &Ranges) -> Ranges {
        // A rule's few ports against a flow's many ranges: binary search, not a full merge.
        if self.0.len() > 8 * other.0.len() {
            return self.intersect_sparse(other);
        }
        if other.0.len() > 8 * self.0.len() {
            return other.intersect_sparse(self);
        }
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < other.0.len() {
            let (a_low, a_high) = self.0[i];
            let (b_low, b_high) = other.0[j];
            let low = a_low.max(b_low);
            let high = a_high.min(b_high);
            if low <= high {
                out.push((low, high));
            }
            if a_high < b_high {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges(out)
    }

    /// Intersection for a `small` set against this large one, by binary search.
    fn intersect_sparse(&self, small: &Ranges) -> Ranges {
        let mut out = Vec::new();
        for &(low, high) in &small.0 {
            let start = self.0.partition_point(|(_, end)| *end < low);
            for &(a_low, a_high) in self.0[start..].iter().take_while(|(begin, _)| *begin <= high) {
                out.push((a_low.max(low), a_high.min(high)));
            }
        }
        Ranges::from_spans(out)
    }

    /// The values of `self` that are not in `other`.
    pub fn subtract(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        let mut j = 0;
        for &(low, high) in &self.0 {
            let mut cursor = low;
            let mut open = true;
            while j < other.0.len() && other.0[j].1 < cursor {
                j += 1;
            }
            let mut k = j;
            while k < other.0.len() && other.0[k].0 <= high {
                let (b_low, b_high) = other.0[k];
                if b_low > cursor {
                    out.push((cursor, b_low - 1));
                }
                if b_high >= high {
                    open = false;
                    break;
                }
                cursor = b_high + 1;
                k += 1;
            }
            if open {
                out.push((cursor, high));
            }
        }
        Ranges(out)
    }

    /// The values in either set.
    pub fn union(&self, other: &Ranges) -> Ranges {
        let mut spans = self.0.clone();
        spans.extend_from_slice(&other.0);
        Ranges::from_spans(spans)
    }

    /// The values of `0..=max` not in the set.
    pub fn complement(&self, max: u128) -> Ranges {
        Ranges::full(max).subtract(self)
    }

    /// How many values the set holds, as a float (address spaces exceed u128 counts by one).
    pub fn measure(&self) -> f64 {
        self.0.iter().map(|(low, high)| (high - low) as f64 + 1.0).sum()
    }
}

/// An IP address family the analysis distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// Both families.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The highest address, as an integer.
    pub fn max_addr(self) -> u128 {
        match self {
            Family::Ipv4 => u128::from(u32::MAX),
            Family::Ipv6 => u128::MAX,
        }
    }

    /// The stable name used in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// An address of this family as text.
    pub fn addr_text(self, addr: u128) -> String {
        match self {
            Family::Ipv4 => Ipv4Addr::from(u32::try_from(addr).unwrap_or(u32::MAX)).to_string(),
            Family::Ipv6 => Ipv6Addr::from(addr).to_string(),
        }
    }

    /// Addresses as CIDR prefixes; `any` for the whole space; at most `limit` entries, then
    /// a `+N more` entry.
    pub fn prefixes_text(self, set: &Ranges, limit: usize) -> Vec<String> {
        if set.is_full(self.max_addr()) {
            return vec!["any".to_string()];
        }
        let complement = set.complement(self.max_addr());
        if self.prefix_count(&complement) < self.prefix_count(set) {
            // "Everything but a few blocks" reads better as what is left out.
            let mut out = self.listed_prefixes(&complement, limit);
            for item in &mut out {
                if !item.starts_with('+') {
                    item.insert_str(0, "not ");
                }
            }
            return out;
        }
        self.listed_prefixes(set, limit)
    }

    fn bits(self) -> u32 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }

    fn prefix_count(self, set: &Ranges) -> usize {
        let bits = self.bits();
        set.spans().iter().map(|&(low, high)| span_to_prefixes(low, high, bits).len()).sum()
    }

    fn listed_prefixes(self, set: &Ranges, limit: usize) -> Vec<String> {
        let bits = self.bits();
        let mut out = Vec::new();
        let mut total = 0_usize;
        for &(low, high) in set.spans() {
            for (addr, len) in span_to_prefixes(low, high, bits) {
                total += 1;
                if out.len() < limit {
                    out.push(format!("{}/{len}", self.addr_text(addr)));
                }
            }
        }
        if total > out.len() {
            out.push(format!("+{} more", total - out.len()));
        }
        out
    }
}

/// The largest aligned prefixes covering `low..=high` in a `bits`-wide space.
fn span_to_prefixes(low: u128, high: u128, bits: u32) -> Vec<(u128, u32)> {
    let mut out = Vec::new();
    let mut cursor = low;
    loop {
        // The largest block starting at `cursor` that is aligned and fits below `high`.
        let mut size_log = if cursor == 0 { bits } else { cursor.trailing_zeros().min(bits) };
        while size_log > 0 && block_end(cursor, size_log).is_none_or(|end| end > high) {
            size_log -= 1;
        }
        out.push((cursor, bits - size_log));
        match block_end(cursor, size_log) {
            Some(end) if end < high => cursor = end + 1,
            _ => break,
        }
    }
    out
}

/// The last value of the block of `2^size_log` values starting at `start`, if representable.
fn block_end(start: u128, size_log: u32) -> Option<u128> {
    if size_log >= 128 {
        return (start == 0).then_some(u128::MAX);
    }
    start.checked_add((1_u128 << size_log) - 1)
}

/// The transport protocols whose ports the analysis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP (protocol number 6).
    Tcp,
    /// UDP (protocol number 17).
    Udp,
}

impl Proto {
    /// Both protocols.
    pub const ALL: [Proto; 2] = [Proto::Tcp, Proto::Udp];

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    /// The stable name used in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// Parses a protocol name or number as written by nft, iptables, ufw or Hetzner.
    pub fn number_of(name: &str) -> Option<u8> {
        match name.to_ascii_lowercase().as_str() {
            "tcp" => Some(6),
            "udp" => Some(17),
            "icmp" => Some(1),
            "ipv6-icmp" | "icmpv6" | "icmp6" => Some(58),
            "sctp" => Some(132),
            "udplite" => Some(136),
            "esp" => Some(50),
            "ah" => Some(51),
            "gre" => Some(47),
            other => other.parse().ok(),
        }
    }
}

/// The highest port number.
pub const MAX_PORT: u128 = 65535;

/// A set of interface names: the named ones, or all but the named ones.
///
/// Names ending in `*` are prefix patterns (iptables writes `eth+`, nft `eth*`) and cover the
/// names and longer patterns they prefix: `eth*` dropped first leaves nothing of `eth0`. What
/// one token cannot state ("`eth*` but not `eth0`") is rounded towards more interfaces, so
/// exposure is overstated rather than missed.
// FIXME(firewall-ifpattern): a pattern minus a name it covers (`eth*` after an `eth0` drop)
// is kept whole; an Only/Except term with exceptions of its own would make it exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IfSet {
    /// Only these interfaces.
    Only(BTreeSet<String>),
    /// Every interface except these.
    Except(BTreeSet<String>),
}

impl IfSet {
    /// One interface (or pattern).
    pub fn named(name: &str) -> IfSet {
        IfSet::Only(BTreeSet::from([normalise_ifname(name)]))
    }

    /// Whether no interface is in the set.
    pub fn is_empty(&self) -> bool {
        matches!(self, IfSet::Only(names) if names.is_empty())
    }

    /// Whether every interface is in the set.
    pub fn is_any(&self) -> bool {
        matches!(self, IfSet::Except(names) if names.is_empty())
    }

    /// The interfaces not in the set.
    pub fn complement(&self) -> IfSet {
        match self {
            IfSet::Only(names) => IfSet::Except(names.clone()),
            IfSet::Except(names) => IfSet::Only(names.clone()),
        }
    }

    /// The interfaces in both sets.
    pub fn intersect(&self, other: &IfSet) -> IfSet {
        match (self, other) {
            (IfSet::Only(a), IfSet::Only(b)) => {
                IfSet::Only(a.iter().flat_map(|x| b.iter().filter_map(|y| meet(x, y))).collect())
            }
            (IfSet::Only(a), IfSet::Except(b)) | (IfSet::Except(b), IfSet::Only(a)) => {
                // A name partly excluded (`eth*` except `eth0`) is kept whole.
                IfSet::Only(a.iter().filter(|x| !b.iter().any(|y| covers(y, x))).cloned().collect())
            }
            (IfSet::Except(a), IfSet::Except(b)) => IfSet::Except(a.union(b).cloned().collect()),
        }
    }

    /// The interfaces in either set.
    pub fn union(&self, other: &IfSet) -> IfSet {
        match (self, other) {
            (IfSet::Only(a), IfSet::Only(b)) => IfSet::Only(a.union(b).cloned().collect()),
            (IfSet::Only(a), IfSet::Except(b)) | (IfSet::Except(b), IfSet::Only(a)) => {
                // An exclusion partly added back (`eth*` plus `eth0`) is dropped whole.
                let kept = b.iter().filter(|y| !a.iter().any(|x| meet(x, y).is_some()));
                IfSet::Except(kept.cloned().collect())
            }
            (IfSet::Except(a), IfSet::Except(b)) => {
                IfSet::Except(a.iter().flat_map(|x| b.iter().filter_map(|y| meet(x, y))).collect())
            }
        }
    }

    /// The interfaces of `self` not in `other`.
    pub fn subtract(&self, other: &IfSet) -> IfSet {
        self.intersect(&other.complement())
    }
}

impl fmt::Display for IfSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |names: &BTreeSet<String>| names.iter().cloned().collect::<Vec<_>>().join(",");
        match self {
            IfSet::Except(names) if names.is_empty() => f.write_str("any"),
            IfSet::Except(names) => write!(f, "not {}", join(names)),
            IfSet::Only(names) => f.write_str(&join(names)),
        }
    }
}

/// Whether every interface `name` stands for is also one `pattern` stands for: equal, or
/// `pattern` is `p*` and `name` (a name or a longer pattern) starts with `p`.
fn covers(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The interfaces both tokens stand for, as one token, if any.
fn meet(a: &str, b: &str) -> Option<String> {
    if covers(a, b) {
        Some(b.to_string())
    } else if covers(b, a) {
        Some(a.to_string())
    } else {
        None
    }
}

/// Writes interface patterns one way: `eth+` (iptables) and `eth*` (nft) become `eth*`.
pub fn normalise_ifname(name: &str) -> String {
    match name.strip_suffix('+') {
        Some(prefix) => format!("{prefix}*"),
        None => name.to_string(),
    }
}

/// Which backend or layer a chain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// Native nftables (including firewalld's tables).
    Nftables,
    /// iptables on the nf_tables backend.
    IptablesNft,
    /// iptables on the legacy x_tables backend.
    IptablesLegacy,
}

impl Backend {
    /// The stable name used in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::IptablesNft => "iptables_nft",
            Backend::IptablesLegacy => "iptables_legacy",
        }
    }
}

/// A netfilter hook the analysis follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// netdev ingress, before prerouting.
    Ingress,
    /// prerouting: raw, mangle, destination NAT.
    Prerouting,
    /// input: locally delivered packets.
    Input,
    /// forward: routed packets, including DNAT to containers.
    Forward,
    /// Any hook inbound traffic to the host never passes (output, postrouting).
    Other,
}

impl Hook {
    /// Parses a hook name as nft and iptables write it.
    pub fn parse(name: &str) -> Hook {
        match name.to_ascii_lowercase().as_str() {
            "ingress" => Hook::Ingress,
            "prerouting" => Hook::Prerouting,
            "input" => Hook::Input,
            "forward" => Hook::Forward,
            _ => Hook::Other,
        }
    }
}

/// Which families a chain sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// IPv4 only (`ip` tables, iptables).
    Ipv4,
    /// IPv6 only (`ip6` tables, ip6tables).
    Ipv6,
    /// Both (`inet` and `netdev` tables).
    Both,
}

impl Scope {
    /// Whether the chain sees packets of `family`.
    pub fn covers(self, family: Family) -> bool {
        matches!(
            (self, family),
            (Scope::Both, _) | (Scope::Ipv4, Family::Ipv4) | (Scope::Ipv6, Family::Ipv6)
        )
    }
}

/// A chain registered at a hook: where evaluation of a packet starts.
#[derive(Debug, Clone)]
pub struct BaseChain {
    /// The chain's key in [`Ruleset::chains`].
    pub chain: String,
    /// Where it came from.
    pub backend: Backend,
    /// Which families it sees.
    pub scope: Scope,
    /// The hook.
    pub hook: Hook,
    /// Lower runs first.
    pub priority: i32,
    /// What happens to packets that fall off its end.
    pub policy_accept: bool,
    /// Whether it is a NAT chain (only the first packet of a connection passes it).
    pub nat: bool,
    /// The devices a netdev (or inet ingress) chain is bound to.
    pub device: Option<IfSet>,
}

/// A chain: an ordered list of rules.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// The rules in order.
    pub rules: Vec<Rule>,
}

/// One rule: every match must hold for the verdict to apply.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The conjunction of matches.
    pub matches: Vec<Match>,
    /// What happens to a matching packet.
    pub verdict: Verdict,
    /// The rule as the backend showed it, for evidence and messages.
    pub text: String,
}

/// One condition of a rule, in terms the analysis understands.
#[derive(Debug, Clone)]
pub enum Match {
    /// The layer-4 protocol is (or, negated, is not) one of these numbers.
    L4 {
        /// Protocol numbers.
        protos: BTreeSet<u8>,
        /// Whether the match is negated.
        negate: bool,
    },
    /// The packet is of this family (e.g. `ip saddr` in an `inet` table).
    Family(Family),
    /// The destination port is in the set; `proto` is the protocol the match implies.
    Dport {
        /// The protocol implied (`tcp dport`), or none (`th dport`).
        proto: Option<u8>,
        /// The ports.
        ports: Ranges,
    },
    /// The source port is in the set: a client picks it, so it is not a property of exposure.
    Sport {
        /// The protocol implied.
        proto: Option<u8>,
    },
    /// The source address is in the set (of the family).
    Saddr(Family, Ranges),
    /// The destination address is in the set (of the family).
    Daddr(Family, Ranges),
    /// The input interface.
    Iif(IfSet),
    /// The output interface (known only for forwarded traffic).
    Oif(IfSet),
    /// A conntrack state match; only whether a NEW packet matches matters.
    CtNew(bool),
    /// `ct status dnat` (negated: `!= dnat`): whether the connection was destination-NATed.
    CtDnat(bool),
    /// `addrtype --dst-type LOCAL` (negated: `!`): inbound traffic to the host matches.
    DstLocal(bool),
    /// A match that can never hold for inbound TCP/UDP (e.g. `icmp type`).
    Never,
    /// A match the analysis does not model, described; see `eval` for how it is treated.
    Unknown(String),
}

/// The verdict of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accept: ends this base chain; the packet goes on to the next one.
    Accept,
    /// Drop (or reject): final.
    Drop,
    /// No verdict (counter, log): the next rule is evaluated.
    Continue,
    /// Back to the calling chain (or the policy in a base chain).
    Return,
    /// Into another chain, returning here afterwards.
    Jump(String),
    /// Into another chain, not returning here.
    Goto(String),
    /// Destination NAT to an address and/or port.
    Dnat {
        /// The new destination address, if given.
        addr: Option<(Family, u128)>,
        /// The new destination port, if given.
        port: Option<u16>,
    },
    /// Redirect to a local port.
    Redirect(Option<u16>),
    /// Passed to a userspace program that decides; treated as accept.
    Queue,
}

/// A whole ruleset, merged over every backend read.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    /// Every chain by key (`backend/family/table/chain`).
    pub chains: BTreeMap<String, Chain>,
    /// The chains registered at hooks.
    pub base: Vec<BaseChain>,
    /// Things read that do not apply to host traffic (bridge, arp tables), described.
    pub not_applicable: Vec<String>,
    /// Parse problems that make parts of the ruleset unknown, described.
    pub unreadable: Vec<String>,
}

impl Ruleset {
    /// Adds everything of `other`.
    pub fn merge(&mut self, other: Ruleset) {
        self.chains.extend(other.chains);
        self.base.extend(other.base);
        self.not_applicable.extend(other.not_applicable);
        self.unreadable.extend(other.unreadable);
    }

    /// Drops every chain of one table (and its base chains).
    pub fn remove_table(&mut self, backend: Backend, family: &str, table: &str) {
        let prefix = format!("{}/{family}/{table}/", backend.as_str());
        self.chains.retain(|key, _| !key.starts_with(&prefix));
        self.base.retain(|base| !base.chain.starts_with(&prefix));
    }

    /// How many rules all chains hold.
    pub fn rule_count(&self) -> usize {
        self.chains.values().map(|chain| chain.rules.len()).sum()
    }
}

/// The key of a chain.
pub fn chain_key(backend: Backend, family: &str, table: &str, chain: &str) -> String {
    format!("{}/{family}/{table}/{chain}", backend.as_str())
}

/// Parses an address or prefix (`198.51.100.0/24`, `2001:db8::1`) into its family and range.
pub fn parse_prefix(text: &str) -> Option<(Family, Ranges)> {
    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text, None),
    };
    let (family, value, bits) = if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        (Family::Ipv4, u128::from(u32::from(v4)), 32)
    } else if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        (Family::Ipv6, u128::from(v6), 128)
    } else {
        return None;
    };
    let len: u32 = match len {
        None => bits,
        Some(len) => prefix_len(len, family)?,
    };
    if len > bits {
        return None;
    }
    let host_bits = bits - len;
    let mask = if host_bits >= 128 { u128::MAX } else { (1_u128 << host_bits) - 1 };
    let low = value & !mask;
    Some((family, Ranges::span(low, (low | mask).min(family.max_addr()))))
}

/// A prefix length, or an IPv4 dotted netmask as iptables-save may print it.
fn prefix_len(text: &str, family: Family) -> Option<u32> {
    if let Ok(len) = text.parse() {
        return Some(len);
    }
    let mask: Ipv4Addr = text.parse().ok()?;
    let bits = u32::from(mask);
    (family == Family::Ipv4 && bits.leading_ones() + bits.trailing_zeros() == 32)
        .then_some(bits.leading_ones())
}

/// Parses one address into its family and value.
pub fn parse_addr(text: &str) -> Option<(Family, u128)> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Some((Family::Ipv4, u128::from(u32::from(v4))));
    }
    text.parse::<Ipv6Addr>().ok().map(|v6| (Family::Ipv6, u128::from(v6)))
}

/// Ports as text: `22`, `60000-61000`, `all`; comma separated.
pub fn ports_text(ports: &Ranges) -> String {
    if ports.is_full(MAX_PORT) || ports.spans() == [(1, MAX_PORT)] {
        return "all".to_string();
    }
    ports
        .spans()
        .iter()
        .map(|&(low, high)| if low == high { low.to_string() } else { format!("{low}-{high}") })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_subtract_and_intersect() {
        let a = Ranges::from_spans(vec![(0, 10), (20, 30)]);
        let b = Ranges::from_spans(vec![(5, 22), (30, 40)]);
        assert_eq!(a.subtract(&b).spans(), [(0, 4), (23, 29)]);
        assert_eq!(a.intersect(&b).spans(), [(5, 10), (20, 22), (30, 30)]);
        assert_eq!(a.union(&b).spans(), [(0, 40)]);
        assert_eq!(Ranges::full(MAX_PORT).subtract(&Ranges::one(0)).spans(), [(1, 65535)]);
        assert!(Ranges::one(7).subtract(&Ranges::span(0, 9)).is_empty());
        assert!(a.contains(25) && !a.contains(15));
        let many = Ranges::from_spans((0..100).map(|i| (i * 10, i * 10 + 4)).collect());
        let few = Ranges::from_spans(vec![(3, 12), (990, 2000)]);
        assert_eq!(many.intersect(&few).spans(), [(3, 4), (10, 12), (990, 994)]);
        assert_eq!(few.intersect(&many), many.intersect(&few));
    }

    #[test]
    fn prefixes_round_trip() {
        let (family, set) = parse_prefix("198.51.100.7/24").expect("valid prefix");
        assert_eq!(family, Family::Ipv4);
        assert_eq!(family.prefixes_text(&set, 8), ["198.51.100.0/24"]);
        let (family, all) = parse_prefix("::/0").expect("valid prefix");
        assert_eq!(family.prefixes_text(&all, 8), ["any"]);
        let (_, mask) = parse_prefix("10.0.0.0/255.255.0.0").expect("netmask");
        assert_eq!(Family::Ipv4.prefixes_text(&mask, 8), ["10.0.0.0/16"]);
        let odd = Ranges::span(1, 6);
        assert_eq!(
            Family::Ipv4.prefixes_text(&odd, 8),
            ["0.0.0.1/32", "0.0.0.2/31", "0.0.0.4/31", "0.0.0.6/32"]
        );
        let everything_but = Ranges::full(u128::from(u32::MAX)).subtract(&Ranges::one(0));
        assert_eq!(Family::Ipv4.prefixes_text(&everything_but, 2), ["not 0.0.0.0/32"]);
        let two = Ranges::span(0, 0).union(&Ranges::span(2, 2));
        assert_eq!(Family::Ipv4.prefixes_text(&two, 1), ["0.0.0.0/32", "+1 more"]);
    }

    #[test]
    fn ifsets_combine() {
        let not_lo = IfSet::Except(BTreeSet::from(["lo".to_string()]));
        let eth1 = IfSet::named("eth1");
        assert_eq!(not_lo.intersect(&eth1), eth1);
        assert_eq!(not_lo.subtract(&eth1).to_string(), "not eth1,lo");
        assert!(IfSet::named("lo").intersect(&not_lo).is_empty());
        assert_eq!(IfSet::named("eth+"), IfSet::named("eth*"));
        let not_docker = IfSet::Except(BTreeSet::from(["docker0".to_string(), "lo".to_string()]));
        assert_eq!(IfSet::named("docker0").union(&not_docker), not_lo);
    }

    #[test]
    fn interface_patterns_cover_the_names_they_prefix() {
        let not_eth = IfSet::named("eth*").complement();
        assert!(not_eth.intersect(&IfSet::named("eth0")).is_empty(), "eth0 is one of eth*");
        assert!(IfSet::named("eth+").intersect(&IfSet::named("wlan0")).is_empty());
        assert_eq!(IfSet::named("eth*").intersect(&IfSet::named("eth0")), IfSet::named("eth0"));
        assert_eq!(IfSet::named("eth0").union(&not_eth).to_string(), "any", "rounded up");
        let not_eth0 = IfSet::named("eth0").complement();
        assert_eq!(not_eth.union(&not_eth0), not_eth0);
        assert_eq!(IfSet::named("eth*").subtract(&IfSet::named("eth0")), IfSet::named("eth*"));
    }
}
