//! Logging: journald under systemd, stderr otherwise; one message style everywhere.
//!
//! Style (see `ARCHITECTURE.md`): a capitalised sentence ending in a period, with structured
//! fields named `instance`, `collector`, `run_id`, `subject`, `outcome`, `error`,
//! `duration_ms`. Events never carry evidence or secrets. Under systemd (the journal stream
//! is detected), `tracing`'s `log` bridge forwards events to `systemd-journal-logger`;
//! elsewhere `tracing-subscriber` writes to stderr, filtered by `BEWEIS_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the logger for this process.
/// `daemon` logs at info by default; commands log only warnings, their output is on stdout.
pub(crate) fn init(verbose: bool, daemon: bool) {
    if systemd_journal_logger::connected_to_journal() && init_journal() {
        return;
    }
    let default = match (verbose, daemon) {
        (true, _) => "debug",
        (false, true) => "info",
        (false, false) => "warn",
    };
    let filter = EnvFilter::try_from_env("BEWEIS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Sends `log` records (and through tracing's bridge, tracing events) to journald.
fn init_journal() -> bool {
    let Ok(logger) = systemd_journal_logger::JournalLog::new() else { return false };
    let installed = logger.with_syslog_identifier("beweis".to_owned()).install().is_ok();
    if installed {
        log::set_max_level(log::LevelFilter::Info);
    }
    installed
}
