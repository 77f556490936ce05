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
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
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
        Command::Evidence { what } => commands::evidence(state()?, what).await,
        Command::Verify(flag) => commands::verify(state()?, flag.json).await,
        Command::Export { out } => commands::export(config.clone(), state()?, out).await,
        Command::CheckConfig(flag) => commands::check_config(&config, flag.json),
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
    eprintln!("error: {error:#}");
    if error.downcast_ref::<commands::UsageError>().is_some() {
        return exit::USAGE;
    }
    exit::CANNOT_RUN
}
