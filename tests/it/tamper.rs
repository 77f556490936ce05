//! Tampering with the stored log through SQLite itself (triggers dropped, as an attacker with
//! file access would) makes `verify` fail with exit code 1 and name the record.

use sqlx::{Connection, SqliteConnection};

use crate::support::{stdout, Home};

fn collected_home() -> Home {
    let home = Home::new();
    home.write("a.txt", "alpha\n");
    home.write("b.txt", "beta\n");
    let paths =
        format!("[\"{}\", \"{}\"]", home.path("a.txt").display(), home.path("b.txt").display());
    home.write(
        "beweis.toml",
        &format!(
            "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
             [[instance]]\nname = \"docs\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
             params = {{ paths = {paths} }}\n"
        ),
    );
    for _ in 0..3 {
        let output = home.run(&["collect", "now"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let ok = home.run(&["verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    home
}

async fn tamper(home: &Home, statements: &[&str]) {
    let url = format!("sqlite://{}", home.state().join("evidence.db").display());
    let mut db = SqliteConnection::connect(&url).await.expect("open db");
    let triggers: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut db)
            .await
            .expect("list triggers");
    for (name,) in triggers {
        sqlx::query(&format!("DROP TRIGGER \"{name}\"")).execute(&mut db).await.expect("drop");
    }
    for statement in statements {
        sqlx::query(statement).execute(&mut db).await.expect(statement);
    }
    db.close().await.expect("close");
}

fn assert_tampered(home: &Home, needle: &str) {
    let output = home.run(&["verify"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "verify must fail: {text}");
    assert!(text.contains("TAMPERED"), "{text}");
    assert!(text.contains(needle), "expected {needle:?} in: {text}");
}

#[tokio::test]
async fn editing_an_observation_is_named() {
    let home = collected_home();
    tamper(&home, &["UPDATE observations SET subject = subject || 'x' WHERE id = 2"]).await;
    assert_tampered(&home, "observation 2");
}

#[tokio::test]
async fn deleting_an_observation_is_named() {
    let home = collected_home();
    tamper(&home, &["DELETE FROM observations WHERE id = 3"]).await;
    assert_tampered(&home, "3");
}

#[tokio::test]
async fn reordering_observations_is_named() {
    let home = collected_home();
    tamper(
        &home,
        &[
            "UPDATE observations SET subject = 'swap' WHERE id = 1",
            "UPDATE observations SET subject = (SELECT subject FROM observations WHERE id = 2) \
             WHERE id = 1",
            "UPDATE observations SET subject = 'first' WHERE id = 2",
        ],
    )
    .await;
    assert_tampered(&home, "observation 1");
}

#[tokio::test]
async fn rewriting_a_payload_is_named() {
    let home = collected_home();
    tamper(&home, &["UPDATE payloads SET bytes = CAST('{\"exists\":false}' AS BLOB)"]).await;
    assert_tampered(&home, "payload");
}

/// After tampering, a collection must not sign a new checkpoint over the changed history.
fn assert_writer_refuses(home: &Home, needle: &str) {
    let output = home.run(&["collect", "now"]);
    let text = crate::support::stderr(&output);
    assert_eq!(output.status.code(), Some(4), "collect now must refuse: {text}");
    assert!(text.contains("the evidence log is inconsistent"), "{text}");
    assert!(text.contains(needle), "expected {needle:?} in: {text}");
    assert_tampered(home, "");
}

#[tokio::test]
async fn the_writer_refuses_a_log_whose_triggers_were_dropped() {
    let home = collected_home();
    tamper(&home, &[]).await;
    assert_writer_refuses(&home, "append-only triggers missing: runs_no_update");
}

#[tokio::test]
async fn the_writer_refuses_a_log_with_a_deleted_record_even_with_triggers_restored() {
    let home = collected_home();
    let url = format!("sqlite://{}", home.state().join("evidence.db").display());
    let mut db = SqliteConnection::connect(&url).await.expect("open db");
    let triggers: Vec<(String,)> =
        sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut db)
            .await
            .expect("list triggers");
    db.close().await.expect("close");
    let newest = "DELETE FROM observations WHERE id = (SELECT max(id) FROM observations)";
    let mut statements = vec![newest];
    statements.extend(triggers.iter().map(|(sql,)| sql.as_str()));
    tamper(&home, &statements).await;
    assert_writer_refuses(&home, "leaves but");
}

#[tokio::test]
async fn the_writer_refuses_a_signing_key_that_did_not_sign_the_log() {
    let home = collected_home();
    let key = home.state().join("signing.key");
    let before = std::fs::read_to_string(home.state().join("signing.pub")).expect("pub");
    std::fs::write(&key, [7u8; 32]).expect("swap key");
    let output = home.run(&["collect", "now"]);
    let text = crate::support::stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{text}");
    assert!(text.contains("did not sign the evidence log"), "{text}");
    let after = std::fs::read_to_string(home.state().join("signing.pub")).expect("pub");
    assert_eq!(before, after, "signing.pub must not be rewritten for a foreign key");
}

#[tokio::test]
async fn a_damaged_database_page_is_a_finding_of_verify() {
    let home = collected_home();
    let db = home.state().join("evidence.db");
    let url = format!("sqlite://{}", db.display());
    let mut conn = SqliteConnection::connect(&url).await.expect("open db");
    let (page,): (i64,) =
        sqlx::query_as("SELECT rootpage FROM sqlite_master WHERE name = 'observations'")
            .fetch_one(&mut conn)
            .await
            .expect("root page");
    let (page_size,): (i64,) =
        sqlx::query_as("PRAGMA page_size").fetch_one(&mut conn).await.expect("page size");
    conn.close().await.expect("close");
    let mut bytes = std::fs::read(&db).expect("read db");
    // The first byte of a b-tree page is its type; 0xA5 is none of the four valid ones.
    let offset = usize::try_from((page - 1) * page_size).expect("offset");
    bytes[offset] = 0xA5;
    std::fs::write(&db, bytes).expect("write db");
    let output = home.run(&["verify"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", crate::support::stderr(&output));
    assert!(text.contains("TAMPERED: database file: integrity check failed"), "{text}");
}
