//! Client-initiated renegotiation: whether the server starts a new handshake when the client
//! asks for one inside an established TLS 1.2 session.
//!
//! Owns one connection that completes a real TLS 1.2 handshake (ECDHE with X25519 or P-256,
//! AES-128-GCM, the RFC 5246 PRF, extended master secret when the server agrees) and then sends
//! an encrypted ClientHello carrying RFC 5746 renegotiation_info with the client verify_data. A
//! ServerHello in reply is `supported`; a no_renegotiation or fatal alert, or a close, is
//! `not_supported`. Nothing but these records and a closing close_notify is sent, and no
//! application data.
//!
//! Written here because no TLS library we may depend on can do it: rustls refuses
//! renegotiation by design, and OpenSSL is excluded (the collector's verdicts must never
//! depend on a local TLS library's policy). The cryptography is ring's (agreement, HMAC, AEAD,
//! SHA-256); only the TLS 1.2 record and key schedule glue is ours. The server's signature is
//! not checked: this probe observes behaviour, `cert` judges the certificate.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::{digest, hmac, rand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::net::Dialer;
use super::probe::{alert_text, end_reason, Feature};
use super::wire::{
    ClientHello, End, Flight, Until, EXT_EXTENDED_MASTER_SECRET, SCSV_RENEGOTIATION, TLS12,
};

/// The suites this probe can finish a handshake with (ECDHE, AES-128-GCM, SHA-256 PRF).
// FIXME(renegotiation-suites): servers without these (AES-256-GCM only, CBC only, or nothing
// newer than TLS 1.1) get `not_tested`; the SHA-384 PRF and CBC-HMAC records would cover them.
const SUITES: [u16; 2] = [0xc02f, 0xc02b];

/// Runs the probe at `version` with `hello` (the suites are narrowed here).
pub(crate) async fn probe(dialer: &Dialer, hello: ClientHello, version: u16) -> Feature {
    if version != TLS12 {
        let reason = "probed with tls 1.2 only; the server's newest version before 1.3 is older";
        return Feature::new("not_tested", reason, None);
    }
    let suites: Vec<u16> = hello.suites.iter().copied().filter(|s| SUITES.contains(s)).collect();
    if suites.is_empty() {
        let reason = "needs ECDHE with AES-128-GCM (0xc02f or 0xc02b) to finish a handshake";
        return Feature::new("not_tested", reason, None);
    }
    let Ok((mut stream, _)) = dialer.open().await else {
        return Feature::new("inconclusive", "no connection", None);
    };
    let mut first = hello;
    first.suites = suites.clone();
    first.suites.push(SCSV_RENEGOTIATION);
    first.groups = vec![0x001d, 0x0017];
    first.heartbeat = false;
    let flight = dialer.send_and_read(&mut stream, &first.encode(), Until::HelloDone).await;
    let mut session = match Session::establish(&first, &flight) {
        Ok(session) => session,
        Err(reason) => return Feature::new("inconclusive", reason, Some(&flight)),
    };
    let records = session.client_flight();
    if !matches!(timeout(dialer.read_timeout, stream.write_all(&records)).await, Ok(Ok(()))) {
        return Feature::new("inconclusive", "client finished could not be sent", None);
    }
    if let Err(reason) = session.read_server_finished(&mut stream, dialer).await {
        return Feature::new("inconclusive", reason, Some(&flight));
    }
    let mut again = first.clone();
    again.suites = suites;
    again.random = fresh_random();
    again.renegotiation_info = true;
    again.renegotiated_verify_data = session.client_verify.clone();
    // close_notify right behind the hello: the server answers the hello first, then finds the
    // connection ending instead of waiting for more (OpenSSL's s_server -www sleeps a second,
    // stalling every other client, when a read finds nothing).
    let mut records = session.seal(22, &again.message());
    records.extend(session.seal(21, &[1, 0]));
    if !matches!(timeout(dialer.read_timeout, stream.write_all(&records)).await, Ok(Ok(()))) {
        return Feature::new("inconclusive", "renegotiation hello could not be sent", None);
    }
    session.answer(&mut stream, dialer).await
}

/// An established TLS 1.2 session's keys and sequence numbers.
struct Session {
    version: u16,
    client_key: LessSafeKey,
    server_key: LessSafeKey,
    client_iv: [u8; 4],
    server_iv: [u8; 4],
    client_seq: u64,
    server_seq: u64,
    client_verify: Vec<u8>,
    key_exchange: Vec<u8>,
}

impl Session {
    /// Derives the keys from the server's first flight; the ClientKeyExchange is kept to send.
    fn establish(hello: &ClientHello, flight: &Flight) -> Result<Session, String> {
        let End::Hello(server) = &flight.end else {
            return Err(end_reason(&flight.end));
        };
        // A suite that was not offered is a protocol violation `probe` reports; no session.
        if server.version != TLS12 || !hello.suites.contains(&server.suite) {
            return Err(format!("server chose suite 0x{:04x}", server.suite));
        }
        let params = flight.key_exchange.as_deref().ok_or("no server key exchange")?;
        let (group, point) = ecdhe_point(params).ok_or("unreadable server key exchange")?;
        let algorithm = match group {
            0x001d => &agreement::X25519,
            0x0017 => &agreement::ECDH_P256,
            other => return Err(format!("server chose group 0x{other:04x}")),
        };
        let rng = rand::SystemRandom::new();
        let private = EphemeralPrivateKey::generate(algorithm, &rng).map_err(|_| "keygen")?;
        let public = private.compute_public_key().map_err(|_| "public key")?.as_ref().to_vec();
        let premaster = agreement::agree_ephemeral(
            private,
            &UnparsedPublicKey::new(algorithm, point),
            |shared| shared.to_vec(),
        )
        .map_err(|_| "server key share rejected by the key agreement")?;
        let mut key_exchange = vec![16];
        key_exchange.extend_from_slice(&((public.len() + 1) as u32).to_be_bytes()[1..]);
        key_exchange.push(public.len() as u8);
        key_exchange.extend_from_slice(&public);
        let mut transcript = hello.message();
        transcript.extend_from_slice(&flight.transcript);
        transcript.extend_from_slice(&key_exchange);
        let master = if server.extension(EXT_EXTENDED_MASTER_SECRET).is_some() {
            prf(&premaster, b"extended master secret", sha256(&transcript).as_ref(), 48)
        } else {
            let seed = [&hello.random[..], &server.random[..]].concat();
            prf(&premaster, b"master secret", &seed, 48)
        };
        let seed = [&server.random[..], &hello.random[..]].concat();
        let block = prf(&master, b"key expansion", &seed, 40);
        let key = |range: std::ops::Range<usize>| {
            UnboundKey::new(&AES_128_GCM, &block[range]).map(LessSafeKey::new)
        };
        let finished = prf(&master, b"client finished", sha256(&transcript).as_ref(), 12);
        Ok(Session {
            version: server.legacy_version,
            client_key: key(0..16).map_err(|_| "client key")?,
            server_key: key(16..32).map_err(|_| "server key")?,
            client_iv: block[32..36].try_into().map_err(|_| "client iv")?,
            server_iv: block[36..40].try_into().map_err(|_| "server iv")?,
            client_seq: 0,
            server_seq: 0,
            client_verify: finished,
            key_exchange,
        })
    }

    /// ClientKeyExchange, ChangeCipherSpec and the encrypted Finished.
    fn client_flight(&mut self) -> Vec<u8> {
        let mut out = record(22, self.version, &self.key_exchange);
        out.extend(record(20, self.version, &[1]));
        let mut finished = vec![20, 0, 0, 12];
        finished.extend_from_slice(&self.client_verify);
        out.extend(self.seal(22, &finished));
        out
    }

    /// An encrypted record (explicit nonce = sequence number).
    fn seal(&mut self, kind: u8, plaintext: &[u8]) -> Vec<u8> {
        let explicit = self.client_seq.to_be_bytes();
        let nonce = [&self.client_iv[..], &explicit[..]].concat();
        let aad = additional_data(self.client_seq, kind, self.version, plaintext.len());
        self.client_seq += 1;
        let mut body = plaintext.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(&nonce).expect("12-byte nonce");
        // Sealing with a valid key and nonce cannot fail for records this small.
        let _ = self.client_key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut body);
        let mut content = explicit.to_vec();
        content.extend(body);
        record(kind, self.version, &content)
    }

    fn open(&mut self, kind: u8, content: &[u8]) -> Option<Vec<u8>> {
        let explicit = content.get(..8)?;
        let nonce = [&self.server_iv[..], explicit].concat();
        let length = content.len().checked_sub(8 + 16)?;
        let aad = additional_data(self.server_seq, kind, self.version, length);
        self.server_seq += 1;
        let mut body = content[8..].to_vec();
        let nonce = Nonce::try_assume_unique_for_key(&nonce).ok()?;
        let plain = self.server_key.open_in_place(nonce, Aad::from(aad), &mut body).ok()?;
        Some(plain.to_vec())
    }

    /// ChangeCipherSpec then an encrypted Finished that decrypts: the handshake is complete.
    async fn read_server_finished(
        &mut self,
        stream: &mut TcpStream,
        dialer: &Dialer,
    ) -> Result<(), String> {
        let deadline = Instant::now() + dialer.read_timeout;
        let mut changed = false;
        for _ in 0..8 {
            let (kind, content) = read_record(stream, deadline).await?;
            match (kind, changed) {
                (20, _) => changed = true,
                (21, false) if content.len() == 2 => {
                    let alert = super::wire::Alert { level: content[0], description: content[1] };
                    if alert.is_fatal() {
                        return Err(format!("handshake refused: {}", alert_text(&alert)));
                    }
                }
                (22, true) => {
                    return match self.open(22, &content) {
                        Some(plain) if plain.first() == Some(&20) => Ok(()),
                        _ => Err("server finished does not decrypt".into()),
                    };
                }
                (22, false) => continue,
                (other, _) => return Err(format!("record type {other} before server finished")),
            }
        }
        Err("no server finished".into())
    }

    /// The server's answer to the renegotiation hello.
    async fn answer(&mut self, stream: &mut TcpStream, dialer: &Dialer) -> Feature {
        let deadline = Instant::now() + dialer.read_timeout;
        let (kind, content) = match read_record(stream, deadline).await {
            Ok(found) => found,
            Err(reason) if reason == "closed" => {
                let reason = "connection closed on the renegotiation hello";
                return Feature::new("not_supported", reason, None);
            }
            Err(reason) => return Feature::new("inconclusive", reason, None),
        };
        let head = hex::encode(&content[..content.len().min(5)]);
        let Some(plain) = self.open(kind, &content) else {
            return Feature::new("inconclusive", "server record does not decrypt", None);
        };
        let (status, reason) = match (kind, plain.as_slice()) {
            (22, [2, ..]) => ("supported", "server hello in reply to a renegotiation hello".into()),
            (22, [0, ..]) => {
                ("supported", "hello request in reply to a renegotiation hello".into())
            }
            (21, [level, description]) => {
                let alert = super::wire::Alert { level: *level, description: *description };
                ("not_supported", format!("renegotiation refused: {}", alert_text(&alert)))
            }
            (kind, _) => ("inconclusive", format!("unexpected record type {kind}")),
        };
        Feature { status, reason: Some(reason), reply_hex: format!("{kind:02x}{head}") }
    }
}

/// The named group and public point of an ECDHE ServerKeyExchange.
fn ecdhe_point(params: &[u8]) -> Option<(u16, &[u8])> {
    if params.len() < 4 || params[0] != 3 {
        return None;
    }
    let group = u16::from_be_bytes([params[1], params[2]]);
    let length = usize::from(params[3]);
    Some((group, params.get(4..4 + length)?))
}

async fn read_record(stream: &mut TcpStream, deadline: Instant) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0u8; 5];
    let left = deadline.saturating_duration_since(Instant::now());
    match timeout(left, stream.read_exact(&mut header)).await {
        Err(_) => return Err("timeout".into()),
        Ok(Err(_)) => return Err("closed".into()),
        Ok(Ok(_)) => {}
    }
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if length > super::wire::MAX_RECORD_PAYLOAD {
        return Err(format!("oversized record of {length} bytes"));
    }
    let mut content = vec![0u8; length];
    let left = deadline.saturating_duration_since(Instant::now());
    match timeout(left, stream.read_exact(&mut content)).await {
        Err(_) => Err("timeout".into()),
        Ok(Err(_)) => Err("closed".into()),
        Ok(Ok(_)) => Ok((header[0], content)),
    }
}

fn record(kind: u8, version: u16, content: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(content);
    out
}

fn additional_data(seq: u64, kind: u8, version: u16, length: usize) -> Vec<u8> {
    let mut aad = seq.to_be_bytes().to_vec();
    aad.push(kind);
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&(length as u16).to_be_bytes());
    aad
}

fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

/// The TLS 1.2 PRF with HMAC-SHA256 (RFC 5246, 5).
fn prf(secret: &[u8], label: &[u8], seed: &[u8], length: usize) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(length + 32);
    while out.len() < length {
        out.extend_from_slice(hmac::sign(&key, &[&a[..], &seed[..]].concat()).as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(length);
    out
}

fn fresh_random() -> [u8; 32] {
    let mut random = [0u8; 32];
    let _ = rand::SecureRandom::fill(&rand::SystemRandom::new(), &mut random);
    random
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_matches_the_published_tls12_sha256_vector() {
        // The widely used TLS 1.2 PRF-SHA256 test vector (secret, "test label", seed).
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").expect("hex");
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").expect("hex");
        let out = prf(&secret, b"test label", &seed, 16);
        assert_eq!(hex::encode(out), "e3f229ba727be17b8d122620557cd453");
    }

    #[test]
    fn ecdhe_point_is_read_from_server_key_exchange() {
        let params = [3, 0, 0x1d, 3, 1, 2, 3, 0xff];
        assert_eq!(ecdhe_point(&params), Some((0x1d, [1u8, 2, 3].as_slice())));
        assert_eq!(ecdhe_point(&[3, 0, 0x1d, 9, 1]), None);
    }
}
