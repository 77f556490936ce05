//! Two `collect now` at once, with and without the daemon, never fork the log and never fail
//! with "database is locked".

use std::process::{Output, Stdio};
use std::time::Duration;

use crate::support::{stderr, stdout, wait_for, Home};

fn home() -> Home {
    let home = Home::new();
    home.write("a.txt", "alpha\n");
    let config = format!(
        "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
         [[instance]]\nname = \"a\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
         params = {{ paths = [\"{}\"] }}\n\n\
         [[instance]]\nname = \"slow\"\ncollector = \"command\"\nschedule = \"@daily\"\n\
         params = {{ argv = [\"sleep\", \"1\"] }}\n",
        home.path("a.txt").display()
    );
    home.write("beweis.toml", &config);
    home
}

fn two_at_once(home: &Home) -> (Output, Output) {
    let spawn = || {
        home.beweis(&["collect", "now", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (first, second) = (spawn(), spawn());
    (first.wait_with_output().expect("wait"), second.wait_with_output().expect("wait"))
}

fn assert_clean(output: &Output) {
    assert!(output.status.success(), "exit {}: {}", output.status, stderr(output));
    assert!(!stderr(output).contains("locked"), "{}", stderr(output));
}

fn run_count(home: &Home) -> usize {
    let list = home.json(&["evidence", "list", "--json", "--limit", "100000"]);
    let mut runs: Vec<&str> =
        list.as_array().expect("list").iter().filter_map(|o| o["run_id"].as_str()).collect();
    runs.sort();
    runs.dedup();
    runs.len()
}

#[test]
fn two_in_process_collections_serialise_on_the_writer_lock() {
    let home = home();
    let (a, b) = two_at_once(&home);
    assert_clean(&a);
    assert_clean(&b);
    assert_eq!(run_count(&home), 4, "two collections of two instances each");
    let verify = home.run(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

#[test]
fn collections_through_the_daemon_while_it_collects() {
    let home = home();
    let _daemon = home.daemon();
    // The daemon's catch-up runs are in progress; two clients ask at the same time.
    let (a, b) = two_at_once(&home);
    assert_clean(&a);
    assert_clean(&b);
    wait_for("all runs stored", Duration::from_secs(20), || run_count(&home) >= 4);
    let verify = home.run(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}
