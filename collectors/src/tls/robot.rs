//! The ROBOT (Bleichenbacher oracle) probe, repeated over rounds before any verdict.
//!
//! Owns sending ClientKeyExchange messages with one well-formed and four malformed PKCS #1
//! v1.5 premaster secrets (encrypted with the server's own RSA key), each followed by
//! ChangeCipherSpec and a dummy Finished, and comparing how the server reacts. A server that
//! reacts the same way to all five is not vulnerable; one whose reactions differ between
//! variants, consistently in every round, has an oracle; one whose reactions change between
//! rounds (load balancers, flaky back ends) gets `inconclusive`, never a verdict either way.
//! It sends nothing but these probes; `probe` decides whether RSA key exchange is offered.

use num_bigint::BigUint;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::net::Dialer;
use super::wire::{ClientHello, End, Flight, Until, SCSV_RENEGOTIATION};

/// Rounds of the five variants sent before any verdict; a would-be `vulnerable` verdict gets
/// [`CONFIRM_ROUNDS`] in all, since noise that repeats itself by chance must not make one.
pub(crate) const ROUNDS: usize = 2;
/// Rounds before a `vulnerable` verdict.
pub(crate) const CONFIRM_ROUNDS: usize = 3;

/// The variants, in the order they are reported.
const VARIANTS: [&str; 5] =
    ["valid_padding", "wrong_first_bytes", "wrong_zero_position", "no_zero", "wrong_version"];

/// The ROBOT verdict with the reactions of every round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Robot {
    /// `not_vulnerable`, `vulnerable`, `inconclusive` or `not_applicable`.
    pub(crate) status: &'static str,
    /// Why.
    pub(crate) reason: String,
    /// Per round, per variant: the server's reaction (`alert 20`, `closed`, `timeout`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) rounds: Vec<Vec<String>>,
}

/// Runs the probe with `version` and the accepted RSA key-transport `suites`.
pub(crate) async fn probe(
    dialer: &Dialer,
    sni: Option<String>,
    version: u16,
    suites: &[u16],
) -> Robot {
    if suites.is_empty() {
        return Robot {
            status: "not_applicable",
            reason: "no RSA key exchange suites".into(),
            rounds: Vec::new(),
        };
    }
    let mut rounds = Vec::new();
    while rounds.len() < ROUNDS || needs_confirmation(&rounds) {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, _) in VARIANTS.iter().enumerate() {
            let (dialer, sni, suites) = (dialer.clone(), sni.clone(), suites.to_vec());
            tasks.spawn(
                async move { (index, reaction(&dialer, sni, version, &suites, index).await) },
            );
        }
        let mut round = vec![String::new(); VARIANTS.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, text)) = joined {
                round[index] = text;
            }
        }
        rounds.push(round);
    }
    verdict(rounds)
}

/// Whether the rounds so far point to an oracle that has not been seen often enough yet.
fn needs_confirmation(rounds: &[Vec<String>]) -> bool {
    rounds.len() < CONFIRM_ROUNDS && verdict(rounds.to_vec()).status == "vulnerable"
}

fn verdict(rounds: Vec<Vec<String>>) -> Robot {
    let unusable = rounds.iter().flatten().any(|r| r.starts_with("no "));
    let consistent = rounds.windows(2).all(|pair| pair[0] == pair[1]);
    let (status, reason) = if unusable {
        ("inconclusive", "a handshake could not be brought to the key exchange".to_string())
    } else if !consistent {
        ("inconclusive", "inconsistent results between rounds".to_string())
    } else if rounds[0].iter().all(|r| *r == rounds[0][0]) {
        ("not_vulnerable", "same reaction to every premaster variant in every round".to_string())
    } else {
        ("vulnerable", "reactions differ between premaster variants, consistently".to_string())
    };
    Robot { status, reason, rounds }
}

/// One variant on one connection: the server's reaction, described.
async fn reaction(
    dialer: &Dialer,
    sni: Option<String>,
    version: u16,
    suites: &[u16],
    variant: usize,
) -> String {
    let mut offered = suites.to_vec();
    offered.push(SCSV_RENEGOTIATION);
    let hello = ClientHello::new(version, offered, sni);
    let Ok((mut stream, _)) = dialer.open().await else {
        return "no connection".to_string();
    };
    let flight = dialer.send_and_read(&mut stream, &hello.encode(), Until::HelloDone).await;
    let End::Hello(server) = &flight.end else {
        return "no server hello".to_string();
    };
    let Some((modulus, exponent)) = flight.certificates.first().and_then(|der| rsa_key(der)) else {
        return "no rsa certificate".to_string();
    };
    let premaster = premaster(variant, modulus_len(&modulus), version);
    let encrypted = encrypt(&premaster, &modulus, &exponent);
    let bytes = key_exchange_records(&encrypted, server.legacy_version);
    describe(&dialer.send_and_read(&mut stream, &bytes, Until::ServerHello).await)
}

fn describe(flight: &Flight) -> String {
    match &flight.end {
        End::Alert(alert) => format!("alert {}", alert.description),
        End::Closed => "closed".to_string(),
        End::Timeout => "timeout".to_string(),
        End::NotTls => "non-tls".to_string(),
        End::Malformed(_) => "malformed".to_string(),
        End::Hello(_) => "handshake".to_string(),
    }
}

fn rsa_key(der: &[u8]) -> Option<(BigUint, BigUint)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    match cert.public_key().parsed().ok()? {
        PublicKey::RSA(key) => {
            Some((BigUint::from_bytes_be(key.modulus), BigUint::from_bytes_be(key.exponent)))
        }
        _ => None,
    }
}

fn modulus_len(modulus: &BigUint) -> usize {
    (modulus.bits() as usize).div_ceil(8)
}

/// A `k`-byte PKCS #1 v1.5 block holding a 48-byte premaster, well-formed or broken.
fn premaster(variant: usize, k: usize, version: u16) -> Vec<u8> {
    let mut block = vec![0u8; k.max(60)];
    let k = block.len();
    fill_nonzero(&mut block[2..k - 49]);
    fill_nonzero(&mut block[k - 46..]);
    block[0] = 0x00;
    block[1] = 0x02;
    block[k - 49] = 0x00;
    block[k - 48..k - 46].copy_from_slice(&version.to_be_bytes());
    match variant {
        1 => block[..2].copy_from_slice(&[0x41, 0x17]),
        2 => {
            block[k - 49] = 0x11;
            block[10] = 0x00;
        }
        3 => block[k - 49] = 0x11,
        4 => block[k - 48..k - 46].copy_from_slice(&[0x02, 0x02]),
        _ => {}
    }
    block
}

fn fill_nonzero(bytes: &mut [u8]) {
    let rng = ring::rand::SystemRandom::new();
    let _ = ring::rand::SecureRandom::fill(&rng, bytes);
    for byte in bytes.iter_mut() {
        if *byte == 0 {
            *byte = 0x5a;
        }
    }
}

/// Textbook RSA: block^e mod n, left-padded to the modulus length.
fn encrypt(block: &[u8], modulus: &BigUint, exponent: &BigUint) -> Vec<u8> {
    let k = modulus_len(modulus);
    let value = BigUint::from_bytes_be(block).modpow(exponent, modulus);
    let bytes = value.to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes);
    out
}

/// ClientKeyExchange, ChangeCipherSpec and a dummy (undecryptable) Finished, in one write.
fn key_exchange_records(encrypted: &[u8], version: u16) -> Vec<u8> {
    let [major, minor] = version.to_be_bytes();
    let body_len = encrypted.len() + 2;
    let mut handshake = vec![16];
    handshake.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&(encrypted.len() as u16).to_be_bytes());
    handshake.extend_from_slice(encrypted);
    let mut out = vec![22, major, minor];
    out.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    out.extend_from_slice(&handshake);
    out.extend_from_slice(&[20, major, minor, 0, 1, 1]);
    let mut finished = vec![0u8; 40];
    fill_nonzero(&mut finished);
    out.extend_from_slice(&[22, major, minor, 0, 40]);
    out.extend_from_slice(&finished);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premaster_variants_break_exactly_one_rule() {
        let good = premaster(0, 256, 0x0303);
        assert_eq!((good.len(), good[0], good[1], good[256 - 49]), (256, 0, 2, 0));
        assert_eq!(&good[256 - 48..256 - 46], &[3, 3]);
        assert!(good[2..256 - 49].iter().all(|b| *b != 0));
        assert_eq!(&premaster(1, 256, 0x0303)[..2], &[0x41, 0x17]);
        let early = premaster(2, 256, 0x0303);
        assert_eq!((early[10], early[256 - 49]), (0, 0x11));
        assert!(premaster(3, 256, 0x0303)[2..].iter().all(|b| *b != 0));
        assert_eq!(&premaster(4, 256, 0x0303)[256 - 48..256 - 46], &[2, 2]);
    }

    #[test]
    fn textbook_rsa_matches_a_known_value() {
        // 42^17 mod 3233 = 2557 (the classic small RSA example), left-padded to 2 bytes.
        let (n, e) = (BigUint::from(3233u32), BigUint::from(17u32));
        assert_eq!(encrypt(&[42], &n, &e), 2557u16.to_be_bytes());
    }

    #[test]
    fn rounds_that_differ_are_inconclusive_never_a_verdict() {
        let same = vec!["alert 20".to_string(); 5];
        let mut other = same.clone();
        other[2] = "alert 51".to_string();
        assert_eq!(verdict(vec![same.clone(), same.clone()]).status, "not_vulnerable");
        assert_eq!(verdict(vec![other.clone(), other.clone()]).status, "vulnerable");
        let noisy = verdict(vec![same, other]);
        assert_eq!(
            (noisy.status, noisy.reason.as_str()),
            ("inconclusive", "inconsistent results between rounds")
        );
    }
}
