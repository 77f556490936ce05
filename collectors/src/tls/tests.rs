//! Collector-level tests against real `openssl s_server` processes and small fake servers on
//! 127.0.0.1, one per acceptance case and per issue scenario.
//!
//! Each test builds on one throw-away PKI made with the openssl CLI in a temp dir (a root, an
//! intermediate, leaves for `*.example.test` names and 127.0.0.1), trusts only that root, and
//! asserts exact protocol sets, suite families, certificate findings and grades. The openssl
//! CLI is required: a test without it fails naming the missing program.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{collect, TlsConfig};
use crate::{Collection, Context, FailureKind, Limits};

// ---- shared fixtures ------------------------------------------------------------------

/// The test PKI, made once per test binary.
fn pki() -> &'static Path {
    static PKI: OnceLock<PathBuf> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir for the test pki").keep();
        make_pki(&dir);
        dir
    })
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl CLI is required (Debian package `openssl`)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "3650",
            "-subj",
            "/CN=Test Root CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=Test Intermediate CA",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
        ],
    );
    std::fs::write(
        dir.join("int.ext"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .expect("write int.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            "int.ext",
            "-out",
            "int.pem",
        ],
    );
    leaf(dir, "www.example.test", "DNS:www.example.test", "int", &["-days", "365"]);
    leaf(dir, "mail.example.test", "DNS:mail.example.test", "int", &["-days", "365"]);
    leaf(dir, "ip-only", "IP:127.0.0.1", "int", &["-days", "365"]);
    leaf(dir, "default.example.test", "DNS:default.example.test", "ca", &["-days", "365"]);
    leaf(dir, "a.example.test", "DNS:a.example.test", "ca", &["-days", "365"]);
    expired_leaf(dir);
    std::fs::copy(dir.join("int.pem"), dir.join("chain.pem")).expect("chain.pem");
    let full = [read(dir, "mail.example.test.pem"), read(dir, "int.pem")].concat();
    std::fs::write(dir.join("mail-fullchain.pem"), full).expect("mail-fullchain.pem");
}

/// `old.example.test`, valid for one day in 2020, issued by the intermediate through
/// `openssl ca` (the only 3.0 command that takes explicit dates).
fn expired_leaf(dir: &Path) {
    let config = "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n\
                  serial = serial.txt\ndefault_md = sha256\npolicy = p\n\
                  [p]\ncommonName = supplied\n";
    std::fs::write(dir.join("ca.cnf"), config).expect("write ca.cnf");
    std::fs::write(dir.join("index.txt"), "").expect("write index.txt");
    std::fs::write(dir.join("serial.txt"), "1000\n").expect("write serial.txt");
    let name = "old.example.test";
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=old.example.test",
            "-keyout",
            "old.example.test.key",
            "-out",
            "old.example.test.csr",
        ],
    );
    std::fs::write(dir.join("old.ext"), format!("subjectAltName=DNS:{name}\n")).expect("write ext");
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "int.pem",
            "-keyfile",
            "int.key",
            "-in",
            "old.example.test.csr",
            "-out",
            "old.example.test.pem",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-extfile",
            "old.ext",
            "-notext",
        ],
    );
}

fn leaf(dir: &Path, name: &str, san: &str, issuer: &str, validity: &[&str]) {
    let (key, csr, ext, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    let extensions = format!(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
    );
    std::fs::write(dir.join(&ext), extensions).expect("write ext");
    let (ca, ca_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-sha256",
        "-extfile",
        &ext,
        "-out",
        &pem,
    ];
    args.extend_from_slice(validity);
    openssl(dir, &args);
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("read pki file")
}

/// The www.example.test certificate, its chain and s_server's status page.
const WWW: [&str; 7] = [
    "-cert",
    "www.example.test.pem",
    "-key",
    "www.example.test.key",
    "-cert_chain",
    "chain.pem",
    "-www",
];

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind port 0").local_addr().expect("addr").port()
}

/// An `openssl s_server` child, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `openssl s_server -accept 127.0.0.1:<port> <args>` in `dir` and waits until it
/// accepts connections.
async fn s_server(dir: &Path, args: &[&str]) -> Server {
    let port = free_port();
    s_server_at(dir, &format!("127.0.0.1:{port}"), port, args).await
}

/// `s_server` with `args`, then [`WWW`]: the good endpoint most cases start from.
async fn www_server(dir: &Path, args: &[&str]) -> Server {
    let all: Vec<&str> = args.iter().copied().chain(WWW).collect();
    s_server(dir, &all).await
}

/// Starts `openssl s_server -accept <accept> <args>` and waits until `port` accepts on the
/// accept address.
async fn s_server_at(dir: &Path, accept: &str, port: u16, args: &[&str]) -> Server {
    let host = accept.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
    let host = host.trim_matches(['[', ']']).to_string();
    let child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", accept, "-quiet"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the openssl CLI is required (Debian package `openssl`)");
    let server = Server { child, port };
    for _ in 0..100 {
        if TcpStream::connect((host.as_str(), port)).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("openssl s_server {args:?} did not start listening on {accept}");
}

fn ctx() -> Context {
    Context {
        now: Utc::now(),
        timeout: Duration::from_secs(120),
        cancel: CancellationToken::new(),
        limits: Limits::default(),
        previous: Default::default(),
    }
}

async fn scan(endpoint: Value) -> Collection {
    scan_with(json!({ "endpoints": [endpoint] })).await
}

async fn scan_with(mut params: Value) -> Collection {
    let ca = pki().join("ca.pem");
    params["ca_file"] = json!(ca);
    if params.get("read_timeout_ms").is_none() {
        params["read_timeout_ms"] = json!(2000);
    }
    let config: TlsConfig = serde_json::from_value(params).expect("params deserialize");
    let settings = config.validate().expect("params valid");
    collect(&settings, &ctx()).await
}

fn only(collection: &Collection) -> &Value {
    assert!(collection.failures.is_empty(), "failures: {:?}", collection.failures);
    assert_eq!(collection.observations.len(), 1, "{:?}", collection.observations);
    &collection.observations[0].facts
}

fn endpoint(host: &str, port: u16) -> Value {
    json!({ "host": host, "port": port, "addresses": ["127.0.0.1"] })
}

fn protocols(facts: &Value) -> Vec<String> {
    serde_json::from_value(facts["protocols_supported"].clone()).expect("protocol list")
}

fn suite_ids(facts: &Value, version: &str) -> Vec<String> {
    facts["suites"][version]["accepted"]
        .as_array()
        .map(|list| list.iter().map(|s| s["id"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

fn status(facts: &Value, version: &str) -> String {
    facts["protocols"][version]["status"].as_str().unwrap_or("missing").to_string()
}

fn rule_ids(facts: &Value, list: &str) -> Vec<String> {
    facts["grade"][list]
        .as_array()
        .map(|rules| rules.iter().map(|r| r["id"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

// ---- acceptance cases ------------------------------------------------------------------

/// TLS-01: TLS 1.3 reachable only after a HelloRetryRequest for secp384r1.
#[tokio::test]
async fn tls01_a_group_the_local_library_lacks_is_not_a_verdict() {
    // secp521r1 is offered by the probes' ClientHello but not by rustls/ring: TLS 1.3 is still
    // supported, and the unreadable certificate must not turn into a T grade.
    let dir = pki();
    let args = [
        "-tls1_3",
        "-groups",
        "secp521r1",
        "-cert",
        "www.example.test.pem",
        "-key",
        "www.example.test.key",
        "-cert_chain",
        "chain.pem",
        "-www",
    ];
    let server = s_server(dir, &args).await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_3"]);
    assert_eq!(facts["hello_retry_request"]["requested_group"], "0x0019");
    assert_eq!(facts["grade"], Value::Null, "{}", facts["grade"]);
    assert_eq!(facts["grade_rank"], Value::Null);
}

#[tokio::test]
async fn tls01_hello_retry_request_still_means_tls13() {
    let dir = pki();
    let server = www_server(dir, &["-tls1_3", "-groups", "secp384r1"]).await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_3"]);
    for old in ["tls1_2", "tls1_1", "tls1_0", "ssl3"] {
        assert_eq!(status(facts, old), "not_supported", "{old}: {}", facts["protocols"][old]);
    }
    let retry = &facts["hello_retry_request"];
    assert_eq!(retry["requested_group"], "0x0018");
    assert_eq!(retry["requested_group_name"], "secp384r1");
    assert_eq!(retry["negotiated_group"], "secp384r1");
    assert_eq!(facts["groups"]["tls1_3"], json!(["secp384r1"]));
    assert_eq!(facts["negotiated"]["group"], "secp384r1");
}

/// TLS-02: a front that rejects hellos without RFC 5746 signalling, before a TLS 1.2 back end.
#[tokio::test]
async fn tls02_every_hello_carries_renegotiation_signalling() {
    let dir = pki();
    let backend = www_server(dir, &["-tls1_2", "-serverpref"]).await;
    let direct = scan(endpoint("www.example.test", backend.port)).await;
    let direct = only(&direct).clone();
    let back_port = backend.port;
    let front = signalling_front(back_port).await;
    let collection = scan(endpoint("www.example.test", front)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_2"]);
    assert_eq!(facts["forward_secrecy"], "some");
    let suites = suite_ids(facts, "tls1_2");
    assert!(suites.contains(&"0xc02f".to_string()), "{suites:?}");
    assert_eq!(suites, suite_ids(&direct, "tls1_2"));
    // OpenSSL's s_server enforces its own order; the list is in that order, best first.
    assert_eq!(facts["suites"]["tls1_2"]["server_order"], true);
    assert_eq!(suites[0], "0xc030", "{suites:?}");
    assert_eq!(facts["requires_renegotiation_signalling"], true);
    assert_eq!(direct["requires_renegotiation_signalling"], false);
    assert_eq!(facts["secure_renegotiation"]["status"], "supported");
}

/// TLS-03 (a): a ServerHello for a suite that was not offered is a violation, not acceptance.
#[tokio::test]
async fn tls03_unoffered_suite_is_a_violation() {
    let port = fake_server(|mut client| async move {
        let Some(record) = read_record(&mut client).await else { return };
        let Some(hello) = client_hello(&record) else { return };
        let _ = client.write_all(&server_hello(hello.version.min(0x0303), 0x0033)).await;
    })
    .await;
    let collection = scan(endpoint("www.example.test", port)).await;
    let facts = only(&collection);
    assert_eq!(suite_ids(facts, "tls1_2"), ["0x0033"]);
    assert_eq!(facts["suites"]["tls1_2"]["one_per_hello"], true);
    let violations = facts["violations"].as_array().expect("violations");
    let single = violations
        .iter()
        .find(|v| v["version"] == "tls1_2" && v["offered"] == json!(["0xc033"]))
        .expect("a violation for the hello that offered only 0xc033");
    assert_eq!(single["returned"], "0x0033");
    assert_eq!(facts["suite_families"]["rc4"], false);
}

/// TLS-03 (b): a server that matches suites on the low byte only.
#[tokio::test]
async fn tls03_low_byte_matching_falls_back_to_one_suite_per_hello() {
    let port = fake_server(|mut client| async move {
        let Some(record) = read_record(&mut client).await else { return };
        let Some(hello) = client_hello(&record) else { return };
        let own = [0x0005u16, 0x0004, 0x002f];
        let pick =
            hello.suites.iter().find_map(|s| own.iter().find(|o| (**o & 0xff) == (s & 0xff)));
        let reply = match pick {
            Some(suite) => server_hello(hello.version.min(0x0303), *suite),
            None => vec![0x15, 3, 3, 0, 2, 2, 0x28],
        };
        let _ = client.write_all(&reply).await;
    })
    .await;
    let collection = scan(endpoint("www.example.test", port)).await;
    let facts = only(&collection);
    let mut suites = suite_ids(facts, "tls1_2");
    suites.sort();
    assert_eq!(suites, ["0x0004", "0x0005", "0x002f"]);
    assert_eq!(facts["suite_families"]["rc4"], true);
    assert_eq!(facts["weak_suites_accepted"], true);
    assert!(!facts["violations"].as_array().expect("violations").is_empty());
}

/// TLS-04: a warning alert before the fatal one, and before a ServerHello.
#[tokio::test]
async fn tls04_warning_alert_is_skipped_fatal_alert_decides() {
    let dir = pki();
    let server = s_server(
        dir,
        &[
            "-tls1_2",
            "-cert",
            "default.example.test.pem",
            "-key",
            "default.example.test.key",
            "-servername",
            "www.example.test",
            "-cert2",
            "www.example.test.pem",
            "-key2",
            "www.example.test.key",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "-www",
        ],
    )
    .await;
    let collection = scan(endpoint("other.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_2"]);
    assert_eq!(suite_ids(facts, "tls1_2"), ["0xc02f"]);
    let warnings = facts["warning_alerts"].as_array().expect("warning alerts");
    assert!(
        warnings.contains(&json!(
            "server does not recognise SNI other.example.test (warning alert 112)"
        )),
        "{warnings:?}"
    );
    let verdict = &facts["protocols"]["tls1_2"];
    assert!(verdict["reply_hex"].as_str().unwrap_or("").starts_with("15030300020170"), "{verdict}");
}

/// TLS-05 (a): TLS 1.0 only; the local TLS library's policy plays no part.
#[tokio::test]
async fn tls05_tls10_is_seen_although_the_local_library_refuses_it() {
    let dir = pki();
    let server = s_server(
        dir,
        &[
            "-tls1",
            "-cipher",
            "ALL:@SECLEVEL=0",
            "-cert",
            "www.example.test.pem",
            "-key",
            "www.example.test.key",
            "-www",
        ],
    )
    .await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_0"]);
    let evidence = facts["protocols"]["tls1_0"]["reply_hex"].as_str().expect("hex");
    // record header 16 03 01, handshake type 02, then server_version 03 01
    assert!(evidence.starts_with("160301") && &evidence[18..22] == "0301", "{evidence}");
    for newer in ["tls1_1", "tls1_2", "tls1_3"] {
        assert_eq!(status(facts, newer), "not_supported", "{newer}");
    }
    // The certificate came from the raw handshake: rustls cannot speak TLS 1.0.
    assert_eq!(facts["certificate"]["source"], "handshake_record");
    assert_eq!(facts["certificate"]["subject"], "CN=www.example.test");
}

/// TLS-05 (b): a plain HTTP service scanned as TLS.
#[tokio::test]
async fn tls05_plain_http_is_inconclusive_everywhere_and_ungraded() {
    let port = fake_server(|mut client| async move {
        let mut buffer = [0u8; 1024];
        let _ = client.read(&mut buffer).await;
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n").await;
    })
    .await;
    let collection = scan(endpoint("www.example.test", port)).await;
    let facts = only(&collection);
    assert_eq!(facts["tls_detected"], false);
    for version in ["ssl3", "tls1_0", "tls1_1", "tls1_2", "tls1_3"] {
        let verdict = &facts["protocols"][version];
        assert_eq!(verdict["status"], "inconclusive", "{version}");
        assert_eq!(verdict["reason"], "non-TLS response", "{version}");
        assert_eq!(verdict["reply_hex"], hex::encode("HTTP/1.1 400 Bad Request"), "{version}");
    }
    assert_eq!(facts["grade"], Value::Null);
    assert_eq!(facts["grade_rank"], 0);
    // No check claims anything about a service that is not TLS, and none has an empty value.
    for check in ["fallback_scsv", "secure_renegotiation", "compression", "heartbleed", "robot"] {
        assert_eq!(facts[check]["status"], "inconclusive", "{check}: {}", facts[check]);
        assert_eq!(facts[check]["reason"], "no tls protocol detected", "{check}");
    }
    assert_eq!(facts["client_renegotiation"]["status"], "inconclusive");
}

/// TLS-06: fallback SCSV is not applicable with one protocol and supported with two.
#[tokio::test]
async fn tls06_fallback_scsv_single_and_two_protocols() {
    let dir = pki();
    let single = s_server(
        dir,
        &["-tls1_2", "-cert", "www.example.test.pem", "-key", "www.example.test.key", "-www"],
    )
    .await;
    let two = s_server(
        dir,
        &[
            "-min_protocol",
            "TLSv1.1",
            "-max_protocol",
            "TLSv1.2",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-cert",
            "www.example.test.pem",
            "-key",
            "www.example.test.key",
            "-www",
        ],
    )
    .await;
    let params = json!({ "endpoints": [
        endpoint("www.example.test", single.port), endpoint("www.example.test", two.port),
    ]});
    let collection = scan_with(params).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let (a, b) = (&collection.observations[0].facts, &collection.observations[1].facts);
    assert_eq!(
        a["fallback_scsv"],
        json!({ "status": "not_applicable", "reason": "single protocol: tls1_2" })
    );
    assert!(!rule_ids(a, "caps").iter().any(|id| id.contains("fallback")));
    // The other weakness probes against OpenSSL 3 with its default TLS 1.2 suites.
    assert_eq!(a["secure_renegotiation"]["status"], "supported");
    assert_eq!(a["compression"]["status"], "not_supported");
    assert_eq!(a["heartbleed"]["status"], "not_vulnerable");
    assert_eq!(a["robot"]["status"], "not_vulnerable");
    // OpenSSL 3 refuses client-initiated renegotiation unless -client_renegotiation is given.
    assert_eq!(
        a["client_renegotiation"]["status"], "not_supported",
        "{}",
        a["client_renegotiation"]
    );
    assert_eq!(protocols(b), ["tls1_1", "tls1_2"]);
    assert_eq!(b["fallback_scsv"]["status"], "supported");
    assert_eq!(b["fallback_scsv"]["reply_hex"], "15030200020256");
}

/// TLS-07: A+ with TLS 1.3 and long HSTS; A- without TLS 1.3; A- without HSTS.
#[tokio::test]
async fn tls07_a_plus_and_a_minus_follow_the_current_rules() {
    let dir = pki();
    let site = dir.join("site07");
    let nohsts = dir.join("site07-nohsts");
    for (path, hsts) in [(&site, "Strict-Transport-Security: max-age=15552000\r\n"), (&nohsts, "")]
    {
        std::fs::create_dir_all(path).expect("site dir");
        let page = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{hsts}Content-Length: 3\r\n\r\nok\n"
        );
        std::fs::write(path.join("index.html"), page).expect("index.html");
    }
    let base = [
        "-cert",
        "../www.example.test.pem",
        "-key",
        "../www.example.test.key",
        "-cert_chain",
        "../chain.pem",
        "-cipher",
        "ECDHE+AESGCM:ECDHE+CHACHA20",
        "-HTTP",
    ];
    let a = s_server(&site, &base).await;
    let mut no13 = base.to_vec();
    no13.push("-no_tls1_3");
    let b = s_server(&site, &no13).await;
    let c = s_server(&nohsts, &base).await;
    let target = |port: u16| {
        let mut e = endpoint("www.example.test", port);
        e["http_path"] = json!("/index.html");
        e
    };
    let collection =
        scan_with(json!({ "endpoints": [target(a.port), target(b.port), target(c.port)] })).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let facts: Vec<&Value> = collection.observations.iter().map(|o| &o.facts).collect();
    let grade = &facts[0]["grade"];
    assert_eq!(grade["grade"], "A+", "{grade}");
    assert_eq!(
        (grade["protocol_score"].as_u64(), grade["key_exchange_score"].as_u64()),
        (Some(100), Some(90))
    );
    assert_eq!((grade["cipher_score"].as_u64(), grade["score"].as_u64()), (Some(90), Some(93)));
    assert_eq!(grade["caps"], json!([]));
    assert_eq!(grade["warnings"], json!([]));
    assert_eq!(facts[0]["http"]["hsts"]["max_age"], 15_552_000);
    assert_eq!(facts[1]["grade"]["grade"], "A-");
    assert_eq!(rule_ids(facts[1], "warnings"), ["warn.no_tls1_3"]);
    assert_eq!(facts[1]["grade"]["warnings"][0]["text"], "TLS 1.3 not supported");
    assert_eq!(facts[2]["grade"]["grade"], "A-");
    assert_eq!(rule_ids(facts[2], "warnings"), ["warn.no_hsts"]);
    assert_eq!(facts[2]["grade"]["warnings"][0]["text"], "HSTS missing");
    for f in &facts {
        assert!(f["fallback_scsv"]["status"].is_string());
        let rules = [rule_ids(f, "caps"), rule_ids(f, "warnings")].concat();
        assert!(!rules.iter().any(|id| id.contains("fallback")), "{rules:?}");
    }
}

/// TLS-08: the certificate for the name asked for is graded; the default one is information.
#[tokio::test]
async fn tls08_certificate_for_the_sni_name_is_graded() {
    let dir = pki();
    let server = s_server(
        dir,
        &[
            "-cert",
            "default.example.test.pem",
            "-key",
            "default.example.test.key",
            "-servername",
            "a.example.test",
            "-cert2",
            "a.example.test.pem",
            "-key2",
            "a.example.test.key",
            "-www",
        ],
    )
    .await;
    let collection = scan(endpoint("a.example.test", server.port)).await;
    let facts = only(&collection);
    let cert = &facts["certificate"];
    assert_eq!(cert["subject"], "CN=a.example.test");
    assert_eq!(
        (cert["trusted"].as_bool(), cert["name_matches"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(facts["sni_required"], true);
    assert_eq!(facts["default_certificate"]["subject"], "CN=default.example.test");
    assert_eq!(facts["default_certificate"]["name_matches"], false);
    assert_ne!(facts["grade"]["grade"], "M");
    assert!(!rule_ids(facts, "caps").contains(&"cap.name_mismatch".to_string()));
}

/// TLS-09: SMTP STARTTLS step by step, and a pool member that sometimes omits STARTTLS.
#[tokio::test]
async fn tls09_smtp_starttls_follows_the_dialogue() {
    let dir = pki();
    // s_server sends only the first certificate of -cert; the chain file adds the intermediate.
    let backend = s_server(
        dir,
        &[
            "-cert",
            "mail-fullchain.pem",
            "-key",
            "mail.example.test.key",
            "-cert_chain",
            "chain.pem",
            "-www",
        ],
    )
    .await;
    // Both modes in one collection: endpoints are scanned concurrently.
    let (steady, flaky) =
        (smtp_front(backend.port, false).await, smtp_front(backend.port, true).await);
    let target = |port: u16| {
        let mut target = endpoint("mail.example.test", port);
        target["starttls"] = json!("smtp");
        target
    };
    // The default of 3 attempts: concurrent probes share the flaky server's alternation, and
    // a probe that runs out is retried alone on fresh connections.
    let params = json!({ "endpoints": [target(steady), target(flaky)] });
    let collection = scan_with(params).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    for (observation, flaky) in collection.observations.iter().zip([false, true]) {
        let facts = &observation.facts;
        assert_eq!(protocols(facts), ["tls1_2", "tls1_3"], "flaky={flaky}");
        assert_eq!(facts["certificate"]["subject"], "CN=mail.example.test");
        assert_eq!(facts["certificate"]["trusted"], true);
        assert_eq!(facts["certificate"]["chain_complete"], true);
        assert_eq!(facts["http"], Value::Null);
        let missing = facts["starttls_missing_attempts"].as_u64().unwrap_or(0);
        assert_eq!(missing > 0, flaky, "missing attempts {missing}");
        // Every protocol decided, so a grade (A-: no HSTS on a mail server is no warning, but
        // s_server's chain is fine), never the missing-TLS-1.3 warning of an undecided probe.
        for version in ["ssl3", "tls1_0", "tls1_1"] {
            assert_eq!(status(facts, version), "not_supported", "flaky={flaky} {version}");
        }
        assert!(facts["grade"]["grade"].is_string(), "flaky={flaky}: {}", facts["grade_reason"]);
        assert!(!rule_ids(facts, "warnings").contains(&"warn.no_tls1_3".to_string()));
        assert_eq!(facts["suites"]["tls1_3"]["accepted"].as_array().map(Vec::len), Some(3));
    }
}

/// TLS-09 bound: a server that never offers STARTTLS is a failure after a bounded number of
/// fresh connections, not a hang and not a TLS verdict.
#[tokio::test]
async fn starttls_never_offered_fails_after_bounded_attempts() {
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    let port = fake_server(move |mut client| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let _ = client.write_all(b"220 mail.example.test ESMTP\r\n").await;
            let Some(_) = read_command(&mut client).await else { return };
            let _ = client.write_all(b"250-mail.example.test\r\n250 8BITMIME\r\n").await;
            let _ = read_command(&mut client).await;
        }
    })
    .await;
    let mut target = endpoint("mail.example.test", port);
    target["starttls"] = json!("smtp");
    let started = std::time::Instant::now();
    let collection = scan(target).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(collection.observations.is_empty());
    assert_eq!(collection.failures.len(), 1, "{:?}", collection.failures);
    assert_eq!(collection.failures[0].kind, FailureKind::Parse);
    assert!(collection.failures[0].message.ends_with("did not offer starttls on 3 attempts"));
    // Five protocol probes and two certificate sessions, three attempts each.
    let made = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!((15..=21).contains(&made), "{made} connections");
}

/// IMAP and POP3 STARTTLS: capability lists read to their end, then the upgrade.
#[tokio::test]
async fn imap_and_pop3_starttls() {
    let dir = pki();
    let backend = s_server(
        dir,
        &[
            "-cert",
            "mail.example.test.pem",
            "-key",
            "mail.example.test.key",
            "-cert_chain",
            "chain.pem",
            "-www",
        ],
    )
    .await;
    let back = backend.port;
    let imap = fake_server(move |mut client| async move {
        let _ = client.write_all(b"* OK IMAP4rev1 ready\r\n").await;
        let Some(capability) = read_command(&mut client).await else { return };
        if capability != "a1 CAPABILITY" {
            return;
        }
        let reply = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n";
        let _ = client.write_all(reply).await;
        if read_command(&mut client).await.as_deref() != Some("a2 STARTTLS") {
            return;
        }
        let _ = client.write_all(b"a2 OK begin TLS\r\n").await;
        proxy(client, back).await;
    })
    .await;
    let pop3 = fake_server(move |mut client| async move {
        let _ = client.write_all(b"+OK POP3 ready\r\n").await;
        if read_command(&mut client).await.as_deref() != Some("CAPA") {
            return;
        }
        let _ = client.write_all(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n").await;
        if read_command(&mut client).await.as_deref() != Some("STLS") {
            return;
        }
        let _ = client.write_all(b"+OK begin TLS\r\n").await;
        proxy(client, back).await;
    })
    .await;
    let target = |port: u16, protocol: &str| {
        let mut target = endpoint("mail.example.test", port);
        target["starttls"] = json!(protocol);
        target
    };
    let collection =
        scan_with(json!({ "endpoints": [target(imap, "imap"), target(pop3, "pop3")] })).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    for observation in &collection.observations {
        let facts = &observation.facts;
        assert_eq!(protocols(facts), ["tls1_2", "tls1_3"], "{}", observation.subject);
        assert_eq!(facts["certificate"]["trusted"], true);
        assert_eq!(facts["certificate"]["name_matches"], true);
    }
    let kinds: Vec<_> =
        collection.observations.iter().map(|o| o.facts["starttls"].clone()).collect();
    assert_eq!(kinds, [json!("imap"), json!("pop3")]);
}

async fn proxy(mut client: TcpStream, port: u16) {
    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// TLS-10: TLS 1.3 only; checks that cannot apply are not applicable.
#[tokio::test]
async fn tls10_tls13_only_server() {
    let dir = pki();
    let server = www_server(dir, &["-tls1_3"]).await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_3"]);
    assert_eq!(suite_ids(facts, "tls1_3"), ["0x1301", "0x1302", "0x1303"]);
    for old in ["ssl3", "tls1_0", "tls1_1", "tls1_2"] {
        assert_eq!(status(facts, old), "not_supported", "{old}: {}", facts["protocols"][old]);
    }
    assert_eq!(facts["robot"]["status"], "not_applicable");
    assert_eq!(facts["heartbleed"]["status"], "not_applicable");
    for feature in ["secure_renegotiation", "compression", "fallback_scsv", "client_renegotiation"]
    {
        assert_eq!(facts[feature]["status"], "not_applicable", "{feature}: {}", facts[feature]);
    }
}

/// TLS-11: an IP address as the target: matched against iPAddress SANs, no SNI.
#[tokio::test]
async fn tls11_ip_target_matches_ip_san_without_sni() {
    let dir = pki();
    let backend = s_server(
        dir,
        &["-cert", "ip-only.pem", "-key", "ip-only.key", "-cert_chain", "chain.pem", "-www"],
    )
    .await;
    // A front that records whether any ClientHello carried server_name (extension 0).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (log, back_port) = (seen.clone(), backend.port);
    let front = fake_server(move |mut client| {
        let log = log.clone();
        async move {
            let Some(record) = read_record(&mut client).await else { return };
            if let (Some(hello), Ok(mut log)) = (client_hello(&record), log.lock()) {
                log.push(hello.extensions.contains(&0));
            }
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", back_port)).await else {
                return;
            };
            if server.write_all(&record).await.is_ok() {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        }
    })
    .await;
    let collection = scan(json!({ "host": "127.0.0.1", "port": front })).await;
    let facts = only(&collection);
    assert_eq!(facts["sni"], Value::Null);
    let seen = seen.lock().expect("hello log").clone();
    assert!(seen.len() > 20, "only {} hellos seen", seen.len());
    assert!(seen.iter().all(|with_sni| !with_sni), "a hello carried server_name");
    let cert = &facts["certificate"];
    assert_eq!(cert["names"], json!(["127.0.0.1"]));
    assert_eq!(
        (cert["trusted"].as_bool(), cert["name_matches"].as_bool()),
        (Some(true), Some(true))
    );
    assert_ne!(facts["grade"]["grade"], "M");
}

/// TLS-12: ROBOT reactions that change between rounds give `inconclusive`, never a verdict.
#[tokio::test]
async fn tls12_robot_noise_is_inconclusive() {
    let dir = pki();
    let chain = [read(dir, "www.example.test.pem"), read(dir, "int.pem")].concat();
    let port = robot_noise_server(chain).await;
    let params =
        json!({ "endpoints": [endpoint("www.example.test", port)], "read_timeout_ms": 700 });
    let collection = scan_with(params).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_2"]);
    // The fake picks in the client's order, so the server does not enforce its own.
    assert_eq!(suite_ids(facts, "tls1_2"), ["0x002f", "0x009c"]);
    assert_eq!(facts["suites"]["tls1_2"]["server_order"], false);
    let robot = &facts["robot"];
    assert_eq!(robot["status"], "inconclusive", "{robot}");
    assert_eq!(robot["reason"], "inconsistent results between rounds");
    assert!(robot["rounds"].as_array().map_or(0, Vec::len) >= 2, "{robot}");
}

/// ROBOT against OpenSSL: the same reaction to every variant in every round.
#[tokio::test]
async fn robot_on_openssl_is_not_vulnerable() {
    let dir = pki();
    let server = www_server(dir, &["-tls1_2", "-cipher", "AES128-SHA:AES128-GCM-SHA256"]).await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    let robot = &facts["robot"];
    assert_eq!(robot["status"], "not_vulnerable", "{robot}");
    let rounds = robot["rounds"].as_array().expect("rounds");
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0], json!(vec!["alert 20"; 5]));
    assert_eq!(facts["forward_secrecy"], "none");
    assert!(rule_ids(facts, "caps").contains(&"cap.no_forward_secrecy".to_string()));
}

// ---- issue scenarios -------------------------------------------------------------------

/// (b) TLS 1.0/1.1 only with weak suites: capped, weak families listed.
#[tokio::test]
async fn legacy_only_server_with_weak_suites() {
    let dir = pki();
    let server = www_server(
        dir,
        &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.1", "-cipher", "ALL:@SECLEVEL=0"],
    )
    .await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_0", "tls1_1"]);
    assert_eq!(facts["legacy_protocols_supported"], true);
    // OpenSSL 3's ALL holds anonymous DH suites but no 3DES, RC4 or export suites.
    let families = &facts["suite_families"];
    assert_eq!(
        families,
        &json!({
            "3des": false, "anon": true, "des": false, "export": false, "null": false, "rc4": false,
        })
    );
    assert_eq!(
        rule_ids(facts, "caps"),
        ["cap.tls1_0_1_1", "cap.no_tls1_2", "cap.anon", "cap.no_aead"]
    );
    assert_eq!(facts["grade"]["grade"], "F");
    assert_eq!(facts["grade"]["warnings"][0]["id"], "warn.no_tls1_3");
    assert_eq!(
        (facts["weak_suites_accepted"].as_bool(), facts["oldest_protocol_rank"].as_u64()),
        (Some(true), Some(2))
    );
}

/// (c) an expired certificate: T.
#[tokio::test]
async fn expired_certificate_is_graded_t() {
    let dir = pki();
    let server = s_server(
        dir,
        &[
            "-cert",
            "old.example.test.pem",
            "-key",
            "old.example.test.key",
            "-cert_chain",
            "chain.pem",
            "-www",
        ],
    )
    .await;
    let collection = scan(endpoint("old.example.test", server.port)).await;
    let facts = only(&collection);
    let cert = &facts["certificate"];
    assert_eq!(cert["expired"], true);
    // The leaf (2020) and the intermediate (now) were never valid at the same time, so trust
    // cannot be decided apart from time: unknown, not "untrusted".
    assert_eq!(cert["trusted"], Value::Null);
    assert!(cert["days_left"].as_i64().unwrap_or(0) < -300);
    assert_eq!(facts["grade"]["grade"], "T");
    assert_eq!(rule_ids(facts, "caps"), ["cap.expired"]);
}

/// (d) a hostname mismatch: M.
#[tokio::test]
async fn name_mismatch_is_graded_m() {
    let dir = pki();
    let server = www_server(dir, &[]).await;
    let collection = scan(endpoint("shop.example.test", server.port)).await;
    let facts = only(&collection);
    assert_eq!(facts["certificate"]["name_matches"], false);
    assert_eq!(facts["certificate"]["trusted"], true);
    assert_eq!(facts["grade"]["grade"], "M");
    assert_eq!(facts["grade_rank"], 0);
}

/// (e) an incomplete chain: untrusted, incomplete, T.
#[tokio::test]
async fn incomplete_chain_is_untrusted() {
    let dir = pki();
    let server =
        s_server(dir, &["-cert", "www.example.test.pem", "-key", "www.example.test.key", "-www"])
            .await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    let cert = &facts["certificate"];
    assert_eq!(cert["chain_length"], 1);
    assert_eq!(
        (cert["chain_complete"].as_bool(), cert["trusted"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(cert["name_matches"], true);
    assert_eq!(facts["grade"]["grade"], "T");
    // SSL Labs caps an incomplete chain at B; without the trust problem it would be B.
    assert!(rule_ids(facts, "caps").contains(&"cap.incomplete_chain".to_string()));
    assert_eq!(facts["grade"]["grade_ignoring_trust"], "B");
}

/// A server that accepts TCP and never answers fails in bounded time; others still scan.
#[tokio::test]
async fn silent_server_fails_in_bounded_time_and_others_are_scanned() {
    let dir = pki();
    let good = www_server(dir, &[]).await;
    let silent = fake_server(|client| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(client);
    })
    .await;
    let started = std::time::Instant::now();
    let params = json!({
        "endpoints": [
            endpoint("www.example.test", silent),
            endpoint("www.example.test", good.port),
        ],
        "read_timeout_ms": 500,
    });
    let collection = scan_with(params).await;
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert_eq!(collection.failures.len(), 1, "{:?}", collection.failures);
    assert_eq!(collection.failures[0].kind, FailureKind::Timeout);
    assert_eq!(collection.failures[0].subject, format!("www.example.test:{silent}@127.0.0.1"));
    assert_eq!(collection.observations.len(), 1);
    assert_eq!(protocols(&collection.observations[0].facts), ["tls1_2", "tls1_3"]);
}

/// An oversized record and a stall in the middle of a record give inconclusive verdicts in
/// bounded time.
#[tokio::test]
async fn oversized_record_and_mid_record_stall_are_inconclusive() {
    let oversized = fake_server(|mut client| async move {
        let _ = read_record(&mut client).await;
        let _ = client.write_all(&[0x16, 3, 3, 0xff, 0xff, 2, 0, 0]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let stalled = fake_server(|mut client| async move {
        let _ = read_record(&mut client).await;
        let _ = client.write_all(&[0x16, 3, 3, 0, 80, 2, 0, 0]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let started = std::time::Instant::now();
    let params = json!({
        "endpoints": [
            endpoint("www.example.test", oversized),
            endpoint("www.example.test", stalled),
        ],
        "read_timeout_ms": 300,
    });
    let collection = scan_with(params).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let (a, b) = (&collection.observations[0].facts, &collection.observations[1].facts);
    assert_eq!(
        a["protocols"]["tls1_2"]["reason"],
        "malformed reply: oversized record of 65535 bytes"
    );
    assert_eq!(a["protocols"]["tls1_2"]["reply_hex"], "160303ffff020000");
    assert_eq!(b["protocols"]["tls1_2"]["reason"], "timeout");
    assert_eq!(b["protocols"]["tls1_2"]["status"], "inconclusive");
    assert_eq!((a["grade"].clone(), b["grade"].clone()), (Value::Null, Value::Null));
}

/// IPv4 and IPv6 addresses of one endpoint are each scanned and reported on their own.
#[tokio::test]
async fn ipv4_and_ipv6_addresses_are_each_scanned() {
    let dir = pki();
    let port = free_port();
    let v6 = StdListener::bind(("::1", port)).map(drop);
    assert!(v6.is_ok(), "::1 is needed for this test (loopback ipv6): {v6:?}");
    let common = ["-cert", "www.example.test.pem", "-key", "www.example.test.key", "-www"];
    let v4_server =
        s_server_at(dir, &format!("127.0.0.1:{port}"), port, &[&["-tls1_2"], &common[..]].concat())
            .await;
    let v6_server = s_server_at(dir, &format!("[::1]:{port}"), port, &common).await;
    let target =
        json!({ "host": "www.example.test", "port": port, "addresses": ["127.0.0.1", "::1"] });
    let collection = scan(target).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let subjects: Vec<&str> = collection.observations.iter().map(|o| o.subject.as_str()).collect();
    let (s4, s6) =
        (format!("www.example.test:{port}@127.0.0.1"), format!("www.example.test:{port}@::1"));
    assert_eq!(subjects, [s4.as_str(), s6.as_str()]);
    assert_eq!(protocols(&collection.observations[0].facts), ["tls1_2"]);
    assert_eq!(protocols(&collection.observations[1].facts), ["tls1_2", "tls1_3"]);
    assert_eq!(collection.observations[1].facts["address"], "::1");
    drop((v4_server, v6_server));
}

/// The run's timeout bounds the whole scan, whatever the server and the read timeouts do.
#[tokio::test]
async fn run_timeout_bounds_the_scan() {
    let silent = fake_server(|client| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(client);
    })
    .await;
    let config: TlsConfig = serde_json::from_value(json!({
        "endpoints": [endpoint("www.example.test", silent), endpoint("www.example.test", silent)],
        "ca_file": pki().join("ca.pem"),
        "read_timeout_ms": 30_000,
        "concurrency": 1,
    }))
    .expect("params");
    let settings = config.validate().expect("valid");
    let mut context = ctx();
    context.timeout = Duration::from_millis(800);
    let started = std::time::Instant::now();
    let collection = collect(&settings, &context).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    let kinds: Vec<_> = collection.failures.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FailureKind::Timeout, FailureKind::Timeout]);
}

/// Refused connections are a per-endpoint failure naming the address.
#[tokio::test]
async fn refused_endpoint_is_unreachable() {
    let port = free_port();
    let collection = scan(endpoint("www.example.test", port)).await;
    assert!(collection.observations.is_empty());
    assert_eq!(collection.failures[0].kind, FailureKind::Unreachable);
    assert!(
        collection.failures[0].message.contains(&format!("127.0.0.1:{port}")),
        "{:?}",
        collection.failures
    );
}

#[test]
fn validation_reports_every_error_by_key() {
    let config: TlsConfig = serde_json::from_value(json!({
        "endpoints": [
            { "host": "bad host", "port": 0, "starttls": "ftp", "addresses": ["x"] },
            { "host": "ok.example.test", "port": 443, "sni": "127.0.0.1", "http_path": "nope" },
        ],
        "ca_file": "relative.pem",
        "concurrency": 0,
    }))
    .expect("deserialize");
    let errors = config.validate().expect_err("invalid");
    let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "endpoints[0].host",
            "endpoints[0].port",
            "endpoints[0].addresses",
            "endpoints[0].starttls",
            "endpoints[1].sni",
            "endpoints[1].http_path",
            "ca_file",
            "concurrency",
        ]
    );
    let unknown = serde_json::from_value::<TlsConfig>(json!({ "endpoints": [], "x": 1 }));
    assert!(unknown.expect_err("unknown key").to_string().contains("unknown field `x`"));
}

// ---- fake servers ----------------------------------------------------------------------

/// Runs `handler` for every connection to a fresh port on 127.0.0.1; returns the port.
async fn fake_server<F, Fut>(handler: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake server");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    port
}

/// Reads one whole TLS record (header included).
async fn read_record(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await.ok()?;
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut record = header.to_vec();
    record.resize(5 + length, 0);
    stream.read_exact(&mut record[5..]).await.ok()?;
    Some(record)
}

struct Hello {
    version: u16,
    suites: Vec<u16>,
    extensions: Vec<u16>,
}

fn client_hello(record: &[u8]) -> Option<Hello> {
    use tls_parser::{TlsMessage, TlsMessageHandshake};
    let (_, plaintext) = tls_parser::parse_tls_plaintext(record).ok()?;
    let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = plaintext.msg.first()?
    else {
        return None;
    };
    let mut extensions = Vec::new();
    let mut raw = hello.ext.unwrap_or(&[]);
    while raw.len() >= 4 {
        extensions.push(u16::from_be_bytes([raw[0], raw[1]]));
        let length = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
        raw = raw.get(4 + length..).unwrap_or(&[]);
    }
    Some(Hello {
        version: hello.version.0,
        suites: hello.ciphers.iter().map(|c| c.0).collect(),
        extensions,
    })
}

/// A bare ServerHello record (no extensions) for `version` and `suite`.
fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut record = vec![0x16, 3, 3, 0, 0, 2, 0, 0, body.len() as u8];
    record.extend_from_slice(&body);
    let length = (record.len() - 5) as u16;
    record[3..5].copy_from_slice(&length.to_be_bytes());
    record
}

/// A front that answers every hello lacking RFC 5746 signalling (neither 0x00ff nor 0xff01)
/// with `15 03 01 00 02 02 28` and forwards the others to `back_port`.
async fn signalling_front(back_port: u16) -> u16 {
    fake_server(move |mut client| async move {
        let Some(hello) = read_record(&mut client).await else { return };
        let signalled = client_hello(&hello)
            .is_some_and(|h| h.suites.contains(&0x00ff) || h.extensions.contains(&0xff01));
        if !signalled {
            let _ = client.write_all(&[0x15, 3, 1, 0, 2, 2, 0x28]).await;
            return;
        }
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", back_port)).await else { return };
        if server.write_all(&hello).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    })
    .await
}

/// The DER certificates of a PEM chain.
fn pem_certs(chain_pem: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::pem_slice_iter(chain_pem)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// A TLS 1.2 server for RSA key transport (0x009c, 0x002f) that, after the client's key
/// exchange, reacts at random: alert 20, alert 51, close, or silence for 10 s.
async fn robot_noise_server(chain_pem: Vec<u8>) -> u16 {
    let certs = pem_certs(&chain_pem);
    fake_server(move |mut client| {
        let certs = certs.clone();
        async move {
            let Some(record) = read_record(&mut client).await else { return };
            let Some(hello) = client_hello(&record) else { return };
            let suite = hello.suites.iter().copied().find(|s| [0x009c, 0x002f].contains(s));
            let (Some(suite), true) = (suite, hello.version >= 0x0303) else {
                let _ = client.write_all(&[0x15, 3, 3, 0, 2, 2, 0x28]).await;
                return;
            };
            let mut flight = server_hello(0x0303, suite);
            flight.extend(handshake_record(11, &certificate_body(&certs)));
            flight.extend(handshake_record(14, &[]));
            if client.write_all(&flight).await.is_err() {
                return;
            }
            let mut buffer = [0u8; 4096];
            let _ =
                tokio::time::timeout(Duration::from_millis(200), client.read(&mut buffer)).await;
            let mut pick = [0u8; 1];
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut pick);
            match pick[0] % 4 {
                0 => drop(client.write_all(&[0x15, 3, 3, 0, 2, 2, 20]).await),
                1 => drop(client.write_all(&[0x15, 3, 3, 0, 2, 2, 51]).await),
                2 => {}
                _ => tokio::time::sleep(Duration::from_secs(10)).await,
            }
        }
    })
    .await
}

fn certificate_body(certs: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for cert in certs {
        list.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(cert);
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend(list);
    body
}

fn handshake_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![kind];
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend_from_slice(body);
    let mut record = vec![0x16, 3, 3];
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend(message);
    record
}

/// A strict SMTP front: greets after 0.5 s, answers 554 to early or pipelined input, then
/// hands the connection to the TLS back end after STARTTLS. With `flaky`, every other
/// connection's EHLO reply lacks STARTTLS.
async fn smtp_front(backend: u16, flaky: bool) -> u16 {
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    fake_server(move |mut client| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let mut early = [0u8; 64];
            if let Ok(Ok(read)) =
                tokio::time::timeout(Duration::from_millis(500), client.read(&mut early)).await
            {
                if read > 0 {
                    let _ = client.write_all(b"554 5.5.1 early input\r\n").await;
                }
                return;
            }
            let _ = client.write_all(b"220-mail.example.test ESMTP\r\n220 ready\r\n").await;
            let Some(ehlo) = read_command(&mut client).await else { return };
            if !ehlo.starts_with("EHLO ") {
                return;
            }
            let starttls = if flaky && n.is_multiple_of(2) { "" } else { "250-STARTTLS\r\n" };
            let reply =
                format!("250-mail.example.test\r\n250-SIZE 10240000\r\n{starttls}250 8BITMIME\r\n");
            let _ = client.write_all(reply.as_bytes()).await;
            let Some(command) = read_command(&mut client).await else { return };
            if command != "STARTTLS" {
                let _ = client.write_all(b"221 bye\r\n").await;
                return;
            }
            let _ = client.write_all(b"220 2.0.0 Ready to start TLS\r\n").await;
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", backend)).await else { return };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    })
    .await
}

/// Reads one command line; `None` (after a 554) if more than one line arrived at once.
async fn read_command(client: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut byte))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            return None;
        }
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    let mut extra = [0u8; 16];
    if let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(50), client.peek(&mut extra)).await
    {
        if n > 0 {
            let _ = client.write_all(b"554 5.5.1 pipelining not allowed\r\n").await;
            return None;
        }
    }
    Some(String::from_utf8_lossy(&line).trim_end().to_string())
}

// ---- heartbleed, renegotiation, hello shapes, timeouts, ocsp --------------------------------

/// How a heartbeat fake answers heartbeat requests.
#[derive(Clone, Copy, PartialEq)]
enum Heartbeat {
    /// Echoes `payload_length` bytes whatever the record held (CVE-2014-0160).
    Leaks,
    /// Drops over-long requests, echoes well-formed ones (RFC 6520).
    Checks,
    /// Answers any heartbeat with a fatal unexpected_message alert.
    Alerts,
}

/// A TLS 1.2 server (RSA key transport, renegotiation_info) that enables the heartbeat
/// extension when offered and answers heartbeats as `mode` says.
async fn heartbeat_server(chain_pem: Vec<u8>, mode: Heartbeat) -> u16 {
    let certs = pem_certs(&chain_pem);
    fake_server(move |mut client| {
        let certs = certs.clone();
        async move {
            let Some(record) = read_record(&mut client).await else { return };
            let Some(hello) = client_hello(&record) else { return };
            let suite = hello.suites.iter().copied().find(|s| [0x009c, 0x002f].contains(s));
            let tls13 = hello.extensions.contains(&43);
            let (Some(suite), true, false) = (suite, hello.version >= 0x0303, tls13) else {
                let _ = client.write_all(&[0x15, 3, 3, 0, 2, 2, 70]).await;
                return;
            };
            let mut extensions = vec![0xff, 0x01, 0, 1, 0];
            if hello.extensions.contains(&15) {
                extensions.extend_from_slice(&[0, 15, 0, 1, 1]);
            }
            let mut flight = server_hello_with(0x0303, suite, &extensions);
            flight.extend(handshake_record(11, &certificate_body(&certs)));
            flight.extend(handshake_record(14, &[]));
            if client.write_all(&flight).await.is_err() {
                return;
            }
            while let Some(request) = read_record(&mut client).await {
                if request[0] != 24 {
                    return;
                }
                let content = &request[5..];
                let claimed = usize::from(u16::from_be_bytes([content[1], content[2]]));
                let fits = 3 + claimed + 16 <= content.len();
                let reply = match mode {
                    Heartbeat::Alerts => vec![0x15, 3, 3, 0, 2, 2, 10],
                    Heartbeat::Checks if !fits => continue,
                    _ => {
                        let mut echo = vec![2, content[1], content[2]];
                        let mut payload = content[3..].to_vec();
                        payload.resize(claimed, 0xee); // "server memory"
                        echo.extend(&payload[..claimed]);
                        echo.extend([0u8; 16]);
                        let mut record = vec![24, 3, 3];
                        record.extend_from_slice(&(echo.len() as u16).to_be_bytes());
                        record.extend(echo);
                        record
                    }
                };
                if client.write_all(&reply).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

/// A ServerHello record with the given extension bytes.
fn server_hello_with(version: u16, suite: u16, extensions: &[u8]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    handshake_record(2, &body)
}

/// Heartbleed: the over-long heartbeat decides; the leaked bytes are not kept.
#[tokio::test]
async fn heartbleed_probe_tells_leaking_from_checking_servers() {
    let dir = pki();
    let chain = [read(dir, "www.example.test.pem"), read(dir, "int.pem")].concat();
    let leaks = heartbeat_server(chain.clone(), Heartbeat::Leaks).await;
    let checks = heartbeat_server(chain.clone(), Heartbeat::Checks).await;
    let alerts = heartbeat_server(chain, Heartbeat::Alerts).await;
    let params = json!({
        "endpoints": [
            endpoint("www.example.test", leaks),
            endpoint("www.example.test", checks),
            endpoint("www.example.test", alerts),
        ],
        "read_timeout_ms": 700,
    });
    let collection = scan_with(params).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let facts: Vec<&Value> = collection.observations.iter().map(|o| &o.facts).collect();
    for f in &facts {
        assert_eq!(protocols(f), ["tls1_2"]);
    }
    let leaked = &facts[0]["heartbleed"];
    assert_eq!(leaked["status"], "vulnerable", "{leaked}");
    assert_eq!(
        leaked["reason"],
        "over-long heartbeat answered with 64 payload bytes for 16 sent: 48 bytes of server memory"
    );
    // Record header, type 2, length 64: nothing of what was echoed.
    assert_eq!(leaked["reply_hex"], "1803030053020040");
    assert_eq!(facts[0]["grade"]["grade"], "F");
    assert!(rule_ids(facts[0], "caps").contains(&"cap.heartbleed".to_string()));
    let checked = &facts[1]["heartbleed"];
    assert_eq!(checked["status"], "not_vulnerable", "{checked}");
    assert_eq!(checked["reason"], "over-long heartbeat ignored, well-formed one echoed exactly");
    assert!(!rule_ids(facts[1], "caps").contains(&"cap.heartbleed".to_string()));
    let alerted = &facts[2]["heartbleed"];
    assert_eq!(alerted["status"], "not_vulnerable", "{alerted}");
    assert_eq!(
        alerted["reason"],
        "heartbeat requests refused: fatal alert 10 (unexpected_message)"
    );
}

/// Heartbleed against real OpenSSL 3 (heartbeats compiled out): not vulnerable, whatever the
/// protocol range.
#[tokio::test]
async fn heartbleed_on_openssl_is_not_vulnerable() {
    let dir = pki();
    let range =
        ["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-cipher", "ALL:@SECLEVEL=0"];
    let legacy = www_server(dir, &range).await;
    let collection = scan(endpoint("www.example.test", legacy.port)).await;
    let facts = only(&collection);
    assert_eq!(facts["heartbleed"]["status"], "not_vulnerable", "{}", facts["heartbleed"]);
    assert_eq!(facts["heartbleed"]["reason"], "heartbeat extension not enabled");
}

/// Client-initiated renegotiation, probed with a real TLS 1.2 handshake: refused by OpenSSL's
/// default, accepted with -client_renegotiation.
#[tokio::test]
async fn client_renegotiation_refused_and_allowed() {
    let dir = pki();
    let refuses = www_server(dir, &["-tls1_2"]).await;
    let allows = www_server(dir, &["-tls1_2", "-client_renegotiation"]).await;
    let params = json!({ "endpoints": [
        endpoint("www.example.test", refuses.port), endpoint("www.example.test", allows.port),
    ]});
    let collection = scan_with(params).await;
    assert!(collection.failures.is_empty(), "{:?}", collection.failures);
    let (a, b) = (&collection.observations[0].facts, &collection.observations[1].facts);
    let refused = &a["client_renegotiation"];
    assert_eq!(refused["status"], "not_supported", "{refused}");
    assert!(
        refused["reason"].as_str().unwrap_or("").starts_with("renegotiation refused"),
        "{refused}"
    );
    let allowed = &b["client_renegotiation"];
    assert_eq!(allowed["status"], "supported", "{allowed}");
    assert_eq!(allowed["reason"], "server hello in reply to a renegotiation hello");
    // Secure renegotiation is there, so accepting client renegotiation caps nothing.
    assert!(!rule_ids(b, "caps").iter().any(|id| id.contains("renegotiation")));
}

/// TLS-01/TLS-02 kind: a front that refuses every hello without RFC 5746 signalling, TLS 1.3
/// ones included. One alert to one hello shape is no proof of absence.
#[tokio::test]
async fn tls13_refused_for_one_hello_shape_is_asked_again() {
    let dir = pki();
    let backend = www_server(dir, &[]).await;
    let front = signalling_front(backend.port).await;
    let collection = scan(endpoint("www.example.test", front)).await;
    let facts = only(&collection);
    assert_eq!(protocols(facts), ["tls1_2", "tls1_3"]);
    let verdict = &facts["protocols"]["tls1_3"];
    assert_eq!(
        verdict["reason"],
        "first hello refused (fatal alert 40 (handshake_failure)); \
         accepted with rfc 5746 signalling"
    );
    assert!(facts["hello_shape"].as_str().is_some_and(|s| s.contains("fatal alert 40")));
    // Every later TLS 1.3 hello used the accepted shape.
    assert_eq!(facts["suites"]["tls1_3"]["accepted"].as_array().map(Vec::len), Some(3));
    assert!(!facts["groups"]["tls1_3"].as_array().is_none_or(Vec::is_empty));
    assert!(!rule_ids(facts, "warnings").contains(&"warn.no_tls1_3".to_string()));
    for old in ["ssl3", "tls1_0", "tls1_1"] {
        assert_eq!(status(facts, old), "not_supported", "{old}");
    }
}

/// The configured per-endpoint timeout bounds a scan whatever the server does: this one drips
/// a never-ending record one byte at a time, inside every read timeout.
#[tokio::test]
async fn endpoint_timeout_bounds_a_dripping_server() {
    let _ = pki(); // made before the clock starts
    let drip = fake_server(|mut client| async move {
        let _ = read_record(&mut client).await;
        for byte in [0x16u8, 3, 3, 0x40, 0].into_iter().chain(std::iter::repeat(2)) {
            if client.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    })
    .await;
    let params = json!({
        "endpoints": [endpoint("www.example.test", drip), endpoint("www.example.test", drip)],
        "read_timeout_ms": 1000,
        "endpoint_timeout_secs": 1,
    });
    let started = std::time::Instant::now();
    let collection = scan_with(params).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1600), "{elapsed:?}");
    assert!(collection.observations.is_empty());
    let failures: Vec<_> =
        collection.failures.iter().map(|f| (f.kind, f.message.as_str())).collect();
    assert_eq!(failures, [(FailureKind::Timeout, "scan did not finish within 1 s"); 2]);
}

/// A stapled OCSP response is reported with its status.
#[tokio::test]
async fn ocsp_staple_is_read() {
    let dir = pki();
    let serial = String::from_utf8(
        Command::new("openssl")
            .args(["x509", "-in", "www.example.test.pem", "-noout", "-serial"])
            .current_dir(dir)
            .output()
            .expect("the openssl CLI is required (Debian package `openssl`)")
            .stdout,
    )
    .expect("serial text");
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    let index = format!("V\t351231235959Z\t\t{serial}\tunknown\t/CN=www.example.test\n");
    std::fs::write(dir.join("ocsp-index.txt"), index).expect("write ocsp index");
    let request = [
        "ocsp",
        "-issuer",
        "int.pem",
        "-cert",
        "www.example.test.pem",
        "-no_nonce",
        "-reqout",
        "ocsp-req.der",
    ];
    openssl(dir, &request);
    let respond = [
        "ocsp",
        "-index",
        "ocsp-index.txt",
        "-rsigner",
        "int.pem",
        "-rkey",
        "int.key",
        "-CA",
        "int.pem",
        "-reqin",
        "ocsp-req.der",
        "-respout",
        "ocsp.der",
        "-ndays",
        "7",
    ];
    openssl(dir, &respond);
    let server = www_server(dir, &["-status_file", "ocsp.der"]).await;
    let collection = scan(endpoint("www.example.test", server.port)).await;
    let facts = only(&collection);
    let cert = &facts["certificate"];
    assert_eq!(cert["ocsp_stapled"], true, "{cert}");
    assert_eq!(cert["ocsp"]["response_status"], "successful");
    assert_eq!(cert["ocsp"]["cert_status"], "good");
    assert!(cert["ocsp"]["next_update"].as_str().is_some_and(|t| t.ends_with('Z')));
}
