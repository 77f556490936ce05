//! The `http` collector: one HTTP(S) request, reporting status, chosen headers, a digest of the
//! body and, over TLS, the peer certificate's expiry.
//!
//! It owns building a client for the instance (its own trust root if configured, connect and
//! total timeouts from the run, no proxy, redirects off unless asked), reading at most
//! `max_body_bytes` of the body, parsing the leaf certificate with `x509-parser`, and keeping
//! credentials out of everything it returns: the subject is the URL without userinfo, query or
//! fragment, and error messages are scrubbed of URLs' userinfo and queries.
//!
//! It does not judge: whether a header is strong enough or a certificate expires too soon is
//! decided by checks in the agent. Neighbours: the contract in the crate root, helpers in
//! `util`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use regex::Regex;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Certificate, Client, Method, Response, Url};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::util::{error_chain, millis, rfc3339, seconds_text, CappedSink};
use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

/// Response headers captured when the instance names none: the usual security headers.
pub const DEFAULT_HEADERS: [&str; 5] = [
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
];

/// The default cap on the body read: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024;

/// Raw parameters of an `http` instance, as written in its `params` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The URL to request; `http` or `https`.
    pub url: String,
    /// `GET` (default) or `HEAD`.
    pub method: Option<String>,
    /// Response headers to capture, case-insensitive; default [`DEFAULT_HEADERS`].
    pub headers: Option<Vec<String>>,
    /// An absolute path to PEM certificates trusted in addition to the system's roots.
    pub ca_file: Option<String>,
    /// Whether to follow up to ten redirects; default false, so a redirect is the observation.
    #[serde(default)]
    pub follow_redirects: bool,
    /// The most body bytes read and hashed; default 64 KiB, never more than the run's budget.
    pub max_body_bytes: Option<u64>,
}

/// Validated settings of an `http` instance.
#[derive(Clone)]
pub struct HttpSettings {
    url: Url,
    subject: String,
    method: Method,
    headers: Vec<HeaderName>,
    ca_file: Option<PathBuf>,
    follow_redirects: bool,
    max_body_bytes: u64,
}

impl HttpConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, not just the first, each naming its key (e.g. `headers[1]`).
    pub fn validate(self) -> Result<HttpSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        let url = validate_url(&self.url, &mut errors);
        let method = validate_method(self.method.as_deref(), &mut errors);
        let headers = validate_headers(self.headers, &mut errors);
        let ca_file = self.ca_file.map(PathBuf::from);
        if ca_file.as_deref().is_some_and(|path| !path.is_absolute()) {
            errors.push(ParamError::new("ca_file", "must be an absolute path"));
        }
        if self.max_body_bytes == Some(0) {
            errors.push(ParamError::new("max_body_bytes", "must be greater than 0"));
        }
        let (Some(url), Some(method), true) = (url, method, errors.is_empty()) else {
            return Err(errors);
        };
        Ok(HttpSettings {
            subject: public_url(&url),
            url,
            method,
            headers,
            ca_file,
            follow_redirects: self.follow_redirects,
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        })
    }
}

impl HttpSettings {
    /// The subject of observations: the URL without userinfo, query and fragment.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// Sends the request once; one observation if a response arrived, else one failure.
pub async fn collect(settings: &HttpSettings, ctx: &Context) -> Collection {
    let mut collection = Collection::default();
    let subject = settings.subject.clone();
    let started = Instant::now();
    let result = tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(Failure::new(FailureKind::Cancelled, "cancelled".into())),
        _ = tokio::time::sleep(ctx.timeout) => Err(timed_out(ctx.timeout)),
        fetched = fetch(settings, ctx) => fetched,
    };
    match result {
        Ok(facts) => {
            let custody = Custody { duration_ms: millis(started.elapsed()), ..Custody::default() };
            let collected_at = ctx.now;
            let observation =
                Observation { subject, collected_at, effective_at: None, facts, custody };
            collection.observations.push(observation);
        }
        Err(failure) => collection.fail(subject, failure.kind, scrub(&failure.message)),
    }
    collection
}

// Manual impls: the URL may carry credentials, so only its public form is shown.
impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = Url::parse(&self.url).map_or_else(|_| "<invalid>".into(), |u| public_url(&u));
        f.debug_struct("HttpConfig")
            .field("url", &url)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("ca_file", &self.ca_file)
            .field("follow_redirects", &self.follow_redirects)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("url", &self.subject)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("ca_file", &self.ca_file)
            .field("follow_redirects", &self.follow_redirects)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// How many redirects are followed when `follow_redirects` is on.
const MAX_REDIRECTS: usize = 10;

fn validate_url(raw: &str, errors: &mut Vec<ParamError>) -> Option<Url> {
    // Parse errors never quote the URL: it may carry credentials.
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(error) => {
            errors.push(ParamError::new("url", format!("invalid url: {error}")));
            return None;
        }
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        let message = format!("scheme {} is not http or https", url.scheme());
        errors.push(ParamError::new("url", message));
        return None;
    }
    if url.host_str().is_none_or(str::is_empty) {
        errors.push(ParamError::new("url", "has no host"));
        return None;
    }
    Some(url)
}

fn validate_method(raw: Option<&str>, errors: &mut Vec<ParamError>) -> Option<Method> {
    match raw.map(str::to_ascii_uppercase).as_deref() {
        None | Some("GET") => Some(Method::GET),
        Some("HEAD") => Some(Method::HEAD),
        Some(other) => {
            errors.push(ParamError::new("method", format!("must be GET or HEAD, not {other}")));
            None
        }
    }
}

fn validate_headers(raw: Option<Vec<String>>, errors: &mut Vec<ParamError>) -> Vec<HeaderName> {
    let raw = raw.unwrap_or_else(|| DEFAULT_HEADERS.iter().map(ToString::to_string).collect());
    let mut names: Vec<HeaderName> = Vec::new();
    for (index, name) in raw.iter().enumerate() {
        match HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
            Ok(header) if !names.contains(&header) => names.push(header),
            Ok(_) => {}
            Err(_) => {
                let message = format!("invalid header name {name:?}");
                errors.push(ParamError::new(format!("headers[{index}]"), message));
            }
        }
    }
    names
}

/// The URL without userinfo, query and fragment, as recorded and shown.
fn public_url(url: &Url) -> String {
    let mut public = url.clone();
    // Both fail only for URLs without a host, which validation rejects.
    let _ = public.set_username("");
    let _ = public.set_password(None);
    public.set_query(None);
    public.set_fragment(None);
    public.to_string()
}

/// Why no response was observed.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    message: String,
}

impl Failure {
    fn new(kind: FailureKind, message: String) -> Failure {
        Failure { kind, message }
    }
}

fn timed_out(timeout: Duration) -> Failure {
    let message = format!("no complete response within {} s", seconds_text(timeout));
    Failure::new(FailureKind::Timeout, message)
}

async fn fetch(settings: &HttpSettings, ctx: &Context) -> Result<Value, Failure> {
    let client = build_client(settings, ctx).await?;
    let started = Instant::now();
    let request = client.request(settings.method.clone(), settings.url.clone());
    let mut response = request.send().await.map_err(|error| classify(error, ctx.timeout))?;
    let status = response.status().as_u16();
    let headers = header_facts(response.headers(), &settings.headers);
    let tls = tls_facts(&response, ctx.now);
    let cap = settings.max_body_bytes.min(ctx.limits.max_read_bytes);
    let body = read_body(&mut response, cap).await.map_err(|e| classify(e, ctx.timeout))?;
    Ok(json!({
        "status": status,
        "headers": headers,
        "body_sha256": body.sha256,
        "body_bytes": body.bytes,
        "truncated": body.truncated,
        "elapsed_ms": millis(started.elapsed()),
        "tls": tls,
    }))
}

async fn build_client(settings: &HttpSettings, ctx: &Context) -> Result<Client, Failure> {
    let redirects = if settings.follow_redirects {
        reqwest::redirect::Policy::limited(MAX_REDIRECTS)
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut builder = Client::builder()
        .connect_timeout(ctx.timeout)
        .timeout(ctx.timeout)
        .redirect(redirects)
        .tls_info(true)
        .no_proxy()
        .user_agent(concat!("beweis-collectors/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &settings.ca_file {
        for certificate in read_ca_file(path).await? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|error| {
        let message = format!("cannot build http client: {}", error_chain(&error));
        Failure::new(FailureKind::Other, message)
    })
}

async fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, Failure> {
    let shown = path.display();
    let pem = tokio::fs::read(path).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new(FailureKind::NotFound, format!("ca file {shown} not found"))
        }
        std::io::ErrorKind::PermissionDenied => {
            Failure::new(FailureKind::Permission, format!("permission denied: ca file {shown}"))
        }
        _ => Failure::new(FailureKind::Other, format!("cannot read ca file {shown}: {error}")),
    })?;
    match Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => Ok(certificates),
        _ => {
            let message = format!("ca file {shown} holds no pem certificate");
            Err(Failure::new(FailureKind::Other, message))
        }
    }
}

/// Classifies a request error; the message names no URL.
fn classify(error: reqwest::Error, timeout: Duration) -> Failure {
    let error = error.without_url();
    let chain = error_chain(&error);
    if error.is_timeout() {
        return timed_out(timeout);
    }
    if looks_like_tls(&chain) {
        return Failure::new(FailureKind::Unreachable, format!("tls: {chain}"));
    }
    if error.is_connect() {
        return Failure::new(FailureKind::Unreachable, format!("cannot connect: {chain}"));
    }
    Failure::new(FailureKind::Other, chain)
}

/// Whether an error chain describes a TLS failure (handshake, alert, certificate).
fn looks_like_tls(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "alert"].iter().any(|word| lower.contains(word))
}

/// Removes userinfo and query strings from any URL in `message`.
fn scrub(message: &str) -> String {
    static USERINFO: OnceLock<Regex> = OnceLock::new();
    static QUERY: OnceLock<Regex> = OnceLock::new();
    let userinfo = USERINFO.get_or_init(|| {
        Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
            .expect("the userinfo regex is a valid constant")
    });
    let query = QUERY.get_or_init(|| {
        Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#]*)[?#][^\s]*")
            .expect("the query regex is a valid constant")
    });
    let without_userinfo = userinfo.replace_all(message, "$1");
    query.replace_all(&without_userinfo, "$1").into_owned()
}

fn header_facts(headers: &HeaderMap, wanted: &[HeaderName]) -> Map<String, Value> {
    let mut facts = Map::new();
    for name in wanted {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let fact = if values.is_empty() { Value::Null } else { Value::String(values.join(", ")) };
        facts.insert(name.as_str().to_string(), fact);
    }
    facts
}

/// The certificate facts of a TLS response; null for plain HTTP.
fn tls_facts(response: &Response, now: DateTime<Utc>) -> Value {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>();
    let Some(der) = info.and_then(|info| info.peer_certificate()) else {
        return Value::Null;
    };
    match certificate_facts(der, now) {
        Ok(facts) => facts,
        Err(message) => json!({ "cert_error": message }),
    }
}

fn certificate_facts(der: &[u8], now: DateTime<Utc>) -> Result<Value, String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| format!("cannot parse peer certificate: {error}"))?;
    let timestamp = certificate.validity().not_after.timestamp();
    let not_after = DateTime::<Utc>::from_timestamp(timestamp, 0)
        .ok_or_else(|| format!("certificate not_after {timestamp} is out of range"))?;
    let days_left = (not_after - now).num_seconds().div_euclid(86_400);
    Ok(json!({
        "cert_not_after": rfc3339(not_after),
        "cert_days_left": days_left,
        "cert_subject": certificate.subject().to_string(),
        "cert_issuer": certificate.issuer().to_string(),
    }))
}

/// The part of the body read.
struct Body {
    sha256: String,
    bytes: u64,
    truncated: bool,
}

/// Reads at most `cap` body bytes; stops reading once more than `cap` arrived.
async fn read_body(response: &mut Response, cap: u64) -> Result<Body, reqwest::Error> {
    let mut sink = CappedSink::new(cap);
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await? {
        let room = sink.room();
        sink.push(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            truncated = true;
            break;
        }
    }
    let captured = sink.finish();
    Ok(Body { sha256: captured.sha256, bytes: captured.total, truncated })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::process::{Child, Command, Stdio};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::Limits;

    fn ctx(timeout: Duration) -> Context {
        Context {
            now: Utc::now(),
            timeout,
            cancel: CancellationToken::new(),
            limits: Limits::default(),
            previous: Default::default(),
        }
    }

    fn settings(params: Value) -> HttpSettings {
        let config: HttpConfig = serde_json::from_value(params).expect("test params deserialize");
        config.validate().expect("test params are valid")
    }

    async fn run_params(params: Value) -> Collection {
        collect(&settings(params), &ctx(Duration::from_secs(10))).await
    }

    fn only_observation(collection: &Collection) -> &Observation {
        assert!(collection.failures.is_empty(), "{:?}", collection.failures);
        assert_eq!(collection.observations.len(), 1);
        &collection.observations[0]
    }

    /// Serves one connection with `response`; yields the request head it received.
    async fn serve_once(response: &'static str) -> (SocketAddr, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = stream.read(&mut buffer).await.expect("read request");
                if read == 0 {
                    break;
                }
                head.extend_from_slice(&buffer[..read]);
            }
            stream.write_all(response.as_bytes()).await.expect("write response");
            stream.shutdown().await.expect("shutdown");
            String::from_utf8_lossy(&head).into_owned()
        });
        (address, task)
    }

    const SECURE_RESPONSE: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\
        Strict-Transport-Security: max-age=63072000\r\nX-Frame-Options: DENY\r\n\
        X-Frame-Options: SAMEORIGIN\r\nServer: tiny\r\nConnection: close\r\n\r\nhello";

    #[tokio::test]
    async fn status_headers_and_body_digest() {
        let (address, server) = serve_once(SECURE_RESPONSE).await;
        let url = format!("http://user:hunter22@{address}/health?token=abc#top");
        let collection = run_params(json!({ "url": url })).await;
        let observation = only_observation(&collection);
        assert_eq!(observation.subject, format!("http://{address}/health"));
        let facts = &observation.facts;
        assert_eq!(facts["status"], 200);
        let expected_headers = json!({
            "strict-transport-security": "max-age=63072000",
            "content-security-policy": null,
            "x-content-type-options": null,
            "x-frame-options": "DENY, SAMEORIGIN",
            "referrer-policy": null,
        });
        assert_eq!(facts["headers"], expected_headers);
        assert_eq!(facts["body_bytes"], 5);
        assert_eq!(facts["truncated"], false);
        // sha256 of "hello"
        assert_eq!(
            facts["body_sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(facts["tls"], Value::Null);
        assert!(!facts.to_string().contains("hunter22"));
        let head = server.await.expect("server task");
        assert!(head.starts_with("GET /health?token=abc HTTP/1.1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn head_with_chosen_headers() {
        let (address, server) = serve_once(SECURE_RESPONSE).await;
        let params = json!({
            "url": format!("http://{address}/"),
            "method": "HEAD",
            "headers": ["Server", "X-Missing"],
        });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["headers"], json!({ "server": "tiny", "x-missing": null }));
        assert_eq!(facts["body_bytes"], 0);
        let head = server.await.expect("server task");
        assert!(head.starts_with("HEAD / HTTP/1.1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn body_is_read_up_to_the_cap() {
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n\
            hello world";
        let (address, _server) = serve_once(response).await;
        let params = json!({ "url": format!("http://{address}/"), "max_body_bytes": 4 });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["body_bytes"], 4);
        assert_eq!(facts["truncated"], true);
        // sha256 of "hell"
        assert_eq!(
            facts["body_sha256"],
            "0ebdc3317b75839f643387d783535adc360ca01f33c75f7c1e7373adcd675c0b"
        );
    }

    #[tokio::test]
    async fn redirect_is_observed_not_followed() {
        let response = "HTTP/1.1 301 Moved Permanently\r\nLocation: https://127.0.0.1/\r\n\
            Content-Length: 0\r\nConnection: close\r\n\r\n";
        let (address, _server) = serve_once(response).await;
        let params = json!({ "url": format!("http://{address}/"), "headers": ["location"] });
        let collection = run_params(params).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["status"], 301);
        assert_eq!(facts["headers"]["location"], "https://127.0.0.1/");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let holder = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
        });
        let settings = settings(json!({ "url": format!("http://{address}/") }));
        let started = Instant::now();
        let collection = collect(&settings, &ctx(Duration::from_millis(300))).await;
        let elapsed = started.elapsed();
        holder.abort();
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        let failure = &collection.failures[0];
        assert_eq!(failure.kind, FailureKind::Timeout);
        assert_eq!(failure.message, "no complete response within 0.3 s");
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable_without_credentials() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        drop(listener);
        let url = format!("http://admin:hunter22@{address}/status?key=s3cret");
        let collection = run_params(json!({ "url": url })).await;
        assert!(collection.observations.is_empty());
        let failure = &collection.failures[0];
        assert_eq!(failure.kind, FailureKind::Unreachable);
        assert_eq!(failure.subject, format!("http://{address}/status"));
        assert!(failure.message.starts_with("cannot connect: "), "{}", failure.message);
        for secret in ["hunter22", "s3cret", "admin"] {
            assert!(!failure.message.contains(secret), "{}", failure.message);
        }
    }

    #[test]
    fn scrub_removes_userinfo_and_queries() {
        let message = "error for https://a:b@host.test/x?k=v (see http://h/y#f) done";
        assert_eq!(scrub(message), "error for https://host.test/x (see http://h/y done");
    }

    #[test]
    fn validation_reports_every_error_by_key() {
        let config: HttpConfig = serde_json::from_value(json!({
            "url": "ftp://example.test/",
            "method": "POST",
            "headers": ["ok", "bad header"],
            "ca_file": "certs/ca.pem",
            "max_body_bytes": 0,
        }))
        .expect("deserialize");
        let errors = config.validate().expect_err("invalid params");
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["url", "method", "headers[1]", "ca_file", "max_body_bytes"]);
        assert_eq!(errors[0].message, "scheme ftp is not http or https");
        let bad: HttpConfig =
            serde_json::from_value(json!({ "url": "http://u:pw@[::1" })).expect("parse");
        let errors = bad.validate().expect_err("unparsable url");
        assert!(!errors[0].message.contains("pw"), "{}", errors[0].message);
    }

    /// A child process killed when the test ends, pass or fail.
    struct KillOnDrop(Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn openssl(args: &[&str]) {
        let status = Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for this test: install the openssl command-line tool");
        assert!(status.success(), "openssl {args:?} failed");
    }

    /// A self-signed 30-day certificate for localhost. `req -x509` marks it a CA by default,
    /// which rustls refuses as a server certificate (`CaUsedAsEndEntity`), hence `CA:FALSE`.
    const CERT_REQUEST: &str = "req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -addext basicConstraints=critical,CA:FALSE";

    /// Starts `openssl s_server` on a free loopback port with a fresh 30-day certificate.
    async fn start_tls_server(dir: &Path) -> (KillOnDrop, SocketAddr, PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let (cert_text, key_text) = (cert.to_string_lossy(), key.to_string_lossy());
        let mut args: Vec<&str> = CERT_REQUEST.split_whitespace().collect();
        args.extend(["-keyout", &key_text, "-out", &cert_text]);
        openssl(&args);
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = free.local_addr().expect("local address");
        drop(free);
        let child = Command::new("openssl")
            .args(["s_server", "-accept", &address.to_string(), "-www", "-quiet"])
            .args(["-cert", &cert_text, "-key", &key_text])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is needed for this test: install the openssl command-line tool");
        let mut server = KillOnDrop(child);
        wait_for_port(&mut server, address).await;
        (server, address, cert)
    }

    async fn wait_for_port(server: &mut KillOnDrop, address: SocketAddr) {
        for _ in 0..100 {
            if let Some(status) = server.0.try_wait().expect("poll s_server") {
                panic!("openssl s_server exited early: {status}");
            }
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("openssl s_server did not listen on {address} within 10 s");
    }

    #[tokio::test]
    async fn tls_certificate_expiry_and_untrusted_peer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_server, address, cert) = start_tls_server(dir.path()).await;
        let url = format!("https://127.0.0.1:{}/", address.port());

        let untrusted = run_params(json!({ "url": url })).await;
        let failure = &untrusted.failures[0];
        assert_eq!(failure.kind, FailureKind::Unreachable);
        assert!(failure.message.starts_with("tls: "), "{}", failure.message);

        let collection = run_params(json!({ "url": url, "ca_file": cert })).await;
        let facts = &only_observation(&collection).facts;
        assert_eq!(facts["status"], 200);
        let tls = &facts["tls"];
        let days_left = tls["cert_days_left"].as_i64().expect("cert_days_left");
        assert!(days_left == 29 || days_left == 30, "{days_left}");
        assert_eq!(tls["cert_subject"], "CN=localhost");
        assert_eq!(tls["cert_issuer"], "CN=localhost");
        let not_after = tls["cert_not_after"].as_str().expect("cert_not_after");
        let not_after = DateTime::parse_from_rfc3339(not_after).expect("rfc3339");
        let days = (not_after.to_utc() - Utc::now()).num_hours();
        assert!((29 * 24..=30 * 24).contains(&days), "{days} hours left");
    }

    #[tokio::test]
    async fn missing_ca_file_is_not_found() {
        let params = json!({ "url": "https://127.0.0.1:1/", "ca_file": "/nonexistent/ca.pem" });
        let collection = run_params(params).await;
        let failure = &collection.failures[0];
        assert_eq!(failure.kind, FailureKind::NotFound);
        assert_eq!(failure.message, "ca file /nonexistent/ca.pem not found");
    }
}
