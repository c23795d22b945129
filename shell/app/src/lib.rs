//! The `brain` binary as a library: [`main_with`] parses the command line, builds a tokio
//! runtime and runs a command against the brain directory, with the plugins it is given.
//! `src/main.rs` passes [`default_plugins`]; a person who wants their own plugin in their
//! brain writes a three-line binary that adds it to that list (plugins are registered
//! explicitly, in code — there is no dynamic loading):
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     #[allow(unused_mut)]
//!     let mut plugins = brain::default_plugins();
//!     // plugins.push(std::sync::Arc::new(my_plugin::MyPlugin));
//!     brain::main_with(plugins)
//! }
//! ```
//!
//! Output discipline: results go to stdout, messages and logs to stderr (stdout is a
//! protocol for the MCP server over stdio and for scripts). Exit codes: 0 ok, 1 the
//! operation failed, 2 usage or configuration error, 130 interrupted (Ctrl-C).

mod cli;
mod commands;
mod exit;
mod logging;
mod output;
#[cfg(test)]
mod schemas;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use brain_plugin_api::Plugin;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// How long the runtime waits, at exit, for blocking tasks still running (a status query
/// whose caller went away); past that the process exits anyway rather than hang.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(2);

/// The plugins the stock `brain` binary is built with.
pub fn default_plugins() -> Vec<Arc<dyn Plugin>> {
    vec![Arc::new(brain_site_builder::SiteBuilder)]
}

/// Runs the `brain` command line (`std::env::args`) with `plugins` registered in the shell,
/// and returns the process's exit code.
pub fn main_with(plugins: Vec<Arc<dyn Plugin>>) -> ExitCode {
    // The plugins' commands join the built-in ones before anything is parsed: `brain
    // --help` lists them, and a shell's completion request (`COMPLETE=bash brain -- …`)
    // is answered here, with the plugins' values.
    let command = match commands::plugin::command_line(&plugins) {
        Ok(command) => command,
        Err(problem) => {
            eprintln!("error: this binary's plugins declare a command wrongly: {problem}");
            return ExitCode::from(exit::FAILED);
        }
    };
    // Only a completion request (COMPLETE set) builds the command line a second time.
    let for_completion = plugins.clone();
    clap_complete::CompleteEnv::with_factory(move || {
        commands::plugin::command_line(&for_completion).unwrap_or_else(|_| Cli::command())
    })
    .complete();
    let parsed = command.try_get_matches().and_then(|matches| {
        let call = commands::plugin::call(&plugins, &matches);
        let cli = match &call {
            // A plugin's command: only the global options are the derive's.
            Some(_) => Cli {
                dir: matches.get_one::<std::path::PathBuf>("dir").cloned(),
                log_level: matches.get_one::<cli::LevelArg>("log_level").copied(),
                verbose: matches.get_count("verbose"),
                command: None,
            },
            None => Cli::from_arg_matches(&matches)?,
        };
        Ok((cli, call))
    });
    let (cli, call) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // Help and version are "errors" to clap that print to stdout and exit 0;
            // real usage errors print to stderr and exit 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let result = runtime.block_on(commands::run(cli, call, plugins));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Already explained (a failed operation's summary, "Cancelled …"): only the code.
        Err(error) if error.downcast_ref::<exit::Reported>().is_some() => {
            ExitCode::from(exit::code_of(&error))
        }
        Err(error) => {
            // `{:#}` prints the context chain on one line: "tool `status`: invalid input …".
            eprintln!("error: {error:#}");
            ExitCode::from(exit::code_of(&error))
        }
    }
}
