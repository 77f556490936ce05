//! Logging: journald under systemd, stderr otherwise; one message style everywhere.
//!
//! Style (see `ARCHITECTURE.md`): a capitalised sentence ending in a period, with structured
//! fields named `instance`, `collector`, `run_id`, `subject`, `outcome`, `error`,
//! `duration_ms`. Events never carry evidence or secrets. Under systemd (the journal stream is
//! detected) a small layer hands each event, with the fields of its enclosing spans, to
//! `systemd-journal-logger`; span entries and exits are not logged. Elsewhere
//! `tracing-subscriber` writes to stderr. `BEWEIS_LOG` filters both (default `info` for the
//! daemon, `warn` for commands, whose output is on stdout).

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The filter of `-v`: our own crates at debug, third-party crates (HTTP, SQL) at info, whose
/// debug output names hosts, addresses and statements.
pub(crate) const VERBOSE_FILTER: &str = "beweis=debug,collectors=debug,info";

/// Installs the logger for this process.
pub(crate) fn init(verbose: bool, daemon: bool) {
    let default = match (verbose, daemon) {
        (true, _) => VERBOSE_FILTER,
        (false, true) => "info",
        (false, false) => "warn",
    };
    let filter =
        || EnvFilter::try_from_env("BEWEIS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    if systemd_journal_logger::connected_to_journal() && install_journal_logger() {
        let _ = tracing_subscriber::registry().with(filter()).with(JournalLayer).try_init();
        return;
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Installs `systemd-journal-logger` as the `log` logger.
fn install_journal_logger() -> bool {
    let Ok(logger) = systemd_journal_logger::JournalLog::new() else { return false };
    let installed = logger.with_syslog_identifier("beweis".to_owned()).install().is_ok();
    if installed {
        log::set_max_level(log::LevelFilter::Trace);
    }
    installed
}

/// Forwards tracing events to the `log` logger (journald), with span fields appended.
struct JournalLayer;

/// The formatted fields of a span, kept in its extensions.
struct SpanFields(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for JournalLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = FieldText::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        event.record(&mut text);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    // A field the event names itself is not repeated from its span.
                    for field in fields.0.split_inclusive_fields() {
                        let key = &field[..field.find('=').map_or(field.len(), |i| i + 1)];
                        if !text.fields.contains(key) {
                            text.fields.push_str(field);
                        }
                    }
                }
            }
        }
        let level = log_level(*event.metadata().level());
        let line = format!("{}{}", text.message, text.fields);
        log::logger().log(
            &log::Record::builder()
                .level(level)
                .target("beweis")
                .args(format_args!("{line}"))
                .build(),
        );
    }
}

fn log_level(level: Level) -> log::Level {
    match level {
        Level::ERROR => log::Level::Error,
        Level::WARN => log::Level::Warn,
        Level::INFO => log::Level::Info,
        Level::DEBUG => log::Level::Debug,
        Level::TRACE => log::Level::Trace,
    }
}

/// Splits ` a=1 b="x"` into ` a=1` and ` b="x"` (values are Debug-quoted, so a space inside
/// a string value never starts a field).
trait SplitFields {
    fn split_inclusive_fields(&self) -> Vec<&str>;
}

impl SplitFields for String {
    fn split_inclusive_fields(&self) -> Vec<&str> {
        let mut parts = Vec::new();
        let mut start = 0;
        let mut quoted = false;
        for (i, c) in self.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted && i > start => {
                    parts.push(&self[start..i]);
                    start = i;
                }
                _ => {}
            }
        }
        if start < self.len() {
            parts.push(&self[start..]);
        }
        parts
    }
}

/// Collects an event's message and ` key=value` fields.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
