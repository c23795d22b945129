//! `brain site generate|build|promote|rollback`: runs the site builder's tools as the owner
//! with this process's workers and follows the work with live progress (the `brain-cli`
//! interface), or with `--detach` only starts it for a `brain start` running elsewhere.
//! Exit codes: 0 done, 1 failed (the summary says what), 130 Ctrl-C (cancelled, or left to
//! another process).

use serde_json::{Map, Value};

use crate::cli::{AttachArgs, EnvArg, SiteCommand};
use crate::commands::Brain;
use crate::exit::Reported;

pub(crate) async fn run(brain: &Brain, command: SiteCommand) -> anyhow::Result<()> {
    let (tool, input, attach) = tool_call(command);
    let shell = brain.open_shell().await?;
    if attach.detach {
        return brain_cli::detach(&shell, tool, input, attach.view.json).await;
    }
    let mode = brain_cli::Mode::detect(attach.view.json, attach.view.quiet);
    finish(brain_cli::run(&shell, tool, input, mode).await?)
}

/// Maps an attached operation's outcome to the process's exit: its summary is printed, so
/// only the code remains.
pub(crate) fn finish(outcome: brain_cli::Outcome) -> anyhow::Result<()> {
    match outcome.exit_code() {
        0 => Ok(()),
        code => Err(Reported(code).into()),
    }
}

/// The tool, its input (only the options given, so the tool's defaults apply to the rest)
/// and how to follow it.
fn tool_call(command: SiteCommand) -> (&'static str, Value, AttachArgs) {
    let mut input = Map::new();
    let mut select = |route: Option<String>, section: Option<String>| {
        if let Some(route) = route {
            input.insert("route".into(), Value::String(route));
        }
        if let Some(section) = section {
            input.insert("section".into(), Value::String(section));
        }
    };
    let (tool, attach) = match command {
        SiteCommand::Generate(args) => {
            select(args.route, args.section);
            if args.force {
                input.insert("force".into(), Value::Bool(true));
            }
            if args.dry_run {
                input.insert("dryRun".into(), Value::Bool(true));
            }
            ("site_generate", args.attach)
        }
        SiteCommand::Build(args) => {
            let env = match args.env {
                EnvArg::Preview => "preview",
                EnvArg::Production => "production",
            };
            input.insert("environment".into(), Value::String(env.into()));
            ("site_build", args.attach)
        }
        SiteCommand::Promote(args) => {
            select(args.route, args.section);
            ("site_promote", args.attach)
        }
        SiteCommand::Rollback(args) => {
            select(args.route, args.section);
            ("site_rollback", args.attach)
        }
    };
    (tool, Value::Object(input), attach)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use serde_json::json;

    fn call(args: &[&str]) -> (&'static str, Value, bool, bool, bool) {
        match Cli::try_parse_from(args).unwrap().command {
            Some(Command::Site { command }) => {
                let (tool, input, attach) = tool_call(command);
                (
                    tool,
                    input,
                    attach.detach,
                    attach.view.json,
                    attach.view.quiet,
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn site_commands_map_to_tools() {
        let cases = [
            (
                &["brain", "site", "generate"][..],
                ("site_generate", json!({}), false, false, false),
            ),
            (
                &[
                    "brain",
                    "site",
                    "generate",
                    "--route",
                    "landing",
                    "--section",
                    "hero",
                    "--force",
                    "--dry-run",
                    "--json",
                ],
                (
                    "site_generate",
                    json!({"route": "landing", "section": "hero", "force": true, "dryRun": true}),
                    false,
                    true,
                    false,
                ),
            ),
            (
                &["brain", "site", "build", "--env", "production", "--detach"],
                (
                    "site_build",
                    json!({"environment": "production"}),
                    true,
                    false,
                    false,
                ),
            ),
            (
                &["brain", "site", "build", "-q"],
                (
                    "site_build",
                    json!({"environment": "preview"}),
                    false,
                    false,
                    true,
                ),
            ),
            (
                &["brain", "site", "promote"],
                ("site_promote", json!({}), false, false, false),
            ),
            (
                &["brain", "site", "rollback", "--route", "/about"],
                (
                    "site_rollback",
                    json!({"route": "/about"}),
                    false,
                    false,
                    false,
                ),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(call(args), expected, "{args:?}");
        }
        for bad in [
            &["brain", "site", "build", "--env", "staging"][..],
            &["brain", "site"],
            &["brain", "jobs", "watch"],
        ] {
            assert_eq!(
                Cli::try_parse_from(bad).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }
}
