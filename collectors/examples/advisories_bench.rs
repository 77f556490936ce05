//! Benchmark and comparison driver for the `advisories` collector (used by
//! `deploy/bench/advisories.sh`).
//!
//! `advisories_bench <kind>=<path>... -- <lockfile>...` loads the advisory sources (kinds:
//! `osv-dir`, `osv-zip`, `friends-of-php`, `ruby-sec`), parses and matches every lockfile
//! (format from the file name), and prints one JSON object: record count, load and match
//! times, package and finding counts and peak RSS. With `--ids`, it also prints one line per
//! lockfile, `ids<TAB>path<TAB>id,id,…`, listing the matched record IDs (for side-by-side
//! comparison with other scanners). It reads only local files.

use std::path::PathBuf;
use std::time::Instant;

use collectors::advisories::db::{self, Source, SourceKind};
use collectors::advisories::findings::{self, Policy};
use collectors::advisories::lockfile::{self, Format};

fn kind(name: &str) -> Option<SourceKind> {
    Some(match name {
        "osv-dir" => SourceKind::OsvDir,
        "osv-zip" => SourceKind::OsvZip,
        "friends-of-php" => SourceKind::FriendsOfPhp,
        "ruby-sec" => SourceKind::RubySec,
        _ => return None,
    })
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let print_ids = args.first().is_some_and(|a| a == "--ids");
    if print_ids {
        args.remove(0);
    }
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut sources = Vec::new();
    for spec in &args[..split] {
        let Some((k, path)) = spec.split_once('=').and_then(|(k, p)| Some((kind(k)?, p))) else {
            eprintln!("bad source {spec:?}; expected osv-dir=PATH, osv-zip=PATH, …");
            std::process::exit(2);
        };
        sources.push(Source { kind: k, path: PathBuf::from(path) });
    }
    let lockfiles: Vec<PathBuf> = args.iter().skip(split + 1).map(PathBuf::from).collect();

    let started = Instant::now();
    let (database, failures) = db::load(&sources, 16 << 20);
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    for failure in &failures {
        eprintln!("source failed: {}: {}", failure.path, failure.message);
    }

    let mut parsed = Vec::new();
    let parse_started = Instant::now();
    for path in &lockfiles {
        let Some(format) = Format::detect(path) else {
            eprintln!("{}: unknown format", path.display());
            continue;
        };
        match std::fs::read_to_string(path) {
            Ok(text) => match lockfile::parse(format, &text) {
                Ok(packages) => parsed.push((path, packages)),
                Err(error) => eprintln!("{}: {error}", path.display()),
            },
            Err(error) => eprintln!("{}: {error}", path.display()),
        }
    }
    let parse_ms = parse_started.elapsed().as_secs_f64() * 1000.0;

    let match_started = Instant::now();
    let mut reports = Vec::new();
    for (path, packages) in &parsed {
        reports.push((path, findings::scan(&database, packages, Policy::default())));
    }
    let match_ms = match_started.elapsed().as_secs_f64() * 1000.0;

    let packages: usize = parsed.iter().map(|(_, p)| p.len()).sum();
    let assessed: usize = reports.iter().map(|(_, r)| r.assessed).sum();
    let found: usize = reports.iter().map(|(_, r)| r.findings.len()).sum();
    if print_ids {
        for (path, report) in &reports {
            let mut ids: Vec<&str> =
                report.findings.iter().flat_map(|f| f.records.iter().map(String::as_str)).collect();
            ids.sort_unstable();
            ids.dedup();
            println!("ids\t{}\t{}", path.display(), ids.join(","));
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "records": database.snapshot.records,
            "record_errors": database.snapshot.record_errors.len(),
            "load_ms": load_ms,
            "lockfiles": parsed.len(),
            "packages": packages,
            "packages_assessed": assessed,
            "parse_ms": parse_ms,
            "match_ms": match_ms,
            "findings": found,
            "peak_rss_kb": peak_rss_kb(),
        })
    );
}
