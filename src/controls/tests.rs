//! Data-driven tests of judgements, statuses, precedence and percentages: a configuration and
//! synthetic evidence in, one line per control out.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::config::{parse_str, Catalog, Config};
use crate::evidence::Outcome;

/// The fixed "now" of every case.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().expect("valid date")
}

/// A configuration with one file instance `doc`, one command instance `cmd`, and the given
/// checks and extra sections.
fn config(sections: &str) -> Config {
    let text = format!(
        r#"
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1", "ID.AM-2", "PR.AC-1", "PR.AC-3", "PR.DS-1", "PR.IP-1"]
not_applicable = [{{ control = "RS.CO-1", justification = "no staff to notify" }}]

[[instance]]
name = "doc"
collector = "file"
schedule = "0 * * * *"
params = {{ paths = ["/etc/hostname"], patterns = {{ strict = "^Strict yes" }} }}

[[instance]]
name = "cmd"
collector = "command"
schedule = "0 * * * *"
params = {{ argv = ["/bin/true"] }}
{sections}"#
    );
    match parse_str(&text, "test.toml") {
        Ok(config) => config,
        Err(errors) => panic!("test config invalid:\n{errors}"),
    }
}

/// Evidence of one run that observed `facts` about one subject `hours` ago.
fn seen(hours: i64, facts: Value) -> InstanceEvidence {
    let at = now() - Duration::hours(hours);
    InstanceEvidence {
        run: run(Outcome::Succeeded, at, None),
        observations: vec![StoredObservation {
            id: 1,
            subject: "/etc/hostname".to_owned(),
            collected_at: at,
            effective_at: facts
                .pointer("/reviewed_at")
                .and_then(Value::as_str)
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()),
            facts,
            payload_sha256: "ab".repeat(32),
        }],
        failures: Vec::new(),
    }
}

/// Evidence of a run that could not observe anything.
fn broken(outcome: Outcome, kind: collectors::FailureKind) -> InstanceEvidence {
    let at = now() - Duration::minutes(5);
    InstanceEvidence {
        run: run(outcome, at, Some("could not run".to_owned())),
        observations: Vec::new(),
        failures: vec![collectors::SubjectFailure {
            subject: "/etc/hostname".to_owned(),
            kind,
            message: "permission denied".to_owned(),
        }],
    }
}

fn run(outcome: Outcome, at: DateTime<Utc>, error: Option<String>) -> RunSummary {
    RunSummary { run_id: "r1".to_owned(), outcome, started_at: at, finished_at: at, error }
}

/// Evaluates and renders `control status` lines for the controls named in `only`.
fn check(config: &Config, evidence: &[(&str, InstanceEvidence)], only: &[&str]) -> String {
    let evidence: HashMap<String, InstanceEvidence> =
        evidence.iter().map(|(name, e)| ((*name).to_owned(), e.clone())).collect();
    let pins = HashMap::new();
    let inputs = Inputs { config, evidence: &evidence, broken_pins: &pins, now: now() };
    evaluate(inputs)
        .iter()
        .filter(|s| only.contains(&s.control.as_str()))
        .map(|s| format!("{} {}: {}\n", s.control, s.status.as_str(), s.reason))
        .collect()
}

const FILE_CHECK: &str = r#"
[[check]]
name = "strict"
instance = "doc"
judgement = "file_matches"
params = { pattern = "strict" }
max_age_hours = 24
controls = ["PR.AC-1"]
"#;

#[test]
fn never_collected_is_unknown() {
    let config = config(FILE_CHECK);
    let got = check(&config, &[], &["PR.AC-1", "ID.AM-1"]);
    assert_eq!(
        got,
        "ID.AM-1 unknown: no check, attestation or certification proves this control\n\
         PR.AC-1 unknown: check strict: never collected\n"
    );
}

#[test]
fn fresh_evidence_passes_or_fails() {
    let config = config(FILE_CHECK);
    let pass = seen(1, json!({"exists": true, "matches": {"strict": true}}));
    let fail = seen(1, json!({"exists": true, "matches": {"strict": false}}));
    assert_eq!(
        check(&config, &[("doc", pass)], &["PR.AC-1"]),
        "PR.AC-1 passing: check strict: /etc/hostname: ok\n"
    );
    assert_eq!(
        check(&config, &[("doc", fail)], &["PR.AC-1"]),
        "PR.AC-1 failing: check strict: /etc/hostname: pattern did not match\n"
    );
}

#[test]
fn evidence_older_than_max_age_is_stale_even_if_it_passed() {
    let config = config(FILE_CHECK);
    let old = seen(25, json!({"exists": true, "matches": {"strict": true}}));
    assert_eq!(
        check(&config, &[("doc", old)], &["PR.AC-1"]),
        "PR.AC-1 stale: check strict: newest evidence is from 2026-05-31T11:00:00+00:00\n"
    );
}

#[test]
fn a_collector_that_cannot_run_makes_error() {
    let config = config(FILE_CHECK);
    let failed = broken(Outcome::Failed, collectors::FailureKind::Permission);
    assert_eq!(
        check(&config, &[("doc", failed)], &["PR.AC-1"]),
        "PR.AC-1 error: check strict: /etc/hostname: permission denied (permission)\n"
    );
    let mut timed_out = broken(Outcome::TimedOut, collectors::FailureKind::Timeout);
    timed_out.failures.clear();
    assert_eq!(
        check(&config, &[("doc", timed_out)], &["PR.AC-1"]),
        "PR.AC-1 error: check strict: latest run timed_out: could not run\n"
    );
}

#[test]
fn a_partial_run_is_not_proof() {
    let config = config(FILE_CHECK);
    let mut partial = seen(1, json!({"exists": true, "matches": {"strict": true}}));
    partial.run.outcome = Outcome::Partial;
    partial.failures = broken(Outcome::Partial, collectors::FailureKind::Parse).failures;
    let got = check(&config, &[("doc", partial)], &["PR.AC-1"]);
    assert!(got.starts_with("PR.AC-1 error:"), "{got}");
}

#[test]
fn attestations_and_inherited_certifications() {
    let config = config(
        r#"
[[attestation]]
controls = ["ID.AM-1"]
signer = "Jane Roe, CISO"
statement = "asset inventory reviewed"
date = "2026-01-10"
expires = "2027-01-10"

[[attestation]]
controls = ["ID.AM-2"]
signer = "Jane Roe, CISO"
statement = "software inventory reviewed"
date = "2025-01-10"
expires = "2026-01-10"

[[inherited]]
controls = ["PR.AC-3"]
provider = "Hetzner"
certification = "ISO 27001"
reference = "certificate 123"
expires = "2027-03-01"
"#,
    );
    let got = check(&config, &[], &["ID.AM-1", "ID.AM-2", "PR.AC-3", "RS.CO-1"]);
    assert_eq!(
        got,
        "ID.AM-1 attested: attested by Jane Roe, CISO on 2026-01-10\n\
         ID.AM-2 stale: attestation by Jane Roe, CISO expired 2026-01-10\n\
         PR.AC-3 inherited: Hetzner ISO 27001 (certificate 123), until 2027-03-01\n\
         RS.CO-1 not_applicable: no staff to notify\n"
    );
}

#[test]
fn a_changed_pinned_document_voids_the_attestation() {
    let pinned = "0".repeat(64);
    let config = config(
        &r#"
[[attestation]]
controls = ["ID.AM-1"]
signer = "Jane Roe"
statement = "plan approved"
date = "2026-01-10"
expires = "2027-01-10"
document = { path = "/srv/policies/plan.md", sha256 = "PIN" }
"#
        .replace("PIN", &pinned),
    );
    let evidence = HashMap::new();
    let pins = HashMap::from([(0usize, "document changed since it was attested".to_owned())]);
    let inputs = Inputs { config: &config, evidence: &evidence, broken_pins: &pins, now: now() };
    let states = evaluate(inputs);
    let state = states.iter().find(|s| s.control == "ID.AM-1").expect("in scope");
    assert_eq!(state.status, Status::Stale);
    assert_eq!(state.reason, "attested by Jane Roe, but document changed since it was attested");
}

/// Precedence table: (candidate statuses of two sources, winner).
#[test]
fn precedence_failing_error_stale_unknown_attested_passing() {
    let two_checks = |second: &str| {
        format!(
            r#"
[[check]]
name = "a"
instance = "doc"
judgement = "exists"
max_age_hours = 24
controls = ["PR.DS-1"]

[[check]]
name = "b"
instance = "cmd"
judgement = "exit_code"
params = {{ code = 0 }}
max_age_hours = 24
controls = ["PR.DS-1"]
{second}"#
        )
    };
    let attest = r#"
[[attestation]]
controls = ["PR.DS-1"]
signer = "Jane Roe"
statement = "encrypted at rest"
date = "2026-01-10"
expires = "2027-01-10"
"#;
    let exists = |hours| seen(hours, json!({"exists": true}));
    let absent = || seen(1, json!({"exists": false}));
    let exit = |hours, code| seen(hours, json!({"exit_code": code}));
    let cmd_error = || broken(Outcome::Failed, collectors::FailureKind::NotFound);
    let cases: Vec<(&str, Vec<(&str, InstanceEvidence)>, Status)> = vec![
        ("", vec![("doc", absent()), ("cmd", cmd_error())], Status::Failing),
        ("", vec![("doc", exists(48)), ("cmd", cmd_error())], Status::Error),
        ("", vec![("doc", exists(48))], Status::Stale),
        ("", vec![("doc", exists(1))], Status::Unknown),
        ("", vec![("doc", exists(1)), ("cmd", exit(1, 0))], Status::Passing),
        ("", vec![("doc", exists(1)), ("cmd", exit(1, 2))], Status::Failing),
        (attest, vec![("doc", exists(1)), ("cmd", exit(1, 0))], Status::Attested),
        (attest, vec![("doc", exists(1))], Status::Unknown),
    ];
    for (index, (extra, evidence, want)) in cases.into_iter().enumerate() {
        let config = config(&two_checks(extra));
        let map: HashMap<String, InstanceEvidence> =
            evidence.into_iter().map(|(n, e)| (n.to_owned(), e)).collect();
        let pins = HashMap::new();
        let inputs = Inputs { config: &config, evidence: &map, broken_pins: &pins, now: now() };
        let states = evaluate(inputs);
        let got = states.iter().find(|s| s.control == "PR.DS-1").expect("in scope");
        assert_eq!(got.status, want, "case {index}: {}", got.reason);
    }
}

#[test]
fn judgements_on_facts() {
    let facts = json!({
        "exists": true, "mode": "0640", "sha256": "AB", "exit_code": 0, "status": 200,
        "headers": {"strict-transport-security": "max-age=63072000", "x-frame-options": null},
        "tls": {"cert_days_left": 20}, "facts": {"version": "6.1.0", "count": 12},
        "matches": {"root": false}, "truncated": true,
    });
    let cases: &[(&str, bool)] = &[
        (r#"{"judgement":"exists"}"#, true),
        (r#"{"judgement":"absent"}"#, false),
        (r#"{"judgement":"file_mode_at_most","params":{"mode":"0640"}}"#, true),
        (r#"{"judgement":"file_mode_at_most","params":{"mode":"0600"}}"#, false),
        (r#"{"judgement":"fact_equals","params":{"pointer":"/facts/count","value":12}}"#, true),
        (
            r#"{"judgement":"fact_matches","params":{"pointer":"/facts/version","regex":"^6\\."}}"#,
            true,
        ),
        (r#"{"judgement":"fact_at_least","params":{"pointer":"/facts/count","value":13}}"#, false),
        (r#"{"judgement":"fact_at_most","params":{"pointer":"/facts/count","value":12}}"#, true),
        (r#"{"judgement":"exit_code","params":{"code":0}}"#, true),
        (r#"{"judgement":"http_status","params":{"allowed":[301]}}"#, false),
        (r#"{"judgement":"header_present","params":{"header":"Strict-Transport-Security"}}"#, true),
        (r#"{"judgement":"header_present","params":{"header":"X-Frame-Options"}}"#, false),
        (r#"{"judgement":"cert_days_left","params":{"min_days":21}}"#, false),
        (r#"{"judgement":"sha256_pinned","params":{"sha256":"ab"}}"#, true),
        (r#"{"judgement":"fact_equals","params":{"pointer":"/missing","value":1}}"#, false),
        (r#"{"judgement":"file_lacks","params":{"pattern":"root"}}"#, false),
        (r#"{"judgement":"any_fact_equals","params":{"pointer":"/status","value":200}}"#, true),
        (r#"{"judgement":"any_fact_equals","params":{"pointer":"/status","value":500}}"#, false),
    ];
    for (text, want) in cases {
        let judgement: Judgement = serde_json::from_str(text).expect(text);
        let evidence = seen(1, facts.clone());
        let result =
            judgement::judge_check("c", &judgement, Duration::hours(24), Some(&evidence), now());
        let passed = result.verdict == CheckVerdict::Pass;
        assert_eq!(passed, *want, "{text}: {}", result.reason);
    }
}

#[test]
fn review_dates_are_judged_against_now() {
    let judgement: Judgement =
        serde_json::from_str(r#"{"judgement":"reviewed_within","params":{"days":365}}"#)
            .expect("valid");
    let recent = seen(1, json!({"exists": true, "reviewed_at": "2025-12-01"}));
    let old = seen(1, json!({"exists": true, "reviewed_at": "2025-05-01"}));
    let pass = judgement::judge_check("r", &judgement, Duration::hours(24), Some(&recent), now());
    let fail = judgement::judge_check("r", &judgement, Duration::hours(24), Some(&old), now());
    assert_eq!(pass.verdict, CheckVerdict::Pass);
    assert_eq!(fail.verdict, CheckVerdict::Fail);
    assert_eq!(fail.reason, "/etc/hostname: last reviewed 2025-05-01, 396 days ago (limit 365)");
    let future = seen(1, json!({"exists": true, "reviewed_at": "2099-12-31"}));
    let future = judgement::judge_check("r", &judgement, Duration::hours(24), Some(&future), now());
    assert_eq!(future.verdict, CheckVerdict::Fail);
    assert_eq!(future.reason, "/etc/hostname: review date 2099-12-31 is in the future");
}

#[test]
fn percentages_show_their_denominator() {
    let config = config(&format!(
        "{FILE_CHECK}{}",
        r#"
[[inherited]]
controls = ["PR.AC-3"]
provider = "Hetzner"
certification = "ISO 27001"
reference = "certificate 123"
expires = "2027-03-01"
"#
    ));
    let pass = seen(1, json!({"exists": true, "matches": {"strict": true}}));
    let evidence = HashMap::from([("doc".to_owned(), pass)]);
    let pins = HashMap::new();
    let inputs = Inputs { config: &config, evidence: &evidence, broken_pins: &pins, now: now() };
    let states = evaluate(inputs);
    let rates = percentages(&states, Catalog::get(config.profile.catalog));
    // 6 in scope and 1 not applicable: denominator 6; PR.AC-1 passing, PR.AC-3 inherited.
    assert_eq!(rates.overall.all_proof.numerator, 2);
    assert_eq!(rates.overall.all_proof.denominator, 6);
    assert_eq!(rates.overall.all_proof.percent, Some(33.3));
    assert_eq!(rates.overall.automated.percent, Some(16.7));
    let (_, protect) = rates.functions.iter().find(|(f, _)| f == "PR").expect("PR");
    assert_eq!((protect.all_proof.numerator, protect.all_proof.denominator), (2, 4));
    let (_, respond) = rates.functions.iter().find(|(f, _)| f == "RS").expect("RS");
    assert_eq!(respond.all_proof.percent, None);
    assert_eq!(respond.counts["not_applicable"], 1);
}
