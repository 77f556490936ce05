//! Listening sockets of the collector's network namespace: from netlink `sock_diag`, else
//! from `/proc/net/{tcp,tcp6,udp,udp6}`.
//!
//! Owns turning the kernel's socket tables into (protocol, family, address, port) listeners:
//! TCP sockets in state LISTEN and unconnected UDP sockets. An IPv6 wildcard socket also
//! listens on IPv4 unless it is IPv6-only. `sock_diag` tells that per socket
//! (`INET_DIAG_SKV6ONLY`); `/proc` cannot, so that fallback takes every such socket as the
//! system default (`net.ipv6.bindv6only`) and records the approximation. A table that does not
//! exist (no IPv6 in the kernel) is empty; one that exists but cannot be read is an error,
//! never "nothing listens". It does not judge exposure; `report` joins listeners with the
//! analysis.

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use super::model::{Family, Proto};

/// What reading the socket tables gave.
#[derive(Debug, Clone, Default)]
pub struct SocketsRead {
    /// Every listener found.
    pub listeners: BTreeSet<Listener>,
    /// Where each table came from, as `tcp6 netlink`, `udp proc`.
    pub sources: Vec<String>,
    /// Where the result is an approximation, and why.
    pub approximations: Vec<String>,
    /// Why some table could not be read at all; the listeners are then incomplete.
    pub error: Option<String>,
}

/// Reads all four tables: netlink first, `/proc` where netlink fails; each netlink dump may
/// take `timeout`.
pub async fn read(timeout: Duration) -> SocketsRead {
    let mut out = SocketsRead::default();
    let bindv6only = tokio::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").await;
    let default_v6only = bindv6only.map(|v| v.trim() == "1").unwrap_or(false);
    for (name, proto, v6) in [
        ("tcp", Proto::Tcp, false),
        ("tcp6", Proto::Tcp, true),
        ("udp", Proto::Udp, false),
        ("udp6", Proto::Udp, true),
    ] {
        let dumped = tokio::task::spawn_blocking(move || dump(proto, v6, timeout)).await;
        let why = match dumped {
            Ok(Ok(sockets)) => {
                out.sources.push(format!("{name} netlink"));
                for socket in sockets {
                    out.listeners.extend(socket.listeners(proto, default_v6only));
                }
                continue;
            }
            Ok(Err(error)) => error.to_string(),
            Err(join) => join.to_string(),
        };
        let path = format!("/proc/net/{name}");
        // Without IPv6 in the kernel its tables do not exist; the IPv4 ones always do, so their
        // absence means a hidden /proc/net (e.g. ProcSubset=pid).
        let ipv4_path = path.trim_end_matches('6').to_string();
        match read_proc_table(&path).await {
            Ok(None) if v6 && exists(&ipv4_path).await => {
                out.sources.push(format!("{name} absent"))
            }
            Ok(None) => {
                let hidden = format!("{path} is hidden (sock_diag: {why})");
                out.error.get_or_insert(hidden);
            }
            Ok(Some(text)) => {
                out.sources.push(format!("{name} proc"));
                out.listeners.extend(parse_table(&text, proto, v6, !default_v6only));
                if v6 {
                    out.approximations.push(format!(
                        "{name} wildcard listeners taken as {} (net.ipv6.bindv6only): \
                         sock_diag unavailable ({why}), {path} does not show IPV6_V6ONLY",
                        if default_v6only { "ipv6-only" } else { "dual-stack" }
                    ));
                }
            }
            Err(error) => {
                out.error.get_or_insert(format!("{error} (sock_diag: {why})"));
            }
        }
    }
    out
}

/// A `/proc/net` table's text; `None` when it does not exist (that family or protocol is not
/// in the kernel). Any other failure is an error naming the path.
pub async fn read_proc_table(path: &str) -> Result<Option<String>, String> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {path}: {error}")),
    }
}

/// Whether `path` exists (seeing it needs no privilege).
pub async fn exists(path: &str) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok()
}

/// One socket as `sock_diag` reports it.
#[derive(Debug, Clone, PartialEq)]
struct DiagSocket {
    addr: IpAddr,
    port: u16,
    /// `INET_DIAG_SKV6ONLY`, present for IPv6 sockets.
    v6only: Option<bool>,
}

impl DiagSocket {
    /// The listeners this socket makes: an IPv6 wildcard socket that is not IPv6-only also
    /// takes IPv4 (`default_v6only` stands in when the kernel did not say).
    fn listeners(&self, proto: Proto, default_v6only: bool) -> Vec<Listener> {
        let port = self.port;
        match self.addr {
            IpAddr::V4(v4) => {
                vec![Listener { proto, family: Family::Ipv4, addr: u32::from(v4).into(), port }]
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    let addr = u32::from(v4).into();
                    return vec![Listener { proto, family: Family::Ipv4, addr, port }];
                }
                let addr = u128::from(v6);
                let mut out = vec![Listener { proto, family: Family::Ipv6, addr, port }];
                if addr == 0 && !self.v6only.unwrap_or(default_v6only) {
                    out.push(Listener { proto, family: Family::Ipv4, addr: 0, port });
                }
                out
            }
        }
    }
}

/// The listening sockets of one family and protocol, dumped over `NETLINK_SOCK_DIAG`: TCP in
/// state LISTEN, UDP unconnected (state CLOSE, no peer port). Blocking; every receive waits at
/// most `timeout`.
fn dump(proto: Proto, v6: bool, timeout: Duration) -> io::Result<Vec<DiagSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    set_receive_timeout(&socket, timeout)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let (protocol, states) = match proto {
        Proto::Tcp => (IPPROTO_TCP, StateFlags::LISTEN),
        Proto::Udp => (IPPROTO_UDP, StateFlags::CLOSE),
    };
    let request = InetRequest {
        family: if v6 { AF_INET6 } else { AF_INET },
        protocol,
        extensions: ExtensionFlags::empty(),
        states,
        socket_id: if v6 { SocketId::new_v6() } else { SocketId::new_v4() },
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut packet = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;
    receive_dump(&socket, proto)
}

/// Reads the replies of a dump until its end.
fn receive_dump(socket: &Socket, proto: Proto) -> io::Result<Vec<DiagSocket>> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[offset..size])
                .map_err(|e| invalid(format!("sock_diag reply: {e}")))?;
            let length = message.header.length as usize;
            match message.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(error) => {
                    let code = error.code.map_or(0, |code| code.get());
                    return Err(io::Error::from_raw_os_error(-code));
                }
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    let id = &response.header.socket_id;
                    // A connected UDP socket has a peer port; only unconnected ones listen.
                    if proto == Proto::Tcp || id.destination_port == 0 {
                        let v6only = response.nlas.iter().find_map(|nla| match nla {
                            Nla::SkV6Only(value) => Some(*value),
                            _ => None,
                        });
                        out.push(DiagSocket {
                            addr: id.source_address,
                            port: id.source_port,
                            v6only,
                        });
                    }
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

/// `SO_RCVTIMEO`: netlink-sys has no setter for it.
fn set_receive_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::try_from(timeout.subsec_micros()).unwrap_or(0),
    };
    let size = libc::socklen_t::try_from(std::mem::size_of::<libc::timeval>()).unwrap_or(0);
    // SAFETY: the fd is open for the lifetime of `socket`, and `value` is a valid timeval
    // of the size passed.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::addr_of!(value).cast(),
            size,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

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

    #[test]
    fn v6only_decides_whether_a_wildcard_also_takes_ipv4() {
        let wildcard = |v6only| DiagSocket { addr: "::".parse().expect("ip"), port: 3306, v6only };
        let texts = |socket: DiagSocket, default| {
            let got = socket.listeners(Proto::Tcp, default);
            got.iter().map(|l| format!("{:?} {}", l.family, l.text())).collect::<Vec<_>>()
        };
        assert_eq!(texts(wildcard(Some(true)), false), ["Ipv6 tcp [::]:3306"]);
        assert_eq!(
            texts(wildcard(Some(false)), true),
            ["Ipv6 tcp [::]:3306", "Ipv4 tcp 0.0.0.0:3306"]
        );
        assert_eq!(texts(wildcard(None), true), ["Ipv6 tcp [::]:3306"], "default stands in");
        let mapped = DiagSocket {
            addr: "::ffff:127.0.0.1".parse().expect("ip"),
            port: 80,
            v6only: Some(false),
        };
        assert_eq!(texts(mapped, false), ["Ipv4 tcp 127.0.0.1:80"]);
    }

    #[tokio::test]
    async fn a_missing_table_is_empty_and_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("tcp6");
        assert_eq!(read_proc_table(&missing.to_string_lossy()).await, Ok(None));
        // A directory stands in for a table that exists but cannot be read.
        let unreadable = dir.path().to_string_lossy().into_owned();
        let error = read_proc_table(&unreadable).await.expect_err("unreadable");
        assert!(error.starts_with(&format!("cannot read {unreadable}: ")), "{error}");
    }

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
