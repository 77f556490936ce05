//! The one runner: executes an instance's collector under a timeout and a concurrency bound,
//! stores the run in one transaction, and re-evaluates control statuses.
//!
//! The scheduler (`daemon`) and `collect now` (in-process, or through the daemon's socket) both
//! call [`Runner::run_instance`], so a run behaves the same whichever way it was started. The
//! runner owns the overlap rule (a run of an instance that is still running is skipped and
//! recorded), the outcome rule (exactly one outcome per run, see [`outcome_of`]) and the
//! evaluation after runs. It does not parse configuration or speak SQL.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedMutexGuard, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::config::{Config, ControlId, Instance};
use crate::controls::{self, ControlState, InstanceEvidence};
use crate::evidence::{new_run_id, Outcome, RunRecord, Trigger};
use crate::store::{ControlChange, Store};

/// What one run ended in, as reported to callers and progress displays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunReport {
    pub(crate) instance: String,
    pub(crate) run_id: String,
    pub(crate) outcome: Outcome,
    pub(crate) observations: usize,
    pub(crate) failures: usize,
    pub(crate) duration_ms: u64,
    pub(crate) error: Option<String>,
}

/// Progress events of a collection, for terminals and the control socket.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Progress {
    RunStarted { instance: String },
    RunFinished(RunReport),
}

/// A sink for progress events; collection never waits on it.
pub(crate) type ProgressSink = tokio::sync::mpsc::UnboundedSender<Progress>;

/// Executes runs and keeps control statuses current.
pub(crate) struct Runner {
    config: RwLock<Arc<Config>>,
    store: Store,
    key: SigningKey,
    running: InstanceLocks,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
    notifier: Mutex<Option<crate::feed::webhook::Notifier>>,
}

impl Runner {
    /// A runner over `store`, signing checkpoints with `key`.
    pub(crate) fn new(config: Arc<Config>, store: Store, key: SigningKey) -> Runner {
        let permits = Arc::new(Semaphore::new(config.agent.max_concurrent_runs.max(1)));
        Runner {
            config: RwLock::new(config),
            store,
            key,
            running: InstanceLocks::default(),
            permits,
            cancel: CancellationToken::new(),
            notifier: Mutex::new(None),
        }
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the configuration (SIGHUP); runs in progress finish with the old one.
    pub(crate) fn replace_config(&self, config: Arc<Config>) {
        if let Some(notifier) = self.notifier.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            notifier.set_hooks(webhooks_of(&config));
        }
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The store the runner writes to.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Cancelled to stop runs in progress (their outcome becomes `cancelled`).
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Runs the named instances (all when `names` is empty) concurrently, then re-evaluates
    /// the controls once.
    pub(crate) async fn run_many(
        &self,
        names: &[String],
        trigger: Trigger,
        progress: Option<&ProgressSink>,
    ) -> anyhow::Result<Vec<RunReport>> {
        let config = self.config();
        let instances: Vec<&Instance> = if names.is_empty() {
            config.instances.iter().collect()
        } else {
            config.instances.iter().filter(|i| names.contains(&i.name)).collect()
        };
        let runs = instances.iter().map(|i| self.run_instance(i, trigger, progress));
        let reports = futures_util::future::join_all(runs).await;
        let reports = reports.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        self.refresh_controls().await?;
        Ok(reports)
    }

    /// Executes one run of `instance` and stores it; skips (and records) an overlapping run.
    pub(crate) async fn run_instance(
        &self,
        instance: &Instance,
        trigger: Trigger,
        progress: Option<&ProgressSink>,
    ) -> anyhow::Result<RunReport> {
        let run_id = new_run_id();
        let span = tracing::info_span!("run", instance = %instance.name, run_id = %run_id);
        async {
            let Some(_guard) = self.running.claim(&instance.name, trigger).await else {
                return self.record_skipped(instance, run_id, trigger).await;
            };
            let _permit = self.permits.acquire().await.context("runner is shutting down")?;
            if let Some(sink) = progress {
                let _ = sink.send(Progress::RunStarted { instance: instance.name.clone() });
            }
            let report = self.execute(instance, run_id, trigger).await?;
            if let Some(sink) = progress {
                let _ = sink.send(Progress::RunFinished(report.clone()));
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }

    async fn execute(
        &self,
        instance: &Instance,
        run_id: String,
        trigger: Trigger,
    ) -> anyhow::Result<RunReport> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let config = self.config();
        let previous =
            self.store.previous_observations(&instance.name).await.with_context(|| {
                format!("reading earlier evidence of instance {}", instance.name)
            })?;
        let ctx = collectors::Context {
            now: started_at,
            timeout: collector_budget(instance.timeout),
            cancel: self.cancel.child_token(),
            limits: collectors::Limits { max_read_bytes: config.agent.max_read_bytes },
            previous: collectors::Previous::new(previous),
        };
        let cancel = ctx.cancel.clone();
        let collected = tokio::select! {
            c = tokio::time::timeout(instance.timeout, collect(instance, &ctx)) => c.ok(),
            () = cancel.cancelled() => None,
        };
        let (outcome, collection, error) = match collected {
            // A collection cut short by shutdown is not evidence of anything: cancelled.
            Some(_) | None if self.cancel.is_cancelled() => {
                (Outcome::Cancelled, Default::default(), Some("agent shutting down".to_owned()))
            }
            Some(collection) => {
                let (outcome, error) = outcome_of(&collection);
                (outcome, collection, error)
            }
            None => {
                cancel.cancel();
                let secs = instance.timeout.as_secs();
                let error = Some(format!("run exceeded its timeout of {secs} s"));
                (Outcome::TimedOut, Default::default(), error)
            }
        };
        let record = RunRecord {
            run_id,
            instance: instance.name.clone(),
            collector: instance.settings.kind().as_str().to_owned(),
            collector_version: collectors::VERSION.to_owned(),
            trigger,
            started_at,
            finished_at: Utc::now(),
            outcome,
            error,
            failures: collection.failures,
        };
        self.store
            .record_run(&record, &collection.observations, &self.key)
            .await
            .with_context(|| format!("storing run of instance {}", instance.name))?;
        let report = report_of(&record, collection.observations.len(), clock);
        log_finished(&report);
        Ok(report)
    }

    async fn record_skipped(
        &self,
        instance: &Instance,
        run_id: String,
        trigger: Trigger,
    ) -> anyhow::Result<RunReport> {
        let now = Utc::now();
        let record = RunRecord {
            run_id,
            instance: instance.name.clone(),
            collector: instance.settings.kind().as_str().to_owned(),
            collector_version: collectors::VERSION.to_owned(),
            trigger,
            started_at: now,
            finished_at: now,
            outcome: Outcome::Skipped,
            error: Some("previous run still in progress".to_owned()),
            failures: Vec::new(),
        };
        self.store.record_run(&record, &[], &self.key).await?;
        let (instance, run_id) = (record.instance.as_str(), record.run_id.as_str());
        warn!(
            instance,
            run_id,
            outcome = "skipped",
            "Run skipped, previous run still in progress."
        );
        Ok(report_of(&record, 0, Instant::now()))
    }

    /// Publishes the signed feed and trust page into `[agent] publish_dir`, if configured. The
    /// feed salt lives in the state directory, beside the database.
    pub(crate) async fn publish(&self) -> anyhow::Result<()> {
        let config = self.config();
        let Some(dir) = &config.agent.publish_dir else { return Ok(()) };
        let state_root = self.store.path().parent().unwrap_or(Path::new("."));
        let publisher = crate::feed::Publisher::new(state_root, dir.clone(), self.key.clone())?;
        publisher.publish(&config, &self.store).await?;
        Ok(())
    }

    /// Sends webhook events from now on (the daemon's notifier), to the hooks configured now
    /// and after each reload.
    pub(crate) fn set_notifier(&self, notifier: crate::feed::webhook::Notifier) {
        notifier.set_hooks(webhooks_of(&self.config()));
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(notifier);
    }

    /// Re-evaluates every control from the latest evidence, stores what changed, and queues a
    /// webhook event per status transition and per evidence about to expire (never waiting
    /// for delivery).
    pub(crate) async fn refresh_controls(&self) -> anyhow::Result<Vec<ControlState>> {
        let config = self.config();
        let now = Utc::now();
        let states = evaluate_from_store(&config, &self.store, now).await?;
        let previous: HashMap<String, String> = self
            .store
            .control_statuses()
            .await?
            .into_iter()
            .map(|s| (s.control, s.status))
            .collect();
        let changes: Vec<ControlChange> = states.iter().map(control_change).collect();
        self.store.record_control_changes(&changes, now).await?;
        let notices = self.notices(&previous, &states, config.agent.webhook_expiry_lead, now);
        self.queue_notices(notices, now).await?;
        Ok(states)
    }

    /// The webhook events of one evaluation; none when no hook is configured.
    fn notices(
        &self,
        previous: &HashMap<String, String>,
        states: &[ControlState],
        lead: chrono::Duration,
        at: DateTime<Utc>,
    ) -> Vec<crate::feed::webhook::Notice> {
        use crate::feed::webhook::{Expiring, ExpiringEvent, Notice, TransitionEvent};
        if !self.notifier().is_some_and(|n| n.has_hooks()) {
            return Vec::new();
        }
        let key_id = crate::keys::fingerprint(&self.key.verifying_key());
        let mut notices = Vec::new();
        for state in states {
            let before = previous.get(&state.control).map(String::as_str);
            let after = state.status.as_str();
            if before != Some(after) {
                let event = TransitionEvent::new(&key_id, &state.control, before, after, at);
                notices.push(Notice::from(&event));
            }
            let Some(evidence) = &state.evidence else { continue };
            let Some(expires_at) = evidence.expires_at else { continue };
            // Never earlier than half-way through the evidence's validity, so that evidence
            // renewed on schedule (max_age of a few hours) does not announce every run.
            let lead = lead.min((expires_at - evidence.collected_at) / 2);
            if expires_at <= at || expires_at - lead > at {
                continue;
            }
            let what = Expiring {
                control: &state.control,
                evidence_digest: &evidence.digest,
                status: after,
                expires_at,
            };
            notices.push(Notice::from(&ExpiringEvent::new(&key_id, &what, at)));
        }
        notices
    }

    /// Claims each event in the store's outbox and queues the ones not claimed before.
    async fn queue_notices(
        &self,
        notices: Vec<crate::feed::webhook::Notice>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let Some(notifier) = self.notifier() else { return Ok(()) };
        for notice in notices {
            if self.store.claim_notice(&notice.key, &notice.body, at).await? {
                notifier.notify(notice);
            }
        }
        Ok(())
    }

    /// Queues again the events claimed before a restart but never finished, and forgets
    /// finished ones older than the longest expiry lead time allowed (they cannot recur).
    pub(crate) async fn requeue_unfinished_notices(&self) -> anyhow::Result<usize> {
        let Some(notifier) = self.notifier() else { return Ok(0) };
        let horizon = chrono::Duration::days(crate::config::MAX_EXPIRY_LEAD_DAYS + 1);
        self.store.forget_finished_notices(Utc::now() - horizon).await?;
        let unfinished = self.store.unfinished_notices().await?;
        let count = unfinished.len();
        for (key, body) in unfinished {
            notifier.notify(crate::feed::webhook::Notice { key, body });
        }
        Ok(count)
    }

    fn notifier(&self) -> Option<crate::feed::webhook::Notifier> {
        self.notifier.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The configured webhooks with the daemon's delivery policy.
fn webhooks_of(config: &Config) -> Vec<crate::feed::webhook::Webhook> {
    config.agent.webhooks.iter().cloned().map(crate::feed::webhook::Webhook::standard).collect()
}

/// The time a collector may use: most of the run's timeout, so that it can still report which
/// subjects did not answer before the runner's hard stop ends the run as `timed_out`.
fn collector_budget(run_timeout: std::time::Duration) -> std::time::Duration {
    let margin = (run_timeout / 10).clamp(Duration::from_millis(50), Duration::from_secs(5));
    run_timeout.saturating_sub(margin)
}

/// Runs the instance's collector.
async fn collect(instance: &Instance, ctx: &collectors::Context) -> collectors::Collection {
    collectors::collect(&instance.settings, ctx).await
}

/// Evaluates all controls of `config` from what `store` holds, without writing.
pub(crate) async fn evaluate_from_store(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<ControlState>> {
    let mut evidence: HashMap<String, InstanceEvidence> = HashMap::new();
    for instance in &config.instances {
        if let Some(latest) = store.latest_evidence(&instance.name).await? {
            evidence.insert(instance.name.clone(), latest);
        }
    }
    let broken_pins = broken_pins(config);
    let inputs = controls::Inputs { config, evidence: &evidence, broken_pins: &broken_pins, now };
    Ok(controls::evaluate(inputs))
}

/// Attestations whose pinned document is missing or changed, by index.
fn broken_pins(config: &Config) -> HashMap<usize, String> {
    let mut broken = HashMap::new();
    for (index, attestation) in config.attestations.iter().enumerate() {
        let Some(document) = &attestation.document else { continue };
        let path = document.path.display();
        match file_sha256(&document.path) {
            Ok(found) if found.eq_ignore_ascii_case(&document.sha256) => {}
            Ok(_) => {
                broken.insert(index, format!("document {path} changed since it was attested"));
            }
            Err(e) => {
                broken.insert(index, format!("document {path} cannot be read: {e}"));
            }
        }
    }
    broken
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

fn control_change(state: &ControlState) -> ControlChange {
    ControlChange {
        control: state.control.clone(),
        status: state.status.as_str().to_owned(),
        reason: state.reason.clone(),
        evidence: serde_json::to_value(&state.evidence).unwrap_or(serde_json::Value::Null),
    }
}

/// The outcome of a collection that finished in time: failures make it partial or failed.
pub(crate) fn outcome_of(collection: &collectors::Collection) -> (Outcome, Option<String>) {
    let failed = collection.failures.len();
    if failed == 0 {
        return (Outcome::Succeeded, None);
    }
    let first = &collection.failures[0];
    let error =
        Some(format!("{failed} subject(s) failed; first: {}: {}", first.subject, first.message));
    if collection.observations.is_empty() {
        (Outcome::Failed, error)
    } else {
        (Outcome::Partial, error)
    }
}

fn report_of(record: &RunRecord, observations: usize, clock: Instant) -> RunReport {
    RunReport {
        instance: record.instance.clone(),
        run_id: record.run_id.clone(),
        outcome: record.outcome,
        observations,
        failures: record.failures.len(),
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        error: record.error.clone(),
    }
}

fn log_finished(report: &RunReport) {
    // Instance and run id are repeated here so that the line stands on its own even where the
    // run's span is filtered out (commands log at warn).
    let (instance, run_id) = (report.instance.as_str(), report.run_id.as_str());
    let outcome = report.outcome.as_str();
    let duration_ms = report.duration_ms;
    match report.outcome {
        Outcome::Succeeded => info!(instance, run_id, outcome, duration_ms, "Run finished."),
        // Subject failures name paths and URLs: they stay in the evidence log, out of the
        // journal. Only run-level errors, which the runner words itself, are logged.
        _ if report.failures > 0 => warn!(
            instance,
            run_id,
            outcome,
            duration_ms,
            failures = report.failures,
            "Run did not succeed, see `beweis evidence` for the failed subjects."
        ),
        _ => warn!(
            instance,
            run_id,
            outcome,
            duration_ms,
            error = report.error.as_deref().unwrap_or(""),
            "Run did not succeed."
        ),
    }
}

/// Instances whose checks prove `control`.
pub(crate) fn instances_for_control(config: &Config, control: &ControlId) -> Vec<String> {
    let mut names: Vec<String> = config
        .checks
        .iter()
        .filter(|c| c.controls.contains(control))
        .map(|c| c.instance.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One lock per instance: held while the instance runs.
#[derive(Default)]
struct InstanceLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl InstanceLocks {
    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(name.to_owned()).or_default())
    }

    /// Claims the instance: a scheduled run gives up when it is busy (`None`), a manual one
    /// waits for the run in progress, so that `collect now` always yields fresh evidence.
    async fn claim(&self, name: &str, trigger: Trigger) -> Option<OwnedMutexGuard<()>> {
        let lock = self.lock_for(name);
        match trigger {
            Trigger::Manual => Some(lock.lock_owned().await),
            Trigger::Schedule | Trigger::CatchUp => lock.try_lock_owned().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    async fn runner(dir: &Path, params: &str, timeout_secs: u64) -> Runner {
        let text = format!(
            "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
             [[instance]]\nname = \"slow\"\ncollector = \"command\"\nschedule = \"@daily\"\n\
             timeout_secs = {timeout_secs}\nparams = {params}\n"
        );
        let config = parse_str(&text, "test.toml").expect("valid test config");
        let store = Store::open(&dir.join("evidence.db")).await.expect("open store");
        let key = crate::keys::load_or_create(dir).expect("key");
        Runner::new(Arc::new(config), store, key)
    }

    #[tokio::test]
    async fn an_overlapping_scheduled_run_is_skipped_and_recorded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner(dir.path(), r#"{ argv = ["sleep", "1"] }"#, 30).await;
        let config = runner.config();
        let instance = &config.instances[0];
        let (first, second) =
            tokio::join!(runner.run_instance(instance, Trigger::Schedule, None), async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                runner.run_instance(instance, Trigger::Schedule, None).await
            });
        assert_eq!(first.expect("first run").outcome, Outcome::Succeeded);
        let second = second.expect("second run");
        assert_eq!(second.outcome, Outcome::Skipped);
        assert_eq!(second.error.as_deref(), Some("previous run still in progress"));
        let counts = runner.store().counts().await.expect("counts");
        assert_eq!(counts.runs, 2, "the skipped run is recorded too");
    }

    #[tokio::test]
    async fn a_manual_run_waits_for_the_run_in_progress() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner(dir.path(), r#"{ argv = ["sleep", "1"] }"#, 30).await;
        let config = runner.config();
        let instance = &config.instances[0];
        let (first, second) =
            tokio::join!(runner.run_instance(instance, Trigger::Schedule, None), async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                runner.run_instance(instance, Trigger::Manual, None).await
            });
        assert_eq!(first.expect("first").outcome, Outcome::Succeeded);
        assert_eq!(second.expect("second").outcome, Outcome::Succeeded);
    }

    #[tokio::test]
    async fn a_hanging_subject_fails_the_run_within_its_timeout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner(dir.path(), r#"{ argv = ["sleep", "30"] }"#, 1).await;
        let config = runner.config();
        let started = Instant::now();
        let report = runner.run_instance(&config.instances[0], Trigger::Manual, None).await;
        let report = report.expect("stored");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert_eq!(report.outcome, Outcome::Failed);
        assert!(report.error.as_deref().unwrap_or("").contains("timed out"), "{report:?}");
        let states = runner.refresh_controls().await.expect("evaluate");
        assert_eq!(states[0].status, crate::controls::Status::Unknown, "no check maps ID.AM-1");
    }

    #[tokio::test]
    async fn shutdown_cancels_a_run_in_progress() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner(dir.path(), r#"{ argv = ["sleep", "30"] }"#, 60).await;
        let config = runner.config();
        let cancel = runner.cancel_token().clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        let report = runner.run_instance(&config.instances[0], Trigger::Manual, None).await;
        let outcome = report.expect("stored").outcome;
        assert_eq!(outcome, Outcome::Cancelled);
    }
}
