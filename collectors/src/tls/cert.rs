//! Certificates: a rustls handshake that records the chain instead of rejecting it, and the
//! chain's findings.
//!
//! Owns the rustls client (ring provider) whose certificate verifier keeps what the server sent
//! and always lets the handshake go on, so that an expired, untrusted or mismatched certificate
//! is a finding, never a failed scan. Trust is decided by webpki against the configured CA file
//! or the system store, checked at a time inside the chain's validity so that trust, time and
//! name are separate facts; names, dates, keys and signature algorithms come from x509-parser.
//! Over the same connection it fetches the HTTP response head for `headers`. It does not probe
//! protocol versions (`probe` does) and does not grade (`grade` does).

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::net::Dialer;

/// Trust anchors and the verifier built on them.
#[derive(Clone)]
pub(crate) struct Trust {
    verifier: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    /// Subjects (DER) of the anchors, to tell an incomplete chain from an unknown root.
    anchor_subjects: Vec<Vec<u8>>,
    /// Where the anchors came from, for evidence.
    pub(crate) source: String,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust").field("source", &self.source).finish()
    }
}

/// Why trust anchors could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TrustError {
    /// The CA file could not be read.
    #[error("cannot read ca file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// No usable anchor was found.
    #[error("no usable trust anchor in {0}")]
    Empty(String),
}

impl Trust {
    /// Anchors from a PEM file, or from the system store when `ca_file` is `None`.
    pub(crate) fn load(ca_file: Option<&str>) -> Result<Trust, TrustError> {
        let (certs, source) = match ca_file {
            Some(path) => (read_pem(path)?, path.to_string()),
            None => {
                let found = rustls_native_certs::load_native_certs();
                (found.certs, "system store".to_string())
            }
        };
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TrustError::Empty(source));
        }
        let anchor_subjects = roots.roots.iter().map(|a| a.subject.as_ref().to_vec()).collect();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|_| TrustError::Empty(source.clone()))?;
        Ok(Trust { verifier, provider, anchor_subjects, source })
    }
}

fn read_pem(path: &str) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|error| TrustError::Read {
        path: path.to_string(),
        message: error.to_string().to_lowercase(),
    })?;
    Ok(CertificateDer::pem_slice_iter(&bytes).filter_map(Result::ok).collect())
}

/// What a rustls handshake saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    /// The chain as sent, leaf first.
    pub(crate) chain: Vec<Vec<u8>>,
    /// The stapled OCSP response (DER), if any.
    pub(crate) ocsp: Option<Vec<u8>>,
    /// Negotiated version name.
    pub(crate) version: Option<String>,
    /// Negotiated suite name.
    pub(crate) suite: Option<String>,
    /// Negotiated key-exchange group name.
    pub(crate) group: Option<String>,
    /// The HTTP response head, when fetched.
    pub(crate) http_head: Option<Result<String, String>>,
}

/// Options of one rustls session.
pub(crate) struct SessionOptions<'a> {
    /// The name verified (and sent as SNI when `sni` and a DNS name).
    pub(crate) name: &'a str,
    /// Whether SNI is sent.
    pub(crate) sni: bool,
    /// HTTP path to fetch after the handshake, with the Host header `name`.
    pub(crate) http_path: Option<&'a str>,
    /// Largest response head read.
    pub(crate) max_head_bytes: usize,
}

/// Runs a rustls handshake on a fresh connection (after STARTTLS if configured).
pub(crate) async fn session(
    dialer: &Dialer,
    trust: &Trust,
    options: &SessionOptions<'_>,
) -> Result<Session, String> {
    let recorder = Arc::new(Recorder { provider: trust.provider.clone(), seen: Mutex::default() });
    let mut config = rustls::ClientConfig::builder_with_provider(trust.provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("tls client setup: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.enable_sni = options.sni;
    config.alpn_protocols =
        if options.http_path.is_some() { vec![b"http/1.1".to_vec()] } else { Vec::new() };
    let name = server_name(options.name)?;
    let (stream, _) = dialer.open().await.map_err(|error| error.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = timeout(dialer.read_timeout * 2, connector.connect(name, stream)).await;
    let mut tls = match handshake {
        Err(_) => return Err("tls handshake timed out".to_string()),
        Ok(Err(error)) => {
            // A chain recorded before the failure is still evidence.
            let seen = recorder.take();
            if !seen.chain.is_empty() {
                return Ok(seen);
            }
            return Err(format!("tls handshake failed: {}", error.to_string().to_lowercase()));
        }
        Ok(Ok(tls)) => tls,
    };
    let mut session = recorder.take();
    {
        let (_, connection) = tls.get_ref();
        session.version = connection.protocol_version().map(|v| format!("{v:?}"));
        session.suite = connection.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite()));
        session.group = connection
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()).to_lowercase());
    }
    if let Some(path) = options.http_path {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: beweis\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n",
            options.name
        );
        session.http_head = Some(
            fetch_head(&mut tls, request.as_bytes(), dialer.read_timeout, options.max_head_bytes)
                .await,
        );
    }
    Ok(session)
}

fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string()).map_err(|_| format!("invalid server name {name}"))
}

async fn fetch_head<S>(
    stream: &mut S,
    request: &[u8],
    read_timeout: Duration,
    max: usize,
) -> Result<String, String>
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    match timeout(read_timeout, stream.write_all(request)).await {
        Ok(Ok(())) => {}
        _ => return Err("cannot send http request".to_string()),
    }
    let mut head = Vec::new();
    let mut buffer = vec![0u8; 8192];
    loop {
        match timeout(read_timeout, stream.read(&mut buffer)).await {
            Err(_) if head.is_empty() => return Err("http response timed out".to_string()),
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => head.extend_from_slice(&buffer[..n]),
        }
        if let Some(end) = find(&head, b"\r\n\r\n") {
            head.truncate(end);
            break;
        }
        if head.len() > max {
            return Err(format!("http response head larger than {max} bytes"));
        }
    }
    if head.is_empty() {
        return Err("empty http response".to_string());
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A verifier that records the chain and accepts it; signatures are still checked, so the
/// recorded chain is the one the server holds the key for.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Session>,
}

impl Recorder {
    fn take(&self) -> Session {
        self.seen.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
            seen.ocsp = (!ocsp_response.is_empty()).then(|| ocsp_response.to_vec());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// One certificate of the chain as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ChainEntry {
    /// Subject DN.
    pub(crate) subject: String,
    /// Issuer DN.
    pub(crate) issuer: String,
    /// notAfter, RFC 3339.
    pub(crate) not_after: String,
    /// Whether subject equals issuer.
    pub(crate) self_signed: bool,
}

/// Findings about a chain, leaf first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CertReport {
    /// `rustls` or `handshake_record` (a ≤ TLS 1.2 Certificate message).
    pub(crate) source: &'static str,
    /// Leaf subject DN.
    pub(crate) subject: String,
    /// Leaf issuer DN.
    pub(crate) issuer: String,
    /// Leaf serial, hex.
    pub(crate) serial: String,
    /// SHA-256 of the leaf DER, hex.
    pub(crate) sha256: String,
    /// DNS and IP SAN entries.
    pub(crate) names: Vec<String>,
    /// notBefore, RFC 3339.
    pub(crate) not_before: String,
    /// notAfter, RFC 3339.
    pub(crate) not_after: String,
    /// Whole days until notAfter (negative once expired).
    pub(crate) days_left: i64,
    /// notAfter has passed.
    pub(crate) expired: bool,
    /// notBefore is in the future.
    pub(crate) not_yet_valid: bool,
    /// The target name (or IP) is covered by a SAN entry.
    pub(crate) name_matches: bool,
    /// webpki builds a path to an anchor (checked at a time inside the validity); `None`
    /// when the sent certificates were never valid at one time, so trust cannot be told apart
    /// from expiry.
    pub(crate) trusted: Option<bool>,
    /// webpki's reason when not trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trust_error: Option<String>,
    /// Where the anchors came from.
    pub(crate) trust_store: String,
    /// Certificates sent.
    pub(crate) chain_length: usize,
    /// Each certificate is issued by the next one sent.
    pub(crate) chain_in_order: bool,
    /// The last certificate sent is self-signed or issued by an anchor.
    pub(crate) chain_complete: bool,
    /// The chain as sent.
    pub(crate) chain: Vec<ChainEntry>,
    /// `rsa`, `ec`, `ed25519`, `dsa` or the OID.
    pub(crate) key_type: String,
    /// Key size in bits.
    pub(crate) key_bits: u32,
    /// The leaf's signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub(crate) signature_algorithm: String,
    /// An OCSP response was stapled.
    pub(crate) ocsp_stapled: bool,
    /// What the stapled response says, when one was stapled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ocsp: Option<super::ocsp::Staple>,
}

/// Analyses a chain (leaf first) for `target` (a DNS name or IP literal) at `now`.
pub(crate) fn analyse(
    chain: &[Vec<u8>],
    source: &'static str,
    ocsp: Option<&[u8]>,
    target: &str,
    trust: &Trust,
    now: DateTime<Utc>,
) -> Result<CertReport, String> {
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            X509Certificate::from_der(der)
                .map(|(_, cert)| cert)
                .map_err(|error| format!("certificate {i} does not parse: {error}"))
        })
        .collect::<Result<_, _>>()?;
    let leaf = parsed.first().ok_or("no certificate sent")?;
    let not_before = leaf.validity().not_before.timestamp();
    let not_after = leaf.validity().not_after.timestamp();
    let names = san_names(leaf);
    let (trusted, trust_error) = check_trust(chain, &parsed, &names, trust);
    let (key_type, key_bits) = key_info(leaf);
    // FIXME(chain-aia): a missing intermediate is not fetched from the leaf's AIA URL (the
    // collector makes no outbound fetches), so a chain SSL Labs completes and trusts (B) is
    // untrusted here (T, B ignoring trust).
    let in_order = parsed.windows(2).all(|w| w[0].issuer().as_raw() == w[1].subject().as_raw());
    let last = parsed.last().expect("non-empty: leaf exists");
    let complete = in_order
        && (last.subject().as_raw() == last.issuer().as_raw()
            || trust
                .anchor_subjects
                .iter()
                .any(|s| s.as_slice() == der_contents(last.issuer().as_raw())));
    Ok(CertReport {
        source,
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        serial: leaf.raw_serial_as_string(),
        sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &chain[0])),
        name_matches: name_matches(target, &names),
        names,
        not_before: time_text(not_before),
        not_after: time_text(not_after),
        days_left: (not_after - now.timestamp()).div_euclid(86_400),
        expired: now.timestamp() > not_after,
        not_yet_valid: now.timestamp() < not_before,
        trusted,
        trust_error,
        trust_store: trust.source.clone(),
        chain_length: parsed.len(),
        chain_in_order: in_order,
        chain_complete: complete,
        chain: parsed.iter().map(entry).collect(),
        key_type,
        key_bits,
        signature_algorithm: signature_name(leaf),
        ocsp_stapled: ocsp.is_some(),
        ocsp: ocsp.map(super::ocsp::read),
    })
}

/// Trust independent of name and time: webpki is asked with a name the certificate holds, at
/// moments inside the sent certificates' validity (their overlap, else the leaf's).
fn check_trust(
    chain: &[Vec<u8>],
    parsed: &[X509Certificate<'_>],
    names: &[String],
    trust: &Trust,
) -> (Option<bool>, Option<String>) {
    let latest_start =
        parsed.iter().map(|c| c.validity().not_before.timestamp()).max().unwrap_or(0);
    let leaf_start = parsed.first().map_or(0, |c| c.validity().not_before.timestamp());
    let own_name = names
        .first()
        .and_then(|n| ServerName::try_from(n.trim_start_matches("*.").to_string()).ok())
        .unwrap_or_else(|| ServerName::try_from("invalid.invalid").expect("static name parses"));
    let leaf = CertificateDer::from(chain[0].clone());
    let intermediates: Vec<CertificateDer<'_>> =
        chain[1..].iter().map(|c| CertificateDer::from(c.clone())).collect();
    let mut first_error = None;
    for moment in [latest_start + 1, leaf_start + 1] {
        let at = UnixTime::since_unix_epoch(Duration::from_secs(moment.max(0) as u64));
        match trust.verifier.verify_server_cert(&leaf, &intermediates, &own_name, &[], at) {
            Ok(_) => return (Some(true), None),
            Err(rustls::Error::InvalidCertificate(error)) if is_name_error(&error) => {
                return (Some(true), None)
            }
            Err(rustls::Error::InvalidCertificate(error)) if is_time_error(&error) => {
                first_error.get_or_insert((None, error.to_string().to_lowercase()));
            }
            Err(error) => return (Some(false), Some(trust_text(&error))),
        }
    }
    let (trusted, message) = first_error.unwrap_or((None, "trust not decided".to_string()));
    (trusted, Some(format!("cannot check trust apart from validity dates: {message}")))
}

/// Why a chain is not trusted, in words: rustls prints webpki's reasons as nested debug names
/// (`Other(OtherError(CaUsedAsEndEntity))`), which an auditor should not have to decode.
fn trust_text(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let text = match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            C::UnknownIssuer => "issued by an authority the trust store does not hold".to_owned(),
            C::BadSignature => "a signature in the chain does not verify".to_owned(),
            C::Revoked => "the certificate is revoked".to_owned(),
            C::Other(other) => webpki_reason(&other.to_string()),
            // The variant's name in words, without its context fields (raw algorithm ids).
            other => {
                let debug = format!("{other:?}");
                let name = debug.split([' ', '{', '(']).next().unwrap_or_default();
                webpki_reason(name)
            }
        },
        other => other.to_string(),
    };
    text.to_lowercase()
}

/// webpki's reason names as words: `CaUsedAsEndEntity` → "ca used as end entity", with the
/// common ones explained.
fn webpki_reason(name: &str) -> String {
    match name {
        "CaUsedAsEndEntity" => {
            return "a ca certificate is sent as the server certificate \
                                       (self-signed ca?)"
                .to_owned()
        }
        "EndEntityUsedAsCa" => return "a server certificate is used to issue another".to_owned(),
        _ => {}
    }
    let mut words = String::new();
    for c in name.chars() {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

fn is_name_error(error: &rustls::CertificateError) -> bool {
    use rustls::CertificateError as E;
    matches!(error, E::NotValidForName | E::NotValidForNameContext { .. })
}

fn is_time_error(error: &rustls::CertificateError) -> bool {
    use rustls::CertificateError as E;
    matches!(
        error,
        E::Expired | E::ExpiredContext { .. } | E::NotValidYet | E::NotValidYetContext { .. }
    )
}

/// The contents of a DER TLV (webpki keeps anchor subjects without the SEQUENCE header).
fn der_contents(tlv: &[u8]) -> &[u8] {
    let Some(&first) = tlv.get(1) else { return tlv };
    let header = if first < 0x80 { 2 } else { 2 + usize::from(first & 0x7f) };
    tlv.get(header..).unwrap_or(tlv)
}

fn san_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_lowercase()),
            GeneralName::IPAddress(bytes) => ip_text(bytes),
            _ => None,
        })
        .collect()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// Whether `target` is covered: IP literals match IP entries only; DNS names match exactly or
/// by a wildcard in the left-most label.
pub(crate) fn name_matches(target: &str, names: &[String]) -> bool {
    let target = target.trim_end_matches('.').to_lowercase();
    if let Ok(ip) = target.trim_matches(['[', ']']).parse::<IpAddr>() {
        return names.iter().any(|n| n.parse::<IpAddr>().is_ok_and(|entry| entry == ip));
    }
    names.iter().any(|name| {
        if let Some(suffix) = name.strip_prefix("*.") {
            target.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
        } else {
            *name == target
        }
    })
}

fn key_info(cert: &X509Certificate<'_>) -> (String, u32) {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    let kind = match oid.as_str() {
        "1.2.840.113549.1.1.1" => "rsa".to_string(),
        "1.2.840.10045.2.1" => "ec".to_string(),
        "1.3.101.112" => return ("ed25519".to_string(), 256),
        "1.3.101.113" => return ("ed448".to_string(), 456),
        "1.2.840.10040.4.1" => "dsa".to_string(),
        other => other.to_string(),
    };
    let bits = spki.parsed().map(|key| key.key_size() as u32).unwrap_or(0);
    (kind, bits)
}

fn signature_name(cert: &X509Certificate<'_>) -> String {
    let oid = &cert.signature_algorithm.algorithm;
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

fn entry(cert: &X509Certificate<'_>) -> ChainEntry {
    ChainEntry {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: time_text(cert.validity().not_after.timestamp()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    }
}

fn time_text(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_errors_read_as_words_not_as_nested_debug_names() {
        #[derive(Debug)]
        struct Named(&'static str);
        impl std::fmt::Display for Named {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Named {}
        let webpki = |name| {
            let other = rustls::OtherError(std::sync::Arc::new(Named(name)));
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
        };
        assert_eq!(
            trust_text(&webpki("CaUsedAsEndEntity")),
            "a ca certificate is sent as the server certificate (self-signed ca?)"
        );
        assert_eq!(trust_text(&webpki("RequiredEkuNotFound")), "required eku not found");
        let context = rustls::CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
            signature_algorithm_id: vec![6, 8],
            public_key_algorithm_id: vec![6, 9],
        };
        assert_eq!(
            trust_text(&rustls::Error::InvalidCertificate(context)),
            "unsupported signature algorithm for public key context"
        );
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert_eq!(trust_text(&unknown), "issued by an authority the trust store does not hold");
    }

    #[test]
    fn names_match_exactly_by_wildcard_or_by_ip() {
        let names = vec!["www.example.test".to_string(), "*.mail.example.test".to_string()];
        assert!(name_matches("WWW.example.test.", &names));
        assert!(name_matches("a.mail.example.test", &names));
        assert!(!name_matches("mail.example.test", &names));
        assert!(!name_matches("a.b.mail.example.test", &names));
        let ips = vec!["127.0.0.1".to_string(), "::1".to_string()];
        assert!(name_matches("127.0.0.1", &ips));
        assert!(name_matches("[::1]", &ips));
        assert!(!name_matches("127.0.0.2", &ips));
        assert!(!name_matches("127.0.0.1", &["127.0.0.1.example.test".to_string()]));
    }
}
