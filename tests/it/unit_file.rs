//! The systemd unit is hardened: `systemd-analyze security --offline=true` scores it 2.5 or
//! lower (CI installs systemd for this check).

use std::process::Command;

#[test]
fn unit_file_exposure_is_at_most_2_5() {
    let unit = crate::support::repo().join("systemd/beweis.service");
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze is needed for this test: apt-get install systemd");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score in systemd-analyze output: {text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score from {line:?}"));
    assert!(score <= 2.5, "exposure {score} > 2.5: {line}");
}
