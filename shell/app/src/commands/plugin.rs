//! `brain <group> <command>`: the commands plugins declare (`brain site generate`, `brain
//! example count 50`), derived at start-up with clap's builder API — positional arguments,
//! flags, help, and values completed by the shell completion (`--route <Tab>` asks the
//! plugin). Each runs its tool as the owner with this process's workers and follows the
//! work with live progress (the `brain-cli` interface), or with `--detach` only starts it
//! for a `brain start` running elsewhere. Exit codes: 0 done, 1 failed (the summary says
//! what), 2 usage, 130 Ctrl-C (cancelled, or left to another process).

use std::ffi::OsStr;
use std::sync::Arc;

use brain_core::Config;
use brain_plugin_api::{ArgKind, ArgSpec, BrainDirs, CommandSpec, Plugin};
use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use serde_json::{Map, Value};

use crate::cli::Cli;
use crate::commands::Brain;
use crate::exit::Reported;

/// Flags every derived command has, which a plugin's arguments may not take.
const OWN_FLAGS: [&str; 7] = [
    "detach",
    "json",
    "quiet",
    "dir",
    "log-level",
    "verbose",
    "help",
];

/// A derived command as typed: the tool, its input (only what was given, so the tool's
/// defaults apply to the rest) and how to follow it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PluginCall {
    pub(crate) tool: String,
    pub(crate) input: Value,
    pub(crate) detach: bool,
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

/// The whole command line: the built-in commands plus a group per plugin command group.
/// An error names the plugin declaration that cannot be a command.
pub(crate) fn command_line(plugins: &[Arc<dyn Plugin>]) -> Result<clap::Command, String> {
    let mut cli = Cli::command();
    let taken: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .chain(["help".to_owned()])
        .collect();
    let mut groups: Vec<(String, &Arc<dyn Plugin>, Vec<CommandSpec>)> = Vec::new();
    for plugin in plugins {
        for spec in plugin.commands() {
            let fault = |what: String| format!("plugin {:?}: {what}", plugin.id());
            if let Some(problem) = spec.problems().into_iter().next() {
                return Err(fault(problem));
            }
            if taken.contains(&spec.group) || spec.group.is_empty() {
                return Err(fault(format!(
                    "command group `{}` is {}",
                    spec.group,
                    if spec.group.is_empty() {
                        "missing"
                    } else {
                        "a built-in command"
                    }
                )));
            }
            if let Some(arg) = spec
                .args
                .iter()
                .find(|a| OWN_FLAGS.contains(&a.flag.as_str()))
            {
                return Err(fault(format!(
                    "`{} {}` declares --{}, which every command has already",
                    spec.group, spec.name, arg.flag
                )));
            }
            match groups.iter_mut().find(|(g, ..)| *g == spec.group) {
                Some((_, owner, _)) if owner.id() != plugin.id() => {
                    return Err(fault(format!(
                        "command group `{}` belongs to plugin {:?}",
                        spec.group,
                        owner.id()
                    )));
                }
                Some((_, _, specs)) => specs.push(spec),
                None => groups.push((spec.group.clone(), plugin, vec![spec])),
            }
        }
    }
    let mut all_commands = Vec::new();
    for (group, plugin, specs) in groups {
        let mut sub = clap::Command::new(group)
            .about(plugin.description().to_owned())
            .subcommand_required(true)
            .arg_required_else_help(true);
        for spec in &specs {
            sub = sub.subcommand(derived(spec, plugins));
        }
        cli = cli.subcommand(sub);
        all_commands.extend(specs);
    }
    all_commands.extend(brain_core::shell_commands());
    let chat_help = brain_cli::chat::help(all_commands);
    Ok(cli.mut_subcommand("chat", |chat| chat.after_help(chat_help)))
}

/// One declared command as a clap command: positional arguments (each also a flag), flags,
/// and the options that say how to follow the work.
fn derived(spec: &CommandSpec, plugins: &[Arc<dyn Plugin>]) -> clap::Command {
    let mut command = clap::Command::new(spec.name.clone()).about(spec.about.clone());
    let mut index = 0;
    for arg in &spec.args {
        let values = |a: Arg| value_arg(a, arg, spec, plugins);
        match (arg.kind, arg.positional) {
            (ArgKind::Switch, _) => {
                command = command.arg(
                    Arg::new(arg.field.clone())
                        .long(arg.flag.clone())
                        .help(arg.help.clone())
                        .action(ArgAction::SetTrue),
                );
            }
            (_, true) => {
                index += 1;
                let flag_id = flag_id(arg);
                let mut positional = values(Arg::new(arg.field.clone()).index(index))
                    .conflicts_with(flag_id.clone());
                if arg.required {
                    positional = positional.required_unless_present(flag_id.clone());
                }
                command = command.arg(positional).arg(
                    values(Arg::new(flag_id).long(arg.flag.clone())).help(format!(
                        "{} (the same as {})",
                        arg.help,
                        arg.flag.to_uppercase()
                    )),
                );
            }
            (_, false) => {
                command = command.arg(
                    values(Arg::new(arg.field.clone()).long(arg.flag.clone()))
                        .required(arg.required),
                );
            }
        }
    }
    command
        .arg(
            Arg::new("detach")
                .long("detach")
                .action(ArgAction::SetTrue)
                .help("Start the work and exit at once; a running `brain start` does it"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("JSON lines on stdout: each progress notification, then the final status"),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .short('q')
                .action(ArgAction::SetTrue)
                .help("No bars: plain lines on stderr (as when stderr is not a terminal)"),
        )
}

/// The id of a positional argument's flag form (`--route`).
fn flag_id(arg: &ArgSpec) -> String {
    format!("{}--flag", arg.field)
}

/// A value-taking argument: its value name, parser (number, choices) and completion.
fn value_arg(clap_arg: Arg, arg: &ArgSpec, spec: &CommandSpec, plugins: &[Arc<dyn Plugin>]) -> Arg {
    let mut clap_arg = clap_arg
        .value_name(arg.flag.to_uppercase())
        .help(arg.help.clone())
        .action(ArgAction::Set);
    if !arg.choices.is_empty() {
        clap_arg = clap_arg
            .value_parser(PossibleValuesParser::new(arg.choices.clone()))
            .ignore_case(true);
    } else if arg.kind == ArgKind::Number {
        clap_arg = clap_arg.value_parser(clap::value_parser!(u64));
    }
    if arg.completes {
        let (plugins, tool, field) = (plugins.to_vec(), spec.tool.clone(), arg.field.clone());
        clap_arg = clap_arg.add(ArgValueCompleter::new(move |current: &OsStr| {
            complete(&plugins, &tool, &field, current)
        }));
    }
    clap_arg
}

/// What the shell completion offers for a value: the plugin's values for the brain in
/// `$BRAIN_DIR`, else the nearest folder up with a `brain.toml` (a completer does not see
/// `--dir`).
fn complete(
    plugins: &[Arc<dyn Plugin>],
    tool: &str,
    field: &str,
    current: &OsStr,
) -> Vec<CompletionCandidate> {
    let Some(dir) = super::brain_dir(None).or_else(super::find_brain) else {
        return Vec::new();
    };
    let Ok(config) = Config::load(&dir) else {
        return Vec::new();
    };
    let current = current.to_string_lossy();
    let values = brain_core::plugin_completions(
        plugins,
        &config,
        &BrainDirs::new(&dir),
        tool,
        field,
        &Map::new(),
    );
    brain_plugin_api::matching(&current, values)
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// The derived command `matches` chose, if it is one: `(group, name)` found among the
/// plugins' declarations, its arguments read back into the tool's input.
pub(crate) fn call(plugins: &[Arc<dyn Plugin>], matches: &ArgMatches) -> Option<PluginCall> {
    let (group, group_matches) = matches.subcommand()?;
    let (name, found) = group_matches.subcommand()?;
    let spec = plugins
        .iter()
        .flat_map(|p| p.commands())
        .find(|c| c.group == group && c.name == name)?;
    let mut input = Map::new();
    for arg in &spec.args {
        let value = match arg.kind {
            ArgKind::Switch => found.get_flag(&arg.field).then_some(Value::Bool(true)),
            kind => {
                let text = |id: &str| found.get_one::<String>(id).cloned();
                let number = |id: &str| found.get_one::<u64>(id).copied();
                // A positional argument may come as its flag instead (`--route`).
                let id = if arg.positional && found.value_source(&arg.field).is_none() {
                    flag_id(arg)
                } else {
                    arg.field.clone()
                };
                match kind {
                    ArgKind::Number if arg.choices.is_empty() => number(&id).map(Value::from),
                    _ => text(&id).map(|t| canonical(arg, t)),
                }
            }
        };
        if let Some(value) = value {
            input.insert(arg.field.clone(), value);
        }
    }
    Some(PluginCall {
        tool: spec.tool,
        input: Value::Object(input),
        detach: found.get_flag("detach"),
        json: found.get_flag("json"),
        quiet: found.get_flag("quiet"),
    })
}

/// A value as the tool takes it: a choice in its declared spelling (`--env Production`).
fn canonical(arg: &ArgSpec, text: String) -> Value {
    let chosen = arg
        .choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(&text))
        .cloned();
    Value::String(chosen.unwrap_or(text))
}

pub(crate) async fn run(brain: &Brain, call: PluginCall) -> anyhow::Result<()> {
    let shell = brain.open_shell().await?;
    if call.detach {
        return brain_cli::detach(&shell, &call.tool, call.input, call.json).await;
    }
    let mode = brain_cli::Mode::detect(call.json, call.quiet);
    finish(brain_cli::run(&shell, &call.tool, call.input, mode).await?)
}

/// Maps an attached operation's outcome to the process's exit: its summary is printed, so
/// only the code remains.
pub(crate) fn finish(outcome: brain_cli::Outcome) -> anyhow::Result<()> {
    match outcome.exit_code() {
        0 => Ok(()),
        code => Err(Reported(code).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::{PluginError, Registrar};
    use serde_json::json;

    fn site() -> Vec<Arc<dyn Plugin>> {
        vec![Arc::new(brain_site_builder::SiteBuilder)]
    }

    fn call_of(args: &[&str]) -> Option<PluginCall> {
        let matches = command_line(&site())
            .unwrap()
            .try_get_matches_from(args)
            .unwrap();
        call(&site(), &matches)
    }

    fn site_call(tool: &str, input: Value, flags: [bool; 3]) -> PluginCall {
        let [detach, json, quiet] = flags;
        PluginCall {
            tool: tool.into(),
            input,
            detach,
            json,
            quiet,
        }
    }

    #[test]
    fn declared_commands_map_to_their_tools() {
        let none = [false; 3];
        let cases = [
            (
                &["brain", "site", "generate"][..],
                site_call("site_generate", json!({}), none),
            ),
            (
                &[
                    "brain",
                    "site",
                    "generate",
                    "landing",
                    "--section",
                    "hero",
                    "--force",
                    "--dry-run",
                    "--json",
                ],
                site_call(
                    "site_generate",
                    json!({"route": "landing", "section": "hero", "force": true, "dryRun": true}),
                    [false, true, false],
                ),
            ),
            (
                &["brain", "site", "build", "--env", "Production", "--detach"],
                site_call(
                    "site_build",
                    json!({"environment": "production"}),
                    [true, false, false],
                ),
            ),
            (
                &["brain", "site", "build", "preview", "-q"],
                site_call(
                    "site_build",
                    json!({"environment": "preview"}),
                    [false, false, true],
                ),
            ),
            (
                &["brain", "--dir", "x", "site", "rollback", "/about"],
                site_call("site_rollback", json!({"route": "/about"}), none),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(call_of(args), Some(expected), "{args:?}");
        }
        assert_eq!(call_of(&["brain", "jobs", "list"]), None);
    }

    #[test]
    fn wrong_arguments_are_usage_errors() {
        for bad in [
            &["brain", "site", "build", "--env", "staging"][..],
            &["brain", "site"],
            &["brain", "site", "promote", "a", "b", "c"],
            &["brain", "site", "generate", "landing", "--route", "about"],
        ] {
            let error = command_line(&site())
                .unwrap()
                .try_get_matches_from(bad)
                .unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn a_group_that_is_a_built_in_command_is_refused() {
        struct Clash;
        #[async_trait::async_trait]
        impl Plugin for Clash {
            fn id(&self) -> &str {
                "clash"
            }
            fn version(&self) -> &str {
                "1"
            }
            fn description(&self) -> &str {
                "clashes"
            }
            fn commands(&self) -> Vec<CommandSpec> {
                vec![CommandSpec::new("jobs", "purge", "clash_purge", "")]
            }
            fn register(&self, _: &mut Registrar) -> Result<(), PluginError> {
                Ok(())
            }
        }
        let error = command_line(&[Arc::new(Clash)]).unwrap_err();
        assert!(error.contains("`jobs` is a built-in command"), "{error}");
    }
}
