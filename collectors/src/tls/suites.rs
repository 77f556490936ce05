//! Names and classes of protocol versions, cipher suites and key-exchange groups.
//!
//! Owns what a number on the wire means: the IANA suite table comes from `tls-parser`, and this
//! module sorts suites into the families the issue names (RC4, 3DES, DES, export, NULL,
//! anonymous, forward secret, AEAD) and knows the strength of the groups offered. It sends
//! nothing and judges nothing; `probe` and `grade` use it.

use tls_parser::{TlsCipherEnc, TlsCipherKx, TlsCipherMac, TlsCipherSuite, CIPHERS};

use super::wire::{SCSV_FALLBACK, SCSV_RENEGOTIATION, SSL3, TLS10, TLS11, TLS12, TLS13};

/// The protocol versions probed, oldest first.
pub(crate) const VERSIONS: [u16; 5] = [SSL3, TLS10, TLS11, TLS12, TLS13];

/// The stable name of a protocol version, as used in facts.
pub(crate) fn version_name(version: u16) -> String {
    match version {
        SSL3 => "ssl3".to_string(),
        TLS10 => "tls1_0".to_string(),
        TLS11 => "tls1_1".to_string(),
        TLS12 => "tls1_2".to_string(),
        TLS13 => "tls1_3".to_string(),
        other => format!("0x{other:04x}"),
    }
}

/// The SSL Labs protocol score of a version (SSL 3.0 80, TLS 1.0 90, TLS 1.1 95, newer 100).
pub(crate) fn protocol_score(version: u16) -> u32 {
    match version {
        SSL3 => 80,
        TLS10 => 90,
        TLS11 => 95,
        _ => 100,
    }
}

/// The TLS 1.3 suites (RFC 8446 and RFC 9150 excluded).
pub(crate) const TLS13_SUITES: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

/// Every suite of the IANA table usable before TLS 1.3, in ascending order; no SCSVs.
pub(crate) fn legacy_suites() -> Vec<u16> {
    let mut ids: Vec<u16> = CIPHERS
        .values()
        .filter(|suite| suite.kx != TlsCipherKx::Tls13)
        .map(|suite| suite.id.0)
        .filter(|id| *id != SCSV_RENEGOTIATION && *id != SCSV_FALLBACK && *id != 0)
        .collect();
    ids.sort_unstable();
    ids
}

/// The IANA name of a suite, or its number.
pub(crate) fn suite_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|suite| suite.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// Families a suite belongs to, by stable name.
pub(crate) fn suite_families(id: u16) -> Vec<&'static str> {
    let Some(suite) = TlsCipherSuite::from_id(id) else {
        return vec!["unknown"];
    };
    let mut families = Vec::new();
    let name = suite.name;
    if name.contains("EXPORT") {
        families.push("export");
    }
    if name.contains("_anon_") {
        families.push("anon");
    }
    match suite.enc {
        TlsCipherEnc::Null => families.push("null"),
        TlsCipherEnc::Rc4 => families.push("rc4"),
        TlsCipherEnc::TripleDes => families.push("3des"),
        TlsCipherEnc::Des => families.push("des"),
        TlsCipherEnc::Rc2 | TlsCipherEnc::Idea => families.push("legacy_block"),
        _ => {}
    }
    if is_forward_secret(id) {
        families.push("forward_secrecy");
    }
    if suite.mac == TlsCipherMac::Aead {
        families.push("aead");
    }
    families
}

/// Whether a suite's key exchange is ephemeral (ECDHE, DHE, or any TLS 1.3 suite).
pub(crate) fn is_forward_secret(id: u16) -> bool {
    TlsCipherSuite::from_id(id).is_some_and(|suite| {
        matches!(suite.kx, TlsCipherKx::Dhe | TlsCipherKx::Ecdhe | TlsCipherKx::Tls13)
            && !suite.name.contains("_anon_")
    })
}

/// Whether a suite uses ECDHE key exchange.
pub(crate) fn is_ecdhe(id: u16) -> bool {
    TlsCipherSuite::from_id(id).is_some_and(|suite| suite.kx == TlsCipherKx::Ecdhe)
}

/// Whether a suite uses RSA key transport (the premaster encrypted to the server's key).
pub(crate) fn is_rsa_kx(id: u16) -> bool {
    TlsCipherSuite::from_id(id).is_some_and(|suite| {
        suite.kx == TlsCipherKx::Rsa && suite.au == tls_parser::TlsCipherAu::Rsa
    })
}

/// Whether a suite uses (non-anonymous) DHE key exchange.
pub(crate) fn is_dhe(id: u16) -> bool {
    TlsCipherSuite::from_id(id).is_some_and(|suite| suite.kx == TlsCipherKx::Dhe)
}

/// The symmetric key size of a suite in bits (0 for NULL encryption).
pub(crate) fn suite_bits(id: u16) -> u16 {
    TlsCipherSuite::from_id(id).map_or(0, |suite| suite.enc_size)
}

/// Named groups probed: (id, name, strength as RSA-equivalent bits for grading).
pub(crate) const GROUPS: [(u16, &str, u32); 10] = [
    (0x001d, "x25519", 3072),
    (0x0017, "secp256r1", 3072),
    (0x0018, "secp384r1", 7680),
    (0x0019, "secp521r1", 15360),
    (0x001e, "x448", 7680),
    (0x0100, "ffdhe2048", 2048),
    (0x0101, "ffdhe3072", 3072),
    (0x0102, "ffdhe4096", 4096),
    (0x0103, "ffdhe6144", 6144),
    (0x0104, "ffdhe8192", 8192),
];

/// The name of a named group, or its number.
pub(crate) fn group_name(id: u16) -> String {
    GROUPS
        .iter()
        .find(|(g, _, _)| *g == id)
        .map(|(_, name, _)| name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// The RSA-equivalent strength of a named group, if known.
pub(crate) fn group_strength(id: u16) -> Option<u32> {
    GROUPS.iter().find(|(g, _, _)| *g == id).map(|(_, _, bits)| *bits)
}

/// The ids of every group probed.
pub(crate) fn group_ids() -> Vec<u16> {
    GROUPS.iter().map(|(id, _, _)| *id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_suite_table() {
        assert_eq!(suite_families(0x0005), ["rc4"]);
        assert_eq!(suite_families(0x000a), ["3des"]);
        assert_eq!(suite_families(0x0003), ["export", "rc4"]);
        assert_eq!(suite_families(0x0018), ["anon", "rc4"]);
        assert_eq!(suite_families(0x0002), ["null"]);
        assert_eq!(suite_families(0xc02f), ["forward_secrecy", "aead"]);
        assert_eq!(suite_families(0x1301), ["forward_secrecy", "aead"]);
        assert_eq!(suite_families(0x009c), ["aead"]);
    }

    #[test]
    fn legacy_list_holds_no_tls13_or_signalling_suites() {
        let suites = legacy_suites();
        assert!(suites.len() > 300, "{}", suites.len());
        assert!(suites.contains(&0x0005) && suites.contains(&0xc02f));
        assert!(!suites.contains(&0x1301) && !suites.contains(&0x00ff));
        assert!(!suites.contains(&0x5600));
    }

    #[test]
    fn names_and_strengths() {
        assert_eq!(suite_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(version_name(TLS13), "tls1_3");
        assert_eq!(group_name(0x0018), "secp384r1");
        assert_eq!(suite_bits(0x1302), 256);
        assert!(is_forward_secret(0x0033) && !is_forward_secret(0x002f));
    }
}
