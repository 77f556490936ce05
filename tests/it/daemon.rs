//! The daemon end to end: scheduled runs of real `file`, `command` and `http` instances, a
//! watched file that changes, and the observation, check and control status following it.

use std::time::Duration;

use serde_json::Value;

use crate::support::{wait_for, Home, HttpServer};

const RESPONSE: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\
    Strict-Transport-Security: max-age=31536000\r\nConnection: close\r\n\r\nok";

fn config(home: &Home, port: u16) -> String {
    let policy = home.path("policy.md");
    format!(
        r#"[profile]
catalog = "nist-csf-1.1"
scope = ["PR.IP-1", "PR.PT-1", "PR.DS-2"]

[[instance]]
name = "policy"
collector = "file"
schedule = "* * * * *"
params = {{ paths = ["{policy}"], patterns = {{ approved = "^Status: approved" }} }}

[[instance]]
name = "uname"
collector = "command"
schedule = "* * * * *"
params = {{ argv = ["uname", "-s"], regex = {{ kernel = "^(\\w+)" }} }}

[[instance]]
name = "web"
collector = "http"
schedule = "* * * * *"
params = {{ url = "http://127.0.0.1:{port}/" }}

[[check]]
name = "policy-approved"
instance = "policy"
judgement = "file_matches"
params = {{ pattern = "approved" }}
max_age_hours = 1
controls = ["PR.IP-1"]

[[check]]
name = "kernel-linux"
instance = "uname"
judgement = "fact_equals"
params = {{ pointer = "/facts/kernel", value = "Linux" }}
max_age_hours = 1
controls = ["PR.PT-1"]

[[check]]
name = "web-hsts"
instance = "web"
judgement = "header_present"
params = {{ header = "strict-transport-security" }}
max_age_hours = 1
controls = ["PR.DS-2"]
"#,
        policy = policy.display()
    )
}

fn control(status: &Value, id: &str) -> Value {
    status["controls"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["control"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no control {id} in {status}"))
}

fn policy_observations(home: &Home) -> Vec<Value> {
    let list = home.json(&["evidence", "list", "--instance", "policy", "--json", "--limit", "100"]);
    list.as_array().cloned().unwrap_or_default()
}

#[test]
fn scheduled_runs_follow_a_changed_file() {
    let server = HttpServer::start(RESPONSE);
    let home = Home::new();
    home.write("policy.md", "# Incident response plan\nStatus: approved\n");
    home.write("beweis.toml", &config(&home, server.port));
    let daemon = home.daemon();

    // First run: the catch-up run at start. Second: the next minute boundary.
    let limit = Duration::from_secs(90);
    wait_for("two policy runs", limit, || policy_observations(&home).len() >= 2);
    let status = home.json(&["status", "--json"]);
    let before = control(&status, "PR.IP-1");
    assert_eq!(before["status"], "passing", "{before}");
    assert_eq!(control(&status, "PR.PT-1")["status"], "passing");
    assert_eq!(control(&status, "PR.DS-2")["status"], "passing");
    let since_before = before["since"].as_str().expect("since set").to_owned();
    let first_digest = policy_observations(&home)[0]["payload_sha256"].clone();

    home.write("policy.md", "# Incident response plan\nStatus: draft\n");
    let seen = policy_observations(&home).len();
    wait_for("a third policy run", limit, || policy_observations(&home).len() > seen);
    let newest = &policy_observations(&home)[0];
    assert_ne!(newest["payload_sha256"], first_digest, "the observation must change");

    wait_for("PR.IP-1 to fail", Duration::from_secs(10), || {
        control(&home.json(&["status", "--json"]), "PR.IP-1")["status"] == "failing"
    });
    let after = control(&home.json(&["status", "--json"]), "PR.IP-1");
    assert!(after["reason"].as_str().unwrap_or("").contains("pattern did not match"), "{after}");
    let since_after = after["since"].as_str().expect("since set");
    let moved = since_after > since_before.as_str();
    assert!(moved, "since must move: {since_before} → {since_after}");

    daemon.signal("TERM");
    let mut daemon = daemon;
    let status = daemon.child.wait().expect("daemon exits");
    assert!(status.success(), "daemon exit {status}: {}", home.daemon_log());
    let verify = home.run(&["verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[test]
fn a_bad_reload_keeps_the_running_configuration() {
    let server = HttpServer::start(RESPONSE);
    let home = Home::new();
    home.write("policy.md", "Status: approved\n");
    home.write("beweis.toml", &config(&home, server.port));
    let daemon = home.daemon();
    home.write("beweis.toml", "[profile]\ncatalog = \"nist-csf-9\"\n");
    daemon.signal("HUP");
    wait_for("the reload error in the log", Duration::from_secs(10), || {
        home.daemon_log().contains("Configuration reload failed")
    });
    // The daemon still answers and collects with the old configuration.
    home.write("beweis.toml", &config(&home, server.port));
    let output = home.run(&["collect", "now", "--instance", "policy", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let reply: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(reply["runs"][0]["instance"], "policy");
    assert!(home.daemon_log().contains("catalog"), "{}", home.daemon_log());
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let home = Home::new();
    home.write("beweis.toml", "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n");
    let socket_path = home.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind notify socket");
    socket.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut child = home
        .beweis(&["daemon"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .spawn()
        .expect("spawn daemon");
    let mut heard = String::new();
    let mut buf = [0u8; 4096];
    let mut receive = |want: &str, heard: &mut String| {
        while !heard.contains(want) {
            let n = socket.recv(&mut buf).unwrap_or_else(|e| panic!("no {want} ({e}): {heard}"));
            heard.push_str(&String::from_utf8_lossy(&buf[..n]));
            heard.push('\n');
        }
    };
    receive("READY=1", &mut heard);
    receive("WATCHDOG=1", &mut heard);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success());
    receive("STOPPING=1", &mut heard);
    let exit = child.wait().expect("daemon exits");
    assert!(exit.success(), "daemon exit {exit}");
}

#[test]
fn the_daemon_publishes_a_verifiable_feed_after_runs() {
    let home = Home::new();
    home.write("policy.md", "Status: approved\n");
    let web = home.path("www");
    let config = format!(
        "[agent]\npublish_dir = \"{}\"\n\n[profile]\ncatalog = \"nist-csf-1.1\"\n\
         scope = [\"PR.IP-1\"]\n\n[[instance]]\nname = \"policy\"\ncollector = \"file\"\n\
         schedule = \"@daily\"\nparams = {{ paths = [\"{}\"] }}\n\n[[check]]\nname = \"present\"\n\
         instance = \"policy\"\njudgement = \"exists\"\nmax_age_hours = 48\n\
         controls = [\"PR.IP-1\"]\n",
        web.display(),
        home.path("policy.md").display()
    );
    home.write("beweis.toml", &config);
    let _daemon = home.daemon();
    let status = web.join("status.json");
    // The catch-up run at start is followed by a publication.
    wait_for("status.json in the web root", Duration::from_secs(30), || {
        std::fs::read_to_string(&status).is_ok_and(|t| t.contains("\"passing\""))
    });
    assert!(web.join("index.html").exists(), "the trust page is written beside status.json");
    let key = home.state().join("signing.pub");
    let output = home.run(&[
        "verify-feed",
        web.to_str().expect("utf-8"),
        "--key",
        key.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

    // A manual collection through the daemon is published too, and a command that was not
    // given the daemon's --config still shows the daemon's profile.
    std::fs::remove_file(home.path("policy.md")).expect("remove policy");
    let manual = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .arg("--state-dir")
        .arg(home.state())
        .args(["collect", "now"])
        .env("BEWEIS_LOG", "warn")
        .output()
        .expect("run collect now");
    let table = String::from_utf8_lossy(&manual.stdout);
    assert!(table.contains("PR.IP-1    failing"), "{table}");
    assert!(!table.contains("ID.AM-2"), "the embedded default's controls: {table}");
    wait_for("the manual run in status.json", Duration::from_secs(10), || {
        std::fs::read_to_string(&status).is_ok_and(|t| t.contains("\"failing\""))
    });
    // `status` without --config asks the running daemon which profile it runs.
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .arg("--state-dir")
        .arg(home.state())
        .arg("status")
        .env("BEWEIS_LOG", "warn")
        .output()
        .expect("run status");
    let table = String::from_utf8_lossy(&shown.stdout);
    assert!(table.contains("PR.IP-1    failing"), "{table}");
    assert!(table.contains("1 control in scope"), "{table}");
}

/// A webhook receiver on 127.0.0.1 that answers 500 to its first `failures` requests, then 200,
/// and keeps the bodies it accepted.
fn flaky_receiver(failures: usize) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for (seen, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                let Some(head_end) = text.find("\r\n\r\n") else { continue };
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
            let status = if seen < failures { "500 Internal Server Error" } else { "200 OK" };
            if seen >= failures {
                kept.lock().expect("lock").push(body);
            }
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (port, accepted)
}

#[test]
fn each_transition_reaches_a_flaky_webhook_exactly_once() {
    let (port, accepted) = flaky_receiver(2);
    let home = Home::new();
    home.write("policy.md", "Status: approved\n");
    let config = format!(
        "[agent]\nwebhooks = [\"http://127.0.0.1:{port}/hook\"]\n\n[profile]\n\
         catalog = \"nist-csf-1.1\"\nscope = [\"PR.IP-1\"]\n\n[[instance]]\nname = \"policy\"\n\
         collector = \"file\"\nschedule = \"@daily\"\nparams = {{ paths = [\"{}\"], patterns = \
         {{ approved = \"^Status: approved\" }} }}\n\n[[check]]\nname = \"approved\"\n\
         instance = \"policy\"\njudgement = \"file_matches\"\n\
         params = {{ pattern = \"approved\" }}\n\
         max_age_hours = 48\ncontrols = [\"PR.IP-1\"]\n",
        home.path("policy.md").display()
    );
    home.write("beweis.toml", &config);
    let _daemon = home.daemon();
    let delivered = |to: &str| {
        accepted
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b.contains(&format!("\"to\":\"{to}\"")))
            .count()
    };
    wait_for("the passing transition", Duration::from_secs(30), || delivered("passing") >= 1);
    home.write("policy.md", "Status: draft\n");
    let output = home.run(&["collect", "now", "--instance", "policy"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    wait_for("the failing transition", Duration::from_secs(30), || delivered("failing") >= 1);
    std::thread::sleep(Duration::from_secs(3));
    let bodies = accepted.lock().expect("lock").clone();
    assert_eq!(delivered("passing"), 1, "{bodies:#?}");
    assert_eq!(delivered("failing"), 1, "{bodies:#?}");
    assert!(bodies.iter().all(|b| b.contains("idempotency_key")), "{bodies:#?}");
}

#[test]
fn a_reload_brings_new_webhooks_which_hear_of_expiring_evidence() {
    let (port, accepted) = flaky_receiver(0);
    let home = Home::new();
    home.write("policy.md", "Status: approved\n");
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let profile = format!(
        "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"PR.IP-1\", \"PR.AT-1\"]\n\n\
         [[instance]]\nname = \"policy\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
         params = {{ paths = [\"{}\"], patterns = {{ approved = \"^Status: approved\" }} }}\n\n\
         [[check]]\nname = \"approved\"\ninstance = \"policy\"\njudgement = \"file_matches\"\n\
         params = {{ pattern = \"approved\" }}\nmax_age_hours = 1\ncontrols = [\"PR.IP-1\"]\n\n\
         [[attestation]]\ncontrols = [\"PR.AT-1\"]\nsigner = \"Jana Beispiel\"\n\
         statement = \"Everyone was trained.\"\ndate = 2026-01-15\nexpires = {tomorrow}\n",
        home.path("policy.md").display()
    );
    home.write("beweis.toml", &profile);
    let daemon = home.daemon();
    let output = home.run(&["collect", "now", "--instance", "policy"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(accepted.lock().expect("lock").is_empty(), "no webhook configured yet");
    let hooks = format!("[agent]\nwebhooks = [\"http://127.0.0.1:{port}/hook\"]\n\n");
    home.write("beweis.toml", &format!("{hooks}{profile}"));
    daemon.signal("HUP");
    wait_for("the reload", Duration::from_secs(10), || {
        home.daemon_log().contains("Configuration reloaded")
    });
    home.write("policy.md", "Status: draft\n");
    let count =
        |needle: &str| accepted.lock().expect("lock").iter().filter(|b| b.contains(needle)).count();
    for _ in 0..2 {
        let output = home.run(&["collect", "now", "--instance", "policy"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        wait_for("the transition and the expiry notice", Duration::from_secs(30), || {
            count("\"to\":\"failing\"") == 1 && count("\"schema\":\"beweis-expiring\"") == 1
        });
    }
    std::thread::sleep(Duration::from_secs(2));
    let bodies = accepted.lock().expect("lock").clone();
    assert_eq!(count("\"to\":\"failing\""), 1, "{bodies:#?}");
    assert_eq!(count("\"schema\":\"beweis-expiring\""), 1, "{bodies:#?}");
    assert_eq!(count("\"control\":\"PR.AT-1\",\"status\":\"attested\""), 1, "{bodies:#?}");
    assert!(bodies.iter().all(|b| !b.contains("policy.md")), "no path in a payload");
}
