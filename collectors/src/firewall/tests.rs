//! Namespace tests of the firewall collector: real rulesets loaded with `nft -f` and
//! `iptables-restore` into network namespaces these tests create, and the collector run
//! inside each namespace.
//!
//! Each test creates `beweis-test-<pid>-<n>` (deleted on drop, also when the test fails),
//! loads a fixture, then re-runs this test binary inside the namespace (`ip netns exec`) as
//! the `netns_child` test, which binds the requested sockets, collects, and prints the facts.
//! Nothing touches the host's own firewall. They need root, `ip` (iproute2), `nft`
//! (nftables) and `iptables-restore` (iptables); without them they fail naming what is
//! missing.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use super::{collect, FirewallConfig};
use crate::{Context, Limits};

const FW01_IPTABLES: &str = include_str!("fixtures/fw01.iptables");
const FW01_UFW: &str = include_str!("fixtures/fw01.ufw");
const FW02_IPTABLES: &str = include_str!("fixtures/fw02.iptables");
const FW02_IP6TABLES: &str = include_str!("fixtures/fw02.ip6tables");
const FW03_NFT: &str = include_str!("fixtures/fw03.nft");
const FW04_IPTABLES: &str = include_str!("fixtures/fw04.iptables");
const FW05_NFT: &str = include_str!("fixtures/fw05.nft");
const FW06A_NFT: &str = include_str!("fixtures/fw06a.nft");
const FW06B_NFT: &str = include_str!("fixtures/fw06b.nft");
const FW07_IPTABLES: &str = include_str!("fixtures/fw07.iptables");
const FW07_UFW: &str = include_str!("fixtures/fw07.ufw");
const FIREWALLD_NFT: &str = include_str!("fixtures/firewalld.nft");
const DNAT_NATIVE_NFT: &str = include_str!("fixtures/dnat_native.nft");
const NAMED_VMAP_NFT: &str = include_str!("fixtures/named_vmap.nft");
const IFPATTERN_NFT: &str = include_str!("fixtures/ifpattern.nft");
const DNAT_MAP_NFT: &str = include_str!("fixtures/dnat_map.nft");
const FW08A_FIREWALLS: &str = include_str!("fixtures/fw08a_firewalls.json");
const FW08B_FIREWALLS: &str = include_str!("fixtures/fw08b_firewalls.json");
const FW08_KIND_FIREWALLS: &str = include_str!("fixtures/fw08_kind_firewalls.json");

/// An nft whose JSON output fails the way a build without JSON support does.
const NFT_WITHOUT_JSON: &str = "if [ \"$1\" = -j ]; then\n\
    echo 'Error: JSON support not compiled-in' >&2; exit 1\nfi\nexec /usr/sbin/nft \"$@\"";

/// Environment variables that make `netns_child` act.
const CHILD_CONFIG: &str = "BEWEIS_FW_CHILD_CONFIG";
const CHILD_LISTEN: &str = "BEWEIS_FW_CHILD_LISTEN";
const CHILD_REPLAY: &str = "BEWEIS_FW_CHILD_REPLAY";
/// `{"collected_at": …, "facts": …}`: the previous observation handed to the collector.
const CHILD_PREVIOUS: &str = "BEWEIS_FW_CHILD_PREVIOUS";
/// The token the replay server expects.
const TEST_TOKEN: &str = "test-token-not-a-secret";
const FACTS_MARK: &str = "BEWEIS-FW-RESULT:";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace owned by one test; deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        require_root_and_tools();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("beweis-test-{}-{n}", std::process::id());
        sh(&["ip", "netns", "add", &name], None);
        let netns = Netns { name };
        netns.exec(&["ip", "link", "set", "lo", "up"], None);
        netns
    }

    /// Runs `argv` inside the namespace, feeding `stdin`; panics with stderr on failure.
    fn exec(&self, argv: &[&str], stdin: Option<&str>) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(argv);
        sh(&full, stdin);
    }

    /// Lets the namespace's loopback through (the replay server lives there); `lo` never
    /// counts as exposure, so the analysis does not change.
    fn allow_loopback(&self) {
        self.exec(&["iptables", "-I", "INPUT", "1", "-i", "lo", "-j", "ACCEPT"], None);
    }

    /// A veth pair inside the namespace with a documentation IPv6 address, so IPv6 applies.
    fn with_ipv6_address(self) -> Netns {
        self.exec(&["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], None);
        self.exec(&["ip", "link", "set", "v0", "up"], None);
        self.exec(&["ip", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad"], None);
        self
    }

    /// Runs the collector inside the namespace; returns `{"facts": …}` or `{"failure": …}`.
    fn collect(&self, config: Value, listen: &[&str]) -> Value {
        self.collect_with(config, listen, &[])
    }

    /// Like `collect`, with a Hetzner API replay server (path → JSON body) in the namespace.
    fn collect_replay(&self, config: Value, replay: Value) -> Value {
        self.run_child(config, &[], &[], Child { replay: Some(replay), previous: None })
    }

    fn collect_with(&self, config: Value, listen: &[&str], prefix: &[&str]) -> Value {
        self.run_child(config, listen, prefix, Child::default())
    }

    /// Like `collect`, with `previous` (`{"collected_at", "facts"}`) as the earlier
    /// observation of the firewall subject.
    fn collect_after(&self, config: Value, previous: Value) -> Value {
        self.run_child(config, &[], &[], Child { replay: None, previous: Some(previous) })
    }

    fn run_child(&self, config: Value, listen: &[&str], prefix: &[&str], child: Child) -> Value {
        let exe = std::env::current_exe().expect("test binary path is known");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).args(prefix).arg(&exe);
        command
            .args(["--exact", "firewall::tests::netns_child", "--include-ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_CONFIG, config.to_string())
            .env(CHILD_LISTEN, listen.join(","));
        if let Some(replay) = child.replay {
            command.env(CHILD_REPLAY, replay.to_string());
        }
        if let Some(previous) = child.previous {
            command.env(CHILD_PREVIOUS, previous.to_string());
        }
        let output = command.output().expect("ip netns exec runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once(FACTS_MARK).map(|(_, rest)| rest))
            .unwrap_or_else(|| {
                panic!(
                    "child printed no result: {stdout}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        serde_json::from_str(line).expect("child prints json")
    }
}

/// What else the child gets: a replay server's routes, a previous observation.
#[derive(Default)]
struct Child {
    replay: Option<Value>,
    previous: Option<Value>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn require_root_and_tools() {
    // SAFETY-free check: the effective uid is visible in /proc/self/status.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root =
        status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    assert!(root, "firewall namespace tests need root (to create network namespaces)");
    for (tool, package) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("iptables-restore", "iptables"),
        ("iptables-legacy-restore", "iptables"),
        ("setpriv", "util-linux"),
    ] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|dir| PathBuf::from(dir).join(tool).exists());
        assert!(found, "firewall namespace tests need {tool} (Debian package {package})");
    }
}

fn sh(argv: &[&str], stdin: Option<&str>) {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A script printing `text`, standing in for a tool (ufw, an nft without JSON support).
fn fake_tool(dir: &tempfile::TempDir, name: &str, stdout: &str, stderr: &str, code: i32) -> String {
    let path = dir.path().join(name);
    let script = format!(
        "#!/bin/sh\ncat <<'BEWEIS_EOF'\n{stdout}BEWEIS_EOF\n\
         printf '%s' '{stderr}' >&2\nexit {code}\n"
    );
    std::fs::write(&path, script).expect("write fake tool");
    let mut perms = std::fs::metadata(&path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// A shell script with `body`, standing in for a tool.
fn wrapper(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write wrapper");
    let mut perms = std::fs::metadata(&path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// The collector, run in the namespace this process was started in; prints its result.
#[test]
#[ignore = "helper: run inside a namespace by the tests below"]
fn netns_child() {
    let Ok(config) = std::env::var(CHILD_CONFIG) else {
        panic!("netns_child is a helper; run the firewall tests instead")
    };
    let config: Value = serde_json::from_str(&config).expect("config json");
    let _sockets = bind_all(&std::env::var(CHILD_LISTEN).unwrap_or_default());
    // The replay server runs here, on the namespace's own loopback.
    let config = match std::env::var(CHILD_REPLAY) {
        Ok(replay) => with_replay_url(config, replay_server(&replay)),
        Err(_) => config,
    };
    let config: FirewallConfig = serde_json::from_value(config).expect("firewall config");
    let settings = config.validate().expect("valid config");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ctx = Context {
        now: chrono::Utc::now(),
        timeout: Duration::from_secs(60),
        cancel: tokio_util::sync::CancellationToken::new(),
        limits: Limits::default(),
        previous: previous_from_env(),
    };
    let collection = runtime.block_on(collect(&settings, &ctx));
    let result = match (collection.observations.first(), collection.failures.first()) {
        (Some(observation), _) => json!({"facts": observation.facts}),
        (None, Some(failure)) => {
            json!({"failure": {"kind": failure.kind.as_str(), "message": failure.message}})
        }
        (None, None) => json!({}),
    };
    println!("{FACTS_MARK}{result}");
}

/// The previous observation named by [`CHILD_PREVIOUS`], or none.
fn previous_from_env() -> crate::Previous {
    let Ok(text) = std::env::var(CHILD_PREVIOUS) else { return crate::Previous::default() };
    let value: Value = serde_json::from_str(&text).expect("previous json");
    let observation = crate::PreviousObservation {
        collected_at: value["collected_at"].as_str().expect("collected_at").parse().expect("time"),
        facts: Some(value["facts"].clone()),
        payload_sha256: "00".repeat(32),
    };
    crate::Previous::new(std::collections::HashMap::from([(
        super::SUBJECT.to_string(),
        observation,
    )]))
}

/// Serves canned JSON by path on 127.0.0.1 (401 without the test token); returns its URL.
fn replay_server(replay: &str) -> String {
    use std::io::{BufRead, BufReader};
    let routes: Value = serde_json::from_str(replay).expect("replay json");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind replay server");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let path = head.first().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("");
            let path = path.split('?').next().unwrap_or("").to_string();
            let authorised = head.iter().any(|l| {
                l.trim() == format!("authorization: Bearer {TEST_TOKEN}")
                    || l.trim() == format!("Authorization: Bearer {TEST_TOKEN}")
            });
            let (status, body) = match routes.get(&path) {
                Some(body) if authorised => ("200 OK", body.to_string()),
                Some(_) => ("401 Unauthorized", "{}".to_string()),
                None => ("404 Not Found", "{}".to_string()),
            };
            let mut stream = stream;
            let length = body.len();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {length}\r\nconnection: close\r\n\r\n{body}"
            );
        }
    });
    url
}

fn with_replay_url(mut config: Value, url: String) -> Value {
    if let Some(hetzner) = config.get_mut("hetzner") {
        hetzner["api_url"] = json!(url);
    }
    config
}

/// Binds `tcp4:22`, `tcp6:3306`, `udp4:60001` style specs (`tcp6only:3306`: with
/// IPV6_V6ONLY; plain `tcp6` leaves the system default, dual-stack); keeps them open while held.
fn bind_all(spec: &str) -> Vec<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut out = Vec::new();
    for item in spec.split(',').filter(|s| !s.is_empty()) {
        let (kind, port) = item.split_once(':').expect("kind:port");
        let v6 = kind.contains('6');
        let addr: std::net::SocketAddr = if v6 {
            format!("[::]:{port}").parse().expect("addr")
        } else {
            format!("0.0.0.0:{port}").parse().expect("addr")
        };
        let (ty, protocol) = if kind.starts_with("tcp") {
            (Type::STREAM, Protocol::TCP)
        } else {
            (Type::DGRAM, Protocol::UDP)
        };
        let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol)).expect("socket");
        if kind.ends_with("only") {
            socket.set_only_v6(true).expect("IPV6_V6ONLY");
        }
        socket.bind(&addr.into()).unwrap_or_else(|e| panic!("bind {item}: {e}"));
        if ty == Type::STREAM {
            socket.listen(16).expect("listen");
        }
        out.push(socket);
    }
    out
}

fn facts(result: &Value) -> &Value {
    result.get("facts").unwrap_or_else(|| panic!("expected facts, got {result}"))
}

/// The exposure entries of a family as `proto/ports from sources [on ifaces] [-> to]`.
fn exposed(facts: &Value, family: &str) -> Vec<String> {
    let entries = facts[family]["exposed"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|e| {
            let sources: Vec<&str> = e["sources"]
                .as_array()
                .map(|s| s.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut text = format!(
                "{}/{} from {}",
                e["proto"].as_str().unwrap_or(""),
                e["ports"].as_str().unwrap_or(""),
                sources.join(",")
            );
            if e["interfaces"] != "any" {
                text.push_str(&format!(" on {}", e["interfaces"].as_str().unwrap_or("")));
            }
            if let Some(to) = e["forward_to"].as_str() {
                text.push_str(&format!(" -> {to}"));
            }
            text
        })
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn fw01_published_container_port_bypasses_ufw() {
    let ns = Netns::new();
    ns.exec(&["iptables-restore"], Some(FW01_IPTABLES));
    let dir = tempfile::tempdir().expect("tempdir");
    let ufw = fake_tool(&dir, "ufw", FW01_UFW, "", 0);
    let facts =
        facts(&ns.collect(json!({"ufw": ufw, "allowed_exposed": ["tcp/22"]}), &["tcp4:22"]))
            .clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(
        exposed(&facts, "ipv4"),
        ["tcp/22 from any", "tcp/8080 from any on not docker0 -> 172.17.0.2:80"]
    );
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
    assert_eq!(facts["published_ports_bypassing_input_count"], 1);
    assert_eq!(facts["ufw_ineffective_denies_count"], 1, "{}", facts["ufw"]);
    assert_eq!(
        strings(&facts["unexpected_exposed"]),
        ["ipv4 tcp/8080 from any on not docker0 -> 172.17.0.2:80"]
    );
    assert_eq!(strings(&facts["layers"]), ["iptables_nft", "ufw"]);
    assert_eq!(facts["backends"]["nftables"]["rules"], 0, "tables are counted once");
    assert_eq!(facts["backends"]["iptables_nft"]["rules"], 16);
}

#[test]
fn fw01_kind_other_port_on_the_legacy_backend_with_a_port_range() {
    // Same mistake, other shape: legacy backend, a published range, a DOCKER-USER drop that
    // does cover part of it (that part must not be reported).
    let rules = FW01_IPTABLES
        .replace(
            "--dport 8080 -j DNAT --to-destination 172.17.0.2:80",
            "--dport 9000:9010 -j DNAT --to-destination 172.17.0.3",
        )
        .replace(
            "-d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80",
            "-d 172.17.0.3/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 9000:9010",
        )
        .replace(
            "-A DOCKER-USER -j RETURN",
            "-A DOCKER-USER -p tcp -m tcp --dport 9005:9010 -j DROP\n-A DOCKER-USER -j RETURN",
        );
    let ns = Netns::new();
    ns.exec(&["iptables-legacy-restore"], Some(&rules));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(
        exposed(&facts, "ipv4"),
        ["tcp/22 from any", "tcp/9000-9004 from any on not docker0 -> 172.17.0.3"]
    );
    assert_eq!(strings(&facts["layers"]), ["iptables_legacy"]);
    assert_eq!(facts["published_ports_bypassing_input_count"], 1);
}

#[test]
fn fw02_ipv4_filtered_ipv6_wide_open() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.exec(&["ip6tables-restore"], Some(FW02_IP6TABLES));
    let result = ns.collect(json!({}), &["tcp4:22", "tcp4:443", "tcp6:3306"]);
    let facts = facts(&result);
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(exposed(facts, "ipv4"), ["tcp/22 from any", "tcp/443 from any"]);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
    assert_eq!(facts["default_inbound_ipv6"], "open");
    assert_eq!(exposed(facts, "ipv6"), ["tcp/all from any", "udp/all from any"]);
    let admin = strings(&facts["admin_ports_open_to_world"]);
    assert!(admin.contains(&"ipv6 tcp/3306".to_string()), "{admin:?}");
    assert!(
        admin.contains(&"ipv4 tcp/22".to_string()) && !admin.contains(&"ipv4 tcp/3306".to_string())
    );
    assert_eq!(facts["ipv6_more_open_than_ipv4"], true);
    let sockets = &facts["sockets"];
    assert!(
        strings(&sockets["exposed_and_listening"]).contains(&"ipv6 tcp [::]:3306".to_string()),
        "{sockets}"
    );
    // [::]:3306 without IPV6_V6ONLY also listens on IPv4, where it is filtered.
    assert_eq!(strings(&sockets["listening_but_filtered"]), ["ipv4 tcp 0.0.0.0:3306"]);
}

#[test]
fn fw02_variant_ipv6_disabled_is_not_applicable() {
    let ns = Netns::new();
    ns.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], None);
    ns.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"], None);
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.exec(&["ip6tables-restore"], Some(FW02_IP6TABLES));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["default_inbound_ipv6"], "not_applicable", "{facts}");
    assert_eq!(facts["ipv6_more_open_than_ipv4"], false);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
}

#[test]
fn fw03_rules_in_nftables_with_empty_legacy_tables() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    ns.exec(&["iptables-legacy", "-L", "-n"], None);
    let facts = facts(&ns.collect(json!({}), &["tcp4:22"])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(exposed(&facts, "ipv4"), ["tcp/22 from any"]);
    assert_eq!(exposed(&facts, "ipv6"), ["tcp/22 from any"]);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
    assert_eq!(strings(&facts["layers"]), ["nftables"]);
    assert_eq!(facts["backends"]["iptables_legacy"]["present_but_empty"], true);
    assert_eq!(strings(&facts["sockets"]["exposed_and_listening"]), ["ipv4 tcp 0.0.0.0:22"]);
}

#[test]
fn fw04_accept_policy_with_a_drop_on_one_interface() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["iptables-restore"], Some(FW04_IPTABLES));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(
        exposed(&facts, "ipv4"),
        ["tcp/all from any on not eth1", "udp/all from any on not eth1"]
    );
    assert_eq!(facts["default_inbound_ipv4"], "open");
    // IPv6 is evaluated on its own: no ip6tables rules, so open on every interface.
    assert_eq!(exposed(&facts, "ipv6"), ["tcp/all from any", "udp/all from any"]);
    assert_eq!(facts["default_inbound_ipv6"], "open");
}

#[test]
fn fw05_bridge_policy_does_not_filter_ip_traffic() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW05_NFT));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(facts["default_inbound_ipv4"], "open");
    assert_eq!(facts["default_inbound_ipv6"], "open");
    assert_eq!(exposed(&facts, "ipv6"), ["tcp/all from any", "udp/all from any"]);
    let not_applicable = strings(&facts["not_applicable"]);
    assert!(
        not_applicable.iter().any(|t| t.starts_with("bridge chain filter input")),
        "{not_applicable:?}"
    );
}

#[test]
fn fw06_named_sets_verdict_maps_and_an_empty_set() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW06A_NFT));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(
        exposed(&facts, "ipv4"),
        ["tcp/22 from 198.51.100.0/24", "tcp/80 from any", "tcp/443 from any", "tcp/8080 from any"]
    );
    assert_eq!(
        exposed(&facts, "ipv6"),
        ["tcp/80 from any", "tcp/443 from any", "tcp/8080 from any"]
    );
    assert_eq!(facts["broad_accepts_count"], 0);
    assert_eq!(facts["admin_ports_open_to_world_count"], 0);
}

#[test]
fn fw06b_rule_that_lost_its_port_opens_every_tcp_port() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW06B_NFT));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(exposed(&facts, "ipv4"), ["tcp/0-8080 from any", "tcp/8082-65535 from any"]);
    assert_eq!(
        exposed(&facts, "ipv6"),
        ["tcp/80 from any", "tcp/443 from any", "tcp/8080 from any"]
    );
    assert_eq!(facts["broad_accepts_count"], 2);
    assert!(strings(&facts["admin_ports_open_to_world"]).contains(&"ipv4 tcp/22".to_string()));
}

#[test]
fn fw07_ranges_and_deny_rules_with_listening_sockets() {
    let ns = Netns::new();
    ns.exec(&["iptables-restore"], Some(FW07_IPTABLES));
    let dir = tempfile::tempdir().expect("tempdir");
    let ufw = fake_tool(&dir, "ufw", FW07_UFW, "", 0);
    let facts = facts(&ns.collect(json!({"ufw": ufw}), &["tcp4:22", "udp4:60001"])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(exposed(&facts, "ipv4"), ["udp/60000-61000 from any"]);
    let sockets = &facts["sockets"];
    assert_eq!(strings(&sockets["exposed_and_listening"]), ["ipv4 udp 0.0.0.0:60001"]);
    assert_eq!(strings(&sockets["listening_but_filtered"]), ["ipv4 tcp 0.0.0.0:22"]);
    assert_eq!(strings(&sockets["allowed_but_not_listening"]), ["ipv4 udp/60000,60002-61000"]);
    assert_eq!(facts["ufw_ineffective_denies_count"], 0);
}

#[test]
fn later_base_chain_drops_what_an_earlier_one_accepted_across_both_backends() {
    let ns = Netns::new();
    let nft = "table inet a {\n chain early { type filter hook input priority -10; policy drop;\n\
        tcp dport 1000-2000 accept\n udp dport { 53, 5353 } accept\n }\n}\n\
        table ip b {\n chain late { type filter hook input priority 10; policy accept;\n\
        tcp dport 1500 drop\n ip saddr 203.0.113.0/24 tcp dport 1800-1900 drop\n }\n}\n";
    ns.exec(&["nft", "-f", "-"], Some(nft));
    let legacy = "*filter\n:INPUT ACCEPT [0:0]\n\
        -A INPUT -p tcp -m multiport --dports 1600,1700:1710 -j DROP\nCOMMIT\n";
    ns.exec(&["iptables-legacy-restore"], Some(legacy));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    let mut got = exposed(&facts, "ipv4");
    got.sort();
    assert_eq!(
        got,
        [
            "tcp/1000-1499 from any",
            "tcp/1501-1599 from any",
            "tcp/1601-1699 from any",
            "tcp/1711-1799 from any",
            "tcp/1800-1900 from not 203.0.113.0/24",
            "tcp/1901-2000 from any",
            "udp/53 from any",
            "udp/5353 from any",
        ]
    );
    assert_eq!(strings(&facts["layers"]), ["iptables_legacy", "nftables"]);
}

#[test]
fn fw09a_nft_without_json_falls_back_to_the_text_listing() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let dir = tempfile::tempdir().expect("tempdir");
    let nft = wrapper(&dir, "nft", NFT_WITHOUT_JSON);
    let facts = facts(&ns.collect(json!({"nft": nft}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(facts["backends"]["nftables"]["state"], "read_text_fallback");
    assert_eq!(strings(&facts["layers"]), ["nftables"]);
    assert_eq!(exposed(&facts, "ipv4"), ["tcp/22 from any"]);
    assert_eq!(exposed(&facts, "ipv6"), ["tcp/22 from any"]);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
}

#[test]
fn fw05_and_fw06_read_from_text_give_the_json_result() {
    for (ruleset, v4) in [
        (FW05_NFT, vec!["tcp/all from any", "udp/all from any"]),
        (
            FW06A_NFT,
            vec![
                "tcp/22 from 198.51.100.0/24",
                "tcp/80 from any",
                "tcp/443 from any",
                "tcp/8080 from any",
            ],
        ),
        (FW06B_NFT, vec!["tcp/0-8080 from any", "tcp/8082-65535 from any"]),
    ] {
        let ns = Netns::new();
        ns.exec(&["nft", "-f", "-"], Some(ruleset));
        let dir = tempfile::tempdir().expect("tempdir");
        let nft = wrapper(&dir, "nft", NFT_WITHOUT_JSON);
        let facts = facts(&ns.collect(json!({"nft": nft}), &[])).clone();
        assert_eq!(facts["backends"]["nftables"]["state"], "read_text_fallback", "{facts}");
        assert_eq!(exposed(&facts, "ipv4"), v4, "{ruleset}");
    }
}

/// FW-03 loaded, collected with a fake `nft` printing `stdout`/`stderr` and exiting `code`;
/// returns the facts and the fake's path.
fn fw03_with_fake_nft(stdout: &str, stderr: &str, code: i32) -> (Value, String) {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let dir = tempfile::tempdir().expect("tempdir");
    let nft = fake_tool(&dir, "nft", stdout, stderr, code);
    (facts(&ns.collect(json!({"nft": nft}), &[])).clone(), nft)
}

#[test]
fn nft_that_fails_both_ways_is_indeterminate_not_open_or_closed() {
    let (facts, _) = fw03_with_fake_nft("", "Error: JSON support not compiled-in", 1);
    assert_eq!(facts["status"], "indeterminate", "{facts}");
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
    assert_eq!(facts["admin_ports_open_to_world_count"], Value::Null);
    assert!(strings(&facts["indeterminate_reasons"])[0].contains("JSON support not compiled-in"));
}

#[test]
fn fw09b_legacy_tool_on_an_nf_tables_host_is_a_backend_mismatch() {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let facts = facts(&ns.collect(json!({"readers": ["iptables_legacy"]}), &[])).clone();
    assert_eq!(facts["status"], "indeterminate", "{facts}");
    let reasons = strings(&facts["indeterminate_reasons"]);
    assert!(
        reasons.iter().any(|r| r.starts_with("backend mismatch") && r.contains("inet filter")),
        "{reasons:?}"
    );
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
}

#[test]
fn without_cap_net_admin_the_result_is_a_permission_failure() {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let drop_all = [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ];
    let result = ns.collect_with(json!({"readers": ["nftables"]}), &[], &drop_all);
    assert_permission_failure(&result, "nft");
    // Still root, every other capability kept, only CAP_NET_ADMIN dropped; all readers.
    let drop_net_admin = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"];
    let result = ns.collect_with(json!({}), &[], &drop_net_admin);
    assert_permission_failure(&result, "save");
}

/// The collection failed as `permission`, naming the capability and the tool.
fn assert_permission_failure(result: &Value, tool: &str) {
    let failure =
        result.get("failure").unwrap_or_else(|| panic!("expected a failure, got {result}"));
    assert_eq!(failure["kind"], "permission", "{failure}");
    let message = failure["message"].as_str().unwrap_or("");
    assert!(message.starts_with("needs CAP_NET_ADMIN") && message.contains(tool), "{message}");
    assert!(
        message.contains("Operation not permitted") || message.contains("Permission denied"),
        "{message}"
    );
}

/// A token file for the replay server; the directory must outlive the collection.
fn token_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("hcloud-token");
    std::fs::write(&path, format!("{TEST_TOKEN}\n")).expect("write token");
    path.to_string_lossy().into_owned()
}

fn fixture_json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is json")
}

fn hetzner_replay(firewalls: Value, server_firewalls: Value) -> Value {
    json!({
        "/firewalls": {"firewalls": firewalls, "meta": {"pagination": {"next_page": null}}},
        "/servers/4242": {"server": {
            "id": 4242, "name": "web1", "public_net": {"firewalls": server_firewalls}
        }},
    })
}

#[test]
fn fw08a_attached_cloud_firewall_without_inbound_rules_blocks_everything() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.exec(&["ip6tables-restore"], Some(FW02_IP6TABLES));
    ns.allow_loopback();
    let dir = tempfile::tempdir().expect("tempdir");
    let firewalls = fixture_json(FW08A_FIREWALLS);
    let replay = hetzner_replay(firewalls, json!([{"id": 9101, "status": "applied"}]));
    let config = json!({"hetzner": {"token_file": token_file(&dir), "server_id": 4242}});
    let facts = facts(&ns.collect_replay(config, replay)).clone();
    assert_eq!(facts["cloud_firewall"]["state"], "applied", "{facts}");
    assert_eq!(facts["final_default_inbound_ipv4"], "blocked");
    assert_eq!(facts["final_default_inbound_ipv6"], "blocked");
    assert_eq!(facts["final_exposed"], json!({"ipv4": [], "ipv6": []}));
    assert_eq!(facts["final_admin_ports_open_to_world_count"], 0);
    // The host layer on its own is still reported: both layers are shown.
    assert_eq!(facts["default_inbound_ipv6"], "open");
    assert!(facts["admin_ports_open_to_world_count"].as_u64() > Some(0));
}

#[test]
fn fw08b_cloud_firewall_attached_to_nothing_protects_nothing() {
    let ns = Netns::new();
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.allow_loopback();
    let dir = tempfile::tempdir().expect("tempdir");
    let firewalls = fixture_json(FW08B_FIREWALLS);
    let replay = hetzner_replay(firewalls, json!([]));
    let config = json!({"hetzner": {"token_file": token_file(&dir), "server_id": 4242}});
    let facts = facts(&ns.collect_replay(config, replay)).clone();
    assert_eq!(facts["cloud_firewall"]["state"], "not_applied", "{facts}");
    assert_eq!(facts["cloud_firewall_defined_not_applied_count"], 1);
    let finals: Vec<String> = facts["final_exposed"]["ipv4"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["ports"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(finals, ["22", "443"]);
    assert_eq!(strings(&facts["final_admin_ports_open_to_world"]), ["ipv4 tcp/22"]);
}

#[test]
fn fw08_kind_applied_cloud_rules_narrow_host_exposure() {
    let ns = Netns::new();
    ns.exec(&["iptables-restore"], Some(FW04_IPTABLES));
    let dir = tempfile::tempdir().expect("tempdir");
    let firewalls = fixture_json(FW08_KIND_FIREWALLS);
    let replay = hetzner_replay(firewalls, json!([{"id": 9103, "status": "applied"}]));
    let config = json!({"hetzner": {"token_file": token_file(&dir), "server_id": 4242}});
    let facts = facts(&ns.collect_replay(config, replay)).clone();
    let finals: Vec<String> = facts["final_exposed"]["ipv4"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| {
            format!(
                "{}/{} {}",
                e["proto"].as_str().unwrap_or(""),
                e["ports"].as_str().unwrap_or(""),
                e["sources"][0].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(finals, ["tcp/22 198.51.100.7/32", "udp/60000-60010 any"], "{facts}");
    assert_eq!(facts["final_admin_ports_open_to_world_count"], 0);
    assert_eq!(facts["default_inbound_ipv4"], "open");
    assert_eq!(facts["final_default_inbound_ipv4"], "blocked");
}

#[test]
fn cloud_api_that_refuses_the_token_is_indeterminate_not_unfiltered() {
    let ns = Netns::new();
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.allow_loopback();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wrong-token");
    std::fs::write(&path, "wrong\n").expect("write token");
    let config = json!({"hetzner": {"token_file": path.to_string_lossy(), "server_id": 4242}});
    let facts = facts(&ns.collect_replay(config, hetzner_replay(json!([]), json!([])))).clone();
    assert_eq!(facts["cloud_firewall"]["state"], "indeterminate", "{facts}");
    assert!(facts["cloud_firewall"]["reason"].as_str().unwrap_or("").contains("http status 401"));
    assert_unread(&facts, "cloud firewall not read", "http status 401");
    assert!(!facts["cloud_firewall"]["reason"].as_str().unwrap_or("").contains("wrong"));
    assert_eq!(facts["final_default_inbound_ipv4"], Value::Null);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
}

#[test]
fn firewalld_zones_read_as_nftables() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FIREWALLD_NFT));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(
        exposed(&facts, "ipv4"),
        ["tcp/22 from any", "tcp/9090 from any on eth1", "udp/5353 from any on eth1"]
    );
    let v6 = facts["ipv6"]["exposed"].as_array().expect("list");
    let dhcp = v6.iter().find(|e| e["ports"] == "546").expect("dhcpv6-client entry");
    assert_eq!(strings(&dhcp["conditions"]), ["destination address fe80::/64"]);
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
    // The reverse-path `fib` drop is not modelled: noted, never turned into "blocked".
    let notes = strings(&facts["approximations"]);
    assert!(notes.iter().any(|n| n.starts_with("ignored drop rule")), "{notes:?}");
}

#[test]
fn no_tool_to_read_rules_is_indeterminate_not_open() {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let missing = json!({
        "nft": "/nonexistent/nft",
        "iptables_nft_save": "/nonexistent/a", "ip6tables_nft_save": "/nonexistent/b",
        "iptables_legacy_save": "/nonexistent/c", "ip6tables_legacy_save": "/nonexistent/d",
    });
    let facts = facts(&ns.collect(missing, &[])).clone();
    assert_eq!(facts["status"], "indeterminate", "{facts}");
    assert_eq!(facts["backends"]["nftables"]["state"], "unavailable");
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
}

#[test]
fn fw01_kind_native_nftables_dnat_read_as_json_and_as_text() {
    let expected = [
        "tcp/22 from any",
        "tcp/8443 from any on not docker0 -> 172.17.0.5:443",
        "udp/5001 from any on not docker0 -> 172.17.0.6",
    ];
    for facts in collect_json_and_text(DNAT_NATIVE_NFT) {
        assert_eq!(exposed(&facts, "ipv4"), expected, "{}", facts["backends"]["nftables"]);
        assert_eq!(facts["published_ports_bypassing_input_count"], 2);
        // Routing is not modelled: the output interface of forwarded traffic is assumed.
        let notes = strings(&facts["approximations"]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes.iter().all(|n| n.contains("(output interface docker0) may hold")));
    }
}

#[test]
fn native_rules_in_an_iptables_named_table_are_read_from_nft_not_mistranslated() {
    // iptables-nft-save shows `tcp dport { 22, 80 } accept` as `-p tcp -j ACCEPT`.
    let ns = Netns::new();
    let native = "table ip filter {\n chain INPUT {\n type filter hook input priority 0; \
        policy drop;\n tcp dport { 22, 80 } accept\n }\n}\n";
    ns.exec(&["nft", "-f", "-"], Some(native));
    let facts = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(exposed(&facts, "ipv4"), ["tcp/22 from any", "tcp/80 from any"]);
    assert_eq!(strings(&facts["layers"]), ["iptables_nft"]);
}

#[test]
fn a_changed_rule_is_a_change_event_with_the_diff_kept_internal() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let first = facts(&ns.collect(json!({}), &[])).clone();
    assert_eq!(first["ruleset_changed"], Value::Null, "first run: nothing to compare");
    // One rule changed: ssh moved from 22 to 2222.
    ns.exec(&["nft", "flush", "ruleset"], None);
    ns.exec(&["nft", "-f", "-"], Some(&FW03_NFT.replace("dport 22 ", "dport 2222 ")));
    let at = "2026-12-01T10:00:00Z";
    let second =
        facts(&ns.collect_after(json!({}), json!({"collected_at": at, "facts": first}))).clone();
    assert_eq!(second["ruleset_changed"], true, "{second}");
    let event = &second["ruleset_change"];
    assert_eq!(event["from_digest"], first["ruleset_sha256"]);
    assert_eq!(event["to_digest"], second["ruleset_sha256"]);
    assert_ne!(event["from_digest"], event["to_digest"]);
    assert_eq!(event["previous_collected_at"], "2026-12-01T10:00:00+00:00");
    let rule = |port: u16| {
        format!(
            "nftables/inet/filter/input: nft inet filter input: [{{\"match\":{{\"left\":\
             {{\"payload\":{{\"field\":\"dport\",\"protocol\":\"tcp\"}}}},\"op\":\"==\",\
             \"right\":{port}}}}},{{\"accept\":null}}]"
        )
    };
    assert_eq!(strings(&event["added"]), [rule(2222)]);
    assert_eq!(strings(&event["removed"]), [rule(22)]);
    assert_eq!((&event["added_count"], &event["removed_count"]), (&json!(1), &json!(1)));
    let changes: Vec<String> = event["exposure_changes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| format!("{} {} {}", c["family"], c["change"], c["exposure"]).replace('"', ""))
        .collect();
    assert_eq!(
        changes,
        [
            "ipv4 opened tcp/2222 from any",
            "ipv4 closed tcp/22 from any",
            "ipv6 opened tcp/2222 from any",
            "ipv6 closed tcp/22 from any",
        ]
    );
    let public = strings(&second["public_safe"]);
    assert!(
        ["ruleset_change", "ruleset_changed", "rules", "ruleset_sha256"]
            .iter()
            .all(|key| !public.contains(&key.to_string())),
        "{public:?}"
    );
    // The same ruleset again: no event.
    let third =
        facts(&ns.collect_after(json!({}), json!({"collected_at": at, "facts": second}))).clone();
    assert_eq!(third["ruleset_changed"], false);
    assert_eq!(third["ruleset_change"], Value::Null);
}

#[test]
fn a_v6_only_listener_is_not_reported_on_ipv4_and_a_dual_stack_one_is() {
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
    ns.exec(&["ip6tables-restore"], Some(FW02_IP6TABLES));
    let listen = ["tcp4:22", "tcp6only:3306", "tcp6:5432", "udp6only:5353", "udp6:5354"];
    let facts = facts(&ns.collect(json!({}), &listen)).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    let sockets = &facts["sockets"];
    assert_eq!(
        strings(&sockets["sources"]),
        ["tcp netlink", "tcp6 netlink", "udp netlink", "udp6 netlink"]
    );
    assert_eq!(
        strings(&sockets["exposed_and_listening"]),
        [
            "ipv4 tcp 0.0.0.0:22",
            "ipv6 tcp [::]:3306",
            "ipv6 tcp [::]:5432",
            "ipv6 udp [::]:5353",
            "ipv6 udp [::]:5354",
        ]
    );
    // Only the dual-stack sockets also listen on IPv4, where FW-02's rules filter them.
    assert_eq!(
        strings(&sockets["listening_but_filtered"]),
        ["ipv4 tcp 0.0.0.0:5432", "ipv4 udp 0.0.0.0:5354"]
    );
    assert!(strings(&facts["approximations"]).iter().all(|a| !a.contains("bindv6only")));
}

#[test]
fn a_hidden_proc_makes_ipv6_unknown_not_absent() {
    // ProcSubset=pid-style: /proc/net (here: this process's, which the collector reads) and
    // /proc/sys/net hidden under empty mounts in a private mount namespace.
    let ns = Netns::new().with_ipv6_address();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let hide = "mount -t tmpfs none /proc/self/net && mount -t tmpfs none /proc/sys/net \
        && exec \"$0\" \"$@\"";
    let prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide];
    let facts = facts(&ns.collect_with(json!({}), &["tcp6:22"], &prefix)).clone();
    assert_eq!(facts["status"], "indeterminate", "{facts}");
    let reasons = strings(&facts["indeterminate_reasons"]);
    assert!(
        reasons.iter().any(|r| r.contains("hidden") && r.contains("ipv6 unknown")),
        "{reasons:?}"
    );
    assert_ne!(facts["default_inbound_ipv6"], "not_applicable");
}

/// Loads `ruleset` and collects it once through `nft -j` and once through the text fallback;
/// returns both facts.
fn collect_json_and_text(ruleset: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for text_reader in [false, true] {
        let ns = Netns::new();
        ns.exec(&["nft", "-f", "-"], Some(ruleset));
        let dir = tempfile::tempdir().expect("tempdir");
        let config = if text_reader {
            json!({"nft": wrapper(&dir, "nft", NFT_WITHOUT_JSON)})
        } else {
            json!({})
        };
        let facts = facts(&ns.collect(config, &[])).clone();
        let state = if text_reader { "read_text_fallback" } else { "read" };
        assert_eq!(facts["backends"]["nftables"]["state"], state, "{facts}");
        assert_eq!(facts["status"], "ok", "{facts}");
        out.push(facts);
    }
    out
}

#[test]
fn a_named_verdict_map_drops_before_a_later_accept_in_json_and_text() {
    for facts in collect_json_and_text(NAMED_VMAP_NFT) {
        assert_eq!(exposed(&facts, "ipv4"), ["tcp/25 from any", "tcp/443 from any"], "{facts}");
        assert_eq!(strings(&facts["approximations"]), Vec::<String>::new());
    }
}

#[test]
fn an_interface_pattern_drop_covers_the_names_it_prefixes() {
    for facts in collect_json_and_text(IFPATTERN_NFT) {
        assert_eq!(
            exposed(&facts, "ipv4"),
            ["tcp/22 from any on wlan0", "tcp/8080 from any on eth1*"],
            "{facts}"
        );
    }
}

#[test]
fn ports_published_through_dnat_maps_are_resolved_per_element() {
    for facts in collect_json_and_text(DNAT_MAP_NFT) {
        assert_eq!(
            exposed(&facts, "ipv4"),
            [
                "tcp/22 from any",
                "tcp/8443 from any on not docker0 -> 172.17.0.5",
                "tcp/8445 from any on not docker0 -> 172.17.0.7:444",
                "tcp/9001 from any on not docker0 -> 172.17.0.8:81",
            ],
            "{facts}"
        );
        assert_eq!(facts["published_ports_bypassing_input_count"], 3);
    }
}

/// The reasons, asserting the result is indeterminate and one reason names `layer` and `tool`.
fn assert_unread(facts: &Value, layer: &str, tool: &str) -> Vec<String> {
    assert_eq!(facts["status"], "indeterminate", "{facts}");
    let reasons = strings(&facts["indeterminate_reasons"]);
    assert!(
        reasons.iter().any(|r| r.starts_with(layer) && r.contains(tool)),
        "no reason naming {layer} and {tool}: {reasons:?}"
    );
    reasons
}

#[test]
fn unread_kind_configured_nft_that_does_not_exist_is_indeterminate_not_open() {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let facts = facts(&ns.collect(json!({"nft": "/nonexistent"}), &[])).clone();
    let reasons = assert_unread(&facts, "nftables not read", "/nonexistent: not found");
    assert_eq!(facts["backends"]["nftables"]["state"], "unavailable", "{reasons:?}");
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
    // No IPv6 address outside loopback in the namespace: IPv6 does not apply.
    assert_eq!(facts["default_inbound_ipv6"], "not_applicable");
    assert_eq!(facts["admin_ports_open_to_world_count"], Value::Null);
}

#[test]
fn unread_kind_nft_printing_garbage_is_indeterminate_not_an_empty_ruleset() {
    let (facts, nft) = fw03_with_fake_nft("table inet filter {{{ garbage\n", "", 0);
    let reasons = assert_unread(&facts, "nftables not read", &nft);
    assert!(reasons.iter().any(|r| r.contains("unclosed")), "{reasons:?}");
    assert_eq!(facts["backends"]["nftables"]["state"], "failed");
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
    assert_eq!(facts["rule_count"], 0);
}

#[test]
fn unread_kind_configured_iptables_save_that_does_not_exist_is_not_read_and_empty() {
    let ns = Netns::new();
    ns.exec(&["iptables-nft-restore"], Some(FW02_IPTABLES));
    let config = json!({"iptables_nft_save": "/nonexistent"});
    let facts = facts(&ns.collect(config, &[])).clone();
    assert_unread(&facts, "iptables_nft not read", "/nonexistent: not found");
    let backend = &facts["backends"]["iptables_nft"];
    assert_eq!(backend["state"], "unavailable", "{backend}");
    assert_eq!(backend["present_but_empty"], false);
    assert_eq!(facts["default_inbound_ipv4"], "indeterminate");
}

#[test]
fn an_opaque_conntrack_match_does_not_turn_a_drop_policy_into_open() {
    // Read by nft alone, `-m conntrack` is an `xt` match nft cannot show: it may hold.
    let ns = Netns::new();
    ns.exec(&["iptables-nft-restore"], Some(FW02_IPTABLES));
    let facts = facts(&ns.collect(json!({"readers": ["nftables"]}), &[])).clone();
    assert_eq!(facts["status"], "ok", "{facts}");
    assert_eq!(facts["ipv4"]["input_policy"], "drop");
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
    let notes = strings(&facts["approximations"]);
    assert!(notes.iter().any(|n| n.starts_with("default_inbound_ipv4 counts only")), "{notes:?}");
    // The rule is still listed, with what it rests on.
    let listed = facts["ipv4"]["exposed"].as_array().expect("list");
    assert!(listed.iter().any(|e| strings(&e["conditions"]) == ["xt match conntrack"]), "{facts}");
}

#[test]
fn unread_kind_ufw_that_fails_is_recorded_and_indeterminate() {
    let ns = Netns::new();
    ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
    let dir = tempfile::tempdir().expect("tempdir");
    let ufw = fake_tool(&dir, "ufw", "", "ERROR: You need to be root to run this script", 1);
    let facts = facts(&ns.collect(json!({"ufw": ufw}), &[])).clone();
    assert_unread(&facts, "ufw not read", &ufw);
    assert_eq!(facts["ufw"]["state"], "failed");
    assert!(facts["ufw"]["error"].as_str().unwrap_or("").contains("You need to be root"));
    assert_eq!(facts["ufw_ineffective_denies_count"], Value::Null);
    // The host layer was read and stays reported.
    assert_eq!(facts["default_inbound_ipv4"], "blocked");
}

#[test]
fn unread_kind_cloud_api_refusing_or_silent_is_indeterminate_at_the_top() {
    // Nothing listens on port 9 of the namespace's loopback. With the loopback let through the
    // connection is refused; under FW-03's drop policy (no `lo` accept) the SYN is dropped and
    // the request times out.
    let url = "http://127.0.0.1:9";
    for refused in [true, false] {
        let ns = Netns::new();
        if refused {
            ns.exec(&["iptables-restore"], Some(FW02_IPTABLES));
            ns.allow_loopback();
        } else {
            ns.exec(&["nft", "-f", "-"], Some(FW03_NFT));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let hetzner = json!({"token_file": token_file(&dir), "server_id": 4242, "api_url": url});
        let config = json!({"hetzner": hetzner, "tool_timeout_secs": 2});
        let facts = facts(&ns.collect(config, &[])).clone();
        let reasons = assert_unread(&facts, "cloud firewall not read", url);
        let why = if refused { "Connection refused" } else { "timed out" };
        assert!(reasons.iter().any(|r| r.contains(why)), "{reasons:?}");
        assert_eq!(facts["cloud_firewall"]["state"], "indeterminate", "{reasons:?}");
        assert_eq!(facts["final_default_inbound_ipv4"], Value::Null);
        assert_eq!(facts["default_inbound_ipv4"], "blocked");
    }
}
