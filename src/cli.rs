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
    /// Show the history of status transitions, newest first
    History {
        /// Only this control
        #[arg(long, value_name = "ID")]
        control: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List or show stored evidence
    Evidence {
        #[command(subcommand)]
        what: EvidenceCommand,
    },
    /// Recompute every hash and signature of the evidence log
    Verify(JsonFlag),
    /// Publish the feed: record a signed status document and write the trust page
    Export {
        /// Feed directory to write status.json, checkpoint, proof.json and the pages into
        #[arg(long, value_name = "DIR", required_unless_present_any = ["oscal", "bundle"])]
        out: Option<PathBuf>,
        /// Also (or only) write OSCAL 1.1.2 assessment results to this file
        #[arg(long, value_name = "FILE")]
        oscal: Option<PathBuf>,
        /// Also (or only) write the auditor bundle (tar.zst) to this file
        #[arg(long, value_name = "FILE.tar.zst")]
        bundle: Option<PathBuf>,
        /// Evidence records of this many past days go into the bundle
        #[arg(long, default_value_t = 90, value_name = "DAYS")]
        since_days: u32,
    },
    /// Verify a published feed: signature, inclusion, consistency with the last seen, freshness
    VerifyFeed(VerifyFeedArgs),
    /// Serve a feed directory read-only over HTTP (page, status, proofs, badge, metrics)
    Serve(ServeArgs),
    /// Validate the configuration without running anything
    CheckConfig(JsonFlag),
}

/// `beweis verify-feed`.
#[derive(Debug, Args)]
pub(crate) struct VerifyFeedArgs {
    /// The feed directory (status.json, checkpoint, proof.json)
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// The publisher's public key file (64 hex characters), obtained out of band
    #[arg(long, value_name = "PUBLIC_KEY")]
    pub(crate) key: PathBuf,
    /// State file remembering the checkpoint seen last; updated after a successful check
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
    /// A status document older than this many hours is stale
    #[arg(long, default_value_t = 26, value_name = "HOURS")]
    pub(crate) max_age_hours: u32,
    #[command(flatten)]
    pub(crate) json: JsonFlag,
}

/// `beweis serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub(crate) listen: std::net::SocketAddr,
    /// The feed directory written by `export` or the daemon
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Connections served at once; more are answered 503
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub(crate) max_connections: usize,
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
    /// List runs, newest first, with their outcome (skipped and failed runs included)
    Runs {
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
