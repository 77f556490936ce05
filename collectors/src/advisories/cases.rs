//! Acceptance cases ADV-01 … ADV-14 (`cases/advisories.md`), end to end: lockfile text →
//! packages → matching against the case's records → findings. Each test stands for the whole
//! kind of mistake; the per-version vectors of each case are in `osv` tests. The records and
//! lockfiles are in `tests/fixtures/advisories/cases/` exactly as the case file gives them.

use std::collections::BTreeSet;

use super::db::{Database, Snapshot};
use super::findings::{scan, Policy, Report};
use super::lockfile::{parse, Format};
use super::osv::parse_osv;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/cases");

fn read(file: &str) -> String {
    let path = format!("{DIR}/{file}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The records of case `name` (`<name>.osv.jsonl`).
fn db(name: &str) -> Database {
    let records = read(&format!("{name}.osv.jsonl"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| parse_osv(l.as_bytes(), name).expect("case record parses"))
        .collect();
    Database::from_records(records, Snapshot::default())
}

fn run(format: Format, lock: &str, case: &str) -> Report {
    let packages = parse(format, lock).expect("case lockfile parses");
    scan(&db(case), &packages, Policy::default())
}

fn ids(report: &Report, package: &str) -> Vec<BTreeSet<String>> {
    report.findings.iter().filter(|f| f.normalised_name == package).map(|f| f.ids.clone()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const ADV01: &str = "adv01";

#[test]
fn adv01_cargo_prerelease_above_the_fix() {
    let lock = read("adv01.Cargo.lock");
    let report = run(Format::CargoLock, &lock, ADV01);
    assert_eq!(report.assessed, 2);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let vulnerable =
        lock.replace("0.4.0-beta.1", "0.3.0-alpha.1").replace("0.15.0-dev", "0.7.0-alpha");
    let report = run(Format::CargoLock, &vulnerable, ADV01);
    assert_eq!(report.findings.len(), 2);
}

#[test]
fn adv02_rc_fix_is_below_the_release() {
    let records = "adv02";
    assert!(run(Format::Requirements, "twisted==22.10.0\n", records).findings.is_empty());
    let report = run(Format::Requirements, "Twisted==22.8.0\n", records);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].fixed, set(&["22.10.0rc1"]));
}

const ADV03: &str = "adv03";

#[test]
fn adv03_zero_padded_versions_and_one_finding_per_vulnerability() {
    assert!(run(Format::Requirements, "certifi==2022.12.7\n", ADV03).findings.is_empty());
    assert!(run(Format::Requirements, "certifi==2017.7.27.1\n", ADV03).findings.is_empty());
    let report = run(Format::Requirements, "certifi==2022.9.24\n", ADV03);
    assert_eq!(
        ids(&report, "certifi"),
        vec![set(&["GHSA-43fp-rhv2-5gv8", "PYSEC-2022-42986", "CVE-2022-23491"])]
    );
}

const ADV04: &str = "adv04";

#[test]
fn adv04_alias_groups_are_transitive() {
    let report = run(Format::Requirements, "django==3.2.11\nGitPython==3.1.31\n", ADV04);
    assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
    assert_eq!(
        ids(&report, "django"),
        vec![set(&["PYSEC-2022-19", "GHSA-95rw-fx8r-36v6", "CVE-2022-22818", "TEST-2022-0019"])]
    );
    assert_eq!(
        ids(&report, "gitpython"),
        vec![set(&["TEST-2023-0137", "TEST-GHSA-0137", "CVE-2023-40267"])]
    );
    assert!(run(Format::Requirements, "django==3.2.12\n", ADV04).findings.is_empty());
}

#[test]
fn adv05_withdrawn_records_are_listed_not_applied() {
    let records = "adv05";
    let report = run(Format::Requirements, "redis==4.5.4\n", records);
    assert!(report.findings.is_empty());
    assert_eq!(
        report.withdrawn,
        vec![(
            "redis".to_string(),
            "PYSEC-2023-73".to_string(),
            "2023-06-06T10:37:00Z".to_string()
        )]
    );
    let cargo = concat!(
        "[[package]]\nname = \"dirs\"\nversion = \"3.0.2\"\n",
        "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
    );
    let report = run(Format::CargoLock, cargo, records);
    assert!(report.findings.is_empty());
    assert_eq!(report.withdrawn.len(), 1);
}

#[test]
fn adv06_last_affected_and_open_ranges() {
    let records = "adv06";
    let report = run(Format::Requirements, "py==1.11.0\n", records);
    assert_eq!(report.findings.len(), 1);
    assert!(report.findings[0].fixed.is_empty());
    let composer =
        r#"{"packages":[{"name":"drupal/admin_toolbar","version":"3.0.1"}],"packages-dev":[]}"#;
    assert_eq!(run(Format::Composer, composer, records).findings.len(), 1);
}

#[test]
fn adv07_open_range_affected_by_spec_inferred_clean_under_policy() {
    let records = "adv07";
    let lock = r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},
        "node_modules/next":{"version":"16.2.2"}}}"#;
    let report = run(Format::NpmLock, lock, records);
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert!(finding.inferred_not_affected);
    assert_eq!(
        finding.notes,
        vec!["GHSA-5f7q-jpqc-wp7h: range has no closing event; database_specific gives `< 15.5.1`"]
    );
    let packages = parse(Format::NpmLock, lock).expect("parses");
    let trusted = scan(&db(records), &packages, Policy { trust_database_specific_bounds: true });
    assert!(trusted.findings.is_empty());
    assert_eq!(trusted.inferred_clean.len(), 1);
}

/// ADV-08 says the same holds for `1.x-dev` versions and `packages-dev` entries.
const DEV_BRANCH: &str =
    r#""packages-dev":[{"name":"rhukster/dom-sanitizer","version":"1.x-dev"}]"#;

#[test]
fn adv08_branch_versions_are_unassessable_with_the_advisory_named() {
    let records = "adv08";
    let lock = read("adv08.composer.lock").replace("\"packages-dev\":[]", DEV_BRANCH);
    let report = run(Format::Composer, &lock, records);
    assert!(report.findings.is_empty());
    assert_eq!(report.unassessable.len(), 2);
    for (package, reason, advisories) in &report.unassessable {
        assert!(reason.starts_with("branch version"), "{reason}");
        assert_eq!(advisories, &vec!["TEST-2026-40301".to_string()]);
        assert!(package.unassessable.is_some());
    }
    let detail = &report.unassessable[0].0.unassessable.as_ref().expect("u").detail;
    assert_eq!(detail["reference"], "0794d8de5e6a1f5c2b3e4d9a8f7c6b5a4d3e2f10");
}

#[test]
fn adv09_patch_suffix_inside_the_range() {
    let records = "adv09";
    let lock =
        r#"{"packages":[{"name":"magento/product-community-edition","version":"2.3.2-p1"}]}"#;
    let report = run(Format::Composer, lock, records);
    assert_eq!(ids(&report, "magento/product-community-edition").len(), 1);
}

#[test]
fn adv10_links_and_git_packages_are_not_matched() {
    let records = "adv10";
    let npm = read("adv10.package-lock.json");
    let report = run(Format::NpmLock, &npm, records);
    assert!(report.findings.is_empty());
    assert!(report.unassessable.iter().all(|(_, _, ids)| ids.is_empty()));
    assert_eq!(report.unassessable[0].1, "link");
    let report = run(Format::YarnLock, &read("adv10.yarn.lock"), records);
    assert!(report.findings.is_empty());
    assert_eq!(report.unassessable.len(), 1);
    assert_eq!(report.unassessable[0].1, "git");
    let cargo = "[[package]]\nname = \"net-helper\"\nversion = \"0.0.0\"\n";
    assert!(run(Format::CargoLock, cargo, records).findings.is_empty());
}

#[test]
fn adv11_unknown_ecosystem_and_bad_versions_do_not_stop_the_scan() {
    let records = "adv11";
    let database = db(records);
    assert_eq!(
        database.snapshot.warnings,
        vec!["unknown ecosystem Echo in TEST-2026-0734, entry skipped"]
    );
    let report = run(Format::Requirements, "wheel==0.45.1\n", records);
    assert_eq!(ids(&report, "wheel"), vec![set(&["TEST-2026-0734"])]);
    assert_eq!(report.not_assessed.len(), 1);
    assert_eq!(report.not_assessed[0].2, "TEST-2026-0735");
    assert!(report.not_assessed[0].3.contains("0.38-final-hotfix is not a PEP 440 version"));
}

#[test]
fn adv12_go_pseudo_versions_and_incompatible() {
    let records = "adv12";
    let gomod = read("adv12.go.mod");
    let report = run(Format::GoMod, &gomod, records);
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(f.name, "github.com/docker/cli");
    assert_eq!(f.confidence, "low (pseudo-version on a v0.0.0 base)");
    assert!(f.notes.iter().any(|n| n.contains("2021-11-17T23:49:46Z")), "{:?}", f.notes);
    let older = gomod.replace("v25.0.6+incompatible", "v25.0.5+incompatible");
    assert_eq!(run(Format::GoMod, &older, records).findings.len(), 2);
}

#[test]
fn adv13_middle_interval() {
    let records = "adv13";
    let report = run(Format::GoMod, "require github.com/containerd/containerd v1.5.9\n", records);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].fixed, set(&["1.5.10"]));
    let pre = run(Format::GoMod, "require github.com/containerd/containerd v1.6.0-rc.1\n", records);
    assert!(pre.findings.is_empty());
}

#[test]
fn adv14_pypi_names_normalised_on_both_sides() {
    let records = "adv14";
    let report = run(Format::Requirements, &read("adv14.requirements.txt"), records);
    assert_eq!(report.findings.len(), 2);
    let jw = report.findings.iter().find(|f| f.normalised_name == "jw-util").expect("jw-util");
    assert_eq!(jw.name, "JW_Util");
    assert!(report.warnings.iter().any(|w| w.contains("-class.-jw.util.version.Version-")));
    assert!(run(Format::Requirements, "jw-util==2.3\n", records).findings.is_empty());
}
