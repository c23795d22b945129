//! The JSON each `--json` command prints, as JSON Schemas generated from the types that
//! print it. The schemas are kept in `docs/json/` for people who script the CLI; a test
//! pins them, so a change to a shape is a change to a file that review sees
//! (`BRAIN_BLESS=1 cargo test -p brain schemas` rewrites them).

use brain_cli::{EndLine, ProgressLine};
use brain_core::{CancelOutput, RetryOutput};
use brain_plugin_api::{AsyncToolResponse, JobLogLine, ListedJob, ToolInfo};
use serde_json::Value;

/// (file name without `.schema.json`, the command, its schema), one per shape.
pub(crate) fn all() -> Vec<(&'static str, &'static str, Value)> {
    fn schema<T: schemars::JsonSchema>() -> Value {
        schemars::schema_for!(T).to_value()
    }
    vec![
        (
            "jobs-list",
            "brain jobs list --json: an array, newest first",
            schema::<Vec<ListedJob>>(),
        ),
        (
            "jobs-status",
            "brain jobs status ID --json",
            schema::<ListedJob>(),
        ),
        (
            "jobs-cancel",
            "brain jobs cancel ID --json",
            schema::<CancelOutput>(),
        ),
        (
            "jobs-retry",
            "brain jobs retry ID --json",
            schema::<RetryOutput>(),
        ),
        (
            "jobs-logs",
            "brain jobs logs ID --json: an array, oldest first",
            schema::<Vec<JobLogLine>>(),
        ),
        (
            "started",
            "brain <group> <command> --detach --json: what started, at once",
            schema::<AsyncToolResponse>(),
        ),
        (
            "tools",
            "brain tool --list --json: the tools you may run, with their input and output \
             schemas",
            schema::<Vec<ToolInfo>>(),
        ),
        (
            "progress-line",
            "brain <group> <command> --json and brain jobs watch --json: each line while it runs",
            schema::<ProgressLine>(),
        ),
        (
            "end-line",
            "brain <group> <command> --json and brain jobs watch --json: the last line",
            schema::<EndLine>(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn folder() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/json")
    }

    /// Each kept schema is what the types generate now.
    #[test]
    fn the_documented_shapes_are_the_printed_ones() {
        let bless = std::env::var_os("BRAIN_BLESS").is_some();
        let mut stale = Vec::new();
        for (name, command, mut schema) in all() {
            schema["description"] = Value::String(command.to_owned());
            let text = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
            let path = folder().join(format!("{name}.schema.json"));
            if bless {
                std::fs::create_dir_all(folder()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "these schemas differ from the types (rewrite them with `BRAIN_BLESS=1 cargo test \
             -p brain schemas` and review the change): {stale:?}"
        );
    }
}
