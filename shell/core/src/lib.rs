//! The core of the brain's shell: the configuration every other part starts from
//! (`brain.toml` in the brain directory, `BRAIN_*` environment overrides, validated at
//! start), the [`Shell`] that registers plugins explicitly and runs their tools as a
//! caller (permission first), and the built-in job tools (`status`, `jobs_list`,
//! `jobs_cancel`).

mod builtin;
mod config;
mod context;
mod error;
mod notes;
mod shell;

pub use config::{
    BrainSection, CONFIG_FILE, Config, LogLevel, LoggingSection, PermissionsSection, QueueSection,
    RESERVED_ENV,
};
pub use error::ConfigError;
// What interfaces pass to the queue's listing (`Shell::queue().list`), and what its calls
// fail with.
pub use brain_job_queue::{ListFilter, QueueError};
pub use builtin::{CancelOutput, RetryOutput};
pub use notes::INDEX_JOB;

/// The commands the shell declares for its own tools (`/status`, `/jobs`, `/cancel`): what
/// help lists beside the plugins' before a shell is built.
pub fn shell_commands() -> Vec<brain_plugin_api::CommandSpec> {
    builtin::commands()
}
pub use shell::{
    SHELL_PLUGIN_ID, SHELL_SECTIONS, Shell, ShellBuilder, ShellError, config_problems,
    plugin_completions,
};
