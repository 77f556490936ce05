//! The SSL Labs grade of one endpoint, with every rule that fired named.
//!
//! Owns the arithmetic of the SSL Labs Server Rating Guide (2009r: protocol 30 %, key
//! exchange 30 %, cipher strength 40 %, letter by score) and the caps and warnings added
//! since (TLS 1.0 and 1.1 → B, no forward secrecy → B, no AEAD → B, RC4 → B, 64-bit block
//! ciphers → C, SSL 3 → C, compression → C, insecure renegotiation → C, export / NULL /
//! anonymous suites, ROBOT and Heartbleed → F, an incomplete chain → B, trust problems → T,
//! name mismatch → M, no TLS 1.3 or missing HSTS → A-, A+ only with HSTS of at least 180
//! days and no warning). TLS_FALLBACK_SCSV is not part of the grade. Pure: it reads what
//! `probe`, `cert` and `headers` found.

use serde::Serialize;

use super::cert::CertReport;
use super::headers::HSTS_SIX_MONTHS;
use super::probe::{ProbeReport, Status};
use super::suites::{protocol_score as version_score, suite_bits, suite_families};
use super::wire::{SSL3, TLS10, TLS11, TLS12, TLS13};

/// A rule that fired: a cap, a warning, or the A+ bonus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rule {
    /// Stable identifier, e.g. `cap.tls1_0`.
    pub(crate) id: &'static str,
    /// The grade this rule limits to (for caps), e.g. `B`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cap: Option<&'static str>,
    /// Human text, e.g. `TLS 1.3 not supported`.
    pub(crate) text: String,
}

/// The grade and how it came about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Grade {
    /// A+, A, A-, B, C, D, E, F, T or M.
    pub(crate) grade: &'static str,
    /// 7 for A+ down to 0 for F, T and M: for `fact_at_least` checks.
    pub(crate) grade_rank: u8,
    /// The grade if trust and name problems were ignored.
    pub(crate) grade_ignoring_trust: &'static str,
    /// Numeric score (0–100).
    pub(crate) score: u32,
    /// Protocol sub-score.
    pub(crate) protocol_score: u32,
    /// Key-exchange sub-score.
    pub(crate) key_exchange_score: u32,
    /// Cipher-strength sub-score.
    pub(crate) cipher_score: u32,
    /// Caps that fired.
    pub(crate) caps: Vec<Rule>,
    /// Warnings that fired (each keeps A+ away; any turns A into A-).
    pub(crate) warnings: Vec<Rule>,
}

/// Letters from best to worst; the index is the inverse of the rank.
const LETTERS: [&str; 8] = ["A+", "A", "A-", "B", "C", "D", "E", "F"];

/// The rank of a grade letter: A+ 7 … F 0; T and M 0.
pub(crate) fn rank(grade: &str) -> u8 {
    LETTERS.iter().position(|l| *l == grade).map_or(0, |i| 7 - i as u8)
}

/// HSTS as seen, for the A+ and A- rules; `None` when the endpoint is not HTTP.
pub(crate) type HstsMaxAge = Option<Option<u64>>;

/// Grades an endpoint; `None` when no protocol is supported or when any protocol probe was
/// inconclusive: a grade assumes every protocol is known, so an undecided one is neither a cap
/// nor the missing-TLS-1.3 warning (SSL Labs gives no grade to an assessment it cannot finish).
pub(crate) fn grade(
    report: &ProbeReport,
    cert: Option<&CertReport>,
    hsts: HstsMaxAge,
) -> Option<Grade> {
    if !report.inconclusive_versions().is_empty() {
        return None;
    }
    let versions = report.supported_versions();
    let (best, worst) = (*versions.last()?, *versions.first()?);
    let protocol_score = (version_score(best) + version_score(worst)) / 2;
    let suites: Vec<u16> = versions.iter().flat_map(|v| report.accepted_ids(*v)).collect();
    let key_exchange_score = key_exchange_score(report, cert);
    let cipher_score = cipher_score(&suites);
    let score = (protocol_score * 30 + key_exchange_score * 30 + cipher_score * 40) / 100;
    let mut caps = Vec::new();
    protocol_caps(&versions, &mut caps);
    suite_caps(report, &suites, &versions, &mut caps);
    key_caps(report, cert, &mut caps);
    let warnings = warnings(report, hsts);
    let mut letter = by_score(score);
    for rule in &caps {
        letter = worse(letter, rule.cap.unwrap_or("F"));
    }
    if letter == "A" && !warnings.is_empty() {
        letter = "A-";
    }
    let hsts_long = matches!(hsts, Some(Some(age)) if age >= HSTS_SIX_MONTHS);
    if letter == "A" && hsts_long {
        letter = "A+";
    }
    if let (Some(Some(age)), "A") = (hsts, letter) {
        // Every rule that keeps a grade from the next step is named, this one too.
        let text = format!("HSTS max-age {age} s is below 180 days ({HSTS_SIX_MONTHS} s): no A+");
        caps.push(rule("cap.hsts_short", "A", text));
    }
    let ignoring_trust = letter;
    let final_letter = trust_letter(cert, &mut caps).unwrap_or(letter);
    Some(Grade {
        grade: final_letter,
        grade_rank: rank(final_letter),
        grade_ignoring_trust: ignoring_trust,
        score,
        protocol_score,
        key_exchange_score,
        cipher_score,
        caps,
        warnings,
    })
}

fn by_score(score: u32) -> &'static str {
    match score {
        80.. => "A",
        65..=79 => "B",
        50..=64 => "C",
        35..=49 => "D",
        20..=34 => "E",
        _ => "F",
    }
}

fn worse(a: &'static str, b: &'static str) -> &'static str {
    if rank(b) < rank(a) {
        b
    } else {
        a
    }
}

/// SSL Labs key strength table, applied to the weaker of the certificate key and the
/// ephemeral parameters.
fn key_exchange_score(report: &ProbeReport, cert: Option<&CertReport>) -> u32 {
    let cert_bits = cert.map_or(0, |c| match c.key_type.as_str() {
        // ECDSA keys: RSA-equivalent strength (256 → 3072, 384 → 7680).
        "ec" | "ed25519" | "ed448" if c.key_bits >= 384 => 7680,
        "ec" | "ed25519" | "ed448" if c.key_bits >= 256 => 3072,
        _ => c.key_bits,
    });
    let mut bits = cert_bits;
    if let Some(weakest) = report.groups.weakest_strength {
        bits = bits.min(weakest);
    }
    match bits {
        0 => 0,
        1..=511 => 20,
        512..=1023 => 40,
        1024..=2047 => 80,
        2048..=4095 => 90,
        _ => 100,
    }
}

fn cipher_score(suites: &[u16]) -> u32 {
    let strength = |bits: u16| match bits {
        0 => 0,
        1..=127 => 20,
        128..=255 => 80,
        _ => 100,
    };
    let scores: Vec<u32> = suites.iter().map(|s| strength(suite_bits(*s))).collect();
    match (scores.iter().max(), scores.iter().min()) {
        (Some(best), Some(worst)) => (best + worst) / 2,
        _ => 0,
    }
}

fn rule(id: &'static str, cap: &'static str, text: impl Into<String>) -> Rule {
    Rule { id, cap: Some(cap), text: text.into() }
}

fn protocol_caps(versions: &[u16], caps: &mut Vec<Rule>) {
    if versions.contains(&SSL3) {
        caps.push(rule("cap.ssl3", "C", "SSL 3.0 supported (POODLE)"));
    }
    if versions.contains(&TLS10) || versions.contains(&TLS11) {
        caps.push(rule("cap.tls1_0_1_1", "B", "TLS 1.0 or TLS 1.1 supported"));
    }
    if !versions.contains(&TLS12) && !versions.contains(&TLS13) {
        caps.push(rule("cap.no_tls1_2", "C", "neither TLS 1.2 nor TLS 1.3 supported"));
    }
}

fn suite_caps(report: &ProbeReport, suites: &[u16], versions: &[u16], caps: &mut Vec<Rule>) {
    let has = |family: &str| suites.iter().any(|s| suite_families(*s).contains(&family));
    if has("export") {
        caps.push(rule("cap.export", "F", "export cipher suites accepted"));
    }
    if has("null") {
        caps.push(rule("cap.null", "F", "NULL cipher suites accepted"));
    }
    if has("anon") {
        caps.push(rule("cap.anon", "F", "anonymous cipher suites accepted"));
    }
    if has("rc4") {
        caps.push(rule("cap.rc4", "B", "RC4 cipher suites accepted"));
    }
    if has("3des") || has("des") || has("legacy_block") {
        // FIXME(grade-64bit): rating guides differ on whether 3DES caps at C only with
        // TLS 1.1+; C is applied whenever a 64-bit block cipher is accepted.
        caps.push(rule("cap.64bit_block", "C", "64-bit block cipher suites accepted (SWEET32)"));
    }
    if !suites.is_empty() && !has("forward_secrecy") {
        caps.push(rule("cap.no_forward_secrecy", "B", "no forward secrecy"));
    }
    if !suites.is_empty() && !has("aead") {
        caps.push(rule("cap.no_aead", "B", "no AEAD cipher suites"));
    }
    let legacy = versions.iter().any(|v| *v != TLS13);
    if legacy && report.secure_renegotiation.as_ref().is_some_and(|f| f.status == "not_supported") {
        caps.push(rule("cap.insecure_renegotiation", "C", "secure renegotiation not supported"));
    }
    if report.compression.as_ref().is_some_and(|f| f.status == "supported") {
        caps.push(rule("cap.compression", "C", "TLS compression supported (CRIME)"));
    }
    if report.client_renegotiation.as_ref().is_some_and(|f| f.status == "supported")
        && report.secure_renegotiation.as_ref().is_some_and(|f| f.status == "not_supported")
    {
        // SSL Labs: insecure client-initiated renegotiation (CVE-2009-3555) sets the grade to F.
        caps.push(rule(
            "cap.insecure_client_renegotiation",
            "F",
            "insecure client-initiated renegotiation accepted",
        ));
    }
    if report.robot.as_ref().is_some_and(|r| r.status == "vulnerable") {
        caps.push(rule("cap.robot", "F", "ROBOT oracle (consistent in every round)"));
    }
    if report.heartbleed.as_ref().is_some_and(|f| f.status == "vulnerable") {
        caps.push(rule("cap.heartbleed", "F", "vulnerable to Heartbleed"));
    }
}

fn key_caps(report: &ProbeReport, cert: Option<&CertReport>, caps: &mut Vec<Rule>) {
    if let Some(bits) = report.groups.dh_bits {
        if bits < 1024 {
            caps.push(rule("cap.dh_lt_1024", "F", format!("DH parameters of {bits} bits")));
        } else if bits < 2048 {
            caps.push(rule("cap.dh_lt_2048", "B", format!("DH parameters of {bits} bits")));
        }
    }
    if let Some(cert) = cert {
        if matches!(cert.key_type.as_str(), "rsa" | "dsa") && cert.key_bits < 2048 {
            let cap = if cert.key_bits < 1024 { "F" } else { "B" };
            caps.push(rule(
                "cap.weak_key",
                cap,
                format!("{} key of {} bits", cert.key_type, cert.key_bits),
            ));
        }
        if !cert.chain_complete {
            // SSL Labs: "This server's certificate chain is incomplete. Grade capped to B."
            caps.push(rule(
                "cap.incomplete_chain",
                "B",
                "certificate chain incomplete: an intermediate is missing",
            ));
        }
        if cert.signature_algorithm.to_ascii_lowercase().contains("md5")
            || cert.signature_algorithm.to_ascii_lowercase().contains("sha1")
        {
            caps.push(rule(
                "cap.weak_signature",
                "T",
                format!("certificate signed with {}", cert.signature_algorithm),
            ));
        }
    }
}

/// T for trust problems, M for a name mismatch; the rules are added to `caps`.
fn trust_letter(cert: Option<&CertReport>, caps: &mut Vec<Rule>) -> Option<&'static str> {
    let Some(cert) = cert else {
        caps.push(rule("cap.no_certificate", "T", "no certificate could be read"));
        return Some("T");
    };
    let mut letter = None;
    if cert.trusted == Some(false) {
        let reason = cert.trust_error.clone().unwrap_or_default();
        caps.push(rule("cap.untrusted", "T", format!("certificate not trusted: {reason}")));
        letter = Some("T");
    }
    if cert.expired || cert.not_yet_valid {
        caps.push(rule(
            "cap.expired",
            "T",
            format!("certificate not valid now (not after {})", cert.not_after),
        ));
        letter = Some("T");
    }
    if !cert.name_matches {
        caps.push(rule("cap.name_mismatch", "M", "certificate does not match the target name"));
        letter = letter.or(Some("M"));
    }
    letter
}

/// Only a `not_supported` verdict for TLS 1.3 is its absence; `grade` never gets here with an
/// inconclusive one.
fn warnings(report: &ProbeReport, hsts: HstsMaxAge) -> Vec<Rule> {
    let mut out = Vec::new();
    if report.status_of(TLS13) == Some(Status::NotSupported) {
        out.push(Rule {
            id: "warn.no_tls1_3",
            cap: Some("A-"),
            text: "TLS 1.3 not supported".into(),
        });
    }
    if let Some(None) = hsts {
        out.push(Rule { id: "warn.no_hsts", cap: Some("A-"), text: "HSTS missing".into() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_order_letters() {
        assert_eq!(rank("A+"), 7);
        assert_eq!(rank("A-"), 5);
        assert_eq!(rank("F"), 0);
        assert_eq!(rank("T"), 0);
        assert_eq!(worse("A", "B"), "B");
        assert_eq!(worse("C", "B"), "C");
    }

    fn report(tls13: Status) -> ProbeReport {
        use super::super::probe::{AcceptedSuite, SuiteList, Verdict};
        let mut report = ProbeReport::default();
        let verdict = |status| Verdict {
            status,
            reason: None,
            reply_hex: String::new(),
            warnings: Vec::new(),
        };
        for name in ["ssl3", "tls1_0", "tls1_1"] {
            report.protocols.insert(name.into(), verdict(Status::NotSupported));
        }
        report.protocols.insert("tls1_2".into(), verdict(Status::Supported));
        report.protocols.insert("tls1_3".into(), verdict(tls13));
        let suite = AcceptedSuite {
            id: "0xc02f".into(),
            name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
            families: Vec::new(),
            bits: 128,
        };
        report
            .suites
            .insert("tls1_2".into(), SuiteList { accepted: vec![suite], ..Default::default() });
        report
    }

    #[test]
    fn inconclusive_tls13_is_no_grade_and_never_the_no_tls13_warning() {
        let undecided = report(Status::Inconclusive);
        assert_eq!(grade(&undecided, None, None), None);
        let absent = grade(&report(Status::NotSupported), None, None).expect("graded");
        let ids: Vec<&str> = absent.warnings.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["warn.no_tls1_3"]);
    }

    #[test]
    fn cipher_score_averages_best_and_worst() {
        assert_eq!(cipher_score(&[0xc02f, 0xc030]), 90);
        assert_eq!(cipher_score(&[0x0003]), 20);
        assert_eq!(by_score(93), "A");
        assert_eq!(by_score(64), "C");
    }
}
