//! Benchmark driver for the `backup` collector (used by `deploy/bench/backup.sh`).
//!
//! `backup_bench <repository> <password-file> [--no-stats]` collects one restic source the
//! way the agent would and prints one JSON object: wall time, snapshot count, the facts the
//! benchmark cares about, every command run with its duration, and this process's peak RSS
//! (restic's own memory is measured by the script). It touches only the given repository.

use std::time::{Duration, Instant};

use chrono::Utc;
use collectors::backup::{collect, BackupConfig};
use collectors::{Context, Limits};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(repository), Some(password)) = (args.first(), args.get(1)) else {
        eprintln!("usage: backup_bench <repository> <password-file> [--no-stats]");
        std::process::exit(2);
    };
    let stats = !args.iter().any(|a| a == "--no-stats");
    let params = json!({ "sources": [{
        "kind": "restic", "name": "bench", "repository": repository,
        "password_file": password, "stats": stats,
    }]});
    let config: BackupConfig = match serde_json::from_value(params) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("bad parameters: {e}");
            std::process::exit(2);
        }
    };
    let settings = match config.validate() {
        Ok(settings) => settings,
        Err(errors) => {
            eprintln!("invalid parameters: {errors:?}");
            std::process::exit(2);
        }
    };
    let ctx = Context {
        now: Utc::now(),
        timeout: Duration::from_secs(600),
        cancel: CancellationToken::new(),
        limits: Limits::default(),
        previous: Default::default(),
    };
    let started = Instant::now();
    let collection = collect(&settings, &ctx).await;
    let elapsed_ms = started.elapsed().as_millis();
    let facts = collection.observations.first().map(|o| o.facts.clone());
    let pick = |key: &str| facts.as_ref().map(|f| f[key].clone());
    let commands: Vec<_> = facts
        .as_ref()
        .and_then(|f| f["commands"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|c| json!({ "argv": c["argv"], "duration_ms": c["duration_ms"] }))
        .collect();
    let report = json!({
        "stats": stats,
        "elapsed_ms": elapsed_ms,
        "failures": collection.failures.iter().map(|f| &f.message).collect::<Vec<_>>(),
        "snapshot_count": pick("snapshot_count"),
        "last_success_utc": pick("last_success_utc"),
        "retention_span_days": pick("retention_span_days"),
        "window": pick("window"),
        "size": pick("size"),
        "facts_bytes": facts.as_ref().map(|f| f.to_string().len()),
        "commands": commands,
        "collector_peak_rss_kb": peak_rss_kb(),
    });
    println!("{report}");
}
