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
