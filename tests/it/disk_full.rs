//! A full disk under the state directory: every collection fails with the disk's own error
//! (exit 4), nothing acknowledged is lost, and collecting works again once there is room.
//!
//! The state directory is a 1 MiB tmpfs mounted in a private mount namespace (`unshare -m`),
//! so the test needs root, as CI has.

use std::process::Command;

use crate::support::Home;

/// Runs the scenario inside `unshare -m`; each step's exit code and stderr go to files in
/// `out`, which is outside the tmpfs.
const SCENARIO: &str = r#"
set -u
bin=$1 config=$2 state=$3 out=$4
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$state" || exit 90
step() { name=$1; shift; "$bin" --config "$config" --state-dir "$state" "$@" \
    >"$out/$name.out" 2>"$out/$name.err"; echo $? >"$out/$name.rc"; }
step first collect now
dd if=/dev/zero of="$state/filler" bs=4k 2>/dev/null
step full1 collect now
step full2 collect now
rm -f "$state/filler"
step again collect now
step verify verify
"#;

#[test]
fn a_full_disk_fails_with_its_own_cause_and_loses_nothing() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test needs root: it mounts a tmpfs in a private mount namespace"
    );
    let home = Home::new();
    let mut instances = String::new();
    for name in ["one", "two", "three"] {
        let path = home.write(&format!("{name}.txt"), &name.repeat(1000));
        instances += &format!(
            "[[instance]]\nname = \"{name}\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
             params = {{ paths = [\"{}\"] }}\n\n",
            path.display()
        );
    }
    home.write(
        "beweis.toml",
        &format!("[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n{instances}"),
    );
    let (state, out) = (home.state(), home.path("out"));
    std::fs::create_dir_all(&state).expect("state dir");
    std::fs::create_dir_all(&out).expect("out dir");
    let status = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", SCENARIO, "scenario"])
        .arg(env!("CARGO_BIN_EXE_beweis"))
        .arg(home.config())
        .arg(&state)
        .arg(&out)
        .status()
        .expect("unshare(1) from util-linux is needed");
    assert!(status.success(), "scenario failed to run: {status}");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert_eq!(read("first.rc").trim(), "0", "{}", read("first.err"));
    for step in ["full1", "full2"] {
        let err = read(&format!("{step}.err"));
        assert_eq!(read(&format!("{step}.rc")).trim(), "4", "{step}: {err}");
        assert!(err.contains("full"), "{step} must name the full disk: {err}");
        assert!(!err.contains("transaction depth"), "{step}: {err}");
    }
    assert_eq!(read("again.rc").trim(), "0", "{}", read("again.err"));
    assert_eq!(read("verify.rc").trim(), "0", "{}{}", read("verify.out"), read("verify.err"));
    assert!(read("verify.out").starts_with("ok: "), "{}", read("verify.out"));
}
