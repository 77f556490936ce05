//! beweis: an evidence-collector agent. This file parses the command line, sets up logging and
//! the runtime, dispatches to `commands`, and turns errors into documented exit codes, printing
//! the cause chain once.

#![warn(unreachable_pub)]

mod cli;
mod commands;
mod config;
mod controls;
mod daemon;
mod evidence;
mod feed;
mod keys;
mod output;
mod runner;
mod schedule;
mod serve;
mod state;
mod store;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{exit, Cli, CollectCommand, Command};
use crate::config::ConfigErrors;
use crate::state::StateDir;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Daemon) {
        restore_sigpipe();
    }
    telemetry::init(cli.verbose, matches!(cli.command, Command::Daemon));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::CANNOT_RUN);
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => report(&e),
    };
    // A blocking read stuck in the kernel (a collector past its timeout) must not keep the
    // process alive: give blocking threads a moment, then exit without them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    ExitCode::from(code)
}

async fn dispatch(mut cli: Cli) -> anyhow::Result<u8> {
    // A relative --config is taken from the working directory once: the daemon tells other
    // commands which file it runs, and they may be started elsewhere.
    cli.config = cli.config.map(|p| std::path::absolute(&p).unwrap_or(p));
    match &cli.command {
        // Reading the log does not need a valid configuration: an operator with a half-edited
        // config file can still verify and inspect the evidence.
        Command::Verify(flag) => return commands::verify(lenient_state(&cli)?, flag.json).await,
        Command::Evidence { what } => return commands::evidence(lenient_state(&cli)?, what).await,
        Command::History { control, limit, json } => {
            let state = lenient_state(&cli)?;
            return commands::history(state, control.as_deref(), *limit, json.json).await;
        }
        _ => {}
    }
    let config = match (config::load(cli.config.as_deref()), &cli.command) {
        (Ok(config), _) => config,
        (Err(errors), Command::CheckConfig(flag)) if flag.json => {
            return commands::config_errors_json(&errors);
        }
        (Err(errors), _) => return Err(errors.into()),
    };
    let state = || StateDir::resolve(cli.state_dir.as_deref(), config.agent.state_dir.as_deref());
    match &cli.command {
        Command::Collect { what: CollectCommand::Now(args) } => {
            commands::collect_now(config.clone(), state()?, args).await
        }
        Command::Daemon => {
            let options = daemon::DaemonOptions {
                config_path: cli.config.clone(),
                config: config.clone(),
                state: state()?,
            };
            daemon::run(options).await.map(|()| exit::OK)
        }
        Command::Status(flag) => commands::status(config.clone(), state()?, flag.json).await,
        Command::Evidence { .. } | Command::Verify(_) | Command::History { .. } => Ok(exit::OK),
        Command::Export { out, oscal, bundle, since_days } => {
            let targets = commands::ExportTargets {
                out: out.as_deref(),
                oscal: oscal.as_deref(),
                bundle: bundle.as_deref(),
                since_days: *since_days,
            };
            commands::export(config.clone(), state()?, &targets).await
        }
        Command::VerifyFeed(args) => commands::verify_feed(args),
        Command::Serve(args) => serve::run(args, state().ok()).await.map(|()| exit::OK),
        Command::CheckConfig(flag) => commands::check_config(&config, flag.json),
    }
}

/// The state directory for commands that only read the log; a broken config is ignored.
fn lenient_state(cli: &Cli) -> anyhow::Result<StateDir> {
    let configured = config::load(cli.config.as_deref()).ok().and_then(|c| c.agent.state_dir);
    Ok(StateDir::resolve(cli.state_dir.as_deref(), configured.as_deref())?)
}

/// Commands that print (`status | head`) end quietly when the reader goes away, as other Unix
/// tools do; the daemon keeps Rust's default (ignore SIGPIPE, get EPIPE) for its sockets.
fn restore_sigpipe() {
    // SAFETY: called before any thread is started; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Prints an error with its causes and picks the exit code for it.
fn report(error: &anyhow::Error) -> u8 {
    if let Some(errors) = error.downcast_ref::<ConfigErrors>() {
        eprintln!("{errors}");
        let count = errors.0.len();
        eprintln!(
            "error: configuration invalid ({count} error{})",
            if count == 1 { "" } else { "s" }
        );
        return exit::CONFIG;
    }
    eprintln!("error: {}", output::chain_text(error));
    if error.downcast_ref::<commands::UsageError>().is_some() {
        return exit::USAGE;
    }
    exit::CANNOT_RUN
}
