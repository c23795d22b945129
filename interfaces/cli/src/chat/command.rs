//! The chat's command language: the commands the shell and its plugins declare, typed
//! behind `/` and parsed by the one parser every chat-like interface shares
//! ([`CommandTable`]), plus the chat's own `/help` and `/quit`; free text is a question for
//! the notes. [`help`] is what `/help` and `brain chat --help` print.

use brain_plugin_api::{Call, CommandError, CommandSpec, CommandTable, Parsed};

/// The commands of a chat whose shell declares `commands`.
pub(crate) fn table(commands: Vec<CommandSpec>) -> CommandTable {
    CommandTable::new("/", commands)
        .builtin("help", "", "This help")
        .builtin("quit", "", "Quit (also Ctrl-D on an empty line)")
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// A declared command: the tool call it makes.
    Run(Call),
    Help,
    Quit,
    /// Free text: a question for the `query` tool.
    Ask(String),
    /// An empty line.
    Nothing,
}

/// Parses one line. Lines starting with `/` are commands; anything else is a question.
pub(crate) fn parse(table: &CommandTable, line: &str) -> Result<Command, CommandError> {
    let Some(parsed) = table.parse_line(line) else {
        return Ok(Command::Ask(line.trim().to_owned()));
    };
    Ok(match parsed? {
        Parsed::Empty => Command::Nothing,
        Parsed::Call(call) => Command::Run(call),
        Parsed::Builtin { name, args } if !args.is_empty() => {
            return Err(CommandError::TooManyArguments {
                command: format!("/{name}"),
                usage: String::new(),
                max: 0,
                got: args.len(),
                args: brain_plugin_api::shorten(&args.join(" "), 80),
            });
        }
        Parsed::Builtin { name, .. } if name == "help" => Command::Help,
        Parsed::Builtin { .. } => Command::Quit,
    })
}

/// What `/help` prints, and `brain chat --help` after its usage: every command the shell
/// and its plugins declare, with its arguments, then how the chat behaves.
pub fn help(commands: Vec<CommandSpec>) -> String {
    let lines = table(commands).help();
    let width = lines
        .iter()
        .map(|(usage, _)| usage.len())
        .max()
        .unwrap_or(0);
    let mut text = String::from("Commands:\n");
    for (usage, about) in &lines {
        text.push_str(&format!("  {usage:width$}  {about}\n"));
    }
    text.push_str(BEHAVIOUR);
    text
}

const BEHAVIOUR: &str = "\
Anything else is a question for your notes (the query tool). Arguments in [brackets] may
also be given as flags: `/generate --route landing`.

Operations run in the background, several at once, each with its own live bar above the
prompt; when one ends its bar becomes a summary line. Tab completes commands, flags and
their values (routes, sections, environments, the ids of jobs); Up/Down recall earlier
lines (kept in .brain/chat_history, the last 500). Ctrl-C clears the line; on an empty
line, a second Ctrl-C quits.
Quitting while work runs: running jobs get 2 s to finish, the rest go back to the queue
unharmed; the next `brain chat` (which shows them as bars again) or `brain start` resumes
them. `/cancel` alone cancels the one operation running here; `/cancel ID` any other.
Not a terminal (stdin piped): one command per line, each run to its end before the next
line is read, plain output; the exit code is 1 if any command failed.";

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::ArgSpec;
    use serde_json::json;

    fn commands() -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("site", "build", "site_build", "build the site").arg(
                ArgSpec::text("environment", "which")
                    .flag("env")
                    .positional()
                    .choices(["preview", "production"]),
            ),
            CommandSpec::new("", "cancel", "jobs_cancel", "cancel a job or batch")
                .arg(ArgSpec::text("id", "the id").positional().required()),
        ]
    }

    #[test]
    fn lines_are_commands_questions_or_nothing() {
        let table = table(commands());
        let run = |tool: &str, command: &str, input: serde_json::Value| {
            Command::Run(Call {
                command: command.into(),
                tool: tool.into(),
                input: input.as_object().cloned().unwrap_or_default(),
            })
        };
        let cases = [
            ("", Command::Nothing),
            ("   ", Command::Nothing),
            (
                "/build production",
                run("site_build", "build", json!({"environment": "production"})),
            ),
            (
                "/cancel job_2",
                run("jobs_cancel", "cancel", json!({"id": "job_2"})),
            ),
            ("/help", Command::Help),
            ("/quit", Command::Quit),
            (
                " what are my products? ",
                Command::Ask("what are my products?".into()),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(&table, line), Ok(expected), "{line:?}");
        }
        for (line, message) in [
            ("/quit now", "/quit takes no arguments, got 1: `now`"),
            (
                "/build staging",
                "/build: `staging` is not a valid env: expected preview or production",
            ),
            ("/bu", "unknown command `/bu` (did you mean /build?)"),
        ] {
            let error = parse(&table, line).unwrap_err().to_string();
            assert!(error.starts_with(message), "{line:?}: {error}");
        }
    }

    #[test]
    fn help_lists_every_declared_command_and_the_chat_s_own() {
        let help = help(commands());
        for usage in [
            "  /build [preview|production]  build the site",
            "  /cancel <id>                 cancel a job or batch",
            "  /help                        This help",
            "  /quit                        Quit",
        ] {
            assert!(help.contains(usage), "{usage:?} in\n{help}");
        }
    }
}
