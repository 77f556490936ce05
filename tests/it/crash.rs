//! Crash safety: SIGKILL at random moments during collection never loses an acknowledged run
//! and never breaks the log. The 200-cycle version is `deploy/bench/crash.sh`.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{stdout, Home};

/// A configuration with enough subjects that a collection takes a noticeable moment.
fn busy_home() -> Home {
    let home = Home::new();
    let docs = home.path("docs");
    std::fs::create_dir_all(&docs).expect("docs dir");
    for i in 0..200 {
        std::fs::write(docs.join(format!("{i:03}.md")), format!("doc {i}\n").repeat(200))
            .expect("write doc");
    }
    let config = format!(
        "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
         [[instance]]\nname = \"docs\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
         params = {{ paths = [\"{}/*.md\"] }}\n\n\
         [[instance]]\nname = \"id\"\ncollector = \"command\"\nschedule = \"@daily\"\n\
         params = {{ argv = [\"id\", \"-u\"] }}\n",
        docs.display()
    );
    home.write("beweis.toml", &config);
    home
}

/// A pseudo-random delay in milliseconds (xorshift; no dependency needed for a test).
fn delays(seed: u64, count: usize, max_ms: u64) -> Vec<u64> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % max_ms
        })
        .collect()
}

#[test]
fn fifty_sigkills_during_collection_lose_no_acknowledged_run() {
    let home = busy_home();
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut killed = 0;
    for delay in delays(0x5eed_beef, 50, 400) {
        let mut child = home
            .beweis(&["collect", "now", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn collect");
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().expect("poll").is_none() {
            let _ = child.kill();
            killed += 1;
        }
        let output = child.wait_with_output().expect("wait");
        if output.status.success() || output.status.code() == Some(5) {
            let reply: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
            for run in reply["runs"].as_array().expect("runs") {
                acknowledged.insert(run["run_id"].as_str().expect("run_id").to_owned());
            }
        }
    }
    assert!(killed > 0, "no collection was killed; the test did not test crashes");
    let verify = home.run(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    let stored = home.json(&["evidence", "list", "--json", "--limit", "1000000"]);
    let stored: HashSet<&str> =
        stored.as_array().expect("list").iter().filter_map(|o| o["run_id"].as_str()).collect();
    let missing: Vec<&String> =
        acknowledged.iter().filter(|r| !stored.contains(r.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged runs lost: {missing:?}");
}
