//! What a message asks the bot to do, as a pure function of its text: a command with the
//! prefix (`!build production`), the same addressed to the bot by mention (`brain: build`),
//! or free text addressed to it (a question for the `query` tool). The commands are those
//! the shell and its plugins declare, parsed by the one parser the chat shares
//! ([`CommandTable`]); `!help` is generated from them.

use brain_plugin_api::{Call, CommandError, CommandSpec, CommandTable, Parsed};

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A declared command: the tool call it makes.
    Run(Call),
    Help,
    /// Free text addressed to the bot.
    Query {
        question: String,
    },
    /// A command used wrongly, or no command: the answer says what is allowed.
    Usage {
        message: String,
    },
}

/// The bot's commands behind `prefix`: the declared ones, then `help`.
pub fn table(prefix: &str, commands: Vec<CommandSpec>) -> CommandTable {
    CommandTable::new(prefix, commands).builtin("help", "", "This list")
}

/// `!help`'s answer in Markdown.
pub fn help_text(table: &CommandTable) -> String {
    let mut text = String::from("**Commands**\n\n");
    for (usage, about) in table.help() {
        text.push_str(&format!("- `{usage}`: {about}\n"));
    }
    text.push_str(&format!(
        "\nArguments in [brackets] may also be given as flags (`{}generate --route landing`). \
         Mention me with a question to ask the notes.",
        table.prefix()
    ));
    text
}

/// Who the bot is, for recognising messages addressed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee<'a> {
    /// `@brain:example.org`.
    pub user_id: &'a str,
    /// The display name, when it has one.
    pub display_name: Option<&'a str>,
}

impl Addressee<'_> {
    fn localpart(&self) -> &str {
        self.user_id
            .strip_prefix('@')
            .and_then(|rest| rest.split(':').next())
            .unwrap_or(self.user_id)
    }

    /// The text after a leading mention ("brain: build", "@brain:example.org build"),
    /// if the message starts with one.
    fn strip_mention<'t>(&self, text: &'t str) -> Option<&'t str> {
        let mut names = vec![self.user_id, self.localpart()];
        names.extend(self.display_name);
        // Longest first: "Brain Bot, help" is the display name, not "brain" + "Bot, help".
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        for name in names {
            let with_at = text.strip_prefix('@').unwrap_or(text);
            let bare = name.strip_prefix('@').unwrap_or(name);
            let rest = if name.starts_with('@') {
                text.strip_prefix(name)
            } else {
                strip_prefix_ignore_case(with_at, bare)
            };
            if let Some(rest) = rest
                && (rest.is_empty() || rest.starts_with([':', ',', ' ']))
            {
                return Some(rest.trim_start_matches([':', ',']).trim_start());
            }
        }
        None
    }
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// What `body` asks, or `None` when the message is not for the bot. `mentioned` says whether
/// the event's `m.mentions` names the bot (Element sets it for a mention pill).
pub fn parse(
    body: &str,
    table: &CommandTable,
    me: &Addressee<'_>,
    mentioned: bool,
) -> Option<Command> {
    let body = body.trim();
    if let Some(rest) = body.strip_prefix(table.prefix()) {
        return Some(command(table, rest));
    }
    let rest = me.strip_mention(body);
    if rest.is_none() && !mentioned {
        return None;
    }
    let text = rest.unwrap_or(body);
    let text = text.strip_prefix(table.prefix()).unwrap_or(text).trim();
    let first = text.split_whitespace().next().unwrap_or("");
    if table.knows(first) {
        return Some(command(table, text));
    }
    if text.is_empty() {
        return Some(Command::Help);
    }
    Some(Command::Query {
        question: text.to_owned(),
    })
}

/// A command line without its prefix: "build production".
fn command(table: &CommandTable, line: &str) -> Command {
    match table.parse(line) {
        Ok(Parsed::Call(call)) => Command::Run(call),
        Ok(Parsed::Empty | Parsed::Builtin { .. }) => Command::Help,
        Err(error @ CommandError::Unknown { .. }) => Command::Usage {
            message: format!("{error}. `{}help` explains them.", table.prefix()),
        },
        Err(error) => Command::Usage {
            message: error.to_string(),
        },
    }
}

impl Command {
    /// The tool this command runs and its input; `None` for answers the bot gives itself.
    pub fn tool(&self) -> Option<(String, serde_json::Value)> {
        match self {
            Command::Run(call) => Some((
                call.tool.clone(),
                serde_json::Value::Object(call.input.clone()),
            )),
            Command::Query { question } => Some((
                "query".to_owned(),
                serde_json::json!({ "question": question }),
            )),
            Command::Help | Command::Usage { .. } => None,
        }
    }

    /// What the person typed that the command carries (argument values, the question):
    /// what a reply must not repeat at length.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Command::Run(call) => call.input.values().filter_map(|v| v.as_str()).collect(),
            Command::Query { question } => vec![question],
            Command::Help | Command::Usage { .. } => Vec::new(),
        }
    }

    /// The command's name as typed (for refusals: "`!build` needs anchor permission").
    pub fn name(&self) -> &str {
        match self {
            Command::Run(call) => &call.command,
            Command::Help => "help",
            Command::Query { .. } => "query",
            Command::Usage { .. } => "usage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_plugin_api::ArgSpec;
    use serde_json::json;

    const ME: Addressee<'static> = Addressee {
        user_id: "@brain:example.org",
        display_name: Some("Brain Bot"),
    };

    /// Commands as a plugin and the shell declare them.
    fn declared() -> Vec<CommandSpec> {
        vec![
            CommandSpec::new("site", "generate", "site_generate", "generate content")
                .arg(ArgSpec::text("route", "").positional())
                .arg(ArgSpec::text("section", "").positional())
                .arg(ArgSpec::switch("force", "")),
            CommandSpec::new("site", "build", "site_build", "build the site").arg(
                ArgSpec::text("environment", "")
                    .flag("env")
                    .positional()
                    .choices(["preview", "production"]),
            ),
            CommandSpec::new("", "jobs", "jobs_list", "active and recent jobs"),
            CommandSpec::new("", "cancel", "jobs_cancel", "cancel a job or batch")
                .arg(ArgSpec::text("id", "").positional().required()),
        ]
    }

    fn with(prefix: &str, body: &str, mentioned: bool) -> Option<Command> {
        parse(body, &table(prefix, declared()), &ME, mentioned)
    }

    fn p(body: &str) -> Option<Command> {
        with("!", body, false)
    }

    fn run(tool: &str, command: &str, input: serde_json::Value) -> Option<Command> {
        Some(Command::Run(Call {
            command: command.into(),
            tool: tool.into(),
            input: input.as_object().cloned().unwrap_or_default(),
        }))
    }

    #[test]
    fn prefixed_commands() {
        assert_eq!(p("!generate"), run("site_generate", "generate", json!({})));
        assert_eq!(
            p("  !generate landing hero --force"),
            run(
                "site_generate",
                "generate",
                json!({"route": "landing", "section": "hero", "force": true})
            )
        );
        assert_eq!(
            p("!Build Production"),
            run("site_build", "build", json!({"environment": "production"}))
        );
        assert_eq!(p("!jobs"), run("jobs_list", "jobs", json!({})));
        assert_eq!(
            p("!cancel b1"),
            run("jobs_cancel", "cancel", json!({"id": "b1"}))
        );
        assert_eq!(p("!help"), Some(Command::Help));
        assert_eq!(p("!"), Some(Command::Help));
    }

    #[test]
    fn wrong_usage_explains() {
        for (body, message) in [
            (
                "!build staging",
                "!build: `staging` is not a valid env: expected preview or production",
            ),
            ("!cancel", "!cancel needs <id> (usage: !cancel <id>)"),
            (
                "!generate a b c",
                "!generate takes at most 2 arguments (!generate [route] [section] [--force]), \
                 got 3: `a b c`",
            ),
            (
                "!frobnicate",
                "unknown command `!frobnicate`: the commands are !generate, !build, !jobs, \
                 !cancel, !help. `!help` explains them.",
            ),
        ] {
            assert_eq!(
                p(body),
                Some(Command::Usage {
                    message: message.into()
                }),
                "{body}"
            );
        }
    }

    #[test]
    fn other_text_is_not_for_the_bot() {
        assert_eq!(p("hello there"), None);
        assert_eq!(p("brainstorm later?"), None);
        assert_eq!(p("let's build it"), None);
    }

    #[test]
    fn mentions_address_the_bot() {
        assert_eq!(p("brain: build"), run("site_build", "build", json!({})));
        assert_eq!(
            p("@brain:example.org !jobs"),
            run("jobs_list", "jobs", json!({}))
        );
        assert_eq!(p("Brain Bot, help"), Some(Command::Help));
        assert_eq!(
            p("brain: what did I write about bees?"),
            Some(Command::Query {
                question: "what did I write about bees?".into()
            })
        );
        // A mention pill: Element names the bot in m.mentions, the body has its display name
        // somewhere.
        assert_eq!(
            with("!", "tell me, what is up", true),
            Some(Command::Query {
                question: "tell me, what is up".into()
            })
        );
        assert_eq!(p("brain:"), Some(Command::Help));
    }

    #[test]
    fn custom_prefix() {
        assert_eq!(
            with("%", "%jobs", false),
            run("jobs_list", "jobs", json!({}))
        );
        assert_eq!(with("%", "!jobs", false), None);
    }

    #[test]
    fn tools_inputs_and_help() {
        let Some(Command::Run(call)) = p("!generate landing") else {
            panic!("not a call");
        };
        let command = Command::Run(call);
        assert_eq!(
            command.tool(),
            Some(("site_generate".into(), json!({ "route": "landing" })))
        );
        assert_eq!(command.inputs(), ["landing"]);
        assert_eq!(
            Command::Query {
                question: "q".into()
            }
            .tool(),
            Some(("query".into(), json!({ "question": "q" })))
        );
        assert_eq!(Command::Help.tool(), None);
        let help = help_text(&table("!", declared()));
        assert!(
            help.contains("- `!build [preview|production]`: build the site"),
            "{help}"
        );
        assert!(
            help.contains("- `!cancel <id>`: cancel a job or batch"),
            "{help}"
        );
        assert!(help.contains("- `!help`: This list"), "{help}");
    }
}
