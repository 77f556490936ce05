//! The advisories collector in the real agent: two `collect now` runs over the same lockfile
//! carry a finding's first-seen time through the evidence log, and the "fixes applied within
//! N days of publication" check fails on an old fixable finding however recently it was seen.

use serde_json::Value;

use crate::support::{repo, stderr, Home};

fn config(home: &Home) -> String {
    let osv = repo().join("collectors/tests/fixtures/advisories/osv/pypa");
    format!(
        r#"[profile]
catalog = "nist-csf-1.1"

[[instance]]
name = "deps"
collector = "advisories"
schedule = "0 3 * * *"
params = {{ lockfiles = ["{lock}"], databases = [{{ kind = "osv-dir", path = "{osv}" }}] }}

[[check]]
name = "fixes-within-30-days"
instance = "deps"
judgement = "fact_at_most"
params = {{ pointer = "/oldest_fixable_finding_days", value = 30 }}
max_age_hours = 24
controls = ["ID.RA-1"]
"#,
        lock = home.path("requirements.txt").display(),
        osv = osv.display()
    )
}

fn newest_facts(home: &Home) -> Value {
    let list = home.json(&["evidence", "list", "--instance", "deps", "--json", "--limit", "1"]);
    let id = list[0]["id"].as_i64().unwrap_or_else(|| panic!("no observation: {list}"));
    let detail = home.json(&["evidence", "show", &id.to_string(), "--json"]);
    detail["facts"].clone()
}

fn flask_first_seen(facts: &Value) -> String {
    facts["findings"]
        .as_array()
        .and_then(|all| {
            all.iter().find(|f| {
                f["ids"].as_array().is_some_and(|ids| ids.contains(&"PYSEC-2018-66".into()))
            })
        })
        .and_then(|f| f["first_seen"].as_str())
        .unwrap_or_else(|| panic!("no flask finding with first_seen: {facts}"))
        .to_owned()
}

#[test]
fn first_seen_survives_runs_and_the_fix_delay_check_counts_from_publication() {
    let home = Home::new();
    home.write("requirements.txt", "flask==0.12.2\n");
    home.write("beweis.toml", &config(&home));
    let first = home.run(&["collect", "now"]);
    assert!(first.status.code().is_some_and(|c| c <= 1), "{}", stderr(&first));
    let facts = newest_facts(&home);
    assert_eq!(facts["history"]["basis"], "first observation", "{facts}");
    let seen = flask_first_seen(&facts);

    std::thread::sleep(std::time::Duration::from_millis(1100));
    home.write("requirements.txt", "flask==0.12.2\nidna==2.7\n");
    let second = home.run(&["collect", "now"]);
    assert!(second.status.code().is_some_and(|c| c <= 1), "{}", stderr(&second));
    let facts = newest_facts(&home);
    assert_eq!(facts["history"]["basis"], "previous observation", "{facts}");
    assert_eq!(flask_first_seen(&facts), seen, "first_seen comes from the first run");
    assert!(facts["scanned_at"].as_str().expect("scanned_at") > seen.as_str());

    let status = home.json(&["status", "--json"]);
    let control = status["controls"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["control"] == "ID.RA-1"))
        .unwrap_or_else(|| panic!("no ID.RA-1 in {status}"));
    assert_eq!(control["status"], "failing", "flask's fix is years old: {control}");
}
