//! Command-line interface: argument types and the exit codes documented in the README.
//!
//! Parsing only; `main` dispatches to the commands and `output` presents their results.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit codes; stable, documented in the README.
pub(crate) mod exit {
    /// Success.
    pub(crate) const OK: u8 = 0;
    /// A problem was found: `verify` found tampering.
    pub(crate) const PROBLEM: u8 = 1;
    /// Bad command-line usage (clap's own code).
    pub(crate) const USAGE: u8 = 2;
    /// The configuration is invalid; systemd must not restart into it.
    pub(crate) const CONFIG: u8 = 3;
    /// The command could not run (storage, permissions, lock, I/O).
    pub(crate) const CANNOT_RUN: u8 = 4;
    /// Collection finished, but at least one run did not succeed.
    pub(crate) const RUN_NOT_SUCCEEDED: u8 = 5;
}

/// beweis: proof, not claims. Collects evidence that security controls work.
#[derive(Debug, Parser)]
#[command(name = "beweis", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// Configuration file [default: /etc/beweis/beweis.toml, else the embedded default]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// State directory holding the evidence database and signing key
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// More log output
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Collect evidence now
    Collect {
        #[command(subcommand)]
        what: CollectCommand,
    },
    /// Run the scheduler (the systemd service)
    Daemon,
    /// Show control statuses per CSF function
    Status(JsonFlag),
    /// List or show stored evidence
    Evidence {
        #[command(subcommand)]
        what: EvidenceCommand,
    },
    /// Recompute every hash and signature of the evidence log
    Verify(JsonFlag),
    /// Write the public status document
    Export {
        /// Directory to write status.json into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Validate the configuration without running anything
    CheckConfig(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub(crate) enum CollectCommand {
    /// Collect now: through the daemon if it runs, in this process otherwise
    Now(CollectNow),
}

#[derive(Debug, Args)]
pub(crate) struct CollectNow {
    /// Only this instance (repeatable)
    #[arg(long, value_name = "NAME")]
    pub(crate) instance: Vec<String>,
    /// Only the instances proving this control (repeatable)
    #[arg(long, value_name = "ID")]
    pub(crate) control: Vec<String>,
    #[command(flatten)]
    pub(crate) json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// List observations, newest first
    List {
        /// Only this instance
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one observation with its facts and chain of custody
    Show {
        /// Observation id
        id: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct JsonFlag {
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}
