//! `beweis daemon`: the scheduler, the control socket, signals and systemd notification.
//!
//! One task per instance sleeps until the instance's next crontab time (plus splay) and hands
//! the run to the shared [`Runner`]; after downtime each instance gets one catch-up run. The
//! main loop accepts control-socket clients (`collect now`), reloads the configuration on
//! SIGHUP (keeping the old one if the new one is bad), pings the systemd watchdog only while it
//! keeps ticking, re-evaluates controls every minute so that evidence turns `stale` on time,
//! and on SIGTERM lets runs in progress finish within a grace period before cancelling them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{self, Config};
use crate::evidence::Trigger;
use crate::runner::{Progress, RunReport, Runner};
use crate::state::StateDir;

/// How long runs in progress may take to finish after SIGTERM before they are cancelled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How often the main loop ticks (watchdog, heartbeat).
const TICK: Duration = Duration::from_secs(1);
/// How often controls are re-evaluated without a run, so that staleness is recorded on time.
const REFRESH_EVERY_TICKS: u32 = 60;
/// The longest request line a control-socket client may send.
const MAX_REQUEST_BYTES: u64 = 4096;

/// What the daemon needs to start.
pub(crate) struct DaemonOptions {
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) config: Config,
    pub(crate) state: StateDir,
}

/// A control-socket request, one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    Ping,
    Collect { instances: Vec<String> },
}

/// A control-socket reply line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Reply {
    /// The answer to a ping names the configuration the daemon runs, so that `status` can show
    /// that profile.
    Pong {
        #[serde(default)]
        config_source: String,
        #[serde(default)]
        config_digest: String,
    },
    RunStarted {
        instance: String,
    },
    RunFinished {
        report: serde_json::Value,
    },
    Done {
        reports: Vec<serde_json::Value>,
        /// The configuration the daemon collected with, so that the command shows the status
        /// of that profile and not of another file it may have been pointed at.
        #[serde(default)]
        config_source: String,
        #[serde(default)]
        config_digest: String,
    },
    Error {
        message: String,
        /// The request named something the daemon does not know (exit code 2 for the CLI).
        #[serde(default)]
        usage: bool,
    },
}

/// Runs the daemon until SIGTERM or SIGINT.
pub(crate) async fn run(options: DaemonOptions) -> anyhow::Result<()> {
    let state = options.state;
    state.ensure()?;
    let _lock = state
        .try_lock_writer(Duration::ZERO)
        .context("is another beweis daemon or collection running?")?;
    let (store, key) = state.open_writer().await?;
    let runner = Arc::new(Runner::new(Arc::new(options.config), store, key));
    let _delivery = start_webhooks(&runner).await;
    publish(&runner).await;
    let listener = bind_socket(&state)?;
    let tracker = TaskTracker::new();
    let mut schedulers = CancellationToken::new();
    spawn_schedulers(&runner, &tracker, &schedulers);
    notify(&[sd_notify::NotifyState::Ready]);
    info!(instances = runner.config().instances.len(), "Daemon ready.");
    main_loop(&runner, &tracker, &mut schedulers, &listener, options.config_path).await?;
    notify(&[sd_notify::NotifyState::Stopping]);
    info!("Daemon stopping, waiting for runs in progress.");
    shutdown(&runner, &tracker, &schedulers).await;
    let _ = std::fs::remove_file(state.socket());
    runner.store().close().await;
    info!("Daemon stopped.");
    Ok(())
}

async fn main_loop(
    runner: &Arc<Runner>,
    tracker: &TaskTracker,
    schedulers: &mut CancellationToken,
    listener: &UnixListener,
    config_path: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    let mut ticker = tokio::time::interval(TICK);
    let watchdog = Watchdog::from_env();
    let refreshing = Arc::new(AtomicBool::new(false));
    let mut ticks: u32 = 0;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => reload(runner, tracker, schedulers, config_path.as_deref()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let runner = Arc::clone(runner);
                    tracker.spawn(serve_client(runner, stream, tracker.clone()));
                }
                Err(e) => warn!(error = %e, "Control socket accept failed."),
            },
            _ = ticker.tick() => {
                ticks = ticks.wrapping_add(1);
                watchdog.ping_if_due();
                if ticks % REFRESH_EVERY_TICKS == 0 {
                    spawn_refresh(runner, tracker, &refreshing);
                }
            }
        }
    }
}

/// Reloads the configuration; a bad one is logged and the running one kept.
fn reload(
    runner: &Arc<Runner>,
    tracker: &TaskTracker,
    schedulers: &mut CancellationToken,
    path: Option<&std::path::Path>,
) {
    notify(&[sd_notify::NotifyState::Reloading]);
    match config::load(path) {
        Ok(config) => {
            runner.replace_config(Arc::new(config));
            schedulers.cancel();
            *schedulers = CancellationToken::new();
            spawn_schedulers(runner, tracker, schedulers);
            info!(instances = runner.config().instances.len(), "Configuration reloaded.");
        }
        Err(errors) => {
            error!(error = %errors, "Configuration reload failed, keeping the running one.");
        }
    }
    notify(&[sd_notify::NotifyState::Ready]);
}

async fn shutdown(runner: &Arc<Runner>, tracker: &TaskTracker, schedulers: &CancellationToken) {
    schedulers.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
        warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "Cancelling runs still in progress.");
        runner.cancel_token().cancel();
        tracker.wait().await;
    }
}

fn spawn_schedulers(runner: &Arc<Runner>, tracker: &TaskTracker, cancel: &CancellationToken) {
    for instance in &runner.config().instances {
        let runner = Arc::clone(runner);
        let name = instance.name.clone();
        tracker.spawn(schedule_instance(runner, name, tracker.clone(), cancel.child_token()));
    }
}

/// Sleeps until each next scheduled time of one instance and starts its run.
async fn schedule_instance(
    runner: Arc<Runner>,
    name: String,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    if needs_catch_up(&runner, &name).await {
        spawn_run(&runner, &tracker, &name, Trigger::CatchUp);
    }
    loop {
        let config = runner.config();
        let Some(instance) = config.instance(&name) else { return };
        let Some(next) = instance.schedule.next_after(Utc::now()) else {
            warn!(instance = %name, "Schedule has no future time, instance not scheduled.");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default() + splay(instance);
        tokio::select! {
            () = tokio::time::sleep(wait) => spawn_run(&runner, &tracker, &name, Trigger::Schedule),
            () = cancel.cancelled() => return,
        }
    }
}

/// Whether a scheduled time passed since the instance last ran (or it never ran).
async fn needs_catch_up(runner: &Runner, name: &str) -> bool {
    let config = runner.config();
    let Some(instance) = config.instance(name) else { return false };
    match runner.store().last_started(name).await {
        Ok(None) => true,
        Ok(Some(last)) => instance.schedule.next_after(last).is_some_and(|t| t <= Utc::now()),
        Err(e) => {
            error!(instance = %name, error = %e, "Cannot read the last run, no catch-up.");
            false
        }
    }
}

fn splay(instance: &config::Instance) -> Duration {
    let max = instance.schedule.splay().as_millis() as u64;
    if max == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    let random = getrandom::getrandom(&mut bytes).map(|()| u64::from_le_bytes(bytes));
    Duration::from_millis(random.unwrap_or(0) % (max + 1))
}

fn spawn_run(runner: &Arc<Runner>, tracker: &TaskTracker, name: &str, trigger: Trigger) {
    let runner = Arc::clone(runner);
    let name = name.to_owned();
    tracker.spawn(async move {
        let config = runner.config();
        let Some(instance) = config.instance(&name) else { return };
        if let Err(e) = runner.run_instance(instance, trigger, None).await {
            let error = crate::output::chain_text(&e);
            error!(instance = %name, error, "Run could not be stored.");
            return;
        }
        if let Err(e) = runner.refresh_controls().await {
            error!(error = crate::output::chain_text(&e), "Control evaluation failed.");
            return;
        }
        publish(&runner).await;
    });
}

/// Starts webhook delivery (to the hooks of `[agent] webhooks`, replaced on each reload) and
/// queues again what a previous daemon claimed but did not finish; the task ends with the
/// runner.
async fn start_webhooks(runner: &Runner) -> tokio::task::JoinHandle<()> {
    use crate::feed::webhook::Notifier;
    let (notifier, task) = Notifier::start(Vec::new(), Some(runner.store().clone()));
    runner.set_notifier(notifier);
    match runner.requeue_unfinished_notices().await {
        Ok(0) => {}
        Ok(count) => info!(count, "Webhook events queued again after a restart."),
        Err(e) => {
            error!(error = crate::output::chain_text(&e), "Unfinished webhook events unreadable.")
        }
    }
    task
}

/// Publishes the feed after a run; a failure is logged, collection goes on.
async fn publish(runner: &Runner) {
    if let Err(e) = runner.publish().await {
        error!(error = crate::output::chain_text(&e), "Publishing the feed failed.");
    }
}

fn spawn_refresh(runner: &Arc<Runner>, tracker: &TaskTracker, busy: &Arc<AtomicBool>) {
    if busy.swap(true, Ordering::AcqRel) {
        return;
    }
    let runner = Arc::clone(runner);
    let busy = Arc::clone(busy);
    tracker.spawn(async move {
        if let Err(e) = runner.refresh_controls().await {
            error!(error = crate::output::chain_text(&e), "Control evaluation failed.");
        }
        busy.store(false, Ordering::Release);
    });
}

fn bind_socket(state: &StateDir) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = state.socket();
    // We hold the writer lock, so a socket file left here belongs to a dead daemon.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting control socket {}", path.display()))?;
    Ok(listener)
}

/// Serves one control-socket client: one request, a stream of replies.
async fn serve_client(runner: Arc<Runner>, stream: UnixStream, tracker: TaskTracker) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await;
    let request = match read {
        Ok(Ok(_)) => serde_json::from_str::<Request>(line.trim()),
        _ => return,
    };
    let reply_to = |reply: Reply| serde_json::to_string(&reply).unwrap_or_default() + "\n";
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            let message = format!("bad request: {e}");
            let reply = Reply::Error { message, usage: true };
            let _ = write.write_all(reply_to(reply).as_bytes()).await;
            return;
        }
    };
    match request {
        Request::Ping => {
            let config = runner.config();
            let config_source = config.source.clone();
            let reply = Reply::Pong { config_source, config_digest: config.digest.clone() };
            let _ = write.write_all(reply_to(reply).as_bytes()).await;
        }
        Request::Collect { instances } => {
            if let Some(message) = unknown_instances(&runner, &instances) {
                let reply = Reply::Error { message, usage: true };
                let _ = write.write_all(reply_to(reply).as_bytes()).await;
                return;
            }
            let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
            let worker = Arc::clone(&runner);
            let job = tracker.spawn(async move {
                let reports = worker.run_many(&instances, Trigger::Manual, Some(&sink)).await;
                // A manual collection is published like a scheduled one.
                if reports.is_ok() {
                    publish(&worker).await;
                }
                reports
            });
            while let Some(event) = events.recv().await {
                let reply = match event {
                    Progress::RunStarted { instance } => Reply::RunStarted { instance },
                    Progress::RunFinished(report) => Reply::RunFinished { report: json(&report) },
                };
                // The collection goes on whether or not the client still listens.
                let _ = write.write_all(reply_to(reply).as_bytes()).await;
            }
            let last = match job.await {
                Ok(Ok(reports)) => {
                    let config = runner.config();
                    Reply::Done {
                        reports: reports.iter().map(json).collect(),
                        config_source: config.source.clone(),
                        config_digest: config.digest.clone(),
                    }
                }
                Ok(Err(e)) => Reply::Error { message: crate::output::chain_text(&e), usage: false },
                Err(e) => {
                    Reply::Error { message: format!("collection task failed: {e}"), usage: false }
                }
            };
            let _ = write.write_all(reply_to(last).as_bytes()).await;
        }
    }
}

/// Names in `requested` that the daemon's configuration lacks, as a message; `None` if all known.
fn unknown_instances(runner: &Runner, requested: &[String]) -> Option<String> {
    let config = runner.config();
    let unknown: Vec<&str> = requested
        .iter()
        .filter(|name| config.instance(name).is_none())
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return None;
    }
    Some(format!(
        "the running daemon's configuration has no instance {}; reload it after editing \
         (systemctl reload beweis)",
        unknown.join(", ")
    ))
}

fn json(report: &RunReport) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or(serde_json::Value::Null)
}

/// Sends a state to systemd when running under it; a no-op otherwise.
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        warn!(error = %e, "Cannot notify systemd.");
    }
}

/// The systemd watchdog, pinged at half its interval while the main loop runs.
struct Watchdog {
    interval: Option<Duration>,
    last: std::sync::Mutex<std::time::Instant>,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC`; like libsystemd's `sd_watchdog_enabled`, a missing
    /// `WATCHDOG_PID` means the watchdog is ours (the `sd-notify` crate requires the pid).
    fn from_env() -> Watchdog {
        let usec = std::env::var("WATCHDOG_USEC").ok().and_then(|v| v.parse::<u64>().ok());
        let pid = std::env::var("WATCHDOG_PID").ok().and_then(|v| v.parse::<u32>().ok());
        let ours = pid.is_none_or(|pid| pid == std::process::id());
        let interval = usec.filter(|u| *u > 0 && ours).map(|u| Duration::from_micros(u / 2));
        Watchdog { interval, last: std::sync::Mutex::new(std::time::Instant::now()) }
    }

    fn ping_if_due(&self) {
        let Some(interval) = self.interval else { return };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= interval {
            notify(&[sd_notify::NotifyState::Watchdog]);
            *last = std::time::Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{new_run_id, Outcome, RunRecord};
    use crate::store::Store;

    async fn runner_with_last_run(dir: &std::path::Path, ago: Option<chrono::Duration>) -> Runner {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
                    [[instance]]\nname = \"doc\"\ncollector = \"file\"\nschedule = \"0 3 * * *\"\n\
                    params = { paths = [\"/etc/hostname\"] }\n";
        let config = config::parse_str(text, "test.toml").expect("valid test config");
        let store = Store::open(&dir.join("evidence.db")).await.expect("open store");
        let key = crate::keys::load_or_create(dir).expect("key");
        let Some(ago) = ago else { return Runner::new(Arc::new(config), store, key) };
        let at = Utc::now() - ago;
        let run = RunRecord {
            run_id: new_run_id(),
            instance: "doc".to_owned(),
            collector: "file".to_owned(),
            collector_version: collectors::VERSION.to_owned(),
            trigger: Trigger::Schedule,
            started_at: at,
            finished_at: at,
            outcome: Outcome::Succeeded,
            error: None,
            failures: Vec::new(),
        };
        store.record_run(&run, &[], &key).await.expect("record");
        Runner::new(Arc::new(config), store, key)
    }

    #[tokio::test]
    async fn a_missed_daily_run_is_caught_up_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner_with_last_run(dir.path(), Some(chrono::Duration::days(3))).await;
        assert!(needs_catch_up(&runner, "doc").await, "three days down: one catch-up run");
    }

    #[tokio::test]
    async fn a_recent_run_needs_no_catch_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner_with_last_run(dir.path(), Some(chrono::Duration::seconds(1))).await;
        // 03:00 daily: the next time after a run one second ago is still ahead, unless this test
        // runs in the second after 03:00 UTC.
        assert!(!needs_catch_up(&runner, "doc").await);
    }

    #[tokio::test]
    async fn an_instance_that_never_ran_is_caught_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let runner = runner_with_last_run(dir.path(), None).await;
        assert!(needs_catch_up(&runner, "doc").await);
        assert!(!needs_catch_up(&runner, "missing").await, "unknown instances are not run");
    }
}
