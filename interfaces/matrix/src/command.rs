//! What a message asks the bot to do, as a pure function of its text: a command with the
//! prefix (`!build production`), the same addressed to the bot by mention (`brain: build`),
//! or free text addressed to it (a question for the `query` tool).

use serde_json::{Value, json};

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Generate {
        route: Option<String>,
        section: Option<String>,
    },
    Build {
        production: bool,
    },
    Promote,
    Rollback,
    Status {
        id: Option<String>,
    },
    Jobs,
    Cancel {
        id: String,
    },
    Help,
    /// Free text addressed to the bot.
    Query {
        question: String,
    },
    /// A command used wrongly: the answer explains the usage.
    Usage {
        message: String,
    },
    /// A prefixed word that is no command.
    Unknown {
        name: String,
    },
}

/// The commands and what they do, for `!help` (prefix added by [`help_text`]).
const HELP: &[(&str, &str)] = &[
    (
        "generate [route] [section]",
        "generate missing content (all, one route, one section)",
    ),
    (
        "build [preview|production]",
        "build the site (preview by default)",
    ),
    ("promote", "copy preview content to production"),
    ("rollback", "restore production content"),
    (
        "status [id]",
        "status of a job or batch, or of all recent ones",
    ),
    ("jobs", "active and recent jobs"),
    ("cancel <id>", "cancel a job or batch"),
    ("help", "this list"),
];

/// `!help`'s answer in Markdown.
pub fn help_text(prefix: &str) -> String {
    let mut text = String::from("**Commands**\n\n");
    for (usage, what) in HELP {
        text.push_str(&format!("- `{prefix}{usage}`: {what}\n"));
    }
    text.push_str("\nMention me with a question to ask the notes.");
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
pub fn parse(body: &str, prefix: &str, me: &Addressee<'_>, mentioned: bool) -> Option<Command> {
    let body = body.trim();
    if let Some(rest) = body.strip_prefix(prefix) {
        return Some(command(rest));
    }
    let rest = me.strip_mention(body);
    if rest.is_none() && !mentioned {
        return None;
    }
    let text = rest.unwrap_or(body);
    let text = text.strip_prefix(prefix).unwrap_or(text).trim();
    let first = text.split_whitespace().next().unwrap_or("");
    if is_command_name(first) {
        return Some(command(text));
    }
    if text.is_empty() {
        return Some(Command::Help);
    }
    Some(Command::Query {
        question: text.to_owned(),
    })
}

fn is_command_name(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "generate" | "build" | "promote" | "rollback" | "status" | "jobs" | "cancel" | "help"
    )
}

/// A command line without its prefix: "build production".
fn command(line: &str) -> Command {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("").to_ascii_lowercase();
    let args: Vec<String> = words.map(str::to_owned).collect();
    let usage = |usage: &str| Command::Usage {
        message: format!("usage: {usage}"),
    };
    match name.as_str() {
        "generate" if args.len() <= 2 => {
            let mut args = args.into_iter();
            Command::Generate {
                route: args.next(),
                section: args.next(),
            }
        }
        "generate" => usage("generate [route] [section]"),
        "build" => match args.as_slice() {
            [] => Command::Build { production: false },
            [env] if env.eq_ignore_ascii_case("preview") => Command::Build { production: false },
            [env] if env.eq_ignore_ascii_case("production") => Command::Build { production: true },
            _ => usage("build [preview|production]"),
        },
        "promote" if args.is_empty() => Command::Promote,
        "promote" => usage("promote"),
        "rollback" if args.is_empty() => Command::Rollback,
        "rollback" => usage("rollback"),
        "status" if args.len() <= 1 => Command::Status {
            id: args.into_iter().next(),
        },
        "status" => usage("status [id]"),
        "jobs" => Command::Jobs,
        "cancel" => match args.as_slice() {
            [id] => Command::Cancel { id: id.clone() },
            _ => usage("cancel <id>"),
        },
        "help" | "" => Command::Help,
        _ => Command::Unknown { name },
    }
}

impl Command {
    /// The tool this command runs and its input; `None` for answers the bot gives itself.
    pub fn tool(&self) -> Option<(&'static str, Value)> {
        let some = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let mut input = match self {
            Command::Generate { route, section } => (
                "site_generate",
                json!({ "route": some(route), "section": some(section) }),
            ),
            Command::Build { production } => (
                "site_build",
                json!({ "environment": if *production { "production" } else { "preview" } }),
            ),
            Command::Promote => ("site_promote", json!({})),
            Command::Rollback => ("site_rollback", json!({})),
            Command::Status { id } => ("status", json!({ "id": some(id) })),
            Command::Jobs => ("jobs_list", json!({})),
            Command::Cancel { id } => ("jobs_cancel", json!({ "id": id })),
            Command::Query { question } => ("query", json!({ "question": question })),
            Command::Help | Command::Usage { .. } | Command::Unknown { .. } => return None,
        };
        // Absent optional fields, not nulls: the tools' inputs deny nothing else.
        if let Value::Object(map) = &mut input.1 {
            map.retain(|_, v| !v.is_null());
        }
        Some(input)
    }

    /// What the person typed that the command carries (arguments, the question, an unknown
    /// name): what a reply must not repeat at length.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Command::Generate { route, section } => {
                route.iter().chain(section).map(String::as_str).collect()
            }
            Command::Status { id } => id.iter().map(String::as_str).collect(),
            Command::Cancel { id } => vec![id],
            Command::Query { question } => vec![question],
            Command::Unknown { name } => vec![name],
            Command::Build { .. }
            | Command::Promote
            | Command::Rollback
            | Command::Jobs
            | Command::Help
            | Command::Usage { .. } => Vec::new(),
        }
    }

    /// The command's name as typed (for refusals: "You may not run !build").
    pub fn name(&self) -> &str {
        match self {
            Command::Generate { .. } => "generate",
            Command::Build { .. } => "build",
            Command::Promote => "promote",
            Command::Rollback => "rollback",
            Command::Status { .. } => "status",
            Command::Jobs => "jobs",
            Command::Cancel { .. } => "cancel",
            Command::Help => "help",
            Command::Query { .. } => "query",
            Command::Usage { .. } => "usage",
            Command::Unknown { name } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Addressee<'static> = Addressee {
        user_id: "@brain:example.org",
        display_name: Some("Brain Bot"),
    };

    fn p(body: &str) -> Option<Command> {
        parse(body, "!", &ME, false)
    }

    #[test]
    fn prefixed_commands() {
        let gen_ = |r: Option<&str>, s: Option<&str>| {
            Some(Command::Generate {
                route: r.map(Into::into),
                section: s.map(Into::into),
            })
        };
        assert_eq!(p("!generate"), gen_(None, None));
        assert_eq!(p("  !generate landing "), gen_(Some("landing"), None));
        assert_eq!(
            p("!generate landing hero"),
            gen_(Some("landing"), Some("hero"))
        );
        assert_eq!(p("!build"), Some(Command::Build { production: false }));
        assert_eq!(
            p("!build Production"),
            Some(Command::Build { production: true })
        );
        assert_eq!(p("!promote"), Some(Command::Promote));
        assert_eq!(p("!rollback"), Some(Command::Rollback));
        assert_eq!(p("!status"), Some(Command::Status { id: None }));
        assert_eq!(
            p("!status b1"),
            Some(Command::Status {
                id: Some("b1".into())
            })
        );
        assert_eq!(p("!jobs"), Some(Command::Jobs));
        assert_eq!(p("!cancel b1"), Some(Command::Cancel { id: "b1".into() }));
        assert_eq!(p("!help"), Some(Command::Help));
        assert_eq!(p("!"), Some(Command::Help));
        assert_eq!(
            p("!frobnicate"),
            Some(Command::Unknown {
                name: "frobnicate".into()
            })
        );
    }

    #[test]
    fn wrong_usage_explains() {
        for (body, usage) in [
            ("!build staging", "build [preview|production]"),
            ("!cancel", "cancel <id>"),
            ("!generate a b c", "generate [route] [section]"),
            ("!promote now", "promote"),
        ] {
            assert_eq!(
                p(body),
                Some(Command::Usage {
                    message: format!("usage: {usage}")
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
        assert_eq!(
            p("brain: build"),
            Some(Command::Build { production: false })
        );
        assert_eq!(p("@brain:example.org !jobs"), Some(Command::Jobs));
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
            parse("tell me, what is up", "!", &ME, true),
            Some(Command::Query {
                question: "tell me, what is up".into()
            })
        );
        assert_eq!(parse("brain:", "!", &ME, false), Some(Command::Help));
    }

    #[test]
    fn custom_prefix() {
        assert_eq!(parse("%jobs", "%", &ME, false), Some(Command::Jobs));
        assert_eq!(parse("!jobs", "%", &ME, false), None);
    }

    #[test]
    fn tools_and_inputs() {
        assert_eq!(
            Command::Generate {
                route: Some("landing".into()),
                section: None
            }
            .tool(),
            Some(("site_generate", json!({ "route": "landing" })))
        );
        assert_eq!(
            Command::Build { production: true }.tool(),
            Some(("site_build", json!({ "environment": "production" })))
        );
        assert_eq!(
            Command::Status { id: None }.tool(),
            Some(("status", json!({})))
        );
        assert_eq!(
            Command::Cancel { id: "b".into() }.tool(),
            Some(("jobs_cancel", json!({ "id": "b" })))
        );
        assert_eq!(
            Command::Query {
                question: "q".into()
            }
            .tool(),
            Some(("query", json!({ "question": "q" })))
        );
        assert_eq!(Command::Help.tool(), None);
        assert!(help_text("!").contains("`!build [preview|production]`"));
    }
}
