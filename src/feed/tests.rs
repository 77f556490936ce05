//! Tests of the feed as a visitor meets it: publish into a temp directory, then verify, tamper,
//! replay, truncate and rewrite, each expecting its own [`FeedProblem`]. The [`Host`] fixture
//! is shared with the tests of `serve` (browser) and of redaction.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};

use super::verify_feed::{verify_feed, FeedProblem, FeedReport, VerifyFeedOptions};
use super::{files, publish, Published};
use crate::config::{parse_str, Config, EMBEDDED_DEFAULT};
use crate::evidence::{Outcome, RunRecord, Trigger};
use crate::store::Store;

/// A publishing host: a database, a key, a configuration and a feed directory.
pub(crate) struct Host {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) key: SigningKey,
    pub(crate) config: Config,
    runs: u32,
}

impl Host {
    pub(crate) async fn new(seed: u8) -> Host {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("evidence.db")).await.expect("open store");
        let config = parse_str(EMBEDDED_DEFAULT, "<test>").expect("embedded default parses");
        Host { dir, store, key: SigningKey::from_bytes(&[seed; 32]), config, runs: 0 }
    }

    /// A host with the test profile of [`rich_profile`]: passing, failing, attested,
    /// inherited, unknown and not-applicable controls once [`Host::collect`] ran.
    pub(crate) async fn rich(seed: u8) -> Host {
        let mut host = Host::new(seed).await;
        let dir = host.dir.path().to_path_buf();
        std::fs::write(dir.join("inventory.txt"), "web 1\ndb 1\n").expect("write inventory");
        host.config = parse_str(&rich_profile(&dir), "<rich test profile>").expect("profile");
        host
    }

    /// Runs every instance once through the real runner and records the statuses.
    pub(crate) async fn collect(&self) {
        let config = std::sync::Arc::new(self.config.clone());
        let runner = crate::runner::Runner::new(config, self.store.clone(), self.key.clone());
        let names: Vec<String> = self.config.instances.iter().map(|i| i.name.clone()).collect();
        runner.run_many(&names, Trigger::Manual, None).await.expect("runs recorded");
        runner.refresh_controls().await.expect("statuses recorded");
    }

    pub(crate) fn feed(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    pub(crate) fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Records a run without observations (a leaf and a checkpoint).
    pub(crate) async fn add_run(&mut self) {
        self.runs += 1;
        let start = Utc.timestamp_opt(1_700_000_000 + i64::from(self.runs), 0).single();
        let start = start.expect("valid time");
        let record = RunRecord {
            run_id: format!("{:032x}", self.runs),
            instance: "os_release".into(),
            collector: "file".into(),
            collector_version: "0.1.0".into(),
            trigger: Trigger::Manual,
            started_at: start,
            finished_at: start,
            outcome: Outcome::Failed,
            error: Some("not found".into()),
            failures: vec![],
        };
        self.store.record_run(&record, &[], &self.key).await.expect("record run");
    }

    pub(crate) async fn publish(&self) -> Published {
        publish(&self.config, &self.store, &self.key, b"test salt", &self.feed())
            .await
            .expect("publish")
    }

    /// A second host with a copy of this one's database and the same key.
    async fn fork(&mut self) -> Host {
        let path = self.dir.path().join("evidence.db");
        self.store.close().await;
        let mut other = Host::new(self.key.to_bytes()[0]).await;
        other.store.close().await;
        std::fs::copy(&path, other.dir.path().join("evidence.db")).expect("copy database");
        other.store = Store::open(&other.dir.path().join("evidence.db")).await.expect("reopen");
        other.runs = self.runs + 1000;
        self.store = Store::open(&path).await.expect("reopen");
        other
    }
}

/// The profile of [`Host::rich`], reading files below `dir`.
pub(crate) fn rich_profile(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        r#"
[profile]
catalog = "nist-csf-1.1"
scope = ["ID.AM-1", "ID.AM-2", "PR.AC-1", "PR.AC-2", "PR.DS-1", "DE.CM-1", "RS.RP-1"]
not_applicable = [{{ control = "RC.RP-1", justification = "nothing to recover here" }}]

[[instance]]
name = "inventory"
collector = "file"
schedule = "@daily"
params = {{ paths = ["{dir}/inventory.txt"] }}

[[instance]]
name = "backup_log"
collector = "file"
schedule = "@daily"
params = {{ paths = ["{dir}/absent.txt"] }}

[[check]]
name = "inventory_exists"
instance = "inventory"
judgement = "exists"
max_age_hours = 48
controls = ["ID.AM-1", "ID.AM-2"]

[[check]]
name = "backup_log_exists"
instance = "backup_log"
judgement = "exists"
max_age_hours = 48
controls = ["PR.DS-1"]

[[attestation]]
controls = ["PR.AC-1"]
signer = "Jana Beispiel"
statement = "Access rights are reviewed every quarter."
date = 2025-01-15
expires = "2099-01-15"

[[inherited]]
controls = ["PR.AC-2"]
provider = "Example Hosting GmbH"
certification = "ISO/IEC 27001:2022"
reference = "certificate 1234"
expires = 2099-06-30
"#
    )
}

/// Verifies `dir` against `key` with the state file `state`, at `now`.
fn check_at(
    dir: &Path,
    key: &VerifyingKey,
    state: &Path,
    now: DateTime<Utc>,
) -> Result<FeedReport, FeedProblem> {
    let options =
        VerifyFeedOptions { dir, key, state: Some(state), max_age: Duration::hours(26), now };
    verify_feed(&options).expect("verify-feed can run")
}

fn check(dir: &Path, key: &VerifyingKey, state: &Path) -> Result<FeedReport, FeedProblem> {
    check_at(dir, key, state, Utc::now())
}

fn copy_feed(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for name in [files::STATUS, files::CHECKPOINT, files::PROOF] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy feed file");
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{from:?} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

#[tokio::test]
async fn a_published_feed_verifies_and_the_next_one_extends_it() {
    let mut host = Host::new(1).await;
    host.add_run().await;
    let first = host.publish().await;
    assert_eq!(first.receipt.seq, 1);
    assert_eq!(first.receipt.checkpoint.tree_size, 2);
    let state = host.dir.path().join("seen.json");
    let report = check(&host.feed(), &host.public(), &state).expect("first feed verifies");
    assert_eq!((report.tree_size, report.previous_tree_size), (2, None));
    assert_eq!(report.controls, first.document.controls.len());
    host.add_run().await;
    host.publish().await;
    let report = check(&host.feed(), &host.public(), &state).expect("second feed verifies");
    assert_eq!((report.tree_size, report.previous_tree_size), (4, Some(2)));
    let verified = host.store.verify(&host.public()).await.expect("store verify runs");
    assert_eq!(verified.problem, None);
    assert_eq!((verified.leaves, verified.checkpoints), (4, 4));
}

#[tokio::test]
async fn an_edited_status_is_detected() {
    let mut host = Host::new(2).await;
    host.add_run().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    edit(&host.feed().join(files::STATUS), "\"unknown\"", "\"passing\"");
    let problem = check(&host.feed(), &host.public(), &state).expect_err("edited");
    assert!(matches!(problem, FeedProblem::EditedStatus { .. }), "{problem}");
    assert!(problem.to_string().starts_with("edited status: status.json hashes to"));
    assert!(!state.exists(), "a rejected feed never becomes the reference");
}

#[tokio::test]
async fn an_edited_status_with_a_matching_proof_hash_is_not_included() {
    let mut host = Host::new(3).await;
    host.add_run().await;
    let published = host.publish().await;
    let status = host.feed().join(files::STATUS);
    edit(&status, "\"unknown\"", "\"passing\"");
    let forged = hex::encode(sha2::Sha256::digest(std::fs::read(&status).expect("read")));
    use sha2::Digest as _;
    edit(&host.feed().join(files::PROOF), &published.receipt.document_sha256, &forged);
    let problem =
        check(&host.feed(), &host.public(), &host.dir.path().join("s")).expect_err("forged");
    assert!(
        matches!(problem, FeedProblem::NotIncluded { index: 1, tree_size: 2, .. }),
        "{problem}"
    );
}

#[tokio::test]
async fn a_wrong_key_and_a_bad_signature_are_told_apart() {
    let mut host = Host::new(4).await;
    host.add_run().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    let other = SigningKey::from_bytes(&[99; 32]).verifying_key();
    let problem = check(&host.feed(), &other, &state).expect_err("wrong key");
    assert!(matches!(problem, FeedProblem::WrongKey { .. }), "{problem}");
    assert!(problem.to_string().starts_with("wrong key: the checkpoint is signed by key"));
    let checkpoint = host.feed().join(files::CHECKPOINT);
    let text = std::fs::read_to_string(&checkpoint).expect("read");
    let root_line = text.lines().nth(3).expect("root line").to_owned();
    let flipped =
        format!("{}{}", if root_line.starts_with('0') { "1" } else { "0" }, &root_line[1..]);
    edit(&checkpoint, &root_line, &flipped);
    let problem = check(&host.feed(), &host.public(), &state).expect_err("bad signature");
    assert!(matches!(problem, FeedProblem::BadSignature { tree_size: 2, .. }), "{problem}");
}

#[tokio::test]
async fn a_replayed_old_checkpoint_is_detected() {
    let mut host = Host::new(5).await;
    host.add_run().await;
    host.publish().await;
    let old = host.dir.path().join("old-feed");
    copy_feed(&host.feed(), &old);
    let state = host.dir.path().join("seen.json");
    check(&host.feed(), &host.public(), &state).expect("first verifies");
    host.add_run().await;
    host.publish().await;
    check(&host.feed(), &host.public(), &state).expect("second verifies");
    let problem = check(&old, &host.public(), &state).expect_err("replayed");
    assert!(matches!(problem, FeedProblem::Replayed { found: 2, seen: 4, .. }), "{problem}");
    assert!(problem.to_string().starts_with("replayed old checkpoint: tree size 2"));
}

#[tokio::test]
async fn a_truncated_log_republished_with_the_same_key_is_detected() {
    let mut host = Host::new(6).await;
    host.add_run().await;
    let truncated = host.fork().await;
    host.publish().await;
    host.add_run().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    check(&host.feed(), &host.public(), &state).expect("honest feed verifies");
    // Checkpoints have whole seconds: the truncated host signs a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    truncated.publish().await;
    let problem = check(&truncated.feed(), &host.public(), &state).expect_err("truncated");
    assert!(matches!(problem, FeedProblem::Truncated { found: 2, seen: 4, .. }), "{problem}");
    assert!(problem.to_string().starts_with("truncated log:"));
}

#[tokio::test]
async fn a_rewritten_history_signed_with_the_same_key_is_detected() {
    let mut host = Host::new(7).await;
    host.add_run().await;
    let mut forger = host.fork().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    check(&host.feed(), &host.public(), &state).expect("honest feed verifies");
    // Same size, other contents (the forger's status leaf differs in its time).
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    forger.publish().await;
    let problem = check(&forger.feed(), &host.public(), &state).expect_err("same size");
    assert!(matches!(problem, FeedProblem::Rewritten { .. }), "{problem}");
    assert!(problem.to_string().contains("tree size 2 now has root"), "{problem}");
    // Larger, with a consistency proof from the forger's own head at size 2.
    forger.add_run().await;
    forger.publish().await;
    let problem = check(&forger.feed(), &host.public(), &state).expect_err("other root");
    assert!(problem.to_string().contains("the feed says tree size 2 had root"), "{problem}");
    // The forger claims the honest root: the proof itself fails.
    let seen: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    let honest_root = seen["root"].as_str().expect("root").to_owned();
    let proof = forger.feed().join(files::PROOF);
    let text = std::fs::read_to_string(&proof).expect("read");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["consistency"][0]["from_tree_size"], 2);
    value["consistency"][0]["from_root"] = serde_json::Value::String(honest_root);
    std::fs::write(&proof, serde_json::to_vec(&value).expect("json")).expect("write");
    let problem = check(&forger.feed(), &host.public(), &state).expect_err("proof fails");
    assert!(problem.to_string().contains("does not extend tree size 2"), "{problem}");
    // Without any proof from the size seen, the feed cannot show it extends it.
    std::fs::write(&proof, text.replace("\"from_tree_size\": 2", "\"from_tree_size\": 1"))
        .expect("write");
    let problem = check(&forger.feed(), &host.public(), &state).expect_err("chain link");
    assert!(problem.to_string().contains("the feed says tree size 2 had root"), "{problem}");
    std::fs::remove_dir_all(forger.feed().join(files::CHAIN)).expect("remove chain links");
    let problem = check(&forger.feed(), &host.public(), &state).expect_err("no proof");
    assert_eq!(problem, FeedProblem::NoConsistencyProof { seen: 2 });
}

#[tokio::test]
async fn a_stale_or_future_feed_is_refused() {
    let mut host = Host::new(8).await;
    host.add_run().await;
    let published = host.publish().await;
    let state = host.dir.path().join("seen.json");
    let generated = published.document.generated_at;
    let late = generated + Duration::hours(27);
    let problem = check_at(&host.feed(), &host.public(), &state, late).expect_err("stale");
    assert!(matches!(problem, FeedProblem::Stale { hours: 26, .. }), "{problem}");
    let early = generated - Duration::hours(1);
    let problem = check_at(&host.feed(), &host.public(), &state, early).expect_err("future");
    assert!(matches!(problem, FeedProblem::FromTheFuture { .. }), "{problem}");
    check_at(&host.feed(), &host.public(), &state, generated + Duration::hours(25))
        .expect("within 26 hours");
}

#[tokio::test]
async fn missing_and_truncated_files_are_named() {
    let mut host = Host::new(9).await;
    host.add_run().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    let proof = std::fs::canonicalize(host.feed().join(files::PROOF)).expect("generation file");
    assert!(proof.starts_with(std::fs::canonicalize(host.feed().join("gen")).expect("gen")));
    let text = std::fs::read_to_string(&proof).expect("read");
    std::fs::write(&proof, &text[..text.len() / 2]).expect("truncate");
    let problem = check(&host.feed(), &host.public(), &state).expect_err("truncated file");
    assert!(matches!(&problem, FeedProblem::Malformed { path, .. } if path == &proof), "{problem}");
    std::fs::remove_file(&proof).expect("remove");
    let problem = check(&host.feed(), &host.public(), &state).expect_err("missing");
    assert!(matches!(problem, FeedProblem::Missing { .. }), "{problem}");
}

#[tokio::test]
async fn the_rich_profile_yields_every_kind_of_status() {
    let host = Host::rich(10).await;
    host.collect().await;
    let published = host.publish().await;
    let statuses: Vec<(&str, &str)> =
        published.document.controls.iter().map(|c| (c.id.as_str(), c.status.as_str())).collect();
    assert_eq!(
        statuses,
        [
            ("ID.AM-1", "passing"),
            ("ID.AM-2", "passing"),
            ("PR.AC-1", "attested"),
            ("PR.AC-2", "inherited"),
            ("PR.DS-1", "failing"),
            ("DE.CM-1", "unknown"),
            ("RS.RP-1", "unknown"),
            ("RC.RP-1", "not_applicable"),
        ]
    );
    let overall = &published.document.summary.overall;
    assert_eq!((overall.proven.numerator, overall.proven.denominator), (4, 7));
    assert_eq!(overall.proven.percent, Some(57.1));
    assert_eq!((overall.automated.numerator, overall.automated.percent), (2, Some(28.6)));
    let passing = &published.document.controls[0];
    assert_eq!(passing.evidence_kind.as_deref(), Some("automated"));
    assert!(passing.since.is_some() && passing.collected_at.is_some());
    assert_eq!(passing.salted_digest.as_ref().map(String::len), Some(64));
}

#[tokio::test]
async fn status_json_validates_against_the_published_schema() {
    let host = Host::rich(12).await;
    host.collect().await;
    host.publish().await;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/status-v1.json");
    let status = host.feed().join(files::STATUS);
    assert_eq!(validate(&schema, &status).await, Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(host.feed().join(files::SCHEMA)).expect("schema published"),
        std::fs::read_to_string(&schema).expect("schema in repo")
    );
    // The schema refuses what must never be published: an extra field, an unknown word.
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status).expect("read")).expect("json");
    value["controls"][0]["reason"] = "check inventory_exists: /srv/inventory.txt".into();
    value["controls"][1]["status"] = "mostly_fine".into();
    let tampered = host.dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&value).expect("json")).expect("write");
    let errors = validate(&schema, &tampered).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
}

/// Validates `document` against `schema` with Python's `jsonschema` (draft 2020-12, formats
/// checked); returns the error messages. Python is named by `BEWEIS_PYTHON` (default python3).
async fn validate(schema: &Path, document: &Path) -> Vec<String> {
    const SCRIPT: &str = "import json, sys\n\
try:\n    import jsonschema\n\
except ImportError:\n    sys.exit('python package jsonschema is missing: pip install jsonschema')\n\
schema = json.load(open(sys.argv[1]))\n\
jsonschema.Draft202012Validator.check_schema(schema)\n\
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
for e in v.iter_errors(json.load(open(sys.argv[2]))):\n    print(e.message)\n";
    let python = std::env::var("BEWEIS_PYTHON").unwrap_or_else(|_| "python3".into());
    let run = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(schema)
        .arg(document)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("python finishes within 60 s")
        .unwrap_or_else(|e| panic!("cannot run {python} to validate the schema: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{python} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

/// `config/examples/trust-center.toml` with every `/etc/` path moved below `root`.
fn trust_center_profile(root: &Path) -> Config {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/trust-center.toml");
    let text = std::fs::read_to_string(&example).expect("read the trust-center example");
    let moved = text.replace("\"/etc/", &format!("\"{}/etc/", root.display()));
    parse_str(&moved, "<trust-center example>").expect("the trust-center example parses")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read fixture directory") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

#[tokio::test]
async fn the_trust_center_example_proves_what_it_can_of_103_controls() {
    let mut host = Host::new(40).await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trust-center");
    let root = host.dir.path().join("root");
    copy_tree(&fixtures, &root);
    host.config = trust_center_profile(&root);
    assert_eq!(host.config.profile.scope.len(), 103);
    host.collect().await;
    // Attestations expire on 2027-11-15: judge no later than 2027-11-01.
    let limit = Utc.with_ymd_and_hms(2027, 11, 1, 0, 0, 0).single().expect("valid date");
    let now = Utc::now().min(limit);
    let states =
        crate::runner::evaluate_from_store(&host.config, &host.store, now).await.expect("evaluate");
    let catalog = crate::config::Catalog::get(host.config.profile.catalog);
    let rates = crate::controls::percentages(&states, catalog);
    let counts: Vec<(&str, usize)> =
        rates.overall.counts.iter().filter(|(_, n)| **n > 0).map(|(w, n)| (*w, *n)).collect();
    let expected =
        [("attested", 81), ("inherited", 6), ("not_applicable", 1), ("passing", 7), ("unknown", 9)];
    assert_eq!(counts, expected);
    let rate = |r: &crate::controls::Rate| (r.numerator, r.denominator, r.percent);
    assert_eq!(rate(&rates.overall.all_proof), (94, 103, Some(91.3)));
    assert_eq!(rate(&rates.overall.automated), (7, 103, Some(6.8)));
    type FunctionRate<'a> = (&'a str, (usize, usize, Option<f64>));
    let functions: Vec<FunctionRate<'_>> =
        rates.functions.iter().map(|(id, t)| (id.as_str(), rate(&t.all_proof))).collect();
    let expected = [
        ("ID", (21, 24, Some(87.5))),
        ("PR", (33, 39, Some(84.6))),
        ("DE", (18, 18, Some(100.0))),
        ("RS", (16, 16, Some(100.0))),
        ("RC", (6, 6, Some(100.0))),
    ];
    assert_eq!(functions, expected);

    // A changed policy document turns the controls attested against it stale.
    let policy = root.join("etc/beweis/policies/backup-and-recovery.md");
    std::fs::write(&policy, "# Backup and recovery\n\nNo backups any more.\n").expect("edit");
    let states =
        crate::runner::evaluate_from_store(&host.config, &host.store, now).await.expect("evaluate");
    let stale: Vec<&str> = states
        .iter()
        .filter(|s| s.status == crate::controls::Status::Stale)
        .map(|s| s.control.as_str())
        .collect();
    assert_eq!(stale, ["PR.IP-4", "PR.IP-10"]);
}

#[tokio::test]
async fn oscal_assessment_results_validate_with_compliance_trestle() {
    let host = Host::rich(50).await;
    host.collect().await;
    let path = host.dir.path().join("assessment-results.json");
    super::export_oscal(&host.config, &host.store, &path).await.expect("export oscal");
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let result = &value["assessment-results"]["results"][0];
    assert_eq!(result["findings"].as_array().map(Vec::len), Some(8));
    assert_eq!(result["observations"].as_array().map(Vec::len), Some(2));
    let failing = result["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["target"]["target-id"] == "PR.DS-1"))
        .expect("finding of PR.DS-1");
    assert_eq!(failing["target"]["status"]["state"], "not-satisfied");
    assert!(result["observations"][0]["expires"].is_string());
    assert_eq!(trestle_errors(&path).await, "");
    let mut broken = value.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["uuid"] = "not-a-uuid".into();
    let broken_path = host.dir.path().join("broken.json");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).expect("json")).expect("write");
    assert!(trestle_errors(&broken_path).await.contains("uuid"), "trestle rejects a bad uuid");
}

/// Reads `path` with compliance-trestle's OSCAL models; returns the validation errors.
async fn trestle_errors(path: &Path) -> String {
    const SCRIPT: &str = "import pathlib, sys\n\
try:\n    from trestle.oscal.assessment_results import AssessmentResults\n\
except ImportError:\n    sys.exit('python package compliance-trestle is missing')\n\
try:\n    AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))\n\
except Exception as e:\n    print(e)\n";
    let python = std::env::var("BEWEIS_PYTHON").unwrap_or_else(|_| "python3".into());
    let run = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("python finishes within 120 s")
        .unwrap_or_else(|e| panic!("cannot run {python} to validate oscal: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{python} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn verify_feed_exits_0_when_intact_and_1_when_tampered() {
    let mut host = Host::new(70).await;
    host.add_run().await;
    host.publish().await;
    let key = host.dir.path().join("publisher.pub");
    std::fs::write(&key, format!("{}\n", hex::encode(host.public().as_bytes()))).expect("key");
    let args = crate::cli::VerifyFeedArgs {
        dir: host.feed(),
        key,
        state: Some(host.dir.path().join("seen.json")),
        max_age_hours: 26,
        json: crate::cli::JsonFlag { json: true },
    };
    let code = crate::commands::verify_feed(&args).expect("runs");
    assert_eq!(code, crate::cli::exit::OK);
    edit(&host.feed().join(files::STATUS), "\"unknown\"", "\"passing\"");
    let code = crate::commands::verify_feed(&args).expect("runs");
    assert_eq!(code, crate::cli::exit::PROBLEM);
}

#[tokio::test]
async fn a_checkpoint_seen_many_publications_ago_is_followed_through_the_chain() {
    let mut host = Host::new(21).await;
    host.add_run().await;
    host.publish().await;
    let state = host.dir.path().join("seen.json");
    let first = check(&host.feed(), &host.public(), &state).expect("first visit");
    for _ in 0..5 {
        host.add_run().await;
        host.publish().await;
    }
    let proof: serde_json::Value =
        serde_json::from_slice(&std::fs::read(host.feed().join(files::PROOF)).expect("proof.json"))
            .expect("json");
    let direct = proof["consistency"].as_array().expect("list");
    assert_eq!(direct.len(), 1, "proof.json proves only from the publication before");
    assert_ne!(direct[0]["from_tree_size"], first.tree_size);
    let chain = host.feed().join(files::CHAIN);
    let links = std::fs::read_dir(&chain).expect("chain links").count();
    assert_eq!(links, 5, "one link per publication after the first");
    let seen_before = std::fs::read(&state).expect("state");
    let report = check(&host.feed(), &host.public(), &state).expect("followed the chain");
    assert_eq!(report.previous_tree_size, Some(first.tree_size));
    assert_eq!(report.tree_size, first.tree_size + 10);
    // A link whose proof was altered breaks the walk.
    std::fs::write(&state, &seen_before).expect("restore the old state");
    let link = chain.join(format!("{}.json", first.tree_size));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&link).expect("link")).expect("json");
    value["proof"][0] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&link, serde_json::to_vec(&value).expect("json")).expect("write");
    let problem = check(&host.feed(), &host.public(), &state).expect_err("bad link");
    assert!(problem.to_string().contains("does not extend tree size"), "{problem}");
}

#[test]
fn a_reader_never_sees_a_mixed_set() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut host = runtime.block_on(Host::new(22));
    runtime.block_on(async {
        host.add_run().await;
        host.publish().await;
    });
    let (feed, public) = (host.feed(), host.public());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !done.load(std::sync::atomic::Ordering::Acquire) || reads < 50 {
                let options = VerifyFeedOptions {
                    dir: &feed,
                    key: &public,
                    state: None,
                    max_age: Duration::hours(26),
                    now: Utc::now(),
                };
                let result = verify_feed(&options).expect("verify-feed can run");
                assert!(result.is_ok(), "read {reads}: {}", result.expect_err("failed"));
                reads += 1;
            }
            reads
        })
    };
    runtime.block_on(async {
        for _ in 0..30 {
            host.add_run().await;
            host.publish().await;
        }
    });
    done.store(true, std::sync::atomic::Ordering::Release);
    let reads = reader.join().expect("the reader saw only whole sets");
    assert!(reads >= 50, "{reads}");
    let generations = std::fs::read_dir(host.feed().join("gen")).expect("gen").count();
    assert_eq!(generations, super::GENERATIONS_KEPT);
}

#[tokio::test]
async fn a_fact_marked_public_is_published_and_no_other_is() {
    let mut host = Host::rich(23).await;
    let dir = host.dir.path().to_path_buf();
    let marked = rich_profile(&dir).replacen(
        "controls = [\"ID.AM-1\", \"ID.AM-2\"]",
        "controls = [\"ID.AM-1\", \"ID.AM-2\"]\npublic_facts = [\"/size\", \"/absent\"]",
        1,
    );
    host.config = parse_str(&marked, "<marked profile>").expect("profile with public_facts");
    host.collect().await;
    let published = host.publish().await;
    let control = |id: &str| {
        published.document.controls.iter().find(|c| c.id == id).expect("control").clone()
    };
    let expected = std::collections::BTreeMap::from([
        ("/absent".to_owned(), vec![]),
        ("/size".to_owned(), vec![serde_json::json!(11)]),
    ]);
    assert_eq!(control("ID.AM-1").public_facts, expected);
    assert_eq!(control("ID.AM-2").public_facts, expected);
    assert!(control("PR.DS-1").public_facts.is_empty(), "its check marks nothing");
    let status = std::fs::read_to_string(host.feed().join(files::STATUS)).expect("status");
    assert!(status.contains("\"/size\": [\n"), "{status}");
    let inventory = std::fs::read(dir.join("inventory.txt")).expect("inventory");
    let sha256 = crate::evidence::payload_sha256(&inventory);
    let text = super::redaction_tests::feed_text(&host.feed());
    for unmarked in [sha256.as_str(), "\"uid\"", "\"mode\"", "modified_at", "inventory.txt"] {
        assert!(!text.contains(unmarked), "{unmarked} is not marked public");
    }
    for page in [files::PAGE_DE, files::PAGE_EN] {
        let html = std::fs::read_to_string(host.feed().join(page)).expect("page");
        let fact = "<li data-fact=\"/size\"><code>/size</code> 11</li>";
        assert_eq!(html.matches(fact).count(), 2, "beside ID.AM-1 and ID.AM-2 in {page}");
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/status-v1.json");
    let status = host.feed().join(files::STATUS);
    assert_eq!(validate(&schema, &status).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_german_page_uses_the_seed_texts_and_marks_english_ones() {
    let host = Host::rich(24).await;
    host.collect().await;
    let published = host.publish().await;
    let de = std::fs::read_to_string(host.feed().join(files::PAGE_DE)).expect("German page");
    let size = published.receipt.checkpoint.tree_size;
    assert!(de.contains(&format!("curl -fsSO \"$SITE/gen/{size}/$f\"")), "one generation");
    assert!(de.contains("scope=\"colgroup\">Zugriffskontrolle <small>(PR.AC)</small>"), "{de}");
    assert!(de.contains("<p class=\"about\">Implementierung von Schutzmaßnahmen"));
    let title = "<span lang=\"en\">Physical devices and systems within the organization are \
                 inventoried.</span>";
    assert!(de.contains(title), "an untranslated title is marked English");
    let en = std::fs::read_to_string(host.feed().join(files::PAGE_EN)).expect("English page");
    let category = "Identity Management, Authentication and Access Control <small>(PR.AC)";
    assert!(en.contains(&format!("scope=\"colgroup\">{category}</small>")));
    assert!(!en.contains("lang=\"en\">Physical") && !en.contains("Zugriffskontrolle"));
}

#[test]
fn public_facts_are_validated_with_their_position() {
    let dir = Path::new("/srv");
    for (pointers, message) in [
        ("[\"\"]", "public_facts: a pointer must name a field, not the whole evidence"),
        ("[\"grade\"]", "public_facts: \"grade\" is not a JSON pointer (it must start with /)"),
        ("[\"/a~2\"]", "public_facts: \"/a~2\" has a ~ not followed by 0 or 1"),
        ("[\"/size\", \"/size\"]", "public_facts: \"/size\" is listed twice"),
    ] {
        let text = rich_profile(dir).replacen(
            "controls = [\"ID.AM-1\", \"ID.AM-2\"]",
            &format!("controls = [\"ID.AM-1\", \"ID.AM-2\"]\npublic_facts = {pointers}"),
            1,
        );
        let line = text.lines().position(|l| l.starts_with("public_facts")).expect("line") + 1;
        let errors = parse_str(&text, "marked.toml").expect_err("bad pointer refused");
        let error = errors.0.first().expect("one error");
        assert_eq!((error.line, error.message.as_str()), (line, message), "{errors}");
        assert!(error.column > "public_facts = ".len(), "column of the pointer: {errors}");
    }
}

#[test]
fn the_expiry_lead_time_is_configured_in_hours() {
    let profile = "[profile]\ncatalog = \"nist-csf-1.1\"\n";
    let default = parse_str(profile, "lead.toml").expect("no agent section");
    assert_eq!(default.agent.webhook_expiry_lead, Duration::hours(24));
    let text = format!("[agent]\nwebhook_expiry_lead_hours = 12\n{profile}");
    let config = parse_str(&text, "lead.toml").expect("12 hours");
    assert_eq!(config.agent.webhook_expiry_lead, Duration::hours(12));
    let text = format!("[agent]\nwebhook_expiry_lead_hours = 0\n{profile}");
    let errors = parse_str(&text, "lead.toml").expect_err("zero refused");
    let error = errors.0.first().expect("one error");
    assert_eq!((error.line, error.column), (2, 29), "{errors}");
    assert_eq!(error.message, "webhook_expiry_lead_hours must be between 1 and 8784, not 0");
}

#[tokio::test]
async fn a_flat_feed_of_an_older_version_is_upgraded_to_generations() {
    let mut host = Host::new(25).await;
    host.add_run().await;
    std::fs::create_dir_all(host.feed()).expect("web root");
    std::fs::write(host.feed().join(files::STATUS), "{\"old\": true}\n").expect("old file");
    let published = host.publish().await;
    let status = host.feed().join(files::STATUS);
    let link = std::fs::read_link(&status).expect("status.json is now a symlink");
    assert_eq!(link, Path::new(files::CURRENT).join(files::STATUS));
    let current = std::fs::read_link(host.feed().join(files::CURRENT)).expect("current");
    let size = published.receipt.checkpoint.tree_size.to_string();
    assert_eq!(current, Path::new(files::GENERATIONS).join(size));
    for name in files::SET {
        assert!(host.feed().join(name).is_file(), "{name} reachable at the top level");
    }
    let state = host.dir.path().join("seen.json");
    check(&host.feed(), &host.public(), &state).expect("the upgraded feed verifies");
}
