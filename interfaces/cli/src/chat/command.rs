//! The chat's command language: a typed line parsed into a [`Command`] (pure, no shell), the
//! tool call each site command makes, and the help text both `/help` and `brain chat --help`
//! print.

use serde_json::{Map, Value};

/// Every slash command, in the order help lists them: (name, arguments).
pub(crate) const COMMANDS: [(&str, &str); 9] = [
    ("/generate", "[route] [section] [--force]"),
    ("/build", "[preview|production]"),
    ("/promote", "[route] [section]"),
    ("/rollback", "[route] [section]"),
    ("/status", "[id]"),
    ("/jobs", ""),
    ("/cancel", "[id]"),
    ("/help", ""),
    ("/quit", ""),
];

/// What `/help` prints, and `brain chat --help` after its usage.
pub const HELP: &str = "\
Commands:
  /generate [route] [section] [--force]  generate content for sections that have none
                                         (--force: also those that have some)
  /build [preview|production]            build the site into dist/<env>/ (default: preview)
  /promote [route] [section]             copy preview content to production
  /rollback [route] [section]            remove production content
  /status [id]                           a job's or batch's status; no id: active and recent work
  /jobs                                  active and recent jobs and batches
  /cancel [id]                           cancel a job or batch (no id: the one operation running)
  /help                                  this help
  /quit                                  quit (also Ctrl-D on an empty line)
Anything else is a question for your notes (the query tool).

Operations run in the background, several at once, each with its own live bar above the
prompt; when one ends its bar becomes a summary line. Tab completes commands, routes,
sections, environments and the ids of active jobs; Up/Down recall earlier lines (kept in
.brain/chat_history, the last 500). Ctrl-C clears the line; on an empty line, a second
Ctrl-C quits.
Quitting while work runs: running jobs get 2 s to finish, the rest go back to the queue
unharmed; the next `brain chat` (which shows them as bars again) or `brain start` resumes
them. `/cancel` stops work for good.
Not a terminal (stdin piped): one command per line, each run to its end before the next
line is read, plain output; the exit code is 1 if any command failed.";

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Generate {
        select: Select,
        force: bool,
    },
    Build(Env),
    Promote(Select),
    Rollback(Select),
    Status(Option<String>),
    Jobs,
    Cancel(Option<String>),
    Help,
    Quit,
    /// Free text: a question for the `query` tool.
    Ask(String),
    /// An empty line.
    Nothing,
}

/// Which sections a site command works on; `None` means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Select {
    pub(crate) route: Option<String>,
    pub(crate) section: Option<String>,
}

/// `/build`'s environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Env {
    Preview,
    Production,
}

/// A line that is not a valid command; the message names the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("unknown command `{name}`{}: the commands are {}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(), names())]
    UnknownCommand {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("{command} takes {}, got {got}: `{args}`", takes(command, *max, usage))]
    TooManyArguments {
        command: &'static str,
        usage: &'static str,
        max: usize,
        got: usize,
        args: String,
    },
    #[error("unknown environment `{0}` for /build: expected preview or production")]
    Environment(String),
    #[error("unknown option `{option}` for {command}: {allowed}")]
    Option {
        command: &'static str,
        option: String,
        allowed: &'static str,
    },
}

/// "no arguments", "at most 2 arguments (/promote [route] [section])".
fn takes(command: &str, max: usize, usage: &str) -> String {
    match max {
        0 => "no arguments".to_owned(),
        1 => format!("at most 1 argument ({command} {usage})"),
        n => format!("at most {n} arguments ({command} {usage})"),
    }
}

fn names() -> String {
    COMMANDS.map(|(name, _)| name).join(", ")
}

/// Parses one line. Lines starting with `/` are commands; anything else is a question.
pub(crate) fn parse(line: &str) -> Result<Command, ParseError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Command::Nothing);
    }
    if !line.starts_with('/') {
        return Ok(Command::Ask(line.to_owned()));
    }
    let mut words = line.split_whitespace();
    let typed = words.next().unwrap_or_default();
    let words: Vec<&str> = words.collect();
    let Some(&(name, usage)) = COMMANDS.iter().find(|(name, _)| *name == typed) else {
        let matching: Vec<&'static str> = COMMANDS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| typed.len() > 1 && name.starts_with(typed))
            .collect();
        return Err(ParseError::UnknownCommand {
            name: typed.to_owned(),
            suggestion: (matching.len() == 1).then(|| matching[0]),
        });
    };
    let (options, args): (Vec<&str>, Vec<&str>) =
        words.into_iter().partition(|w| w.starts_with("--"));
    let allowed = if name == "/generate" {
        "expected --force"
    } else {
        "it takes no options"
    };
    if let Some(option) = options
        .iter()
        .find(|o| name != "/generate" || **o != "--force")
    {
        return Err(ParseError::Option {
            command: name,
            option: (*option).to_owned(),
            allowed,
        });
    }
    let max = match name {
        "/generate" | "/promote" | "/rollback" => 2,
        "/build" | "/status" | "/cancel" => 1,
        _ => 0,
    };
    if args.len() > max {
        return Err(ParseError::TooManyArguments {
            command: name,
            usage,
            max,
            got: args.len(),
            args: args.join(" "),
        });
    }
    let arg = |i: usize| args.get(i).map(|s| (*s).to_owned());
    let select = Select {
        route: arg(0),
        section: arg(1),
    };
    Ok(match name {
        "/generate" => Command::Generate {
            select,
            force: !options.is_empty(),
        },
        "/build" => Command::Build(match args.first() {
            None | Some(&"preview") => Env::Preview,
            Some(&"production") => Env::Production,
            Some(other) => return Err(ParseError::Environment((*other).to_owned())),
        }),
        "/promote" => Command::Promote(select),
        "/rollback" => Command::Rollback(select),
        "/status" => Command::Status(arg(0)),
        "/jobs" => Command::Jobs,
        "/cancel" => Command::Cancel(arg(0)),
        "/help" => Command::Help,
        _ => Command::Quit,
    })
}

impl Command {
    /// The site tool this command runs and its input (only what was given, so the tool's
    /// defaults apply to the rest); `None` for the other commands.
    pub(crate) fn site_call(&self) -> Option<(&'static str, Value)> {
        let mut input = Map::new();
        let mut select = |s: &Select| {
            if let Some(route) = &s.route {
                input.insert("route".into(), Value::String(route.clone()));
            }
            if let Some(section) = &s.section {
                input.insert("section".into(), Value::String(section.clone()));
            }
        };
        let tool = match self {
            Command::Generate { select: s, force } => {
                select(s);
                if *force {
                    input.insert("force".into(), Value::Bool(true));
                }
                "site_generate"
            }
            Command::Build(env) => {
                let env = match env {
                    Env::Preview => "preview",
                    Env::Production => "production",
                };
                input.insert("environment".into(), Value::String(env.into()));
                "site_build"
            }
            Command::Promote(s) => {
                select(s);
                "site_promote"
            }
            Command::Rollback(s) => {
                select(s);
                "site_rollback"
            }
            _ => return None,
        };
        Some((tool, Value::Object(input)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(route: Option<&str>, section: Option<&str>) -> Select {
        Select {
            route: route.map(Into::into),
            section: section.map(Into::into),
        }
    }

    #[test]
    fn lines_parse_to_commands() {
        let cases = [
            ("", Command::Nothing),
            ("   ", Command::Nothing),
            (
                "/generate",
                Command::Generate {
                    select: Select::default(),
                    force: false,
                },
            ),
            (
                "  /generate landing hero --force ",
                Command::Generate {
                    select: select(Some("landing"), Some("hero")),
                    force: true,
                },
            ),
            ("/build", Command::Build(Env::Preview)),
            ("/build production", Command::Build(Env::Production)),
            (
                "/promote /about",
                Command::Promote(select(Some("/about"), None)),
            ),
            ("/rollback", Command::Rollback(Select::default())),
            ("/status", Command::Status(None)),
            ("/status batch_1", Command::Status(Some("batch_1".into()))),
            ("/jobs", Command::Jobs),
            ("/cancel", Command::Cancel(None)),
            ("/cancel job_2", Command::Cancel(Some("job_2".into()))),
            ("/help", Command::Help),
            ("/quit", Command::Quit),
            (
                "what are my products?",
                Command::Ask("what are my products?".into()),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), Ok(expected), "{line:?}");
        }
    }

    #[test]
    fn bad_lines_say_what_is_allowed() {
        let cases = [
            (
                "/build staging",
                "unknown environment `staging` for /build: expected preview or production",
            ),
            (
                "/frobnicate",
                "unknown command `/frobnicate`: the commands are /generate, /build, /promote, \
                 /rollback, /status, /jobs, /cancel, /help, /quit",
            ),
            ("/gen", "unknown command `/gen` (did you mean /generate?)"),
            ("/jobs all", "/jobs takes no arguments, got 1: `all`"),
            (
                "/promote a b c",
                "/promote takes at most 2 arguments (/promote [route] [section]), got 3: `a b c`",
            ),
            (
                "/generate --dry",
                "unknown option `--dry` for /generate: expected --force",
            ),
            (
                "/build --force",
                "unknown option `--force` for /build: it takes no options",
            ),
        ];
        for (line, message) in cases {
            let error = parse(line).unwrap_err().to_string();
            assert!(error.starts_with(message), "{line:?}: {error}");
        }
    }

    #[test]
    fn site_commands_map_to_tools() {
        let call = |line: &str| parse(line).unwrap().site_call();
        assert_eq!(call("/generate"), Some(("site_generate", json!({}))));
        assert_eq!(
            call("/generate landing --force"),
            Some(("site_generate", json!({"route": "landing", "force": true})))
        );
        assert_eq!(
            call("/build production"),
            Some(("site_build", json!({"environment": "production"})))
        );
        assert_eq!(
            call("/promote landing hero"),
            Some((
                "site_promote",
                json!({"route": "landing", "section": "hero"})
            ))
        );
        assert_eq!(call("/rollback"), Some(("site_rollback", json!({}))));
        for other in ["/status", "/jobs", "/cancel x", "/help", "/quit", "hello"] {
            assert_eq!(call(other), None, "{other}");
        }
    }

    #[test]
    fn help_lists_every_command() {
        for (name, args) in COMMANDS {
            let usage = format!("  {name} {args}");
            assert!(HELP.contains(usage.trim_end()), "{name}");
        }
    }
}
