//! Store tests against real SQLite files in temporary directories.
//!
//! The fixture log holds three runs: `r1` (sshd, two observations sharing one payload),
//! `r2` (tls, partial, one observation and one failure) and `r3` (sshd, skipped):
//!
//! | seq | record        |
//! | --- | ------------- |
//! | 0   | run r1        |
//! | 1   | observation 1 |
//! | 2   | observation 2 |
//! | 3   | run r2        |
//! | 4   | observation 3 |
//! | 5   | run r3        |
//!
//! with checkpoints at tree sizes 3, 5 and 6. Tamper tests edit the file through a raw
//! connection after dropping the triggers, as an attacker with write access to the file would.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use collectors::{Custody, FailureKind, Observation, SubjectFailure};
use ed25519_dalek::SigningKey;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tempfile::TempDir;

use super::*;
use crate::evidence::checkpoint::Checkpoint;
use crate::evidence::merkle;
use crate::evidence::{Outcome, RunRecord, Trigger};

const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single().expect("valid test time")
}

fn run(run_id: &str, instance: &str, outcome: Outcome, start: i64) -> RunRecord {
    RunRecord {
        run_id: run_id.into(),
        instance: instance.into(),
        collector: "file".into(),
        collector_version: "0.1.0".into(),
        trigger: Trigger::Schedule,
        started_at: at(start),
        finished_at: at(start + 1),
        outcome,
        error: None,
        failures: vec![],
    }
}

fn observation(subject: &str, facts: serde_json::Value, secs: i64) -> Observation {
    Observation {
        subject: subject.into(),
        collected_at: at(secs),
        effective_at: None,
        facts,
        custody: Custody { argv: None, exit_code: None, duration_ms: 12, tool_version: None },
    }
}

fn tls_failure() -> SubjectFailure {
    SubjectFailure {
        subject: "https://127.0.0.1:9443".into(),
        kind: FailureKind::Unreachable,
        message: "connection refused".into(),
    }
}

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    receipts: Vec<RunReceipt>,
}

/// Creates the fixture log and closes the writer.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evidence.db");
    let store = Store::open(&path).await.expect("open writer");
    let no_root = json!({"permit_root_login": "no"});
    let r1 = [
        observation(SSHD_CONFIG, no_root.clone(), 0),
        observation("/etc/ssh/sshd_config.d/50-cloud.conf", no_root, 0),
    ];
    let mut r2 = run("r2", "tls", Outcome::Partial, 10);
    r2.failures = vec![tls_failure()];
    let mut tls = observation("https://127.0.0.1:8443", json!({"versions": ["1.3"]}), 10);
    tls.effective_at = Some(at(5));
    let mut receipts = Vec::new();
    for (record, observations) in [
        (run("r1", "sshd", Outcome::Succeeded, 0), &r1[..]),
        (r2, &[tls][..]),
        (run("r3", "sshd", Outcome::Skipped, 20), &[][..]),
    ] {
        receipts.push(store.record_run(&record, observations, &key()).await.expect("recorded"));
    }
    store.close().await;
    Fixture { _dir: dir, path, receipts }
}

async fn reader(path: &Path) -> Store {
    Store::open_read_only(path).await.expect("open reader")
}

async fn verify(path: &Path) -> VerifyReport {
    reader(path).await.verify(&key().verifying_key()).await.expect("verify ran")
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .foreign_keys(false)
        .connect()
        .await
        .expect("raw connection")
}

async fn exec(conn: &mut SqliteConnection, statement: &str) {
    sqlx::query(statement).execute(&mut *conn).await.expect(statement);
}

/// Drops every trigger, runs `statements`, and returns what verify reports.
async fn tamper_with(statements: &[&str]) -> Tamper {
    let fixture = fixture().await;
    let mut conn = raw(&fixture.path).await;
    drop_triggers(&mut conn).await;
    for statement in statements {
        exec(&mut conn, statement).await;
    }
    conn.close().await.expect("close");
    verify(&fixture.path).await.problem.expect("tamper detected")
}

async fn drop_triggers(conn: &mut SqliteConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut *conn)
            .await
            .expect("list triggers");
    assert_eq!(names.len(), 14, "{names:?}");
    for name in names {
        exec(conn, &format!("DROP TRIGGER {name}")).await;
    }
}

fn assert_tamper(problem: &Tamper, record: &str, reason: &str) {
    assert_eq!((problem.record.as_str(), problem.reason.as_str()), (record, reason));
}

#[tokio::test]
async fn records_runs_with_contiguous_seqs_and_one_checkpoint_each() {
    let fixture = fixture().await;
    let positions: Vec<(u64, u64)> =
        fixture.receipts.iter().map(|r| (r.first_seq, r.tree_size)).collect();
    assert_eq!(positions, vec![(0, 3), (3, 5), (5, 6)]);
    assert_eq!(fixture.receipts[1].run_id, "r2");

    let store = reader(&fixture.path).await;
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts, Counts { runs: 3, observations: 3, tree_size: 6 });
    let checkpoint = store.latest_checkpoint().await.expect("read").expect("exists");
    assert_eq!(checkpoint.tree_size, 6);
    assert_eq!(checkpoint.verify(&key().verifying_key()), Ok(()));
    assert_eq!(hex::encode(checkpoint.root), fixture.receipts[2].root_hex);

    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT leaf_hash FROM log_leaves ORDER BY seq")
        .fetch_all(&store.pool)
        .await
        .expect("leaves");
    let hashes: Vec<merkle::Hash> =
        hashes.into_iter().map(|h| h.try_into().expect("32 bytes")).collect();
    assert_eq!(hex::encode(merkle::root(&hashes)), fixture.receipts[2].root_hex);
    assert_eq!(hex::encode(merkle::root(&hashes[..3])), fixture.receipts[0].root_hex);

    let payloads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payloads")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    assert_eq!(payloads, 2, "equal facts share one payload");
}

#[tokio::test]
async fn latest_evidence_is_the_newest_run_that_was_not_skipped() {
    let fixture = fixture().await;
    let store = reader(&fixture.path).await;
    let sshd = store.latest_evidence("sshd").await.expect("read").expect("sshd ran");
    assert_eq!(sshd.run.run_id, "r1");
    assert_eq!(sshd.run.outcome, Outcome::Succeeded);
    assert_eq!((sshd.run.started_at, sshd.run.finished_at), (at(0), at(1)));
    let subjects: Vec<&str> = sshd.observations.iter().map(|o| o.subject.as_str()).collect();
    assert_eq!(subjects, vec![SSHD_CONFIG, "/etc/ssh/sshd_config.d/50-cloud.conf"]);
    assert_eq!(sshd.observations[0].facts, json!({"permit_root_login": "no"}));
    assert_eq!(sshd.observations[0].id, 1);
    assert!(sshd.failures.is_empty());

    let tls = store.latest_evidence("tls").await.expect("read").expect("tls ran");
    assert_eq!(tls.run.outcome, Outcome::Partial);
    assert_eq!(tls.failures, vec![tls_failure()]);
    assert_eq!(tls.observations[0].effective_at, Some(at(5)));
    assert_eq!(tls.observations[0].facts, json!({"versions": ["1.3"]}));

    assert!(store.latest_evidence("backup").await.expect("read").is_none());
    assert_eq!(store.last_started("sshd").await.expect("read"), Some(at(0)));
    assert_eq!(store.last_started("backup").await.expect("read"), None);
}

#[tokio::test]
async fn previous_observations_keep_the_newest_of_each_subject_across_runs() {
    let fixture = fixture().await;
    let store = Store::open(&fixture.path).await.expect("open writer");
    // r4 sees only the main file: the drop-in keeps its observation from r1.
    let changed = observation(SSHD_CONFIG, json!({"permit_root_login": "yes"}), 30);
    store.record_run(&run("r4", "sshd", Outcome::Partial, 30), &[changed], &key()).await.unwrap();
    let previous = store.previous_observations("sshd").await.expect("read");
    let subjects: std::collections::BTreeSet<&str> = previous.keys().map(String::as_str).collect();
    assert_eq!(subjects, [SSHD_CONFIG, "/etc/ssh/sshd_config.d/50-cloud.conf"].into());
    let main = &previous[SSHD_CONFIG];
    assert_eq!(main.collected_at, at(30));
    assert_eq!(main.facts, Some(json!({"permit_root_login": "yes"})));
    let drop_in = &previous["/etc/ssh/sshd_config.d/50-cloud.conf"];
    assert_eq!(
        (drop_in.collected_at, drop_in.facts.clone()),
        (
            at(0),
            Some(json!({
                "permit_root_login": "no"
            }))
        )
    );
    assert_eq!(drop_in.payload_sha256.len(), 64);
    assert!(store.previous_observations("backup").await.expect("read").is_empty());
}

#[tokio::test]
async fn listings_are_newest_first_and_filtered() {
    let fixture = fixture().await;
    let store = reader(&fixture.path).await;
    let all = ObservationFilter { instance: None, since: None, limit: 10 };
    let ids: Vec<i64> =
        store.observations(&all).await.expect("list").iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![3, 2, 1]);
    let sshd = ObservationFilter { instance: Some("sshd".into()), since: None, limit: 1 };
    let rows = store.observations(&sshd).await.expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].seq, rows[0].run_id.as_str()), (2, 2, "r1"));
    assert_eq!((rows[0].instance.as_str(), rows[0].collector.as_str()), ("sshd", "file"));
    let recent = ObservationFilter { instance: None, since: Some(at(5)), limit: 10 };
    let rows = store.observations(&recent).await.expect("list");
    assert_eq!(rows.iter().map(|o| o.id).collect::<Vec<_>>(), vec![3]);

    let detail = store.observation(3).await.expect("read").expect("exists");
    assert_eq!(detail.row.subject, "https://127.0.0.1:8443");
    assert_eq!(detail.facts, Some(json!({"versions": ["1.3"]})));
    assert_eq!(detail.payload_size, br#"{"versions":["1.3"]}"#.len() as u64);
    assert_eq!(detail.run_outcome, Outcome::Partial);
    assert_eq!(detail.custody.duration_ms, 12);
    assert_eq!(detail.collector_version, "0.1.0");
    assert!(store.observation(99).await.expect("read").is_none());

    let runs = store.runs(10).await.expect("list");
    let listed: Vec<(&str, u64, u64)> =
        runs.iter().map(|r| (r.run.run_id.as_str(), r.seq, r.observations)).collect();
    assert_eq!(listed, vec![("r3", 5, 0), ("r2", 3, 1), ("r1", 0, 2)]);
    assert_eq!(runs[0].run.outcome, Outcome::Skipped);
    assert_eq!(runs[1].run.failures, vec![tls_failure()]);
}

#[tokio::test]
async fn reopening_continues_the_log_and_verify_passes() {
    let fixture = fixture().await;
    let store = Store::open(&fixture.path).await.expect("reopen writer");
    let obs = [observation(SSHD_CONFIG, json!({"permit_root_login": "yes"}), 30)];
    let receipt = store.record_run(&run("r4", "sshd", Outcome::Succeeded, 30), &obs, &key()).await;
    let receipt = receipt.expect("recorded");
    assert_eq!((receipt.first_seq, receipt.tree_size), (6, 8));
    store.close().await;

    let report = verify(&fixture.path).await;
    let expected =
        VerifyReport { leaves: 8, checkpoints: 4, payloads: 3, pruned_payloads: 0, problem: None };
    assert_eq!(report, expected);
}

#[tokio::test]
async fn readers_do_not_create_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evidence.db");
    let err = Store::open_read_only(&path).await.expect_err("missing database");
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no evidence collected yet"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(!path.exists());

    std::fs::write(&path, b"").expect("empty file");
    let err = Store::open_read_only(&path).await.expect_err("no schema");
    assert!(matches!(err, StoreError::Schema { found: 0, expected: 3, .. }), "{err:?}");
}

#[tokio::test]
async fn readers_cannot_write() {
    let fixture = fixture().await;
    let store = reader(&fixture.path).await;
    let err = store.record_run(&run("r9", "sshd", Outcome::Failed, 40), &[], &key()).await;
    assert!(err.is_err());
    assert_eq!(store.counts().await.expect("counts").runs, 3);
}

#[tokio::test]
async fn triggers_refuse_updates_and_deletes_of_log_tables() {
    let fixture = fixture().await;
    let mut conn = raw(&fixture.path).await;
    let refused = [
        ("UPDATE runs SET outcome = 'succeeded' WHERE run_id = 'r2'", "runs are append-only"),
        ("DELETE FROM runs WHERE run_id = 'r3'", "runs are append-only"),
        ("UPDATE observations SET subject = 'x' WHERE id = 1", "observations are append-only"),
        ("DELETE FROM observations WHERE id = 1", "observations are append-only"),
        ("UPDATE log_leaves SET kind = 'run' WHERE seq = 1", "log leaves are append-only"),
        ("DELETE FROM log_leaves WHERE seq = 5", "log leaves are append-only"),
        ("UPDATE checkpoints SET tree_size = 7", "checkpoints are append-only"),
        ("DELETE FROM checkpoints", "checkpoints are append-only"),
        ("DELETE FROM payloads", "payloads are append-only"),
        ("UPDATE payloads SET bytes = x'00'", "payloads are append-only except for dropping"),
        (
            "UPDATE payloads SET size = 1, bytes = NULL",
            "payloads are append-only except for dropping",
        ),
    ];
    for (statement, message) in refused {
        let err = sqlx::query(statement).execute(&mut conn).await.expect_err(statement);
        assert!(err.to_string().contains(message), "{statement}: {err}");
    }
    let store = Store::open(&fixture.path).await.expect("writer");
    let change = ControlChange {
        control: "PR.AC-1".into(),
        status: "passing".into(),
        reason: "ok".into(),
        evidence: json!([]),
    };
    store.record_control_changes(&[change], at(50)).await.expect("recorded");
    for statement in
        ["UPDATE control_transitions SET reason = 'x'", "DELETE FROM control_transitions"]
    {
        let err = sqlx::query(statement).execute(&mut conn).await.expect_err(statement);
        assert!(err.to_string().contains("control transitions are append-only"), "{err}");
    }
    exec(&mut conn, "UPDATE payloads SET bytes = NULL").await;
    conn.close().await.expect("close");
    store.close().await;
}

#[tokio::test]
async fn dropped_payload_bytes_keep_the_log_verifiable_and_come_back() {
    let fixture = fixture().await;
    let mut conn = raw(&fixture.path).await;
    exec(&mut conn, "UPDATE payloads SET bytes = NULL").await;
    conn.close().await.expect("close");
    let report = verify(&fixture.path).await;
    assert_eq!((report.payloads, report.pruned_payloads, report.problem), (0, 2, None));
    let store = reader(&fixture.path).await;
    assert_eq!(store.observation(3).await.expect("read").expect("exists").facts, None);
    let tls = store.latest_evidence("tls").await.expect("read").expect("ran");
    assert_eq!(tls.observations[0].facts, serde_json::Value::Null);

    let writer = Store::open(&fixture.path).await.expect("writer");
    let again = [observation("https://127.0.0.1:8443", json!({"versions": ["1.3"]}), 60)];
    writer.record_run(&run("r5", "tls", Outcome::Succeeded, 60), &again, &key()).await.expect("ok");
    writer.close().await;
    let detail = store.observation(3).await.expect("read").expect("exists");
    assert_eq!(detail.facts, Some(json!({"versions": ["1.3"]})));
    assert_eq!(verify(&fixture.path).await.problem, None);
}

#[tokio::test]
async fn edited_observation_subject_is_named() {
    let problem =
        tamper_with(&["UPDATE observations SET subject = '/etc/ssh/sshd_confiG' WHERE id = 1"])
            .await;
    assert_tamper(
        &problem,
        "observation 1 (seq 1, instance sshd, subject /etc/ssh/sshd_confiG)",
        "leaf hash mismatch",
    );
}

#[tokio::test]
async fn edited_observation_custody_is_named() {
    let problem = tamper_with(&[
        "UPDATE observations SET custody = replace(custody, ':12,', ':13,') WHERE id = 3",
    ])
    .await;
    assert_tamper(
        &problem,
        "observation 3 (seq 4, instance tls, subject https://127.0.0.1:8443)",
        "leaf hash mismatch",
    );
}

#[tokio::test]
async fn reformatted_custody_is_named_even_when_its_meaning_is_unchanged() {
    let problem = tamper_with(&[
        "UPDATE observations SET custody = replace(custody, ',', ', ') WHERE id = 2",
    ])
    .await;
    assert_eq!(
        problem.record,
        "observation 2 (seq 2, instance sshd, subject /etc/ssh/sshd_config.d/50-cloud.conf)"
    );
    assert_eq!(problem.reason, "custody is not in canonical form");
}

#[tokio::test]
async fn edited_run_outcome_is_named() {
    let problem = tamper_with(&["UPDATE runs SET outcome = 'succeeded' WHERE run_id = 'r2'"]).await;
    assert_tamper(&problem, "run r2 (seq 3, instance tls)", "leaf hash mismatch");
}

#[tokio::test]
async fn edited_payload_byte_is_named() {
    let fixture = fixture().await;
    let mut conn = raw(&fixture.path).await;
    drop_triggers(&mut conn).await;
    let (sha256, mut bytes): (String, Vec<u8>) =
        sqlx::query_as("SELECT sha256, bytes FROM payloads ORDER BY sha256 LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .expect("payload");
    bytes[3] ^= 0x01;
    sqlx::query("UPDATE payloads SET bytes = ?1 WHERE sha256 = ?2")
        .bind(bytes)
        .bind(&sha256)
        .execute(&mut conn)
        .await
        .expect("edit");
    conn.close().await.expect("close");
    let problem = verify(&fixture.path).await.problem.expect("tamper detected");
    assert_tamper(&problem, &format!("payload {sha256}"), "bytes do not hash to their sha256");
}

#[tokio::test]
async fn rewritten_payload_with_a_matching_hash_breaks_the_observation_leaf() {
    let facts = br#"{"permit_root_login":"yes"}"#;
    let sha256 = crate::evidence::payload_sha256(facts);
    let problem = tamper_with(&[
        &format!(
            "INSERT INTO payloads (sha256, size, bytes) VALUES ('{sha256}', {}, x'{}')",
            facts.len(),
            hex::encode(facts)
        ),
        &format!("UPDATE observations SET payload_sha256 = '{sha256}' WHERE id = 2"),
    ])
    .await;
    assert_tamper(
        &problem,
        "observation 2 (seq 2, instance sshd, subject /etc/ssh/sshd_config.d/50-cloud.conf)",
        "leaf hash mismatch",
    );
}

#[tokio::test]
async fn deleted_observation_row_is_named() {
    let problem = tamper_with(&["DELETE FROM observations WHERE id = 2"]).await;
    assert_tamper(
        &problem,
        "leaf 2 (observation 2)",
        "its observation row is missing or was moved",
    );
}

#[tokio::test]
async fn deleted_leaf_is_named() {
    let problem = tamper_with(&["DELETE FROM log_leaves WHERE seq = 2"]).await;
    assert_tamper(&problem, "leaf 2", "missing from the log (the next leaf is 3)");
}

#[tokio::test]
async fn swapped_observation_contents_are_named() {
    let problem = tamper_with(&[
        "UPDATE observations SET subject = 'tmp' WHERE id = 1",
        "UPDATE observations SET subject = '/etc/ssh/sshd_config' WHERE id = 2",
        "UPDATE observations SET subject = '/etc/ssh/sshd_config.d/50-cloud.conf' WHERE id = 1",
    ])
    .await;
    assert_tamper(
        &problem,
        "observation 1 (seq 1, instance sshd, subject /etc/ssh/sshd_config.d/50-cloud.conf)",
        "leaf hash mismatch",
    );
}

#[tokio::test]
async fn reordered_observations_and_leaves_are_named() {
    // Move observation 2 before observation 1: swap their positions, their leaves' references
    // and stored hashes, so every row still has a leaf at its own position.
    let problem = tamper_with(&[
        "UPDATE observations SET seq = 1000 WHERE id = 1",
        "UPDATE observations SET seq = 1 WHERE id = 2",
        "UPDATE observations SET seq = 2 WHERE id = 1",
        "UPDATE log_leaves SET seq = 1000 WHERE seq = 1",
        "UPDATE log_leaves SET seq = 1 WHERE seq = 2",
        "UPDATE log_leaves SET seq = 2 WHERE seq = 1000",
    ])
    .await;
    assert_tamper(
        &problem,
        "observation 2 (seq 1, instance sshd, subject /etc/ssh/sshd_config.d/50-cloud.conf)",
        "leaf hash mismatch",
    );
}

#[tokio::test]
async fn truncated_log_under_a_kept_checkpoint_is_named() {
    // Deleting the newest leaves together with the checkpoints that signed them would leave
    // a shorter log that is consistent in itself: only a checkpoint kept elsewhere (the public
    // feed, a witness) reveals that. Keeping the checkpoint, the truncation is visible here.
    let problem = tamper_with(&["DELETE FROM log_leaves WHERE seq >= 5"]).await;
    assert_tamper(
        &problem,
        "checkpoint at tree size 6",
        "the log holds only 5 leaves: signed leaves were removed",
    );
}

#[tokio::test]
async fn row_without_a_leaf_is_named() {
    let problem = tamper_with(&[
        "INSERT INTO observations (run_id, seq, subject, collected_at, effective_at, \
         payload_sha256, custody) SELECT run_id, 100, 'forged', collected_at, NULL, \
         payload_sha256, custody FROM observations WHERE id = 1",
    ])
    .await;
    assert_tamper(
        &problem,
        "observation 4 (seq 100, instance sshd, subject forged)",
        "has no leaf in the log",
    );
}

#[tokio::test]
async fn forged_checkpoint_signature_is_named() {
    let problem =
        tamper_with(&["UPDATE checkpoints SET signature = zeroblob(64) WHERE tree_size = 5"]).await;
    assert_tamper(&problem, "checkpoint at tree size 5", "signature does not match");
}

#[tokio::test]
async fn checkpoint_with_a_wrong_root_is_named_even_when_signed_by_the_key() {
    let forged = Checkpoint::sign(3, [9; 32], at(100), &key());
    let problem = tamper_with(&[&format!(
        "INSERT INTO checkpoints (tree_size, root, created_at, key_id, signature, frontier) \
         VALUES (3, x'{}', '{}', '{}', x'{}', x'')",
        hex::encode(forged.root),
        forged.created_at_text(),
        forged.key_id,
        hex::encode(forged.signature)
    )])
    .await;
    assert_tamper(&problem, "checkpoint at tree size 3", "root hash does not match the log");
}

#[tokio::test]
async fn another_verifying_key_is_reported_on_the_first_checkpoint() {
    let fixture = fixture().await;
    let other = SigningKey::from_bytes(&[12; 32]).verifying_key();
    let report = reader(&fixture.path).await.verify(&other).await.expect("verify ran");
    let problem = report.problem.expect("wrong key detected");
    assert_eq!(problem.record, "checkpoint at tree size 3");
    assert!(problem.reason.starts_with("signed by key "), "{}", problem.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_file_interleave_without_forking_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("evidence.db");
    let first = Store::open(&path).await.expect("first writer");
    let second = Store::open(&path).await.expect("second writer");
    let write = |store: Store, instance: &'static str| async move {
        let mut receipts = Vec::new();
        for i in 0..15 {
            let record = run(&crate::evidence::new_run_id(), instance, Outcome::Succeeded, i);
            let obs = [observation(instance, json!({"i": i}), i)];
            receipts.push(store.record_run(&record, &obs, &key()).await.expect("recorded"));
        }
        receipts
    };
    let (a, b) = tokio::join!(
        tokio::spawn(write(first.clone(), "alpha")),
        tokio::spawn(write(second.clone(), "beta"))
    );
    let mut receipts: Vec<RunReceipt> =
        a.expect("joined").into_iter().chain(b.expect("joined")).collect();
    receipts.sort_by_key(|r| r.first_seq);
    let positions: Vec<(u64, u64)> = receipts.iter().map(|r| (r.first_seq, r.tree_size)).collect();
    let expected: Vec<(u64, u64)> = (0..30).map(|i| (2 * i, 2 * i + 2)).collect();
    assert_eq!(positions, expected);
    first.close().await;
    second.close().await;
    let report = verify(&path).await;
    assert_eq!((report.leaves, report.checkpoints, report.problem), (60, 30, None));
}

#[tokio::test]
async fn control_status_keeps_since_until_the_status_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("evidence.db")).await.expect("writer");
    let change = |control: &str, status: &str, reason: &str| ControlChange {
        control: control.into(),
        status: status.into(),
        reason: reason.into(),
        evidence: json!({"reason": reason}),
    };
    let first = [change("PR.AC-1", "passing", "ok"), change("PR.DS-2", "failing", "tls 1.0")];
    store.record_control_changes(&first, at(0)).await.expect("recorded");
    let second = [change("PR.AC-1", "passing", "still ok"), change("PR.DS-2", "passing", "fixed")];
    store.record_control_changes(&second, at(60)).await.expect("recorded");

    let statuses = store.control_statuses().await.expect("read");
    let summary: Vec<(&str, &str, DateTime<Utc>, &str)> = statuses
        .iter()
        .map(|s| (s.control.as_str(), s.status.as_str(), s.since, s.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![("PR.AC-1", "passing", at(0), "still ok"), ("PR.DS-2", "passing", at(60), "fixed")]
    );
    assert_eq!(statuses[0].evidence, json!({"reason": "still ok"}));

    let history = store.transitions(None, 10).await.expect("read");
    let moves: Vec<(&str, Option<&str>, &str, DateTime<Utc>)> = history
        .iter()
        .map(|t| (t.control.as_str(), t.from_status.as_deref(), t.to_status.as_str(), t.at))
        .collect();
    assert_eq!(
        moves,
        vec![
            ("PR.DS-2", Some("failing"), "passing", at(60)),
            ("PR.DS-2", None, "failing", at(0)),
            ("PR.AC-1", None, "passing", at(0)),
        ]
    );
    assert_eq!(store.transitions(Some("PR.AC-1"), 10).await.expect("read").len(), 1);
    assert_eq!(store.transitions(None, 1).await.expect("read").len(), 1);
    store.close().await;
}
