//! Redaction: secrets and internal details planted in the evidence of every collector (file,
//! command, http) and in the profile never reach the feed files, the page, the metrics or the
//! logs, while they do reach the evidence store (so the test would notice if they stopped
//! being collected and the check became vacuous).

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::tests::Host;
use crate::config::parse_str;
use crate::store::ObservationFilter;

/// The planted values: 60 secrets and internal details, 10 of each kind.
fn planted() -> Vec<String> {
    let mut all = Vec::new();
    for i in 0..10 {
        all.push(format!("10.77.{i}.13"));
        all.push(format!("db{i}-zq.corp-internal.example"));
        all.push(format!("ghp_plantedToken{i}Xq81ZzK3"));
        all.push(format!("Hunter2pw{i}Qz"));
        all.push(format!("srv-secret-dir-{i}"));
        all.push(format!("AKIAPLANTED{i:09}"));
    }
    all
}

/// Builds the profile that plants `secrets` in file paths, command arguments and output,
/// response headers, URLs and profile texts.
fn profile(dir: &Path, secrets: &[String], port: u16) -> String {
    let files = (0..10)
        .map(|i| {
            format!("\"{}/{}/{}.conf\"", dir.display(), secrets[6 * i + 4], secrets[6 * i + 1])
        })
        .collect::<Vec<_>>()
        .join(", ");
    let argv = secrets.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    format!(
        r#"
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1", "ID.AM-2", "PR.AC-1", "PR.AC-2", "PR.DS-2", "DE.CM-1"]
not_applicable = [{{ control = "RC.RP-1", justification = "backups on {ip0} via {host0}" }}]

[[instance]]
name = "files"
collector = "file"
schedule = "@daily"
params = {{ paths = [{files}, "{dir}/missing-{token0}/{host1}.key"] }}

[[instance]]
name = "cmd"
collector = "command"
schedule = "@daily"
[instance.params]
argv = ["printf", "%s\n", {argv}]
regex = {{ token = '(ghp_\w+)', ip = '(10\.77\.\d+\.\d+)' }}
env = {{ API_TOKEN = "{token2}" }}

[[instance]]
name = "web"
collector = "http"
schedule = "@daily"
[instance.params]
url = "http://admin:{pw0}@127.0.0.1:{port}/{dir1}/status?token={token3}"
headers = ["x-backend", "set-cookie", "server"]

[[instance]]
name = "web_down"
collector = "http"
schedule = "@daily"
params = {{ url = "http://root:{pw1}@127.0.0.1:1/{dir2}?key={aws0}" }}

[[check]]
name = "files_exist"
instance = "files"
judgement = "exists"
max_age_hours = 48
controls = ["ID.AM-1"]

[[check]]
name = "cmd_ok"
instance = "cmd"
judgement = "exit_code"
params = {{ code = 0 }}
max_age_hours = 48
controls = ["ID.AM-2"]

[[check]]
name = "web_ok"
instance = "web"
judgement = "http_status"
params = {{ allowed = [200] }}
max_age_hours = 48
controls = ["PR.DS-2"]

[[check]]
name = "web_down_ok"
instance = "web_down"
judgement = "http_status"
params = {{ allowed = [200] }}
max_age_hours = 48
controls = ["DE.CM-1"]

[[attestation]]
controls = ["PR.AC-1"]
signer = "admin at {host2} ({ip1})"
statement = "password {pw2} rotated; key in /{dir3}/id_ed25519"
date = 2025-01-15
expires = "2099-01-15"

[[inherited]]
controls = ["PR.AC-2"]
provider = "Hoster {host3}"
certification = "ISO 27001 {aws1}"
reference = "https://user:{pw3}@{host4}/cert"
expires = 2099-06-30
"#,
        dir = dir.display(),
        ip0 = secrets[0],
        host0 = secrets[1],
        token0 = secrets[2],
        host1 = secrets[7],
        token2 = secrets[14],
        pw0 = secrets[3],
        dir1 = secrets[10],
        token3 = secrets[20],
        pw1 = secrets[9],
        dir2 = secrets[16],
        aws0 = secrets[5],
        host2 = secrets[13],
        ip1 = secrets[6],
        pw2 = secrets[15],
        dir3 = secrets[22],
        host3 = secrets[19],
        aws1 = secrets[11],
        pw3 = secrets[21],
        host4 = secrets[25],
    )
}

/// A loopback HTTP server whose response carries secrets in headers and body.
async fn leaky_server(secrets: Vec<String>, stop: CancellationToken) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => return },
            };
            let body = secrets.join("\n");
            let response = format!(
                "HTTP/1.1 200 OK\r\nX-Backend: {}\r\nSet-Cookie: session={}\r\n\
                 Server: nginx/1.18.0 ({})\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                secrets[31],
                secrets[26],
                secrets[30],
                body.len()
            );
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    port
}

/// A `Write` into a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        std::io::Write::write(&mut *self.0.lock().expect("log buffer lock"), bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

/// Every file of the feed directory, as text.
pub(crate) fn feed_text(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("feed directory") {
        let path = entry.expect("entry").path();
        let kind = std::fs::symlink_metadata(&path).expect("feed entry").file_type();
        if kind.is_dir() {
            all.push_str(&feed_text(&path));
        } else if !(kind.is_symlink() && path.is_dir()) {
            let bytes = std::fs::read(&path).expect("read feed file");
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

/// The planted values found in `text`.
fn leaked<'a>(secrets: &'a [String], text: &str) -> Vec<&'a str> {
    secrets.iter().map(String::as_str).filter(|s| text.contains(s)).collect()
}

/// What a visitor or an operator can see after a collection and a publication.
struct Seen {
    secrets: Vec<String>,
    /// The temp directory holding the host's state and the planted files.
    dir: String,
    feed: String,
    page: String,
    metrics: String,
    logs: String,
}

#[tokio::test]
async fn planted_secrets_never_reach_the_feed_the_page_or_the_metrics() {
    let seen = plant_collect_publish().await;
    for (what, text) in
        [("feed files", &seen.feed), ("pages", &seen.page), ("metrics", &seen.metrics)]
    {
        assert_clean(&seen, what, text);
    }
}

#[tokio::test]
async fn planted_secrets_never_reach_the_logs() {
    let seen = plant_collect_publish().await;
    assert!(seen.logs.contains("Run finished"), "logs were captured: {}", seen.logs);
    assert_clean(&seen, "logs", &seen.logs);
}

fn assert_clean(seen: &Seen, what: &str, text: &str) {
    assert_eq!(leaked(&seen.secrets, text), Vec::<&str>::new(), "planted values in the {what}");
    for internal in [seen.dir.as_str(), "nginx/1.18.0", "127.0.0.1"] {
        let line = text.lines().find(|l| l.contains(internal));
        assert!(line.is_none(), "{internal} in the {what}: {}", line.unwrap_or_default());
    }
}

async fn plant_collect_publish() -> Seen {
    let secrets = planted();
    assert!(secrets.len() >= 50);
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // The most the agent logs: its verbose filter (third-party crates stay at info).
        .with_env_filter(tracing_subscriber::EnvFilter::new(crate::telemetry::VERBOSE_FILTER))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stop = CancellationToken::new();
    let port = leaky_server(secrets.clone(), stop.clone()).await;
    let mut host = Host::new(30).await;
    let dir = host.dir.path().to_path_buf();
    for i in 0..10 {
        let sub = dir.join(&secrets[6 * i + 4]);
        std::fs::create_dir_all(&sub).expect("mkdir");
        let mut file = std::fs::File::create(sub.join(format!("{}.conf", secrets[6 * i + 1])))
            .expect("create");
        writeln!(file, "{}", secrets.join("\n")).expect("write");
    }
    host.config = parse_str(&profile(&dir, &secrets, port), "<redaction profile>").expect("parses");
    host.collect().await;
    let published = host.publish().await;
    assert_eq!(published.document.controls.len(), 7);

    // The evidence store does hold planted values from every collector.
    let rows = host
        .store
        .observations(&ObservationFilter { instance: None, since: None, limit: 1000 })
        .await
        .expect("list observations");
    let mut stored = String::new();
    for row in &rows {
        let detail = host.store.observation(row.id).await.expect("read").expect("exists");
        stored.push_str(&serde_json::to_string(&detail).expect("json"));
    }
    for (instance, expected) in
        [("files", &secrets[1]), ("cmd", &secrets[2]), ("web", &secrets[31])]
    {
        assert!(rows.iter().any(|r| r.instance == instance), "{instance} observed");
        assert!(stored.contains(expected.as_str()), "{instance} evidence holds {expected}");
    }
    assert!(leaked(&secrets, &stored).len() >= 50, "the evidence holds the planted values");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let options = crate::serve::ServeOptions {
        dir: host.feed(),
        database: Some(dir.join("evidence.db")),
        max_connections: 4,
    };
    tokio::spawn(crate::serve::serve(listener, options, stop.clone()));
    let metrics = get(address, "/metrics").await;
    assert!(metrics.contains("beweis_runs_total{collector=\"http\",outcome=\"failed\"} 1"));
    let page = get(address, "/").await + &get(address, "/index.en.html").await;
    stop.cancel();

    let logs = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    if std::env::var_os("BEWEIS_SHOW_LOGS").is_some() {
        eprintln!("{logs}");
    }
    Seen {
        dir: dir.display().to_string(),
        feed: feed_text(&host.feed()),
        page,
        metrics,
        logs,
        secrets,
    }
}
