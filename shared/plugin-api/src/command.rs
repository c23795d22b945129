//! Commands: how a person types a tool. A plugin declares once, per tool a person would
//! type, its command (`site generate`), positional arguments and flags (each mapped to an
//! input field), help and completion sources ([`CommandSpec`]). The CLI derives `brain
//! <group> <name>` from it; the chat (`/name`) and the Matrix bot (`!name`) share the one
//! parser here ([`CommandTable`]), so the same arguments work the same way everywhere.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::human::shorten;

/// How an argument's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ArgKind {
    /// A flag alone (`--force`): sets the field to `true`.
    Switch,
    /// A word (`landing`): a JSON string.
    Text,
    /// A whole number (`50`): a JSON number.
    Number,
}

/// One argument of a command: which input field it sets and how it is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgSpec {
    /// The tool input's field it sets (`route`, `dryRun`).
    pub field: String,
    /// The flag without dashes (`route`, `dry-run`); by default the field in kebab case.
    pub flag: String,
    pub kind: ArgKind,
    /// Also typed without its flag, in declaration order (`/generate landing hero`).
    pub positional: bool,
    /// The command is refused without it (the tool would refuse it anyway, less clearly).
    pub required: bool,
    pub help: String,
    /// The only values allowed, which completion offers (`preview`, `production`); empty
    /// for any value.
    pub choices: Vec<String>,
    /// Values come from the plugin's [`crate::Plugin::complete`] (routes from the config).
    pub completes: bool,
}

impl ArgSpec {
    fn new(field: &str, kind: ArgKind, help: &str) -> Self {
        Self {
            field: field.to_owned(),
            flag: kebab_case(field),
            kind,
            positional: false,
            required: false,
            help: help.to_owned(),
            choices: Vec::new(),
            completes: false,
        }
    }

    /// A flag alone that sets a boolean field: `--force`.
    pub fn switch(field: &str, help: &str) -> Self {
        Self::new(field, ArgKind::Switch, help)
    }

    /// A text value: `--route landing`, or `landing` when [`positional`](Self::positional).
    pub fn text(field: &str, help: &str) -> Self {
        Self::new(field, ArgKind::Text, help)
    }

    /// A whole number: `--to 50`.
    pub fn number(field: &str, help: &str) -> Self {
        Self::new(field, ArgKind::Number, help)
    }

    /// Also typed without the flag, after the positional arguments declared before it.
    pub fn positional(mut self) -> Self {
        self.positional = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The flag's name, when it is not the field's (`env` for `environment`).
    pub fn flag(mut self, flag: &str) -> Self {
        self.flag = flag.to_owned();
        self
    }

    /// The values allowed (and completed).
    pub fn choices<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.choices = values.into_iter().map(Into::into).collect();
        self
    }

    /// Values are completed by the plugin's [`crate::Plugin::complete`].
    pub fn completes(mut self) -> Self {
        self.completes = true;
        self
    }

    /// `<route>`, `[route]`, `[--force]`, `[--to <to>]`, `[preview|production]`.
    fn usage(&self) -> String {
        let (open, close) = if self.required {
            ("<", ">")
        } else {
            ("[", "]")
        };
        let value = if self.choices.is_empty() {
            self.flag.clone()
        } else {
            self.choices.join("|")
        };
        match (self.kind, self.positional) {
            (ArgKind::Switch, _) => format!("[--{}]", self.flag),
            (_, true) => format!("{open}{value}{close}"),
            (_, false) => format!("{open}--{} <{value}>{close}", self.flag),
        }
    }
}

/// A command as a plugin declares it: `brain site generate`, `/generate`, `!generate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// The CLI's subcommand group (`site`): a plugin's commands need one. The shell's own
    /// commands have none (the CLI has `brain jobs …` for them).
    pub group: String,
    /// The command (`generate`): the CLI's `brain site generate`, the chat's `/generate`.
    pub name: String,
    /// The tool it runs.
    pub tool: String,
    /// One line of help.
    pub about: String,
    pub args: Vec<ArgSpec>,
}

impl CommandSpec {
    pub fn new(group: &str, name: &str, tool: &str, about: &str) -> Self {
        Self {
            group: group.to_owned(),
            name: name.to_owned(),
            tool: tool.to_owned(),
            about: about.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: ArgSpec) -> Self {
        self.args.push(arg);
        self
    }

    /// The arguments after the name: "[route] [section] [--force]".
    pub fn usage(&self) -> String {
        let mut args: Vec<&ArgSpec> = self.args.iter().filter(|a| a.positional).collect();
        args.extend(self.args.iter().filter(|a| !a.positional));
        args.iter().map(|a| a.usage()).collect::<Vec<_>>().join(" ")
    }

    fn positionals(&self) -> impl Iterator<Item = &ArgSpec> {
        self.args.iter().filter(|a| a.positional)
    }

    fn by_flag(&self, flag: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|a| a.flag == flag)
    }

    /// What is wrong with this declaration, if anything: names and flags a person can
    /// type, no field or flag twice, a required argument positional or named.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let word = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let name = format!("command `{} {}`", self.group, self.name);
        if !word(&self.name) || !(self.group.is_empty() || word(&self.group)) {
            problems.push(format!(
                "{name}: group and name must be lowercase letters, digits and '-'"
            ));
        }
        for (i, arg) in self.args.iter().enumerate() {
            if !word(&arg.flag) {
                problems.push(format!(
                    "{name}: flag `--{}` must be lowercase letters, digits and '-'",
                    arg.flag
                ));
            }
            let earlier = &self.args[..i];
            if earlier.iter().any(|a| a.field == arg.field) {
                problems.push(format!("{name}: field `{}` is declared twice", arg.field));
            }
            if earlier.iter().any(|a| a.flag == arg.flag) {
                problems.push(format!("{name}: flag `--{}` is declared twice", arg.flag));
            }
            if arg.kind == ArgKind::Switch && (arg.positional || arg.required) {
                problems.push(format!(
                    "{name}: switch `--{}` cannot be positional or required",
                    arg.flag
                ));
            }
        }
        problems
    }
}

/// `dryRun` → `dry-run`, `delay_ms` → `delay-ms`.
fn kebab_case(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// A command of the interface itself (`help`, `quit`): parsed, never run as a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Builtin {
    pub name: String,
    pub usage: String,
    pub about: String,
}

/// A tool call a typed command asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The command's name as declared (`generate`).
    pub command: String,
    pub tool: String,
    /// Only what was typed, so the tool's defaults apply to the rest.
    pub input: Map<String, Value>,
}

/// What a typed line is.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Nothing but spaces.
    Empty,
    /// A tool call.
    Call(Call),
    /// One of the interface's own commands, with the words after it.
    Builtin { name: String, args: Vec<String> },
}

/// A typed command that cannot run; the message names the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error("unknown command `{typed}`{}: the commands are {}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(), commands.join(", "))]
    Unknown {
        typed: String,
        suggestion: Option<String>,
        commands: Vec<String>,
    },
    #[error("unknown option `{option}` for {command}: {}", if allowed.is_empty() { "it takes no options".to_owned() } else { format!("expected {}", allowed.join(", ")) })]
    UnknownOption {
        command: String,
        option: String,
        allowed: Vec<String>,
    },
    #[error("{command} takes {}, got {got}: `{args}`", takes(*max, command, usage))]
    TooManyArguments {
        command: String,
        usage: String,
        max: usize,
        got: usize,
        args: String,
    },
    #[error("{command} needs a value after --{flag} (usage: {command} {usage})")]
    MissingValue {
        command: String,
        flag: String,
        usage: String,
    },
    #[error("{command} needs {arg} (usage: {command} {usage})")]
    MissingArgument {
        command: String,
        arg: String,
        usage: String,
    },
    #[error("{command}: `{value}` is not a valid {arg}: expected {expected}")]
    BadValue {
        command: String,
        arg: String,
        value: String,
        expected: String,
    },
    #[error("{command}: {arg} is given twice")]
    Twice { command: String, arg: String },
    #[error("{command}: --{flag} takes no value, got `{typed}`")]
    SwitchValue {
        command: String,
        flag: String,
        typed: String,
    },
}

/// "no arguments", "at most 2 arguments (/promote [route] [section])".
fn takes(max: usize, command: &str, usage: &str) -> String {
    match max {
        0 => "no arguments".to_owned(),
        1 => format!("at most 1 argument ({command} {usage})"),
        n => format!("at most {n} arguments ({command} {usage})"),
    }
}

/// Where Tab completes and what it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Want<'a> {
    /// Nothing to offer.
    Nothing,
    /// These words (command names, flags), not yet filtered by what is typed.
    Words(Vec<String>),
    /// A value of `arg`; `typed` holds the arguments typed before it, for sources that
    /// depend on them (a route's sections).
    Value {
        command: &'a CommandSpec,
        arg: &'a ArgSpec,
        typed: Map<String, Value>,
    },
}

/// How an interface with typed commands names what a tool's messages name. A tool names
/// its input fields and other tools in backticks (`` `force` ``, `` `site_generate` ``), as
/// an LLM calling it by MCP sees them; a person who types commands reads the flag and the
/// command instead (`` `--force` ``, `` `brain site generate` `` or `` `/generate` ``).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spelling {
    /// Per tool: (`` `field` ``, `` `--flag` ``).
    fields: Vec<(String, Vec<(String, String)>)>,
    /// (`` `tool` ``, `` `command` ``).
    tools: Vec<(String, String)>,
}

impl Spelling {
    /// The spelling of `commands`, each typed as `typed` shows it (`brain site generate`).
    pub fn new(commands: &[CommandSpec], typed: impl Fn(&CommandSpec) -> String) -> Self {
        Self {
            fields: commands
                .iter()
                .map(|c| {
                    let flags = c
                        .args
                        .iter()
                        .map(|a| (format!("`{}`", a.field), format!("`--{}`", a.flag)))
                        .collect();
                    (c.tool.clone(), flags)
                })
                .collect(),
            tools: commands
                .iter()
                .map(|c| (format!("`{}`", c.tool), format!("`{}`", typed(c))))
                .collect(),
        }
    }

    /// `text` from `tool` (its fields as its command's flags; any tool as its command).
    pub fn in_own_words(&self, tool: &str, text: &str) -> String {
        let fields = self
            .fields
            .iter()
            .filter(|(t, _)| t == tool)
            .flat_map(|(_, flags)| flags);
        fields
            .chain(&self.tools)
            .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
    }
}

/// The commands an interface offers: the shell's and plugins' declarations plus its own
/// built-ins, behind a prefix (`/` in the chat, `!` in Matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTable {
    prefix: String,
    commands: Vec<CommandSpec>,
    builtins: Vec<Builtin>,
}

impl CommandTable {
    pub fn new(prefix: &str, commands: Vec<CommandSpec>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            commands,
            builtins: Vec::new(),
        }
    }

    /// Adds a command of the interface's own (`help`), listed after the declared ones.
    pub fn builtin(mut self, name: &str, usage: &str, about: &str) -> Self {
        self.builtins.push(Builtin {
            name: name.to_owned(),
            usage: usage.to_owned(),
            about: about.to_owned(),
        });
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn commands(&self) -> &[CommandSpec] {
        &self.commands
    }

    /// `/generate`.
    fn shown(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Every name, in help order: declared, then built-in.
    fn names(&self) -> Vec<&str> {
        self.commands
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.builtins.iter().map(|b| b.name.as_str()))
            .collect()
    }

    /// `text` from `tool` in this table's words (`/generate`, `` `--force` ``): see
    /// [`Spelling`].
    pub fn in_own_words(&self, tool: &str, text: &str) -> String {
        Spelling::new(&self.commands, |c| self.shown(&c.name)).in_own_words(tool, text)
    }

    /// Whether `word` (without prefix, any case) names a command.
    pub fn knows(&self, word: &str) -> bool {
        let word = word.to_ascii_lowercase();
        self.names().contains(&word.as_str())
    }

    /// (usage, about) per command, prefix included: what help prints.
    pub fn help(&self) -> Vec<(String, String)> {
        let line = |name: &str, usage: &str| format!("{name} {usage}").trim_end().to_owned();
        self.commands
            .iter()
            .map(|c| (line(&c.name, &c.usage()), c.about.clone()))
            .chain(
                self.builtins
                    .iter()
                    .map(|b| (line(&b.name, &b.usage), b.about.clone())),
            )
            .map(|(usage, about)| (format!("{}{usage}", self.prefix), about))
            .collect()
    }

    /// Parses a line that starts with the prefix (`/generate landing --force`); `None`
    /// when it does not (free text).
    pub fn parse_line(&self, line: &str) -> Option<Result<Parsed, CommandError>> {
        let line = line.trim();
        if line.is_empty() {
            return Some(Ok(Parsed::Empty));
        }
        let rest = line.strip_prefix(self.prefix.as_str())?;
        Some(self.parse(rest))
    }

    /// Parses a command without its prefix: `generate landing --force`.
    pub fn parse(&self, text: &str) -> Result<Parsed, CommandError> {
        let mut words = text.split_whitespace();
        let Some(typed) = words.next() else {
            return Ok(Parsed::Empty);
        };
        let words: Vec<&str> = words.collect();
        let name = typed.to_ascii_lowercase();
        if let Some(builtin) = self.builtins.iter().find(|b| b.name == name) {
            return Ok(Parsed::Builtin {
                name: builtin.name.clone(),
                args: words.iter().map(|w| (*w).to_owned()).collect(),
            });
        }
        let Some(command) = self.commands.iter().find(|c| c.name == name) else {
            let names = self.names();
            let matching: Vec<&&str> = names
                .iter()
                .filter(|n| !name.is_empty() && n.starts_with(name.as_str()))
                .collect();
            return Err(CommandError::Unknown {
                typed: shorten(&self.shown(typed), 40),
                suggestion: (matching.len() == 1).then(|| self.shown(matching[0])),
                commands: names.iter().map(|n| self.shown(n)).collect(),
            });
        };
        let input = self.arguments(command, &words)?;
        for arg in command.args.iter().filter(|a| a.required) {
            if !input.contains_key(&arg.field) {
                return Err(CommandError::MissingArgument {
                    command: self.shown(&command.name),
                    arg: format!("<{}>", arg.flag),
                    usage: command.usage(),
                });
            }
        }
        Ok(Parsed::Call(Call {
            command: command.name.clone(),
            tool: command.tool.clone(),
            input,
        }))
    }

    /// The input the words after a command give, without the required check.
    fn arguments(
        &self,
        command: &CommandSpec,
        words: &[&str],
    ) -> Result<Map<String, Value>, CommandError> {
        let shown = self.shown(&command.name);
        let mut input = Map::new();
        let mut positionals = command.positionals();
        let mut extra = Vec::new();
        let set = |arg: &ArgSpec, value: Value, input: &mut Map<String, Value>| {
            if input.insert(arg.field.clone(), value).is_some() {
                return Err(CommandError::Twice {
                    command: shown.clone(),
                    arg: arg.flag.clone(),
                });
            }
            Ok(())
        };
        let mut i = 0;
        while i < words.len() {
            let word = words[i];
            i += 1;
            if let Some(option) = word.strip_prefix("--") {
                let (flag, inline) = match option.split_once('=') {
                    Some((flag, value)) => (flag, Some(value)),
                    None => (option, None),
                };
                let Some(arg) = command.by_flag(flag) else {
                    return Err(CommandError::UnknownOption {
                        command: shown.clone(),
                        option: shorten(word, 40),
                        allowed: command
                            .args
                            .iter()
                            .map(|a| format!("--{}", a.flag))
                            .collect(),
                    });
                };
                if arg.kind == ArgKind::Switch {
                    if inline.is_some() {
                        return Err(CommandError::SwitchValue {
                            command: shown.clone(),
                            flag: arg.flag.clone(),
                            typed: shorten(word, 40),
                        });
                    }
                    set(arg, Value::Bool(true), &mut input)?;
                    continue;
                }
                let value = match inline {
                    Some(value) => value,
                    None if i < words.len() => {
                        i += 1;
                        words[i - 1]
                    }
                    None => {
                        return Err(CommandError::MissingValue {
                            command: shown.clone(),
                            flag: arg.flag.clone(),
                            usage: command.usage(),
                        });
                    }
                };
                let value = self.value(command, arg, value)?;
                set(arg, value, &mut input)?;
            } else if let Some(arg) = positionals.next() {
                let value = self.value(command, arg, word)?;
                set(arg, value, &mut input)?;
            } else {
                extra.push(word);
            }
        }
        if !extra.is_empty() {
            let max = command.positionals().count();
            return Err(CommandError::TooManyArguments {
                command: shown,
                usage: command.usage(),
                max,
                got: max + extra.len(),
                args: shorten(&words.join(" "), 80),
            });
        }
        Ok(input)
    }

    /// A typed word as the JSON the field takes.
    fn value(
        &self,
        command: &CommandSpec,
        arg: &ArgSpec,
        word: &str,
    ) -> Result<Value, CommandError> {
        let bad = |expected: String| CommandError::BadValue {
            command: self.shown(&command.name),
            arg: arg.flag.clone(),
            value: shorten(word, 40),
            expected,
        };
        if !arg.choices.is_empty() {
            return arg
                .choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(word))
                .map(|c| Value::String(c.clone()))
                .ok_or_else(|| bad(or_list(&arg.choices)));
        }
        match arg.kind {
            ArgKind::Number => word
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| bad("a whole number".to_owned())),
            _ => Ok(Value::String(word.to_owned())),
        }
    }

    /// What Tab should offer for the text before the cursor: where the word being typed
    /// starts (a byte offset) and what it may become.
    pub fn completion(&self, before: &str) -> (usize, Want<'_>) {
        let start = before
            .rfind(char::is_whitespace)
            .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(0);
        let word = &before[start..];
        let done: Vec<&str> = before[..start].split_whitespace().collect();
        let Some((first, after)) = done.split_first() else {
            if word.starts_with(self.prefix.as_str()) {
                let names = self.names().iter().map(|n| self.shown(n)).collect();
                return (start, Want::Words(names));
            }
            return (start, Want::Nothing);
        };
        let name = first
            .strip_prefix(self.prefix.as_str())
            .map(str::to_ascii_lowercase);
        let Some(command) = self
            .commands
            .iter()
            .find(|c| Some(&c.name) == name.as_ref())
        else {
            return (start, Want::Nothing);
        };
        if word.starts_with('-') {
            let flags = command
                .args
                .iter()
                .map(|a| format!("--{}", a.flag))
                .collect();
            return (start, Want::Words(flags));
        }
        // The argument this word is for: the value of the flag just typed, or the next
        // positional one.
        let mut pending = None;
        let mut positionals = command.positionals();
        for w in after {
            if let Some(flag) = w.strip_prefix("--") {
                pending = command.by_flag(flag).filter(|a| a.kind != ArgKind::Switch);
            } else if pending.take().is_none() {
                positionals.next();
            }
        }
        let Some(arg) = pending.or_else(|| positionals.next()) else {
            return (start, Want::Nothing);
        };
        // What was typed before, as far as it parses: a route's sections need the route.
        let typed = self.arguments(command, after).unwrap_or_default();
        (
            start,
            Want::Value {
                command,
                arg,
                typed,
            },
        )
    }
}

/// `pool` filtered to what starts with `word`, sorted, without duplicates.
pub fn matching(word: &str, mut pool: Vec<String>) -> Vec<String> {
    pool.retain(|c| c.starts_with(word));
    pool.sort();
    pool.dedup();
    pool
}

/// "a, b or c".
fn or_list(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn site() -> Vec<CommandSpec> {
        let select = |c: CommandSpec| {
            c.arg(
                ArgSpec::text("route", "Only this route")
                    .positional()
                    .completes(),
            )
            .arg(
                ArgSpec::text("section", "Only this section")
                    .positional()
                    .completes(),
            )
        };
        vec![
            select(CommandSpec::new(
                "site",
                "generate",
                "site_generate",
                "Generate",
            ))
            .arg(ArgSpec::switch("force", "Also those with content"))
            .arg(ArgSpec::switch("dryRun", "Only list")),
            CommandSpec::new("site", "build", "site_build", "Build").arg(
                ArgSpec::text("environment", "Which content")
                    .flag("env")
                    .positional()
                    .choices(["preview", "production"]),
            ),
            select(CommandSpec::new(
                "site",
                "promote",
                "site_promote",
                "Promote",
            )),
            CommandSpec::new("example", "count", "example_count", "Count")
                .arg(ArgSpec::number("to", "Up to").positional().required())
                .arg(ArgSpec::number("delay_ms", "Pause")),
            CommandSpec::new("", "cancel", "jobs_cancel", "Cancel")
                .arg(ArgSpec::text("id", "The id").positional().required()),
        ]
    }

    fn table(prefix: &str) -> CommandTable {
        CommandTable::new(prefix, site())
            .builtin("help", "", "this help")
            .builtin("quit", "", "quit")
    }

    fn call(tool: &str, command: &str, input: Value) -> Parsed {
        Parsed::Call(Call {
            command: command.into(),
            tool: tool.into(),
            input: input.as_object().cloned().unwrap_or_default(),
        })
    }

    #[test]
    fn chat_and_matrix_lines_parse_the_same_way() {
        let cases = [
            ("generate", call("site_generate", "generate", json!({}))),
            (
                "generate landing hero --force",
                call(
                    "site_generate",
                    "generate",
                    json!({"route": "landing", "section": "hero", "force": true}),
                ),
            ),
            (
                "GENERATE --route=/about --dry-run",
                call(
                    "site_generate",
                    "generate",
                    json!({"route": "/about", "dryRun": true}),
                ),
            ),
            (
                "generate --section hero",
                call("site_generate", "generate", json!({"section": "hero"})),
            ),
            ("build", call("site_build", "build", json!({}))),
            (
                "build Production",
                call("site_build", "build", json!({"environment": "production"})),
            ),
            (
                "build --env preview",
                call("site_build", "build", json!({"environment": "preview"})),
            ),
            (
                "promote landing",
                call("site_promote", "promote", json!({"route": "landing"})),
            ),
            (
                "count 50",
                call("example_count", "count", json!({"to": 50})),
            ),
            (
                "count --to 5 --delay-ms 100",
                call("example_count", "count", json!({"to": 5, "delay_ms": 100})),
            ),
            (
                "cancel job_1",
                call("jobs_cancel", "cancel", json!({"id": "job_1"})),
            ),
            (
                "help me",
                Parsed::Builtin {
                    name: "help".into(),
                    args: vec!["me".into()],
                },
            ),
            ("   ", Parsed::Empty),
        ];
        for prefix in ["/", "!"] {
            let table = table(prefix);
            for (text, expected) in &cases {
                assert_eq!(table.parse(text).as_ref(), Ok(expected), "{text:?}");
                let line = format!("  {prefix}{text}");
                if !text.trim().is_empty() {
                    assert_eq!(
                        table.parse_line(&line),
                        Some(Ok(expected.clone())),
                        "{line}"
                    );
                }
            }
            assert_eq!(table.parse_line("what are my products?"), None);
            assert_eq!(table.parse_line(""), Some(Ok(Parsed::Empty)));
        }
    }

    #[test]
    fn bad_commands_name_the_value_and_what_is_allowed() {
        let table = table("/");
        let cases = [
            (
                "frobnicate",
                "unknown command `/frobnicate`: the commands are /generate, /build, /promote, \
                 /count, /cancel, /help, /quit",
            ),
            ("gen", "unknown command `/gen` (did you mean /generate?)"),
            (
                "build staging",
                "/build: `staging` is not a valid env: expected preview or production",
            ),
            (
                "promote a b c",
                "/promote takes at most 2 arguments (/promote [route] [section]), got 3: `a b c`",
            ),
            (
                "generate --dry",
                "unknown option `--dry` for /generate: expected --route, --section, --force, \
                 --dry-run",
            ),
            (
                "count",
                "/count needs <to> (usage: /count <to> [--delay-ms <delay-ms>])",
            ),
            (
                "count fifty",
                "/count: `fifty` is not a valid to: expected a whole number",
            ),
            ("count 5 --to 6", "/count: to is given twice"),
            ("count --to", "/count needs a value after --to"),
            ("cancel", "/cancel needs <id>"),
            (
                "generate --force=yes",
                "/generate: --force takes no value, got `--force=yes`",
            ),
            (
                "cancel a b",
                "/cancel takes at most 1 argument (/cancel <id>), got 2: `a b`",
            ),
        ];
        for (text, message) in cases {
            let error = table.parse(text).unwrap_err().to_string();
            assert!(error.starts_with(message), "{text:?}: {error}");
        }
        // A long typed value is not echoed whole.
        let long = format!("count {}", "9x".repeat(5000));
        assert!(table.parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn help_lists_every_command_with_its_usage() {
        let help = table("!").help();
        let usages: Vec<&str> = help.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(
            usages,
            [
                "!generate [route] [section] [--force] [--dry-run]",
                "!build [preview|production]",
                "!promote [route] [section]",
                "!count <to> [--delay-ms <delay-ms>]",
                "!cancel <id>",
                "!help",
                "!quit",
            ]
        );
        assert!(table("/").knows("Generate") && !table("/").knows("frob"));
    }

    #[test]
    fn completion_knows_which_argument_is_typed() {
        let table = table("/");
        let words = |before: &str| match table.completion(before) {
            (_, Want::Words(words)) => words,
            other => panic!("{before:?}: {other:?}"),
        };
        assert_eq!(matching("/g", words("/g")), ["/generate"],);
        assert_eq!(
            matching("--", words("/generate landing --")),
            ["--dry-run", "--force", "--route", "--section"]
        );
        let value = |before: &str| match table.completion(before) {
            (start, Want::Value { arg, typed, .. }) => {
                (start, arg.field.clone(), Value::Object(typed))
            }
            other => panic!("{before:?}: {other:?}"),
        };
        assert_eq!(value("/generate la"), (10, "route".into(), json!({})));
        assert_eq!(
            value("/generate landing "),
            (18, "section".into(), json!({"route": "landing"}))
        );
        assert_eq!(
            value("/generate --force landing h"),
            (
                26,
                "section".into(),
                json!({"force": true, "route": "landing"})
            )
        );
        assert_eq!(
            value("/generate --section "),
            (20, "section".into(), json!({}))
        );
        assert_eq!(value("/build p"), (7, "environment".into(), json!({})));
        assert_eq!(value("/cancel "), (8, "id".into(), json!({})));
        for nothing in ["hello wor", "/build production ", "/frob x", "/help "] {
            assert_eq!(table.completion(nothing).1, Want::Nothing, "{nothing:?}");
        }
    }

    #[test]
    fn messages_name_fields_as_flags_and_tools_as_commands() {
        let cli = Spelling::new(&site(), |c| format!("brain {} {}", c.group, c.name));
        assert_eq!(
            cli.in_own_words(
                "site_generate",
                "Kept 2 (`force` replaces them); see `dryRun`, force, `x`"
            ),
            "Kept 2 (`--force` replaces them); see `--dry-run`, force, `x`"
        );
        assert_eq!(
            cli.in_own_words("site_build", "run `site_generate` first (`force`)"),
            "run `brain site generate` first (`force`)"
        );
        let table = CommandTable::new("/", site());
        assert_eq!(
            table.in_own_words("site_generate", "`force`, then `site_build`"),
            "`--force`, then `/build`"
        );
        assert_eq!(table.in_own_words("other_tool", "`force`"), "`force`");
    }

    #[test]
    fn declarations_are_checked() {
        assert!(site().iter().all(|c| c.problems().is_empty()));
        let bad = CommandSpec::new("Site", "gen erate", "t", "")
            .arg(ArgSpec::switch("force", "").positional())
            .arg(ArgSpec::text("force", ""))
            .arg(ArgSpec::text("other", "").flag("force"));
        let problems = bad.problems().join("\n");
        for expected in [
            "lowercase letters",
            "switch `--force` cannot be positional",
            "field `force` is declared twice",
            "flag `--force` is declared twice",
        ] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        assert_eq!(kebab_case("dryRun"), "dry-run");
        assert_eq!(kebab_case("delay_ms"), "delay-ms");
    }
}
