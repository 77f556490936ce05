//! The `tls` collector: protocols, cipher suites, certificates, HTTP headers and a grade for
//! each configured TLS endpoint.
//!
//! It owns turning configured endpoints (host, port, optional addresses, SNI name, optional
//! STARTTLS protocol) into one observation per endpoint address: IPv4 and IPv6 addresses are
//! each scanned, concurrently up to a configured limit, each within its own deadline and the
//! run's. An endpoint that refuses, stalls or sends garbage becomes a
//! [`SubjectFailure`](crate::SubjectFailure) or `inconclusive` probe verdicts, never a hang.
//!
//! It reports facts; it does not judge. Verdicts about the server come only from the server's
//! bytes: protocol and suite probes are hand-built hellos (`wire`, `probe`), with Heartbleed,
//! client renegotiation and ROBOT in their own modules; certificates come from rustls sessions
//! (run beside the probes) whose verifier records instead of rejecting (`cert`, `ocsp`),
//! headers are scored by `headers`, and `grade` applies the SSL Labs rating rules. Neighbours:
//! the contract in the crate root.

mod cert;
mod grade;
mod headers;
mod heartbleed;
mod net;
mod ocsp;
mod probe;
mod renegotiation;
mod robot;
mod suites;
mod wire;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

use self::cert::{CertReport, Session, SessionOptions, Trust};
use self::net::{Dialer, NetError, Starttls};
use self::probe::{ProbeReport, Prober};
use self::suites::{is_forward_secret, version_name};

/// Raw parameters of a `tls` instance, as written in its `params` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The endpoints to scan; at least one.
    pub endpoints: Vec<EndpointConfig>,
    /// A PEM file of trust anchors; without it, the system store.
    pub ca_file: Option<String>,
    /// How many endpoint addresses are scanned at once (default 8).
    pub concurrency: Option<usize>,
    /// The limit on one TCP connect, in milliseconds (default 3000).
    pub connect_timeout_ms: Option<u64>,
    /// The limit on each read, in milliseconds (default 5000).
    pub read_timeout_ms: Option<u64>,
    /// The limit on one endpoint address's whole scan, in seconds (default 120); the run's
    /// timeout applies as well.
    pub endpoint_timeout_secs: Option<u64>,
    /// How often a STARTTLS dialogue lacking STARTTLS is tried before failing (default 3).
    pub starttls_attempts: Option<u32>,
}

/// One endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// A DNS name or an IP literal; certificates are matched against it.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// Addresses to connect to instead of resolving `host`.
    pub addresses: Option<Vec<String>>,
    /// The SNI name; default `host` when it is a DNS name (never sent for IP literals).
    pub sni: Option<String>,
    /// `smtp`, `imap` or `pop3` to upgrade with STARTTLS first.
    pub starttls: Option<String>,
    /// Whether to fetch HTTP headers (default: true without STARTTLS).
    pub http: Option<bool>,
    /// The HTTP path fetched (default `/`).
    pub http_path: Option<String>,
}

/// Validated settings of a `tls` instance.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    endpoints: Vec<Endpoint>,
    ca_file: Option<String>,
    concurrency: usize,
    connect_timeout: Duration,
    read_timeout: Duration,
    endpoint_timeout: Duration,
    starttls_attempts: u32,
}

#[derive(Debug, Clone)]
struct Endpoint {
    host: String,
    port: u16,
    addresses: Option<Vec<IpAddr>>,
    sni: Option<String>,
    starttls: Option<Starttls>,
    http_path: Option<String>,
}

impl TlsConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its key (e.g. `endpoints[0].starttls`).
    pub fn validate(self) -> Result<TlsSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        if self.endpoints.is_empty() {
            errors.push(ParamError::new("endpoints", "must list at least one endpoint"));
        }
        let endpoints: Vec<Endpoint> = self
            .endpoints
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| validate_endpoint(i, e, &mut errors))
            .collect();
        if let Some(path) = &self.ca_file {
            if !path.starts_with('/') {
                errors.push(ParamError::new("ca_file", format!("{path} is not an absolute path")));
            }
        }
        let positive =
            |key: &str, value: Option<u64>, default: u64, errors: &mut Vec<ParamError>| {
                if value == Some(0) {
                    errors.push(ParamError::new(key, "must be greater than 0"));
                }
                value.unwrap_or(default)
            };
        let concurrency =
            positive("concurrency", self.concurrency.map(|c| c as u64), 8, &mut errors);
        let connect = positive("connect_timeout_ms", self.connect_timeout_ms, 3000, &mut errors);
        let read = positive("read_timeout_ms", self.read_timeout_ms, 5000, &mut errors);
        let endpoint =
            positive("endpoint_timeout_secs", self.endpoint_timeout_secs, 120, &mut errors);
        let attempts =
            positive("starttls_attempts", self.starttls_attempts.map(u64::from), 3, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TlsSettings {
            endpoints,
            ca_file: self.ca_file,
            concurrency: concurrency as usize,
            connect_timeout: Duration::from_millis(connect),
            read_timeout: Duration::from_millis(read),
            endpoint_timeout: Duration::from_secs(endpoint),
            starttls_attempts: attempts.min(20) as u32,
        })
    }
}

fn validate_endpoint(
    index: usize,
    raw: EndpointConfig,
    errors: &mut Vec<ParamError>,
) -> Option<Endpoint> {
    let key = |field: &str| format!("endpoints[{index}].{field}");
    let before = errors.len();
    let host = raw.host.trim().trim_matches(['[', ']']).to_string();
    let host_ip = host.parse::<IpAddr>().ok();
    if host.is_empty()
        || (host_ip.is_none() && rustls::pki_types::DnsName::try_from(host.as_str()).is_err())
    {
        errors.push(ParamError::new(
            key("host"),
            format!("{} is neither a dns name nor an ip address", raw.host),
        ));
    }
    if raw.port == 0 {
        errors.push(ParamError::new(key("port"), "must not be 0"));
    }
    let addresses = raw.addresses.map(|list| {
        list.iter()
            .filter_map(|a| match a.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errors.push(ParamError::new(
                        key("addresses"),
                        format!("{a} is not an ip address"),
                    ));
                    None
                }
            })
            .collect::<Vec<_>>()
    });
    let starttls = match raw.starttls.as_deref() {
        None => None,
        Some("smtp") => Some(Starttls::Smtp),
        Some("imap") => Some(Starttls::Imap),
        Some("pop3") => Some(Starttls::Pop3),
        Some(other) => {
            errors.push(ParamError::new(
                key("starttls"),
                format!("{other} is not one of smtp, imap, pop3"),
            ));
            None
        }
    };
    let sni = match (raw.sni, host_ip) {
        (Some(name), _) if name.parse::<IpAddr>().is_ok() => {
            errors.push(ParamError::new(key("sni"), "must be a dns name, not an ip address"));
            None
        }
        (Some(name), _) => Some(name),
        (None, None) => Some(host.clone()),
        (None, Some(_)) => None,
    };
    let http = raw.http.unwrap_or(starttls.is_none());
    let path = raw.http_path.unwrap_or_else(|| "/".to_string());
    if !path.starts_with('/') || path.contains(['\r', '\n', ' ']) {
        errors.push(ParamError::new(key("http_path"), "must start with / and hold no spaces"));
    }
    (errors.len() == before).then(|| Endpoint {
        host,
        port: raw.port,
        addresses,
        sni,
        starttls,
        http_path: http.then_some(path),
    })
}

/// Scans every endpoint address; one observation per address, one failure per address (or
/// per endpoint whose name does not resolve) that could not be scanned.
pub async fn collect(settings: &TlsSettings, ctx: &Context) -> Collection {
    let deadline = Instant::now() + ctx.timeout;
    let mut out = Collection::default();
    let trust = match Trust::load(settings.ca_file.as_deref()) {
        Ok(trust) => trust,
        Err(error) => {
            for endpoint in &settings.endpoints {
                out.fail(endpoint.label(), FailureKind::NotFound, error.to_string());
            }
            return out;
        }
    };
    let mut jobs = Vec::new();
    for endpoint in &settings.endpoints {
        match resolve(endpoint, settings.connect_timeout).await {
            Ok(addresses) => jobs.extend(addresses.into_iter().map(|a| (endpoint.clone(), a))),
            Err(message) => out.fail(endpoint.label(), FailureKind::Unreachable, message),
        }
    }
    let limit = Arc::new(Semaphore::new(settings.concurrency));
    let mut tasks = JoinSet::new();
    for (index, (endpoint, addr)) in jobs.into_iter().enumerate() {
        let (limit, trust, settings, ctx) =
            (limit.clone(), trust.clone(), settings.clone(), ctx.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, scan_bounded(&endpoint, addr, &settings, &trust, &ctx, deadline).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(result) = joined {
            results.push(result);
        }
    }
    results.sort_by_key(|(index, _)| *index);
    for (_, result) in results {
        match result {
            Ok(observation) => out.observations.push(observation),
            Err((subject, kind, message)) => out.fail(subject, kind, message),
        }
    }
    out
}

impl Endpoint {
    fn label(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    fn subject(&self, addr: SocketAddr) -> String {
        format!("{}@{}", self.label(), addr.ip())
    }
}

async fn resolve(endpoint: &Endpoint, limit: Duration) -> Result<Vec<SocketAddr>, String> {
    if let Some(list) = &endpoint.addresses {
        return Ok(list.iter().map(|ip| SocketAddr::new(*ip, endpoint.port)).collect());
    }
    if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
    }
    let lookup = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port));
    match tokio::time::timeout(limit, lookup).await {
        Err(_) => Err(format!("resolving {} timed out", endpoint.host)),
        Ok(Err(error)) => Err(format!("cannot resolve {}: {error}", endpoint.host)),
        Ok(Ok(found)) => {
            let mut addresses: Vec<SocketAddr> = found.collect();
            addresses.sort();
            addresses.dedup();
            Ok(addresses)
        }
    }
}

type ScanFailure = (String, FailureKind, String);

/// One address's scan within its deadline and the run's cancellation.
async fn scan_bounded(
    endpoint: &Endpoint,
    addr: SocketAddr,
    settings: &TlsSettings,
    trust: &Trust,
    ctx: &Context,
    deadline: Instant,
) -> Result<Observation, ScanFailure> {
    let subject = endpoint.subject(addr);
    // Queued behind the concurrency limit, an address gets only what is left of the run.
    let limit = settings.endpoint_timeout.min(deadline.saturating_duration_since(Instant::now()));
    let started = Instant::now();
    let scan = scan(endpoint, addr, settings, trust, ctx);
    tokio::select! {
        _ = ctx.cancel.cancelled() => {
            Err((subject, FailureKind::Cancelled, "scan cancelled".to_string()))
        }
        result = tokio::time::timeout(limit, scan) => match result {
            Err(_) => {
                let message = format!("scan did not finish within {} s", limit.as_secs_f64());
                Err((subject, FailureKind::Timeout, message))
            }
            Ok(Err(error)) => Err((subject, failure_kind(&error), error.to_string())),
            Ok(Ok(facts)) => Ok(Observation {
                subject,
                collected_at: ctx.now,
                effective_at: None,
                facts,
                custody: Custody {
                    argv: None,
                    exit_code: None,
                    duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    tool_version: Some(tool_version()),
                },
            }),
        }
    }
}

fn tool_version() -> String {
    format!("beweis-tls {} (rustls 0.23, ring)", crate::VERSION)
}

fn failure_kind(error: &NetError) -> FailureKind {
    match error {
        NetError::ConnectTimeout(_) | NetError::NoReply(_) => FailureKind::Timeout,
        NetError::Connect { .. } => FailureKind::Unreachable,
        NetError::Starttls { .. } | NetError::StarttlsNotOffered { .. } => FailureKind::Parse,
    }
}

async fn scan(
    endpoint: &Endpoint,
    addr: SocketAddr,
    settings: &TlsSettings,
    trust: &Trust,
    ctx: &Context,
) -> Result<Value, NetError> {
    let dialer = Dialer {
        addr,
        starttls: endpoint.starttls,
        connect_timeout: settings.connect_timeout,
        read_timeout: settings.read_timeout,
        starttls_attempts: settings.starttls_attempts,
    };
    // The rustls sessions need nothing the probes find, so they run beside them.
    let (report, sessions) = tokio::join!(
        Prober::new(dialer.clone(), endpoint.sni.clone()).run(),
        cert_sessions(endpoint, &dialer, trust),
    );
    let report = report?;
    let mut facts = base_facts(endpoint, addr, &report);
    if report.supported_versions().is_empty() {
        facts.insert("grade".into(), Value::Null);
        facts.insert("grade_rank".into(), json!(0));
        facts.insert("grade_reason".into(), json!("no TLS protocol detected"));
        return Ok(Value::Object(facts));
    }
    let certs = certificates(endpoint, sessions, trust, &report, ctx);
    facts.extend(certs.facts);
    let hsts = match (&endpoint.http_path, &certs.headers) {
        (None, _) => None,
        (Some(_), Some(h)) => Some(h.hsts.max_age.filter(|_| h.hsts.present)),
        (Some(_), None) => None,
    };
    let undecided = report.inconclusive_versions();
    if !undecided.is_empty() {
        // A grade assumes every protocol is known: an inconclusive one is neither a cap nor a
        // missing-TLS-1.3 warning, so the endpoint is not graded until a scan decides it.
        facts.insert("grade".into(), Value::Null);
        facts.insert("grade_rank".into(), Value::Null);
        let reason = format!("not graded: support of {} inconclusive", undecided.join(", "));
        facts.insert("grade_reason".into(), json!(reason));
        return Ok(Value::Object(facts));
    }
    if certs.graded.is_none() && facts.contains_key("tls_session_error") {
        // The local TLS library could not finish a handshake the server offered (a group or
        // suite it lacks): that is no evidence about the server's certificate, so no grade.
        facts.insert("grade".into(), Value::Null);
        facts.insert("grade_rank".into(), Value::Null);
        let reason = "certificate unreadable with the local TLS library; not graded";
        facts.insert("grade_reason".into(), json!(reason));
        return Ok(Value::Object(facts));
    }
    let graded = grade::grade(&report, certs.graded.as_ref(), hsts);
    facts.insert("grade_rank".into(), json!(graded.as_ref().map_or(0, |g| g.grade_rank)));
    facts.insert("grade".into(), json!(graded));
    Ok(Value::Object(facts))
}

fn base_facts(endpoint: &Endpoint, addr: SocketAddr, report: &ProbeReport) -> Map<String, Value> {
    let supported = report.supported_versions();
    let names: Vec<String> = supported.iter().map(|v| version_name(*v)).collect();
    let all_suites: Vec<u16> = supported.iter().flat_map(|v| report.accepted_ids(*v)).collect();
    let has =
        |family: &str| all_suites.iter().any(|s| suites::suite_families(*s).contains(&family));
    let forward = match all_suites.iter().filter(|s| is_forward_secret(**s)).count() {
        0 => "none",
        n if n == all_suites.len() => "all",
        _ => "some",
    };
    let legacy = supported.iter().any(|v| *v < wire::TLS12);
    let mut facts = Map::new();
    facts.insert("host".into(), json!(endpoint.host));
    facts.insert("port".into(), json!(endpoint.port));
    facts.insert("address".into(), json!(addr.ip().to_string()));
    facts.insert("sni".into(), json!(endpoint.sni));
    facts.insert(
        "starttls".into(),
        json!(endpoint.starttls.map(|s| format!("{s:?}").to_lowercase())),
    );
    facts.insert("tls_detected".into(), json!(!supported.is_empty()));
    facts.insert("protocols_supported".into(), json!(names));
    facts.insert(
        "oldest_protocol_rank".into(),
        json!(supported.first().map_or(0, |v| protocol_rank(*v))),
    );
    facts.insert(
        "newest_protocol_rank".into(),
        json!(supported.last().map_or(0, |v| protocol_rank(*v))),
    );
    facts.insert("legacy_protocols_supported".into(), json!(legacy));
    facts.insert(
        "suite_families".into(),
        json!({
            "rc4": has("rc4"), "3des": has("3des"), "des": has("des"), "export": has("export"),
            "null": has("null"), "anon": has("anon"),
        }),
    );
    facts.insert("forward_secrecy".into(), json!(forward));
    let weak = ["rc4", "3des", "des", "export", "null", "anon"].iter().any(|f| has(f));
    facts.insert("weak_suites_accepted".into(), json!(weak));
    if let Ok(Value::Object(probe)) = serde_json::to_value(report) {
        facts.extend(probe);
    }
    facts
}

/// ssl3 1, tls1_0 2, tls1_1 3, tls1_2 4, tls1_3 5.
fn protocol_rank(version: u16) -> u8 {
    suites::VERSIONS.iter().position(|v| *v == version).map_or(0, |i| i as u8 + 1)
}

struct CertFacts {
    facts: Map<String, Value>,
    graded: Option<CertReport>,
    headers: Option<headers::Headers>,
}

/// The two rustls sessions: with SNI (graded, with HTTP) and without (the default
/// certificate; `None` when no SNI is sent anyway).
struct Sessions {
    graded: Result<Session, String>,
    default: Option<Result<Session, String>>,
}

async fn cert_sessions(endpoint: &Endpoint, dialer: &Dialer, trust: &Trust) -> Sessions {
    let options = SessionOptions {
        name: &endpoint.host,
        sni: endpoint.sni.is_some(),
        http_path: endpoint.http_path.as_deref(),
        max_head_bytes: 64 * 1024,
    };
    let plain =
        SessionOptions { name: &endpoint.host, sni: false, http_path: None, max_head_bytes: 0 };
    let (graded, default) = tokio::join!(cert::session(dialer, trust, &options), async {
        match endpoint.sni {
            Some(_) => Some(cert::session(dialer, trust, &plain).await),
            None => None,
        }
    });
    Sessions { graded, default }
}

/// The graded certificate (with SNI), the default one (without), negotiated parameters and
/// HTTP headers.
fn certificates(
    endpoint: &Endpoint,
    sessions: Sessions,
    trust: &Trust,
    report: &ProbeReport,
    ctx: &Context,
) -> CertFacts {
    let mut facts = Map::new();
    let session = sessions.graded;
    let (chain, source, ocsp) = match &session {
        Ok(s) if !s.chain.is_empty() => (s.chain.clone(), "rustls", s.ocsp.clone()),
        _ => (report.raw_chain.clone(), "handshake_record", report.raw_ocsp.clone()),
    };
    if let Err(error) = &session {
        facts.insert("tls_session_error".into(), json!(error));
    }
    let graded = if chain.is_empty() {
        None
    } else {
        match cert::analyse(&chain, source, ocsp.as_deref(), &endpoint.host, trust, ctx.now) {
            Ok(report) => Some(report),
            Err(error) => {
                facts.insert("certificate_error".into(), json!(error));
                None
            }
        }
    };
    facts.insert("certificate".into(), json!(graded));
    let session = session.unwrap_or_default();
    facts.insert(
        "negotiated".into(),
        json!({ "version": session.version, "suite": session.suite, "group": session.group }),
    );
    let headers = http_facts(&session, endpoint, &mut facts);
    default_certificate(endpoint, sessions.default, trust, graded.as_ref(), ctx, &mut facts);
    CertFacts { facts, graded, headers }
}

fn http_facts(
    session: &Session,
    endpoint: &Endpoint,
    facts: &mut Map<String, Value>,
) -> Option<headers::Headers> {
    if endpoint.http_path.is_none() {
        facts.insert("http".into(), Value::Null);
        return None;
    }
    match &session.http_head {
        Some(Ok(head)) => {
            let parsed = headers::analyse(head);
            facts.insert("http".into(), json!(parsed));
            Some(parsed)
        }
        Some(Err(error)) => {
            facts.insert("http".into(), Value::Null);
            facts.insert("http_error".into(), json!(error));
            None
        }
        None => {
            facts.insert("http".into(), Value::Null);
            facts.insert("http_error".into(), json!("no tls session for http"));
            None
        }
    }
}

/// The certificate sent without SNI, reported only as information when it differs.
fn default_certificate(
    endpoint: &Endpoint,
    session: Option<Result<Session, String>>,
    trust: &Trust,
    graded: Option<&CertReport>,
    ctx: &Context,
    facts: &mut Map<String, Value>,
) {
    let Some(session) = session else {
        facts.insert("sni_required".into(), json!(false));
        return;
    };
    let Ok(session) = session else {
        facts.insert("sni_required".into(), Value::Null);
        return;
    };
    let Ok(default) = cert::analyse(
        &session.chain,
        "rustls",
        session.ocsp.as_deref(),
        &endpoint.host,
        trust,
        ctx.now,
    ) else {
        facts.insert("sni_required".into(), Value::Null);
        return;
    };
    let differs = graded.is_some_and(|g| g.sha256 != default.sha256);
    facts.insert("sni_required".into(), json!(differs));
    if differs {
        facts.insert(
            "default_certificate".into(),
            json!({
                "subject": default.subject,
                "names": default.names,
                "name_matches": default.name_matches,
                "note": "server needs SNI for this name; informational, not graded",
            }),
        );
    }
}
