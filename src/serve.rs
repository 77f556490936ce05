//! `beweis serve`: a small read-only HTTP/1.1 server for the feed directory.
//!
//! It answers `GET` and `HEAD` for a fixed set of paths (the pages, `status.json`, the proofs,
//! the badge, the public key and schema, `/metrics` in Prometheus text format, `/healthz`);
//! there is no file-system path mapping, so nothing outside those files can be read, and
//! nothing can be written. Bounds: at most `max_connections` connections at once (more get a
//! 503), a request head of at most 8 KiB read within 10 s, no request bodies, one request per
//! connection. Run metrics come from the evidence database (read-only) when one exists.
//! Neighbours: `feed` writes the directory; `store` answers the run counts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::ServeArgs;
use crate::feed::{files, StatusDocument};
use crate::state::StateDir;
use crate::store::Store;

/// The longest request head accepted.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest feed file served.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// What the server serves and how much at once.
#[derive(Debug, Clone)]
pub(crate) struct ServeOptions {
    pub(crate) dir: PathBuf,
    /// The evidence database, for run metrics; `None` or missing means feed metrics only.
    pub(crate) database: Option<PathBuf>,
    pub(crate) max_connections: usize,
}

/// `beweis serve`: binds, then serves until SIGINT or SIGTERM.
pub(crate) async fn run(args: &ServeArgs, state: Option<StateDir>) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        anyhow::bail!(
            "feed directory {} is not a directory: publish into it first (`beweis export --out \
             DIR`, or the daemon's [agent] publish_dir)",
            args.dir.display()
        );
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listen on {}", args.listen))?;
    let address = listener.local_addr().context("read the listening address")?;
    let options = ServeOptions {
        dir: args.dir.clone(),
        database: state.map(|s| s.database()),
        max_connections: args.max_connections.max(1),
    };
    info!(address = %address, "Serving the feed directory read-only.");
    // The one line an operator who started it by hand needs; logging defaults to warnings.
    eprintln!("serving {} read-only on http://{address}/", args.dir.display());
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        stopper.cancel();
    });
    serve(listener, options, shutdown).await;
    info!("Stopped serving.");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Accepts connections on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(options.max_connections));
    let shared = Arc::new(Shared { options, requests: AtomicU64::new(0) });
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, _) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                warn!(error = %e, "Accepting a connection failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    handle(stream, &shared).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let busy = Response::text(503, "too many connections\n");
                    let _ = write_response(stream, &busy, false).await;
                });
            }
        }
    }
}

struct Shared {
    options: ServeOptions,
    requests: AtomicU64,
}

/// A response before it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) allow: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: false,
        }
    }
}

async fn handle(mut stream: TcpStream, shared: &Shared) {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await;
    let (response, head_only) = match head {
        Err(_) => (Response::text(408, "request timeout\n"), false),
        Ok(Err(response)) => (response, false),
        Ok(Ok(head)) => match parse_request(&head) {
            Err(response) => (response, false),
            Ok(request) => (respond(&request.path, shared).await, request.head_only),
        },
    };
    let _ = write_response(stream, &response, head_only).await;
}

/// Reads up to the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Response> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| Response::text(400, "bad request\n"))?;
        if n == 0 {
            return Err(Response::text(400, "incomplete request\n"));
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end + 4);
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            // A request line that alone exceeds the limit is a long URI (414), else the
            // header fields are too large (431).
            if !head.windows(2).any(|w| w == b"\r\n") {
                return Err(Response::text(414, "request target too long\n"));
            }
            return Err(Response::text(431, "request head too large\n"));
        }
    }
}

/// A parsed request: only what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) head_only: bool,
}

/// Parses a request head; GET and HEAD without a body only.
pub(crate) fn parse_request(head: &[u8]) -> Result<Request, Response> {
    let text = std::str::from_utf8(head).map_err(|_| Response::text(400, "bad request\n"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Response::text(400, "bad request line\n"));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Response::text(505, "http version not supported\n"));
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut refused = Response::text(405, "only GET and HEAD\n");
            refused.allow = true;
            return Err(refused);
        }
    };
    for header in lines.filter(|l| !l.is_empty()) {
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        let name = name.trim().to_ascii_lowercase();
        let has_body =
            (name == "content-length" && value.trim() != "0") || name == "transfer-encoding";
        if has_body {
            return Err(Response::text(413, "request bodies are not accepted\n"));
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or_default().to_owned();
    Ok(Request { path, head_only })
}

/// The response for `path`.
async fn respond(path: &str, shared: &Shared) -> Response {
    let dir = &shared.options.dir;
    let file = |name: &'static str, content_type: &'static str| (name, content_type);
    let served = match path {
        "/" | "/index.html" | "/index.de.html" => file(files::PAGE_DE, "text/html; charset=utf-8"),
        "/en" | "/index.en.html" => file(files::PAGE_EN, "text/html; charset=utf-8"),
        "/status.json" => file(files::STATUS, "application/json"),
        "/proof.json" => file(files::PROOF, "application/json"),
        "/checkpoint" => file(files::CHECKPOINT, "text/plain; charset=utf-8"),
        "/signing.pub" => file(files::PUBLIC_KEY, "text/plain; charset=utf-8"),
        "/status-v1.schema.json" => file(files::SCHEMA, "application/schema+json"),
        "/badge.svg" => file(files::BADGE, "image/svg+xml"),
        "/healthz" => return healthz(dir),
        "/metrics" => return metrics(shared).await,
        _ => match archived(path) {
            Some((relative, content_type)) => {
                return send_file(&dir.join(relative), content_type).await
            }
            None => return Response::text(404, "not found\n"),
        },
    };
    send_file(&dir.join(served.0), served.1).await
}

/// A file of one generation (`/gen/<size>/<name>`) or a chain link (`/chain/<size>.json`):
/// the names an HTTP reader uses to fetch one consistent set. Only digits and the set's own
/// names are accepted, so no request can leave the feed directory.
fn archived(path: &str) -> Option<(PathBuf, &'static str)> {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if let Some(link) = path.strip_prefix("/chain/").and_then(|p| p.strip_suffix(".json")) {
        return digits(link).then(|| (Path::new(files::CHAIN).join(format!("{link}.json")), JSON));
    }
    let (size, name) = path.strip_prefix("/gen/")?.split_once('/')?;
    let name = files::SET.into_iter().find(|n| *n == name).filter(|_| digits(size))?;
    Some((Path::new(files::GENERATIONS).join(size).join(name), content_type(name)))
}

const JSON: &str = "application/json";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => JSON,
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

async fn send_file(path: &Path, content_type: &'static str) -> Response {
    match read_file(path).await {
        Some(body) => Response { status: 200, content_type, body, allow: false },
        None => Response::text(404, "not published yet\n"),
    }
}

async fn read_file(path: &Path) -> Option<Vec<u8>> {
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut body = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut body).await.ok()?;
    Some(body)
}

fn healthz(dir: &Path) -> Response {
    match read_document(dir) {
        Some(_) => Response::text(200, "ok\n"),
        None => Response::text(503, "no readable status.json\n"),
    }
}

fn read_document(dir: &Path) -> Option<StatusDocument> {
    let bytes = std::fs::read(dir.join(files::STATUS)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `/metrics`: feed and control metrics from `status.json`, run metrics from the database.
async fn metrics(shared: &Shared) -> Response {
    let mut out = String::new();
    let requests = shared.requests.load(Ordering::Relaxed);
    metric(
        &mut out,
        "beweis_http_requests_total",
        "counter",
        "Requests served.",
        &[("", requests as f64)],
    );
    if let Some(document) = read_document(&shared.options.dir) {
        document_metrics(&mut out, &document);
    }
    if let Some(path) = shared.options.database.as_deref().filter(|p| p.exists()) {
        run_metrics(&mut out, path).await;
    }
    Response {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: out.into_bytes(),
        allow: false,
    }
}

fn document_metrics(out: &mut String, document: &StatusDocument) {
    let now = Utc::now();
    let age = (now - document.generated_at).num_milliseconds() as f64 / 1000.0;
    metric(out, "beweis_feed_age_seconds", "gauge", "Age of status.json.", &[("", age)]);
    let counts: Vec<(String, f64)> = document
        .summary
        .overall
        .counts
        .iter()
        .map(|(word, n)| (format!("status=\"{}\"", label(word)), *n as f64))
        .collect();
    metric_owned(out, "beweis_controls", "gauge", "Controls per status.", &counts);
    let proven: Vec<(String, f64)> =
        std::iter::once(("scope=\"overall\"".to_owned(), &document.summary.overall))
            .chain(
                document
                    .summary
                    .functions
                    .iter()
                    .map(|f| (format!("scope=\"{}\"", label(&f.id)), &f.tally)),
            )
            .filter_map(|(l, t)| t.proven.percent.map(|p| (l, p)))
            .collect();
    metric_owned(out, "beweis_proven_percent", "gauge", "Proven controls in percent.", &proven);
    let ages: Vec<(String, f64)> = document
        .controls
        .iter()
        .filter_map(|c| {
            let at = c.collected_at?;
            let age = (now - at).num_milliseconds() as f64 / 1000.0;
            Some((format!("control=\"{}\"", label(&c.id)), age))
        })
        .collect();
    metric_owned(
        out,
        "beweis_evidence_age_seconds",
        "gauge",
        "Age of each control's evidence.",
        &ages,
    );
}

async fn run_metrics(out: &mut String, database: &Path) {
    let Ok(store) = Store::open_read_only(database).await else { return };
    let rows = store.run_metrics().await;
    store.close().await;
    let Ok(rows) = rows else { return };
    let series = |value: fn(&crate::store::RunMetric) -> f64| -> Vec<(String, f64)> {
        rows.iter()
            .map(|r| {
                let labels = format!(
                    "collector=\"{}\",outcome=\"{}\"",
                    label(&r.collector),
                    label(&r.outcome)
                );
                (labels, value(r))
            })
            .collect()
    };
    metric_owned(
        out,
        "beweis_runs_total",
        "counter",
        "Runs per collector and outcome.",
        &series(|r| r.count as f64),
    );
    metric_owned(
        out,
        "beweis_run_duration_seconds_total",
        "counter",
        "Summed run durations per collector and outcome.",
        &series(|r| r.duration_secs),
    );
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, series: &[(&str, f64)]) {
    let owned: Vec<(String, f64)> = series.iter().map(|(l, v)| ((*l).to_owned(), *v)).collect();
    metric_owned(out, name, kind, help, &owned);
}

fn metric_owned(out: &mut String, name: &str, kind: &str, help: &str, series: &[(String, f64)]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in series {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn write_response(
    mut stream: TcpStream,
    response: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    let reason = reason(response.status);
    let allow = if response.allow { "Allow: GET, HEAD\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self'\r\n\
         Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        if !head_only {
            stream.write_all(&response.body).await?;
        }
        stream.shutdown().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use std::path::Path;

    use super::*;
    use crate::feed::tests::Host;

    /// A server on 127.0.0.1 with an ephemeral port, serving `host`'s feed.
    async fn start(host: &Host, max_connections: usize) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let options = ServeOptions {
            dir: host.feed(),
            database: Some(host.dir.path().join("evidence.db")),
            max_connections,
        };
        let token = CancellationToken::new();
        tokio::spawn(serve(listener, options, token.clone()));
        (address, token)
    }

    /// Sends `request` raw and returns the whole response as text.
    async fn raw(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(request).await.expect("send");
        let mut response = Vec::new();
        let read = stream.read_to_end(&mut response);
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("answer").expect("read");
        String::from_utf8_lossy(&response).into_owned()
    }

    async fn get(address: SocketAddr, path: &str) -> String {
        raw(address, format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await
    }

    use std::net::SocketAddr;

    #[test]
    fn requests_are_parsed_strictly() {
        let ok = parse_request(b"GET /status.json?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(ok, Ok(Request { path: "/status.json".into(), head_only: false }));
        let head = parse_request(b"HEAD / HTTP/1.0\r\n\r\n");
        assert_eq!(head, Ok(Request { path: "/".into(), head_only: true }));
        let status = |r: Result<Request, Response>| r.map(|_| 200).unwrap_or_else(|e| e.status);
        assert_eq!(status(parse_request(b"POST / HTTP/1.1\r\n\r\n")), 405);
        assert_eq!(status(parse_request(b"DELETE /status.json HTTP/1.1\r\n\r\n")), 405);
        let body = b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(status(parse_request(body)), 413);
        let chunked = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(parse_request(chunked)), 413);
        assert_eq!(status(parse_request(b"GET /\r\n\r\n")), 400);
        assert_eq!(status(parse_request(b"GET / HTTP/2\r\n\r\n")), 505);
        assert_eq!(status(parse_request(b"GET / HTTP/1.1 extra\r\n\r\n")), 400);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[tokio::test]
    async fn serves_the_feed_read_only_with_metrics_and_health() {
        let host = Host::rich(20).await;
        let (address, token) = start(&host, 8).await;
        assert!(get(address, "/healthz").await.starts_with("HTTP/1.1 503 "));
        assert!(get(address, "/status.json").await.starts_with("HTTP/1.1 404 "));
        host.collect().await;
        host.publish().await;
        let page = get(address, "/").await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(page.contains("<html lang=\"de\">"));
        assert!(get(address, "/index.en.html").await.contains("<html lang=\"en\">"));
        let status = get(address, "/status.json").await;
        let body = status.split("\r\n\r\n").nth(1).expect("body");
        let on_disk = std::fs::read_to_string(host.feed().join("status.json")).expect("read");
        assert_eq!(body, on_disk);
        for path in ["/checkpoint", "/proof.json", "/signing.pub", "/status-v1.schema.json"] {
            assert!(get(address, path).await.starts_with("HTTP/1.1 200 "), "{path}");
        }
        let badge = get(address, "/badge.svg").await;
        assert!(badge.contains("image/svg+xml") && badge.contains("57.1% proven"), "{badge}");
        assert!(get(address, "/healthz").await.ends_with("\r\n\r\nok\n"));
        let head = raw(address, b"HEAD /status.json HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"), "{head}");
        let post = raw(address, b"POST /status.json HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}").await;
        assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD\r\n"));
        assert!(get(address, "/../evidence.db").await.starts_with("HTTP/1.1 404 "));
        assert!(get(address, "/feed.salt").await.starts_with("HTTP/1.1 404 "));
        let checkpoint = get(address, "/checkpoint").await;
        let size = checkpoint.split("\r\n\r\n").nth(1).and_then(|b| b.lines().nth(2));
        let size = size.expect("tree size line");
        let generation = get(address, &format!("/gen/{size}/status.json")).await;
        assert_eq!(generation.split("\r\n\r\n").nth(1), Some(on_disk.as_str()));
        for bad in [format!("/gen/{size}/../../evidence.db"), "/gen/x/status.json".into()] {
            assert!(get(address, &bad).await.starts_with("HTTP/1.1 404 "), "{bad}");
        }
        assert!(get(address, "/chain/..%2f.json").await.starts_with("HTTP/1.1 404 "));
        let huge = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(10_000));
        assert!(raw(address, huge.as_bytes()).await.starts_with("HTTP/1.1 431 "));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
        assert!(raw(address, long.as_bytes()).await.starts_with("HTTP/1.1 414 "));
        let metrics = get(address, "/metrics").await;
        assert!(metrics.contains("beweis_controls{status=\"passing\"} 2\n"), "{metrics}");
        assert!(metrics.contains("beweis_controls{status=\"failing\"} 1\n"), "{metrics}");
        assert!(metrics.contains("beweis_proven_percent{scope=\"overall\"} 57.1\n"));
        let runs = "beweis_runs_total{collector=\"file\",outcome=\"succeeded\"} 2\n";
        assert!(metrics.contains(runs), "{metrics}");
        assert!(metrics.contains("# TYPE beweis_evidence_age_seconds gauge\n"));
        assert!(metrics.contains("beweis_evidence_age_seconds{control=\"ID.AM-1\"} "));
        token.cancel();
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_get_503() {
        let host = Host::rich(21).await;
        let (address, token) = start(&host, 1).await;
        // The first connection holds the only slot by never finishing its request.
        let mut idle = TcpStream::connect(address).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\n").await.expect("send part");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let busy = get(address, "/healthz").await;
        assert!(busy.ends_with("\r\n\r\ntoo many connections\n"), "{busy}");
        drop(idle);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let served = get(address, "/healthz").await;
        assert!(served.ends_with("\r\n\r\nno readable status.json\n"), "{served}");
        token.cancel();
    }

    /// Headless Chromium loads the page from `serve` on 127.0.0.1: the headline numbers and a
    /// control line must match `status.json`; screenshots go to `target/test-output/trust-page`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chromium_shows_what_status_json_says() {
        let chromium = std::env::var("BEWEIS_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let host = Host::rich(22).await;
        host.collect().await;
        let published = host.publish().await;
        let (address, token) = start(&host, 8).await;
        let url = format!("http://{address}/");
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-output/trust-page");
        std::fs::create_dir_all(&out).expect("create test output directory");
        let dom = run_chromium(&chromium, &["--dump-dom", &url]).await;
        let overall = &published.document.summary.overall;
        let headline = format!(
            "id=\"proven\" data-percent=\"{:.1}\" data-numerator=\"{}\" data-denominator=\"{}\"",
            overall.proven.percent.expect("a percent"),
            overall.proven.numerator,
            overall.proven.denominator
        );
        assert!(dom.contains(&headline), "headline {headline} not in the page");
        assert!(dom.contains(">57,1 %<"), "the German page shows 57,1 %");
        for function in published.document.summary.functions.iter().filter(|f| f.tally.controls > 0)
        {
            let card = format!(
                "id=\"function-{}\" data-percent=\"{}\"",
                function.id,
                function.tally.proven.percent.map(|p| format!("{p:.1}")).unwrap_or_default()
            );
            assert!(dom.contains(&card), "card {card} not in the page");
        }
        let control =
            published.document.controls.iter().find(|c| c.id == "PR.DS-1").expect("PR.DS-1");
        let line = format!("data-control=\"PR.DS-1\" data-status=\"{}\"", control.status);
        assert!(dom.contains(&line), "control line {line} not in the page");
        assert!(dom.contains("✗ nicht bestanden"), "status word shown");
        assert!(!dom.contains("<script"), "the page has no script");
        for (name, size) in
            [("trust-page-desktop.png", "1280,2200"), ("trust-page-phone.png", "390,2600")]
        {
            let shot = out.join(name);
            let _ = std::fs::remove_file(&shot);
            let target = format!("--screenshot={}", shot.display());
            run_chromium(&chromium, &[&format!("--window-size={size}"), &target, &url]).await;
            let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {name}: {e}"));
            assert!(png.starts_with(b"\x89PNG"), "{name} is a png");
        }
        token.cancel();
    }

    /// Runs headless Chromium with a fresh profile, no network but loopback; returns stdout.
    async fn run_chromium(chromium: &str, args: &[&str]) -> String {
        let profile = tempfile::tempdir().expect("profile directory");
        let run = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(90), run)
            .await
            .expect("chromium finishes within 90 s")
            .unwrap_or_else(|e| {
                let hint = "install Debian's chromium package or set BEWEIS_CHROMIUM";
                panic!("cannot run {chromium} ({e}): {hint}")
            });
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}
