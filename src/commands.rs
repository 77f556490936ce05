//! The commands behind the CLI: each loads what it needs, does one job, and returns an exit
//! code. Results are printed through `output` (tables) or as JSON; errors bubble up to `main`,
//! which prints the cause chain once.

use std::collections::HashMap;
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::cli::{exit, CollectNow, EvidenceCommand};
use crate::config::{Config, ControlId};
use crate::controls::ControlState;
use crate::daemon::{Reply, Request};
use crate::evidence::{Outcome, Trigger};
use crate::runner::{self, Progress, RunReport, Runner};
use crate::state::{StateDir, StateError};
use crate::store::{ObservationFilter, Store};
use crate::{feed, output};

/// A mistake in the command line that clap cannot see (an unknown instance name).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(String);

/// How long `collect now` waits for the writer lock held by another collection.
const LOCK_WAIT: Duration = Duration::from_secs(600);

/// `beweis collect now`.
pub(crate) async fn collect_now(
    config: Config,
    state: StateDir,
    args: &CollectNow,
) -> anyhow::Result<u8> {
    let names = select_instances(&config, args)?;
    let (reports, config) = match collect_via_daemon(&state, &names).await {
        Some(done) => {
            let done = done?;
            let config = daemon_config(config, &done.config_source, &done.config_digest);
            (done.reports, config)
        }
        None => (collect_in_process(&config, &state, &names).await?, config),
    };
    let (states, since) = evaluate_read_only(&config, &state).await?;
    let now = Utc::now();
    if args.json.json {
        let document = json!({ "runs": reports, "controls": states_json(&states, &since) });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", output::status_table(&config, &states, &since, now, output::use_colour()));
    }
    let all_succeeded = reports.iter().all(|r| r.outcome == Outcome::Succeeded);
    Ok(if all_succeeded { exit::OK } else { exit::RUN_NOT_SUCCEEDED })
}

/// Instance names selected by `--instance` and `--control`; empty means all.
fn select_instances(config: &Config, args: &CollectNow) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for name in &args.instance {
        if config.instance(name).is_none() {
            let known: Vec<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
            let known = known.join(", ");
            let message =
                format!("no instance named {name:?} in {} (known: {known})", config.source);
            return Err(UsageError(message).into());
        }
        names.push(name.clone());
    }
    for control in &args.control {
        let found = runner::instances_for_control(config, &ControlId(control.clone()));
        if found.is_empty() {
            let message = format!("no check in {} proves control {control}", config.source);
            return Err(UsageError(message).into());
        }
        names.extend(found);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Asks a running daemon to collect; `None` when no daemon answers.
/// What the daemon answered to a collection: the runs, and the configuration it used.
struct DaemonCollection {
    reports: Vec<RunReport>,
    config_source: String,
    config_digest: String,
}

/// The configuration to show the daemon's evidence with: the daemon's own file (`source`,
/// `digest`) when this command was pointed at another one (or at none), so that the table is
/// the daemon's profile.
fn daemon_config(mine: Config, source: &str, digest: &str) -> Config {
    if digest.is_empty() || digest == mine.digest {
        return mine;
    }
    let path = Path::new(source);
    match crate::config::load(Some(path).filter(|p| p.is_absolute())) {
        Ok(theirs) if theirs.digest == digest => theirs,
        _ => {
            eprintln!(
                "warning: the daemon runs {source} (digest {}), which this command cannot read \
                 as it is; the table below follows {}",
                &digest[..digest.len().min(12)],
                mine.source
            );
            mine
        }
    }
}

/// The configuration a running daemon uses, as (source, digest); `None` when none answers.
async fn running_daemon_config(state: &StateDir) -> Option<(String, String)> {
    let connect = UnixStream::connect(state.socket());
    let stream = tokio::time::timeout(Duration::from_secs(2), connect).await.ok()?.ok()?;
    let (read, mut write) = stream.into_split();
    let line = serde_json::to_string(&Request::Ping).ok()? + "\n";
    write.write_all(line.as_bytes()).await.ok()?;
    let mut lines = BufReader::new(read).lines();
    let reply = tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await.ok()?;
    match serde_json::from_str::<Reply>(&reply.ok()??).ok()? {
        Reply::Pong { config_source, config_digest } => Some((config_source, config_digest)),
        _ => None,
    }
}

async fn collect_via_daemon(
    state: &StateDir,
    names: &[String],
) -> Option<anyhow::Result<DaemonCollection>> {
    let connect = UnixStream::connect(state.socket());
    let stream = tokio::time::timeout(Duration::from_secs(2), connect).await.ok()?.ok()?;
    Some(talk_to_daemon(stream, names).await)
}

async fn talk_to_daemon(stream: UnixStream, names: &[String]) -> anyhow::Result<DaemonCollection> {
    let (read, mut write) = stream.into_split();
    let request = Request::Collect { instances: names.to_vec() };
    let line = serde_json::to_string(&request)? + "\n";
    write.write_all(line.as_bytes()).await.context("sending request to the daemon")?;
    let mut lines = BufReader::new(read).lines();
    let progress = std::io::stderr().is_terminal();
    while let Some(line) = lines.next_line().await.context("reading from the daemon")? {
        match serde_json::from_str::<Reply>(&line).context("bad reply from the daemon")? {
            Reply::RunStarted { instance } if progress => eprintln!("collecting {instance} …"),
            Reply::RunFinished { report } if progress => {
                if let Ok(report) = serde_json::from_value::<RunReport>(report) {
                    eprintln!("{}", output::run_line(&report));
                }
            }
            Reply::Done { reports, config_source, config_digest } => {
                let reports = reports
                    .into_iter()
                    .map(|r| serde_json::from_value(r).context("bad run report from the daemon"))
                    .collect::<anyhow::Result<_>>()?;
                return Ok(DaemonCollection { reports, config_source, config_digest });
            }
            Reply::Error { message, usage: true } => return Err(UsageError(message).into()),
            Reply::Error { message, usage: false } => {
                bail!("the daemon could not collect: {message}")
            }
            _ => {}
        }
    }
    bail!("the daemon closed the connection before the collection finished")
}

/// Collects in this process, holding the writer lock.
async fn collect_in_process(
    config: &Config,
    state: &StateDir,
    names: &[String],
) -> anyhow::Result<Vec<RunReport>> {
    state.ensure()?;
    state.check_writer_identity()?;
    let lock = match state.try_lock_writer(Duration::ZERO) {
        Err(StateError::Busy { .. }) => {
            eprintln!("waiting for another collection to finish (writer lock) …");
            let lock_state = state.clone();
            tokio::task::spawn_blocking(move || lock_state.try_lock_writer(LOCK_WAIT))
                .await
                .context("waiting for the writer lock")?
        }
        other => other,
    };
    let _lock = match lock {
        Ok(lock) => lock,
        Err(StateError::Busy { .. }) => {
            if let Some(done) = collect_via_daemon(state, names).await {
                return done.map(|done| done.reports);
            }
            lock?
        }
        Err(e) => return Err(e.into()),
    };
    let (store, key) = state.open_writer().await?;
    let runner = Runner::new(std::sync::Arc::new(config.clone()), store, key);
    let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
    let progress = std::io::stderr().is_terminal();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                Progress::RunStarted { instance } if progress => {
                    eprintln!("collecting {instance} …")
                }
                Progress::RunFinished(report) if progress => {
                    eprintln!("{}", output::run_line(&report))
                }
                _ => {}
            }
        }
    });
    let reports = runner.run_many(names, Trigger::Manual, Some(&sink)).await;
    drop(sink);
    let _ = printer.await;
    runner.store().close().await;
    reports
}

/// Evaluates controls from the database without writing; all `unknown` when none exists.
async fn evaluate_read_only(
    config: &Config,
    state: &StateDir,
) -> anyhow::Result<(Vec<ControlState>, HashMap<String, DateTime<Utc>>)> {
    let now = Utc::now();
    if !state.database().exists() {
        eprintln!(
            "note: no evidence collected yet in {}; run `beweis collect now`",
            state.root().display()
        );
        let empty = HashMap::new();
        let inputs =
            crate::controls::Inputs { config, evidence: &empty, broken_pins: &HashMap::new(), now };
        return Ok((crate::controls::evaluate(inputs), HashMap::new()));
    }
    let store = Store::open_read_only(&state.database()).await?;
    let states = runner::evaluate_from_store(config, &store, now).await?;
    let stored = store.control_statuses().await?;
    store.close().await;
    let since = stored
        .into_iter()
        .filter(|s| states.iter().any(|c| c.control == s.control && c.status.as_str() == s.status))
        .map(|s| (s.control, s.since))
        .collect();
    Ok((states, since))
}

fn states_json(
    states: &[ControlState],
    since: &HashMap<String, DateTime<Utc>>,
) -> serde_json::Value {
    states
        .iter()
        .map(|s| {
            json!({
                "control": s.control,
                "status": s.status,
                "since": since.get(&s.control),
                "reason": s.reason,
                "evidence": s.evidence,
            })
        })
        .collect()
}

/// `beweis status`.
pub(crate) async fn status(config: Config, state: StateDir, json_out: bool) -> anyhow::Result<u8> {
    let config = match running_daemon_config(&state).await {
        Some((source, digest)) => daemon_config(config, &source, &digest),
        None => config,
    };
    let (states, since) = evaluate_read_only(&config, &state).await?;
    if json_out {
        let catalog = crate::config::Catalog::get(config.profile.catalog);
        let document = json!({
            "catalog": config.profile.catalog.as_str(),
            "evaluated_at": Utc::now(),
            "percentages": crate::controls::percentages(&states, catalog),
            "controls": states_json(&states, &since),
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        let table =
            output::status_table(&config, &states, &since, Utc::now(), output::use_colour());
        print!("{table}");
    }
    Ok(exit::OK)
}

/// `beweis evidence list|show`.
pub(crate) async fn evidence(state: StateDir, what: &EvidenceCommand) -> anyhow::Result<u8> {
    let store = open_existing(&state).await?;
    match what {
        EvidenceCommand::List { instance, limit, json } => {
            if let Some(name) = instance {
                known_instance(&store, name).await?;
            }
            let filter =
                ObservationFilter { instance: instance.clone(), since: None, limit: *limit };
            let rows = store.observations(&filter).await?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                // `id` is what `evidence show` takes.
                println!(
                    "{:>6}  {:<19}  {:<16} {:<12}  subject",
                    "id", "collected (UTC)", "instance", "payload"
                );
                for row in &rows {
                    println!(
                        "{:>6}  {}  {:<16} {}  {}",
                        row.id,
                        row.collected_at.format("%Y-%m-%d %H:%M:%S"),
                        row.instance,
                        &row.payload_sha256[..row.payload_sha256.len().min(12)],
                        output::printable(&row.subject)
                    );
                }
            }
        }
        EvidenceCommand::Runs { limit, json } => {
            let runs = store.runs(*limit).await?;
            if json.json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
            } else {
                // `leaf` is the run's position in the Merkle log, not an observation id.
                println!(
                    "{:>6}  {:<19}  {:<16} {:<10} {:<9} {:>8}  error",
                    "leaf", "started (UTC)", "instance", "outcome", "trigger", "observed"
                );
                for row in &runs {
                    let run = &row.run;
                    println!(
                        "{:>6}  {}  {:<16} {:<10} {:<9} {:>4} obs  {}",
                        row.seq,
                        run.started_at.format("%Y-%m-%d %H:%M:%S"),
                        output::printable(&run.instance),
                        run.outcome.as_str(),
                        run.trigger.as_str(),
                        row.observations,
                        output::printable(run.error.as_deref().unwrap_or(""))
                    );
                }
                let counts = store.counts().await?;
                println!(
                    "{} runs, {} observations, log size {}",
                    counts.runs, counts.observations, counts.tree_size
                );
            }
        }
        EvidenceCommand::Show { id, json } => {
            let Some(detail) = store.observation(*id).await? else {
                return Err(UsageError(format!("no observation with id {id}")).into());
            };
            if json.json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print!("{}", output::observation(&detail)?);
            }
        }
    }
    store.close().await;
    Ok(exit::OK)
}

async fn open_existing(state: &StateDir) -> anyhow::Result<Store> {
    let path = state.database();
    if !path.exists() {
        bail!("no evidence database at {}; run `beweis collect now` first", path.display());
    }
    Ok(Store::open_read_only(&path).await?)
}

/// `beweis verify`.
pub(crate) async fn verify(state: StateDir, json_out: bool) -> anyhow::Result<u8> {
    let store = open_existing(&state).await?;
    let key = crate::keys::load_public(&state.public_key())?;
    let report = store.verify(&key).await?;
    store.close().await;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(problem) = &report.problem {
        println!("TAMPERED: {}: {}", problem.record, problem.reason);
    } else {
        println!(
            "ok: {} log entries and {} signed checkpoints verified (key {})",
            report.leaves,
            report.checkpoints,
            crate::keys::fingerprint(&key)
        );
    }
    Ok(if report.problem.is_some() { exit::PROBLEM } else { exit::OK })
}

/// How long `export` waits for the writer lock held by a collection in progress.
const EXPORT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// What `beweis export` writes.
pub(crate) struct ExportTargets<'a> {
    pub(crate) out: Option<&'a Path>,
    pub(crate) oscal: Option<&'a Path>,
    pub(crate) bundle: Option<&'a Path>,
    pub(crate) since_days: u32,
}

/// `beweis export [--out DIR] [--oscal FILE] [--bundle FILE]`: the OSCAL results and the
/// auditor bundle (both read-only on the log), then the feed.
pub(crate) async fn export(
    config: Config,
    state: StateDir,
    targets: &ExportTargets<'_>,
) -> anyhow::Result<u8> {
    // Publishing first, so that the OSCAL file and the bundle hold the status just published.
    if let Some(out) = targets.out {
        publish_feed(&config, &state, out).await?;
    }
    if let Some(path) = targets.oscal {
        let store = open_existing(&state).await?;
        let written = feed::export_oscal(&config, &store, path).await;
        store.close().await;
        println!("wrote {}", written?.display());
    }
    if let Some(path) = targets.bundle {
        export_bundle(&state, path, targets.since_days).await?;
    }
    Ok(exit::OK)
}

/// Writes the auditor bundle with the evidence of the last `since_days` days.
async fn export_bundle(state: &StateDir, path: &Path, since_days: u32) -> anyhow::Result<()> {
    use crate::feed::bundle::{export_bundle, BundleOptions};
    let store = open_existing(state).await?;
    let public = crate::keys::load_public(&state.public_key())?;
    let salt = feed::load_or_create_salt(state.root())?;
    let since = Utc::now() - chrono::Duration::days(i64::from(since_days));
    let options = BundleOptions { path, since, salt: &salt, public_key: &public };
    let summary = export_bundle(&store, &options).await;
    store.close().await;
    let summary = summary?;
    println!(
        "wrote {} ({} evidence records, log of {} leaves{})",
        summary.path.display(),
        summary.records,
        summary.tree_size,
        if summary.with_status { ", newest published status" } else { ", no status published" }
    );
    Ok(())
}

/// `beweis export --out DIR`: records a status document in the log and writes the feed.
async fn publish_feed(config: &Config, state: &StateDir, out: &Path) -> anyhow::Result<()> {
    state.ensure()?;
    let lock = match state.try_lock_writer(Duration::ZERO) {
        Err(StateError::Busy { .. }) => {
            let secs = EXPORT_LOCK_WAIT.as_secs();
            eprintln!("waiting up to {secs} s for the writer lock (a collection, the daemon) …");
            let lock_state = state.clone();
            tokio::task::spawn_blocking(move || lock_state.try_lock_writer(EXPORT_LOCK_WAIT))
                .await
                .context("waiting for the writer lock")?
        }
        other => other,
    };
    let hint = match &config.agent.publish_dir {
        Some(dir) => format!(
            "publishing appends to the evidence log; the running daemon publishes into {} \
             after every run: copy the feed from there",
            dir.display()
        ),
        None => "publishing appends to the evidence log; stop the daemon, or set [agent] \
                 publish_dir so that it publishes after every run"
            .to_owned(),
    };
    let _lock = lock.context(hint)?;
    let (store, key) = state.open_writer().await?;
    let publisher = feed::Publisher::new(state.root(), out.to_path_buf(), key)?;
    let published = publisher.publish(config, &store).await;
    store.close().await;
    let published = published?;
    let proven = published.document.summary.overall.proven.percent;
    println!(
        "published status leaf {} under checkpoint of tree size {}: {} files in {} ({} proven)",
        published.receipt.seq,
        published.receipt.checkpoint.tree_size,
        published.files.len(),
        out.display(),
        proven.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}

/// `beweis verify-feed DIR --key PUBLIC_KEY [--state FILE]`.
pub(crate) fn verify_feed(args: &crate::cli::VerifyFeedArgs) -> anyhow::Result<u8> {
    use crate::feed::verify_feed::{verify_feed, VerifyFeedOptions};
    let key = crate::keys::load_public(&args.key)?;
    let options = VerifyFeedOptions {
        dir: &args.dir,
        key: &key,
        state: args.state.as_deref(),
        max_age: chrono::Duration::hours(i64::from(args.max_age_hours)),
        now: Utc::now(),
    };
    let result = verify_feed(&options)?;
    if args.json.json {
        let document = match &result {
            Ok(report) => json!({ "ok": true, "report": report }),
            Err(problem) => json!({ "ok": false, "problem": problem.to_string() }),
        };
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        match &result {
            Ok(report) => println!(
                "ok: status.json ({} controls, generated {}) is in the log of size {} signed by \
                 key {}{}",
                report.controls,
                report.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
                report.tree_size,
                report.key_id,
                report
                    .previous_tree_size
                    .map(|s| format!(", consistent with size {s} seen before"))
                    .unwrap_or_default()
            ),
            Err(problem) => println!("FAILED: {problem}"),
        }
    }
    Ok(if result.is_ok() { exit::OK } else { exit::PROBLEM })
}

/// `beweis check-config`.
pub(crate) fn check_config(config: &Config, json_out: bool) -> anyhow::Result<u8> {
    if json_out {
        let instances: Vec<serde_json::Value> = config
            .instances
            .iter()
            .map(|i| {
                json!({
                    "name": i.name,
                    "collector": i.settings.kind().as_str(),
                    "schedule": i.schedule.expr(),
                    "timezone": i.schedule.timezone(),
                    "timeout_secs": i.timeout.as_secs(),
                })
            })
            .collect();
        let summary = json!({
            "source": config.source,
            "digest": config.digest,
            "instances": instances,
            "checks": config.checks.len(),
            "controls_in_scope": config.profile.scope.len(),
            "errors": [],
            "warnings": expiry_warnings(config, Utc::now().date_naive()),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}: ok ({}, {}, {} in scope)",
            config.source,
            output::plural(config.instances.len(), "instance", "instances"),
            output::plural(config.checks.len(), "check", "checks"),
            output::plural(config.profile.scope.len(), "control", "controls")
        )?;
        for warning in expiry_warnings(config, Utc::now().date_naive()) {
            eprintln!("warning: {warning}");
        }
    }
    Ok(exit::OK)
}

/// Attestations and certifications that have already expired: valid configuration, but proof
/// that counts as `stale` from the first run, which an operator wants to hear before that.
fn expiry_warnings(config: &Config, today: chrono::NaiveDate) -> Vec<String> {
    let controls =
        |ids: &[ControlId]| ids.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", ");
    let attested = config.attestations.iter().filter(|a| a.expires < today).map(|a| {
        let ids = controls(&a.controls);
        format!("attestation by {} for {ids} expired on {} (stale)", a.signer, a.expires)
    });
    let inherited = config.inherited.iter().filter(|i| i.expires < today).map(|i| {
        let ids = controls(&i.controls);
        format!("{} of {} for {ids} expired on {} (stale)", i.certification, i.provider, i.expires)
    });
    attested.chain(inherited).collect()
}

/// `beweis check-config --json` on an invalid configuration: the errors as data.
pub(crate) fn config_errors_json(errors: &crate::config::ConfigErrors) -> anyhow::Result<u8> {
    let list: Vec<serde_json::Value> = errors
        .0
        .iter()
        .map(|e| {
            json!({ "file": e.source, "line": e.line, "column": e.column, "message": e.message })
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&json!({ "errors": list }))?);
    Ok(exit::CONFIG)
}

/// `beweis history`: status transitions, newest first.
pub(crate) async fn history(
    state: StateDir,
    control: Option<&str>,
    limit: u32,
    json_out: bool,
) -> anyhow::Result<u8> {
    if let Some(control) = control {
        known_control(control)?;
    }
    let store = open_existing(&state).await?;
    let transitions = store.transitions(control, limit).await?;
    store.close().await;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&transitions)?);
        return Ok(exit::OK);
    }
    for t in &transitions {
        println!(
            "{}  {:<10} {:>14} -> {:<14} {}",
            t.at.format("%Y-%m-%d %H:%M:%S"),
            t.control,
            t.from_status.as_deref().unwrap_or("(new)"),
            t.to_status,
            output::printable(&t.reason)
        );
    }
    Ok(exit::OK)
}

/// Refuses a control id that no embedded catalog has, so that a typo is not an empty history.
fn known_control(id: &str) -> anyhow::Result<()> {
    use crate::config::catalog::{Catalog, CatalogId};
    let catalogs = [CatalogId::Csf11, CatalogId::Csf20];
    if catalogs.iter().any(|&c| Catalog::get(c).control(id).is_some()) {
        return Ok(());
    }
    Err(UsageError(format!("no control {id:?} in the NIST CSF 1.1 or 2.0 catalogs")).into())
}

/// Refuses an instance name the log has never seen, so that a typo is not an empty listing.
async fn known_instance(store: &Store, name: &str) -> anyhow::Result<()> {
    let known = store.instance_names().await?;
    if known.iter().any(|k| k == name) {
        return Ok(());
    }
    let message =
        format!("no runs of an instance named {name:?} in the log (known: {})", known.join(", "));
    Err(UsageError(message).into())
}
