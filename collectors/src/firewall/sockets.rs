//! Listening sockets from `/proc/net/{tcp,tcp6,udp,udp6}` of the collector's network
//! namespace.
//!
//! Owns parsing the kernel's hexadecimal socket tables into (protocol, family, address, port)
//! listeners: TCP sockets in state LISTEN and unconnected UDP sockets. An IPv6 wildcard socket
//! also listens on IPv4 unless `bindv6only` is set; the caller passes that. It does not judge
//! exposure; `mod` joins listeners with the analysis.

use std::collections::BTreeSet;

use super::model::{Family, Proto};

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listener {
    /// TCP or UDP.
    pub proto: Proto,
    /// The family whose packets reach it.
    pub family: Family,
    /// The bound address, as an integer of the family.
    pub addr: u128,
    /// The bound port.
    pub port: u16,
}

impl Listener {
    /// Whether it is bound to a loopback address (unreachable from outside).
    pub fn is_loopback(&self) -> bool {
        match self.family {
            Family::Ipv4 => self.addr >> 24 == 127,
            Family::Ipv6 => self.addr == 1,
        }
    }

    /// `tcp 0.0.0.0:22`, `tcp [::]:22`.
    pub fn text(&self) -> String {
        let addr = self.family.addr_text(self.addr);
        match self.family {
            Family::Ipv4 => format!("{} {addr}:{}", self.proto.as_str(), self.port),
            Family::Ipv6 => format!("{} [{addr}]:{}", self.proto.as_str(), self.port),
        }
    }
}

/// TCP state LISTEN in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";
/// UDP "state" of an unconnected socket (TCP_CLOSE).
const UDP_UNCONNECTED: &str = "07";

/// Parses one `/proc/net/<proto>[6]` table; `v6_also_v4` adds an IPv4 listener for every
/// IPv6 wildcard listener (when `net.ipv6.bindv6only` is 0).
pub fn parse_table(text: &str, proto: Proto, v6: bool, v6_also_v4: bool) -> BTreeSet<Listener> {
    let mut out = BTreeSet::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state)) =
            (fields.get(1), fields.get(2), fields.get(3))
        else {
            continue;
        };
        let wanted = match proto {
            Proto::Tcp => *state == TCP_LISTEN,
            Proto::Udp => *state == UDP_UNCONNECTED && remote.ends_with(":0000"),
        };
        if !wanted {
            continue;
        }
        let Some((addr, port)) = parse_endpoint(local, v6) else { continue };
        let (family, addr) = match (v6, unmap_v4(addr)) {
            (true, Some(v4)) => (Family::Ipv4, v4),
            (true, None) => (Family::Ipv6, addr),
            (false, _) => (Family::Ipv4, addr),
        };
        out.insert(Listener { proto, family, addr, port });
        if family == Family::Ipv6 && addr == 0 && v6_also_v4 {
            out.insert(Listener { proto, family: Family::Ipv4, addr: 0, port });
        }
    }
    out
}

/// `0100007F:0016` → (127.0.0.1, 22); IPv6 addresses are four host-order 32-bit words.
fn parse_endpoint(text: &str, v6: bool) -> Option<(u128, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = if v6 { 4 } else { 1 };
    if addr.len() != words * 8 {
        return None;
    }
    let mut value: u128 = 0;
    for index in 0..words {
        let word = u32::from_str_radix(addr.get(index * 8..index * 8 + 8)?, 16).ok()?;
        // The kernel prints each 32-bit word in host byte order.
        value = (value << 32) | u128::from(u32::from_be_bytes(word.to_ne_bytes()));
    }
    Some((value, port))
}

/// `::ffff:a.b.c.d` → the IPv4 address.
fn unmap_v4(addr: u128) -> Option<u128> {
    (addr >> 32 == 0xffff).then_some(addr & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP6: &str =
        "  sl  local_address                         remote_address                        st\n\
   0: 00000000000000000000000000000000:0CEA 00000000000000000000000000000000:0000 0A 0\n\
   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0\n\
   2: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 0\n\
   3: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 01 0\n";

    #[test]
    fn parses_tcp6_listeners_and_mapped_v4() {
        let got = parse_table(TCP6, Proto::Tcp, true, true);
        let texts: Vec<String> = got.iter().map(Listener::text).collect();
        assert_eq!(
            texts,
            ["tcp 0.0.0.0:3306", "tcp 127.0.0.1:80", "tcp [::]:3306", "tcp [::1]:22"]
        );
        assert!(got.iter().filter(|l| l.is_loopback()).count() == 2);
    }

    #[test]
    fn parses_udp_unconnected_only() {
        let udp = "  sl  local_address rem_address   st\n\
            0: 00000000:EA61 00000000:0000 07 0\n\
            1: 0100007F:0035 0100007F:D431 01 0\n";
        let got = parse_table(udp, Proto::Udp, false, false);
        assert_eq!(got.iter().map(Listener::text).collect::<Vec<_>>(), ["udp 0.0.0.0:60001"]);
    }
}
