//! The command line on a fresh machine: the embedded default, config errors, exit codes.

use crate::support::{stderr, stdout, Home};

#[test]
fn collect_now_on_the_embedded_default_gives_real_statuses() {
    assert!(
        !std::path::Path::new("/etc/beweis/beweis.toml").exists(),
        "this test needs the embedded default: move /etc/beweis/beweis.toml away"
    );
    let home = Home::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .arg("--state-dir")
        .arg(home.state())
        .args(["collect", "now"])
        .output()
        .expect("run beweis");
    let table = stdout(&output);
    assert!(output.status.success(), "exit {}: {}", output.status, stderr(&output));
    assert!(table.contains("nist-csf-1.1"), "{table}");
    let words = ["passing", "failing", "error", "stale"];
    let decided = table.lines().filter(|l| words.iter().any(|w| l.contains(w))).count();
    assert!(decided >= 3, "expected real statuses, got:\n{table}");
    assert!(table.contains("Overall"), "{table}");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .arg("--state-dir")
        .arg(home.state())
        .arg("verify")
        .output()
        .expect("run verify");
    assert!(verify.status.success(), "{}", stdout(&verify));
}

#[test]
fn three_config_mistakes_give_three_located_errors_and_store_nothing() {
    let home = Home::new();
    home.write(
        "beweis.toml",
        r#"[profile]
catalog = "nist-csf-1.1"

[[instance]]
name = "doc"
collector = "file"
schedule = "0 25 * * *"
params = { paths = ["/etc/hostname"] }

[[check]]
name = "present"
instance = "doc"
judgement = "exists"
max_age_hours = 24
controls = ["PR.DS-02"]
colour = "blue"
"#,
    );
    let output = home.run(&["collect", "now"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let errors: Vec<String> =
        stderr(&output).lines().filter(|l| l.contains("beweis.toml:")).map(str::to_owned).collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains(":7:") && e.contains("schedule")), "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains(":15:") && e.contains("2.0")), "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains(":16:1") && e.contains("colour")), "{errors:#?}");
    assert!(!home.state().join("evidence.db").exists(), "nothing may be stored");
    let check = home.run(&["check-config"]);
    assert_eq!(check.status.code(), Some(3));
}

#[test]
fn check_config_accepts_the_shipped_examples() {
    for example in ["config/default.toml", "config/examples/minimal.toml"] {
        let path = crate::support::repo().join(example);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
            .arg("--config")
            .arg(&path)
            .arg("check-config")
            .output()
            .expect("run beweis");
        assert!(output.status.success(), "{example}: {}", stderr(&output));
        assert!(!stderr(&output).contains("warning"), "{example} ships expired proof");
    }
}

#[test]
fn check_config_warns_about_proof_that_has_already_expired() {
    let home = Home::new();
    home.write(
        "beweis.toml",
        "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"PR.IP-5\", \"PR.AC-2\"]\n\n\
         [[attestation]]\ncontrols = [\"PR.IP-5\"]\nsigner = \"Jana\"\nstatement = \"ok\"\n\
         date = 2020-01-01\nexpires = 2021-01-01\n\n\
         [[inherited]]\ncontrols = [\"PR.AC-2\"]\nprovider = \"Host\"\n\
         certification = \"ISO 27001\"\nreference = \"cert 1\"\nexpires = 2099-01-01\n",
    );
    let output = home.run(&["check-config"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let errors = stderr(&output);
    let warnings: Vec<&str> = errors.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(
        warnings,
        ["warning: attestation by Jana for PR.IP-5 expired on 2021-01-01 (stale)"],
        "{errors}"
    );
    assert!(stdout(&output).contains("ok (0 instances, 0 checks, 2 controls in scope)"));
}

#[test]
fn an_unknown_control_or_instance_in_a_listing_is_a_usage_error() {
    let home = Home::new();
    home.write("a.txt", "alpha\n");
    let path = home.path("a.txt");
    home.write(
        "beweis.toml",
        &format!(
            "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
             [[instance]]\nname = \"docs\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
             params = {{ paths = [\"{}\"] }}\n",
            path.display()
        ),
    );
    assert!(home.run(&["collect", "now"]).status.success());
    let history = home.run(&["history", "--control", "XX.YY-1"]);
    assert_eq!(history.status.code(), Some(2), "{}", stderr(&history));
    assert!(stderr(&history).contains("no control \"XX.YY-1\""), "{}", stderr(&history));
    assert_eq!(home.run(&["history", "--control", "ID.AM-1"]).status.code(), Some(0));
    let list = home.run(&["evidence", "list", "--instance", "nope"]);
    assert_eq!(list.status.code(), Some(2), "{}", stderr(&list));
    assert!(stderr(&list).contains("(known: docs)"), "{}", stderr(&list));
    let known = home.run(&["evidence", "list", "--instance", "docs"]);
    assert_eq!(known.status.code(), Some(0));
    assert!(stdout(&known).contains("a.txt"), "{}", stdout(&known));
}

#[test]
fn an_unknown_instance_is_a_usage_error() {
    let home = Home::new();
    home.write("beweis.toml", "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n");
    let output = home.run(&["collect", "now", "--instance", "nope"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no instance named \"nope\""), "{}", stderr(&output));
}

#[test]
fn one_export_publishes_first_so_that_its_bundle_verifies() {
    let home = Home::new();
    home.write("a.txt", "alpha\n");
    home.write(
        "beweis.toml",
        &format!(
            "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
             [[instance]]\nname = \"docs\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
             params = {{ paths = [\"{}\"] }}\n",
            home.path("a.txt").display()
        ),
    );
    assert!(home.run(&["collect", "now"]).status.success());
    let (out, bundle) = (home.path("www"), home.path("audit.tar.zst"));
    let export = home.run(&[
        "export",
        "--out",
        out.to_str().expect("utf-8"),
        "--bundle",
        bundle.to_str().expect("utf-8"),
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert!(stdout(&export).contains("newest published status"), "{}", stdout(&export));
    let unpacked = home.path("unpacked");
    let file = std::fs::File::open(&bundle).expect("bundle");
    let decoder = zstd::stream::read::Decoder::new(file).expect("zstd");
    tar::Archive::new(decoder).unpack(&unpacked).expect("untar");
    // The bundle's own README says how to verify it; that command must pass.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .current_dir(&unpacked)
        .args(["verify-feed", "feed", "--key", "feed/signing.pub", "--max-age-hours", "100000"])
        .output()
        .expect("run verify-feed");
    assert!(verify.status.success(), "{}{}", stdout(&verify), stderr(&verify));
}

#[test]
fn a_relative_config_path_is_resolved_once_so_other_commands_can_read_it() {
    let home = Home::new();
    home.write("beweis.toml", "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_beweis"))
        .current_dir(home.path(""))
        .args(["--config", "beweis.toml", "check-config"])
        .output()
        .expect("run beweis");
    assert!(output.status.success(), "{}", stderr(&output));
    // The daemon names this source to `collect now` and `status` started elsewhere.
    let absolute = home.config().canonicalize().expect("config path");
    let shown = stdout(&output);
    let source = shown.split(": ok").next().unwrap_or_default();
    assert!(std::path::Path::new(source).is_absolute(), "{shown}");
    assert_eq!(std::path::Path::new(source).canonicalize().ok(), Some(absolute), "{shown}");
}
