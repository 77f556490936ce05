//! Runs the `tls` collector once on the parameters in a JSON file and prints a summary for
//! `deploy/bench/tls-vs-sslyze.sh`: wall time, and per endpoint address the protocols, the
//! accepted suites (id and IANA name) per protocol, and the grade.
//!
//! Usage: `cargo run --release -p collectors --example tls_bench -- params.json`

use std::time::{Duration, Instant};

use chrono::Utc;
use collectors::tls::{collect, TlsConfig};
use collectors::{Context, Limits};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: tls_bench PARAMS.json")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let config: TlsConfig = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let settings = config.validate().map_err(|errors| format!("{path}: {errors:?}"))?;
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
    let observations: Vec<Value> = collection.observations.iter().map(summary).collect();
    let failures: Vec<String> =
        collection.failures.iter().map(|f| format!("{}: {}", f.subject, f.message)).collect();
    let out =
        json!({ "elapsed_ms": elapsed_ms, "observations": observations, "failures": failures });
    println!("{out}");
    Ok(())
}

fn summary(observation: &collectors::Observation) -> Value {
    let facts = &observation.facts;
    let mut suites = serde_json::Map::new();
    if let Some(map) = facts["suites"].as_object() {
        for (version, list) in map {
            let accepted: Vec<Value> = list["accepted"]
                .as_array()
                .map(|a| a.iter().map(|s| json!([s["id"], s["name"]])).collect())
                .unwrap_or_default();
            suites.insert(version.clone(), Value::Array(accepted));
        }
    }
    json!({
        "subject": observation.subject,
        "duration_ms": observation.custody.duration_ms,
        "protocols": facts["protocols_supported"],
        "suites": suites,
        "grade": facts["grade"]["grade"],
        "certificate_trusted": facts["certificate"]["trusted"],
    })
}
