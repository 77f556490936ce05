//! Bytes on the wire: hand-built ClientHellos and the server's first flight, parsed.
//!
//! Owns encoding a ClientHello for any protocol version from SSL 3.0 to TLS 1.3 (no TLS
//! library involved, so the local library's policy can never colour a verdict) and turning the
//! bytes a server sends back into a [`Flight`]: every record is read and checked, warning
//! alerts are kept and skipped, a fatal alert ends the flight, and handshake messages are
//! reassembled across records and parsed with `tls-parser`. Anything that is not a TLS record
//! is reported as such with its first bytes. It does no networking itself: `probe` feeds it.

use tls_parser::{parse_tls_message_handshake, TlsMessage, TlsMessageHandshake};

/// The record and protocol version numbers.
pub(crate) const SSL3: u16 = 0x0300;
pub(crate) const TLS10: u16 = 0x0301;
pub(crate) const TLS11: u16 = 0x0302;
pub(crate) const TLS12: u16 = 0x0303;
pub(crate) const TLS13: u16 = 0x0304;

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746).
pub(crate) const SCSV_RENEGOTIATION: u16 = 0x00ff;
/// TLS_FALLBACK_SCSV (RFC 7507).
pub(crate) const SCSV_FALLBACK: u16 = 0x5600;

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446, 4.1.3).
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The largest record payload a compliant server may send (2^14 + 2048, RFC 5246 6.2.3).
pub(crate) const MAX_RECORD_PAYLOAD: usize = 16_384 + 2_048;

/// Extension numbers used here.
const EXT_SERVER_NAME: u16 = 0;
const EXT_STATUS_REQUEST: u16 = 5;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub(crate) const EXT_HEARTBEAT: u16 = 15;
pub(crate) const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_COOKIE: u16 = 44;
const EXT_PSK_MODES: u16 = 45;
const EXT_KEY_SHARE: u16 = 51;
/// renegotiation_info (RFC 5746).
pub(crate) const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// Signature algorithms offered: every common one, old ones included, so that the offer
/// never limits what the server may pick.
const SIGNATURE_ALGORITHMS: [u16; 16] = [
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303,
    0x0301, 0x0302, 0x0203, 0x0201,
];

/// A ClientHello to encode.
#[derive(Debug, Clone)]
pub(crate) struct ClientHello {
    /// The version in the record header (0x0301 for everything but SSL 3.0).
    pub(crate) record_version: u16,
    /// `legacy_version`: the highest version offered (0x0303 for TLS 1.3).
    pub(crate) client_version: u16,
    /// Cipher suites, in order; signalling suites included by the caller.
    pub(crate) suites: Vec<u16>,
    /// Compression methods; always ends with null (0).
    pub(crate) compression: Vec<u8>,
    /// The server_name to send, never an IP literal.
    pub(crate) sni: Option<String>,
    /// Named groups for supported_groups.
    pub(crate) groups: Vec<u16>,
    /// key_share entries (TLS 1.3).
    pub(crate) key_shares: Vec<(u16, Vec<u8>)>,
    /// supported_versions (TLS 1.3 hellos only).
    pub(crate) supported_versions: Vec<u16>,
    /// Whether any extension is sent (never for SSL 3.0).
    pub(crate) extensions: bool,
    /// Whether the renegotiation_info extension is sent.
    pub(crate) renegotiation_info: bool,
    /// The client verify_data of the handshake being renegotiated (empty on a first one).
    pub(crate) renegotiated_verify_data: Vec<u8>,
    /// Whether the heartbeat extension (peer allowed to send) is sent.
    pub(crate) heartbeat: bool,
    /// A cookie echoed from a HelloRetryRequest.
    pub(crate) cookie: Option<Vec<u8>>,
    /// The 32 random bytes.
    pub(crate) random: [u8; 32],
}

impl ClientHello {
    /// A hello for `version` with the given suites and no extras; callers adjust fields.
    pub(crate) fn new(version: u16, suites: Vec<u16>, sni: Option<String>) -> ClientHello {
        let tls13 = version == TLS13;
        ClientHello {
            record_version: if version == SSL3 { SSL3 } else { TLS10 },
            client_version: if tls13 { TLS12 } else { version },
            suites,
            compression: vec![0],
            sni,
            groups: Vec::new(),
            key_shares: Vec::new(),
            supported_versions: if tls13 { vec![TLS13] } else { Vec::new() },
            extensions: version != SSL3,
            renegotiation_info: false,
            renegotiated_verify_data: Vec::new(),
            heartbeat: false,
            cookie: None,
            random: fresh_random(),
        }
    }

    /// The whole record: header, handshake header and body.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let handshake = self.message();
        let mut record = vec![22];
        push_u16(&mut record, self.record_version);
        push_u16(&mut record, handshake.len() as u16);
        record.extend_from_slice(&handshake);
        record
    }

    /// The handshake message: header and body.
    pub(crate) fn message(&self) -> Vec<u8> {
        let body = self.body();
        let mut handshake = vec![1];
        push_u24(&mut handshake, body.len());
        handshake.extend_from_slice(&body);
        handshake
    }

    /// The handshake body: version, random, session id, suites, compression, extensions.
    fn body(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(512);
        push_u16(&mut body, self.client_version);
        body.extend_from_slice(&self.random);
        body.push(32);
        body.extend_from_slice(&self.random); // legacy_session_id: any 32 bytes (middlebox mode)
        push_u16(&mut body, (self.suites.len() * 2) as u16);
        for suite in &self.suites {
            push_u16(&mut body, *suite);
        }
        body.push(self.compression.len() as u8);
        body.extend_from_slice(&self.compression);
        if self.extensions {
            let extensions = self.extension_bytes();
            push_u16(&mut body, extensions.len() as u16);
            body.extend_from_slice(&extensions);
        }
        body
    }

    fn extension_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(name) = &self.sni {
            let mut entry = vec![0];
            push_u16(&mut entry, name.len() as u16);
            entry.extend_from_slice(name.as_bytes());
            push_extension(&mut out, EXT_SERVER_NAME, &with_u16_len(&entry));
        }
        push_extension(&mut out, EXT_STATUS_REQUEST, &[1, 0, 0, 0, 0]);
        if !self.groups.is_empty() {
            push_extension(&mut out, EXT_SUPPORTED_GROUPS, &u16_list(&self.groups));
            push_extension(&mut out, EXT_EC_POINT_FORMATS, &[1, 0]);
        }
        if self.client_version >= TLS12 {
            let algorithms = u16_list(&SIGNATURE_ALGORITHMS);
            push_extension(&mut out, EXT_SIGNATURE_ALGORITHMS, &algorithms);
        }
        if self.heartbeat {
            push_extension(&mut out, EXT_HEARTBEAT, &[1]);
        }
        push_extension(&mut out, EXT_EXTENDED_MASTER_SECRET, &[]);
        if self.renegotiation_info {
            let mut data = vec![self.renegotiated_verify_data.len() as u8];
            data.extend_from_slice(&self.renegotiated_verify_data);
            push_extension(&mut out, EXT_RENEGOTIATION_INFO, &data);
        }
        if !self.supported_versions.is_empty() {
            let mut versions = vec![(self.supported_versions.len() * 2) as u8];
            for version in &self.supported_versions {
                push_u16(&mut versions, *version);
            }
            push_extension(&mut out, EXT_SUPPORTED_VERSIONS, &versions);
            push_extension(&mut out, EXT_PSK_MODES, &[1, 1]);
            let mut shares = Vec::new();
            for (group, key) in &self.key_shares {
                push_u16(&mut shares, *group);
                push_u16(&mut shares, key.len() as u16);
                shares.extend_from_slice(key);
            }
            push_extension(&mut out, EXT_KEY_SHARE, &with_u16_len(&shares));
        }
        if let Some(cookie) = &self.cookie {
            push_extension(&mut out, EXT_COOKIE, &with_u16_len(cookie));
        }
        out
    }
}

/// Where reading a flight may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// The ServerHello is enough (suite and version probes).
    ServerHello,
    /// Read up to ServerHelloDone (certificates, key exchange parameters).
    HelloDone,
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerHello {
    /// `legacy_version` / `server_version`.
    pub(crate) legacy_version: u16,
    /// The negotiated version: supported_versions if present, else `legacy_version`.
    pub(crate) version: u16,
    /// Whether the random is the HelloRetryRequest value.
    pub(crate) retry_request: bool,
    /// The server random.
    pub(crate) random: [u8; 32],
    /// The chosen cipher suite.
    pub(crate) suite: u16,
    /// The chosen compression method.
    pub(crate) compression: u8,
    /// Every extension, in order: (type, data).
    pub(crate) extensions: Vec<(u16, Vec<u8>)>,
}

impl ServerHello {
    /// The data of extension `kind`, if present.
    pub(crate) fn extension(&self, kind: u16) -> Option<&[u8]> {
        self.extensions.iter().find(|(t, _)| *t == kind).map(|(_, data)| data.as_slice())
    }

    /// The key-share group of a TLS 1.3 ServerHello or HelloRetryRequest.
    pub(crate) fn key_share_group(&self) -> Option<u16> {
        self.extension(EXT_KEY_SHARE)
            .filter(|data| data.len() >= 2)
            .map(|data| u16::from_be_bytes([data[0], data[1]]))
    }

    /// The cookie of a HelloRetryRequest.
    pub(crate) fn cookie(&self) -> Option<Vec<u8>> {
        self.extension(EXT_COOKIE).filter(|data| data.len() >= 2).map(|data| data[2..].to_vec())
    }
}

/// An alert record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alert {
    /// 1 warning, 2 fatal (anything else is kept as sent).
    pub(crate) level: u8,
    /// The alert description number.
    pub(crate) description: u8,
}

impl Alert {
    /// Whether the alert ends the handshake: any fatal alert, and any warning other than the
    /// three that RFC 5246 lets a handshake survive (user_canceled, no_renegotiation,
    /// unrecognized_name); a warning-level handshake_failure is still a refusal.
    pub(crate) fn is_fatal(&self) -> bool {
        self.level != 1 || !matches!(self.description, 90 | 100 | 112)
    }
}

/// How a flight ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// A ServerHello arrived (and, with [`Until::HelloDone`], the rest of the flight).
    Hello(ServerHello),
    /// A fatal alert (or a warning the handshake cannot survive).
    Alert(Alert),
    /// The server closed before sending anything decisive.
    Closed,
    /// The bytes are not TLS records.
    NotTls,
    /// TLS records that break the protocol (oversized, unparsable).
    Malformed(String),
    /// The server stopped sending before anything decisive arrived.
    Timeout,
}

/// What the server sent in reply to one ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flight {
    /// How it ended.
    pub(crate) end: End,
    /// Warning alerts seen before the end, in order.
    pub(crate) warnings: Vec<Alert>,
    /// The first bytes of the reply, for evidence.
    pub(crate) head: Vec<u8>,
    /// Certificate DERs of a ≤ TLS 1.2 Certificate message.
    pub(crate) certificates: Vec<Vec<u8>>,
    /// The ServerKeyExchange parameters.
    pub(crate) key_exchange: Option<Vec<u8>>,
    /// A CertificateStatus (OCSP) blob.
    pub(crate) ocsp: Option<Vec<u8>>,
    /// Every whole handshake message received, in order (for a handshake transcript).
    pub(crate) transcript: Vec<u8>,
}

/// How many leading reply bytes are kept as evidence.
pub(crate) const HEAD_BYTES: usize = 24;

/// Incremental parser of a server's reply; feed bytes, ask whether it is done.
#[derive(Debug, Default)]
pub(crate) struct FlightParser {
    buffer: Vec<u8>,
    handshake: Vec<u8>,
    head: Vec<u8>,
    warnings: Vec<Alert>,
    hello: Option<ServerHello>,
    certificates: Vec<Vec<u8>>,
    key_exchange: Option<Vec<u8>>,
    ocsp: Option<Vec<u8>>,
    transcript: Vec<u8>,
    end: Option<End>,
}

impl FlightParser {
    /// Adds received bytes; returns whether the flight is decided.
    pub(crate) fn push(&mut self, bytes: &[u8], until: Until) -> bool {
        if self.head.len() < HEAD_BYTES {
            let room = HEAD_BYTES - self.head.len();
            self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        self.buffer.extend_from_slice(bytes);
        while self.end.is_none() {
            match self.next_record() {
                Some(record) => self.on_record(record, until),
                None => break,
            }
        }
        self.end.is_some()
    }

    /// Ends the flight: with what was decided, or with `end` if nothing was.
    pub(crate) fn finish(self, end: End) -> Flight {
        let end = match (self.end, self.hello) {
            (Some(decided), _) => decided,
            // A ServerHello without the rest of the flight still shows the server's choice.
            (None, Some(hello)) => End::Hello(hello),
            (None, None) if self.head.is_empty() && end == End::Timeout => End::Timeout,
            (None, None) => end,
        };
        Flight {
            end,
            warnings: self.warnings,
            head: self.head,
            certificates: self.certificates,
            key_exchange: self.key_exchange,
            ocsp: self.ocsp,
            transcript: self.transcript,
        }
    }

    /// Splits the next complete record off the buffer, or decides the flight on bad bytes.
    fn next_record(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buffer.is_empty() {
            return None;
        }
        if !plausible_header(&self.buffer) {
            self.end = Some(End::NotTls);
            return None;
        }
        if self.buffer.len() < 5 {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([self.buffer[3], self.buffer[4]]));
        if length > MAX_RECORD_PAYLOAD {
            self.end = Some(End::Malformed(format!("oversized record of {length} bytes")));
            return None;
        }
        if self.buffer.len() < 5 + length {
            return None;
        }
        let kind = self.buffer[0];
        let payload = self.buffer[5..5 + length].to_vec();
        self.buffer.drain(..5 + length);
        Some((kind, payload))
    }

    fn on_record(&mut self, (kind, payload): (u8, Vec<u8>), until: Until) {
        match kind {
            21 => self.on_alert(&payload),
            22 => self.on_handshake(&payload, until),
            // ChangeCipherSpec (TLS 1.3 middlebox compatibility) and encrypted records after a
            // TLS 1.3 ServerHello are skipped; the hello has decided by then.
            20 | 23 => {
                if self.hello.is_none() && kind == 23 {
                    self.end = Some(End::Malformed("application data before hello".into()));
                }
            }
            _ => self.end = Some(End::Malformed(format!("record type {kind}"))),
        }
    }

    fn on_alert(&mut self, payload: &[u8]) {
        if payload.len() != 2 {
            self.end = Some(End::Malformed(format!("alert of {} bytes", payload.len())));
            return;
        }
        let alert = Alert { level: payload[0], description: payload[1] };
        if alert.is_fatal() {
            self.end = Some(End::Alert(alert));
        } else {
            self.warnings.push(alert);
        }
    }

    fn on_handshake(&mut self, payload: &[u8], until: Until) {
        self.handshake.extend_from_slice(payload);
        while self.handshake.len() >= 4 && self.end.is_none() {
            let length =
                u32::from_be_bytes([0, self.handshake[1], self.handshake[2], self.handshake[3]]);
            let total = 4 + length as usize;
            if total > 256 * 1024 {
                self.end = Some(End::Malformed(format!("handshake message of {length} bytes")));
                return;
            }
            if self.handshake.len() < total {
                return;
            }
            let message: Vec<u8> = self.handshake.drain(..total).collect();
            self.transcript.extend_from_slice(&message);
            self.on_message(&message, until);
        }
    }

    fn on_message(&mut self, message: &[u8], until: Until) {
        let kind = message[0];
        if self.hello.is_none() && kind != 2 {
            self.end = Some(End::Malformed(format!("handshake type {kind} before hello")));
            return;
        }
        match kind {
            2 => match parse_server_hello(message) {
                Ok(hello) => {
                    let decided = until == Until::ServerHello
                        || hello.version == TLS13
                        || hello.retry_request;
                    if decided {
                        self.end = Some(End::Hello(hello.clone()));
                    }
                    self.hello = Some(hello);
                }
                Err(reason) => self.end = Some(End::Malformed(reason)),
            },
            11 => self.certificates = parse_certificates(message),
            12 => self.key_exchange = Some(message[4..].to_vec()),
            22 => self.ocsp = parse_ocsp(message),
            14 => {
                let hello = self.hello.clone().expect("checked above: hello precedes");
                self.end = Some(End::Hello(hello));
            }
            _ => {}
        }
    }
}

/// Whether `bytes` can start a TLS record: known type, major version 3, sane minor.
fn plausible_header(bytes: &[u8]) -> bool {
    let type_ok = matches!(bytes[0], 20..=24);
    let major_ok = bytes.len() < 2 || bytes[1] == 3;
    let minor_ok = bytes.len() < 3 || bytes[2] <= 4;
    type_ok && major_ok && minor_ok
}

fn parse_server_hello(message: &[u8]) -> Result<ServerHello, String> {
    let parsed =
        parse_tls_message_handshake(message).map_err(|_| "unparsable server hello".to_string())?;
    let contents = match parsed.1 {
        TlsMessage::Handshake(TlsMessageHandshake::ServerHello(contents)) => contents,
        _ => return Err("unsupported server hello form".to_string()),
    };
    let extensions = match contents.ext {
        Some(raw) => split_extensions(raw)?,
        None => Vec::new(),
    };
    let legacy_version = contents.version.0;
    let mut hello = ServerHello {
        legacy_version,
        version: legacy_version,
        retry_request: contents.random == HRR_RANDOM,
        random: contents.random.try_into().unwrap_or([0; 32]),
        suite: contents.cipher.0,
        compression: contents.compression.0,
        extensions,
    };
    if let Some(data) = hello.extension(EXT_SUPPORTED_VERSIONS) {
        if data.len() == 2 {
            hello.version = u16::from_be_bytes([data[0], data[1]]);
        }
    }
    Ok(hello)
}

fn split_extensions(mut raw: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        if raw.len() < 4 {
            return Err("truncated server hello extension".to_string());
        }
        let kind = u16::from_be_bytes([raw[0], raw[1]]);
        let length = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
        if raw.len() < 4 + length {
            return Err(format!("truncated server hello extension {kind}"));
        }
        out.push((kind, raw[4..4 + length].to_vec()));
        raw = &raw[4 + length..];
    }
    Ok(out)
}

fn parse_certificates(message: &[u8]) -> Vec<Vec<u8>> {
    match parse_tls_message_handshake(message) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(contents)))) => {
            contents.cert_chain.iter().map(|raw| raw.data.to_vec()).collect()
        }
        _ => Vec::new(),
    }
}

fn parse_ocsp(message: &[u8]) -> Option<Vec<u8>> {
    match parse_tls_message_handshake(message) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::CertificateStatus(status)))) => {
            Some(status.blob.to_vec())
        }
        _ => None,
    }
}

/// The named group of an ECDHE ServerKeyExchange, or the prime size in bits of a DHE one.
pub(crate) fn key_exchange_params(params: &[u8], ecdhe: bool) -> Option<(u16, u32)> {
    if ecdhe {
        // curve_type 3 (named_curve), then the group
        if params.len() >= 3 && params[0] == 3 {
            return Some((u16::from_be_bytes([params[1], params[2]]), 0));
        }
        return None;
    }
    if params.len() < 2 {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([params[0], params[1]]));
    let prime = params.get(2..2 + length)?;
    let leading = prime.iter().position(|b| *b != 0)?;
    let significant = &prime[leading..];
    let bits = significant.len() as u32 * 8 - significant[0].leading_zeros();
    Some((0, bits))
}

fn fresh_random() -> [u8; 32] {
    let mut random = [0u8; 32];
    // ring's system random; a failure leaves a fixed pattern, which is harmless for probing.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    random
}

fn push_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn push_u24(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u32).to_be_bytes()[1..]);
}

fn with_u16_len(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    push_u16(&mut out, data.len() as u16);
    out.extend_from_slice(data);
    out
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    let mut list = Vec::new();
    for value in values {
        push_u16(&mut list, *value);
    }
    with_u16_len(&list)
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    push_u16(out, kind);
    push_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], until: Until) -> Flight {
        let mut parser = FlightParser::default();
        parser.push(bytes, until);
        parser.finish(End::Closed)
    }

    fn server_hello(version: u16, suite: u16, extensions: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        push_u16(&mut body, version);
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        push_u16(&mut body, suite);
        body.push(0);
        push_u16(&mut body, extensions.len() as u16);
        body.extend_from_slice(extensions);
        let mut message = vec![2];
        push_u24(&mut message, body.len());
        message.extend_from_slice(&body);
        let mut record = vec![22, 3, 3];
        push_u16(&mut record, message.len() as u16);
        record.extend_from_slice(&message);
        record
    }

    #[test]
    fn client_hello_parses_back_with_tls_parser() {
        let mut hello = ClientHello::new(TLS12, vec![0xc02f, SCSV_RENEGOTIATION], None);
        hello.sni = Some("www.example.test".to_string());
        hello.groups = vec![0x001d];
        let bytes = hello.encode();
        let (_, record) = tls_parser::parse_tls_plaintext(&bytes).expect("parses");
        let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(parsed)) = &record.msg[0] else {
            panic!("not a client hello: {:?}", record.msg);
        };
        assert_eq!(parsed.version.0, TLS12);
        let suites: Vec<u16> = parsed.ciphers.iter().map(|c| c.0).collect();
        assert_eq!(suites, [0xc02f, 0x00ff]);
        let (_, extensions) =
            tls_parser::parse_tls_client_hello_extensions(parsed.ext.expect("extensions"))
                .expect("extensions parse");
        assert!(extensions.contains(&tls_parser::TlsExtension::SNI(vec![(
            tls_parser::SNIType::HostName,
            b"www.example.test".as_slice()
        )])));
    }

    #[test]
    fn warning_alert_is_skipped_and_fatal_decides() {
        let bytes = [0x15, 3, 3, 0, 2, 1, 0x70, 0x15, 3, 3, 0, 2, 2, 0x28];
        let flight = parse(&bytes, Until::ServerHello);
        assert_eq!(flight.end, End::Alert(Alert { level: 2, description: 40 }));
        assert_eq!(flight.warnings, [Alert { level: 1, description: 112 }]);
        assert_eq!(flight.head, bytes);
    }

    #[test]
    fn warning_level_refusals_and_close_notify_end_the_flight() {
        let flight = parse(&[0x15, 3, 3, 0, 2, 1, 40], Until::ServerHello);
        assert_eq!(flight.end, End::Alert(Alert { level: 1, description: 40 }));
        let flight = parse(&[0x15, 3, 3, 0, 2, 1, 0], Until::ServerHello);
        assert_eq!(flight.end, End::Alert(Alert { level: 1, description: 0 }));
    }

    #[test]
    fn warning_alert_then_hello_is_a_hello() {
        let mut bytes = vec![0x15, 3, 3, 0, 2, 1, 0x70];
        bytes.extend(server_hello(TLS12, 0xc02f, &[0xff, 0x01, 0, 1, 0]));
        let flight = parse(&bytes, Until::ServerHello);
        let End::Hello(hello) = flight.end else { panic!("{:?}", flight.end) };
        assert_eq!(hello.suite, 0xc02f);
        assert_eq!(hello.extension(EXT_RENEGOTIATION_INFO), Some([0u8].as_slice()));
        assert_eq!(flight.warnings.len(), 1);
    }

    #[test]
    fn http_reply_is_not_tls_and_oversized_record_is_malformed() {
        let flight = parse(b"HTTP/1.1 400 Bad Request\r\n", Until::ServerHello);
        assert_eq!(flight.end, End::NotTls);
        assert_eq!(flight.head, b"HTTP/1.1 400 Bad Request");
        let flight = parse(&[22, 3, 3, 0xff, 0xff, 0], Until::ServerHello);
        assert_eq!(flight.end, End::Malformed("oversized record of 65535 bytes".into()));
    }

    #[test]
    fn hello_retry_request_is_recognised_with_its_group() {
        let mut record = server_hello(TLS12, 0x1302, &[0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 0x18]);
        // random starts after record header (5), handshake header (4) and version (2)
        record[11..43].copy_from_slice(&HRR_RANDOM);
        let flight = parse(&record, Until::HelloDone);
        let End::Hello(hello) = flight.end else { panic!("{:?}", flight.end) };
        assert!(hello.retry_request);
        assert_eq!(hello.version, TLS13);
        assert_eq!(hello.key_share_group(), Some(0x0018));
    }

    #[test]
    fn partial_bytes_wait_and_split_records_reassemble() {
        let record = server_hello(TLS11, 0x002f, &[]);
        let mut parser = FlightParser::default();
        assert!(!parser.push(&record[..3], Until::ServerHello));
        assert!(parser.push(&record[3..], Until::ServerHello));
        let flight = parser.finish(End::Closed);
        assert!(matches!(flight.end, End::Hello(ServerHello { version: TLS11, .. })));
    }

    #[test]
    fn dh_prime_size_and_named_curve_are_read() {
        let mut dh = vec![0, 3, 0x00, 0x80, 0x01];
        dh.extend_from_slice(&[0, 1, 2]);
        assert_eq!(key_exchange_params(&dh, false), Some((0, 16)));
        assert_eq!(key_exchange_params(&[3, 0, 0x1d, 32], true), Some((0x1d, 0)));
    }
}
