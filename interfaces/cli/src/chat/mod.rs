//! `brain chat`: the interactive shell. A person types the commands the shell and its
//! plugins declare, behind `/` (`/generate [route] [section] [--force]`, `/build`, `/status
//! [id]`, `/jobs`, `/cancel <id>`, a plugin's `/count 50` …), parsed by the one parser the
//! Matrix bot shares, plus `/help` and `/quit` — or free text, which goes to the `query`
//! tool; every call runs as the owner at the terminal (`Caller::cli()`). The chat names no
//! plugin's tool: a command that starts work is followed because its answer is a job handle.
//!
//! The process runs the job workers itself (as an attached `brain site generate` does), so
//! the work a command starts is done here, and other brain processes may share it.
//!
//! On a terminal (stdin and stdout both are), the chat runs in raw mode, decodes the keys
//! itself (`keys`) and has its own line editor (`editor`: editing keys, history in
//! `.brain/chat_history` via `history`, Tab completion of commands, flags and values — the
//! declared choices, or what the shell's completion sources offer: routes and sections from
//! the site's config, the ids of jobs). Each command that starts work starts its job or
//! batch and returns to the prompt at once; a task per operation follows the work
//! (`Queue::watch`) and keeps its bar in the `screen`'s live region, which owns the bottom
//! rows (bars, then the prompt) and prints everything else above them — so several
//! operations show several bars and no bar redraw can corrupt the typed line. When an
//! operation ends its bar becomes its summary line (`render::summary`, the same words as
//! `brain site …`: "✔ Generated 5 sections in 4.2s", "✘ 2 of 10 sections failed" plus the
//! reasons). A question shows a spinner until the answer is printed.
//!
//! Work already active in the queue when the chat starts (left by an earlier chat, say) is
//! followed with bars too. Quitting (`/quit`, Ctrl-D on an empty line, or Ctrl-C twice on
//! an empty line) stops this process's workers: running jobs get [`CHAT_GRACE`] to finish,
//! the rest go back to the queue unharmed for the next `brain chat` or `brain start`; the
//! chat says which operations were unfinished. `/cancel` is how work is stopped for good.
//! Ctrl-C on a line with text clears it.
//!
//! Not a terminal (stdin piped): commands are read line by line and each runs to its end
//! before the next is read — a script's order — with the plain output of `brain site …` in
//! a pipe (status and progress lines on stderr, results and summaries on stdout, no escape
//! codes). The exit code is 0, or 1 when any command failed (the chat goes on after a
//! failure), or 130 after Ctrl-C (which cancels or detaches the running operation as
//! `brain site …` does).
//!
//! Logs must not go to the terminal under a live region: the `brain` binary sends them to a
//! file while the chat is interactive.

mod command;
mod complete;
mod editor;
mod history;
mod keys;
mod screen;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use brain_core::Shell;
use brain_plugin_api::{Caller, ShellHandle, ToolContext, ToolResult};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use brain_plugin_api::{CommandTable, Want, matching};
use command::Command;
pub use command::help;
use editor::{Action, Editor};
use keys::{Decoder, Input};
use screen::{LiveBar, Screen};

use crate::output::Say;
use crate::output::{Mode, color_allowed, err_line, out_line, painted};
use crate::render::{self, BarState};
use crate::{Interrupts, Outcome, attach};

/// How long running jobs may take to finish when the chat quits; the rest go back to the
/// queue. Short: a person who quits wants the prompt back, and nothing is lost.
pub const CHAT_GRACE: Duration = Duration::from_secs(2);

/// The prompt.
const PROMPT: &str = "brain> ";

/// How often bars redraw on their own (spinner, elapsed time).
const TICK: Duration = Duration::from_millis(120);

/// Whether `brain chat` is interactive here: stdin and stdout are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Runs the chat until `/quit` or the end of input and returns the exit code: 0; 1 when a
/// piped command failed; 130 after Ctrl-C in a pipe. `note` is shown under the greeting on
/// a terminal (where the logs go, say). The shell is shut down before returning.
pub async fn run(shell: &Shell, note: Option<&str>) -> anyhow::Result<u8> {
    let result = if interactive() {
        terminal(shell, note).await
    } else {
        piped(shell).await
    };
    shell.shutdown(CHAT_GRACE).await;
    result
}

/// A tool call as the owner; the error as a person reads it, after what they typed
/// (`/cancel: invalid input at `id`: no job or batch with id "x"`).
async fn call(shell: &Shell, what: &str, tool: &str, input: Value) -> Result<ToolResult, String> {
    shell
        .execute(tool, input, ToolContext::new(Caller::cli()))
        .await
        .map_err(|e| format!("{what}: {e}"))
}

/// The chat's commands: what the shell and its plugins declare for the owner.
fn commands(shell: &Shell) -> CommandTable {
    command::table(shell.commands(&Caller::cli()))
}

/// Whether `line` is `/cancel` alone: the chat fills in the one operation running here.
fn bare_cancel(line: &str) -> bool {
    line.split_whitespace().eq(["/cancel"])
}

// ---------------------------------------------------------------------------------------
// Not a terminal: a script, one command at a time.

/// What one piped line did.
enum Step {
    Done,
    Failed,
    Quit,
    /// Stopped by a signal; the exit code says which.
    Interrupted(u8),
}

async fn piped(shell: &Shell) -> anyhow::Result<u8> {
    let mut interrupts = Interrupts::new().context("cannot listen for Ctrl-C")?;
    shell
        .start_workers()
        .await
        .context("cannot start the workers")?;
    let (tx, mut lines) = mpsc::unbounded_channel();
    // A thread, not async stdin: it blocks on a read that nothing else waits for, and the
    // process may exit while it does.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let table = commands(shell);
    let mut failed = false;
    loop {
        let line = tokio::select! {
            line = lines.recv() => line,
            signal = interrupts.next() => return Ok(signal.exit_code()),
        };
        let Some(line) = line else { break };
        match piped_line(shell, &table, &line, &mut interrupts).await? {
            Step::Done => {}
            Step::Failed => failed = true,
            Step::Quit => break,
            Step::Interrupted(code) => return Ok(code),
        }
    }
    Ok(u8::from(failed))
}

async fn piped_line(
    shell: &Shell,
    table: &CommandTable,
    line: &str,
    interrupts: &mut Interrupts,
) -> anyhow::Result<Step> {
    let failed = |message: &str| {
        err_line(&format!("error: {message}"));
        Ok(Step::Failed)
    };
    if bare_cancel(line) {
        return failed("/cancel needs a job or batch id here (see /jobs)");
    }
    let command = match command::parse(table, line) {
        Ok(command) => command,
        Err(error) => return failed(&error.to_string()),
    };
    let (what, tool, input) = match command {
        Command::Nothing => return Ok(Step::Done),
        Command::Quit => return Ok(Step::Quit),
        Command::Help => {
            out_line(&command::help(table.commands().to_vec()))?;
            return Ok(Step::Done);
        }
        Command::Ask(question) => (
            "the question".to_owned(),
            "query".to_owned(),
            json!({ "question": question }),
        ),
        Command::Run(run) => (
            format!("/{}", run.command),
            run.tool,
            Value::Object(run.input),
        ),
    };
    let result = match call(shell, &what, &tool, input).await {
        Ok(result) => result,
        Err(message) => return failed(&message),
    };
    if let Some(started) = result.started {
        let say: Say = {
            let table = table.clone();
            std::sync::Arc::new(move |text: &str| table.in_own_words(&tool, text))
        };
        return Ok(
            match attach(shell, &started.job_id, Mode::Lines, &say, interrupts).await? {
                Outcome::Succeeded => Step::Done,
                Outcome::Failed => Step::Failed,
                outcome @ (Outcome::Detached | Outcome::Cancelled | Outcome::Terminated) => {
                    Step::Interrupted(outcome.exit_code())
                }
            },
        );
    }
    out_line(&table.in_own_words(&tool, &result.text))?;
    Ok(Step::Done)
}

// ---------------------------------------------------------------------------------------
// A terminal: the line editor, the live region, operations in the background.

/// Raw mode and bracketed paste while alive; the terminal as it was after (also when
/// unwinding from a panic).
struct RawMode;

impl RawMode {
    fn enable() -> std::io::Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        let mut out = std::io::stdout().lock();
        out.write_all(b"\x1b[?2004h")?;
        out.flush()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\x1b[?2004l\x1b[?25h");
        let _ = out.flush();
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Operations this chat follows: a job or batch (with its id) or a question.
#[derive(Default)]
struct Ops {
    next: u64,
    running: BTreeMap<u64, Option<String>>,
}

impl Ops {
    /// The ids of the jobs and batches this chat follows (questions have none).
    fn job_ids(&self) -> Vec<String> {
        self.running.values().flatten().cloned().collect()
    }
}

struct Session {
    shell: Shell,
    table: CommandTable,
    screen: Arc<Screen>,
    ops: Arc<Mutex<Ops>>,
    tasks: tokio::task::JoinSet<()>,
    history: std::path::PathBuf,
}

fn lock(ops: &Mutex<Ops>) -> MutexGuard<'_, Ops> {
    ops.lock().unwrap_or_else(|e| e.into_inner())
}

async fn terminal(shell: &Shell, note: Option<&str>) -> anyhow::Result<u8> {
    shell
        .start_workers()
        .await
        .context("cannot start the workers")?;
    let history = shell.dirs().data.join(history::HISTORY_FILE);
    let mut editor = Editor::new(history::load(&history));
    // A pseudo-terminal nobody sized reports 0 columns.
    let width = match crossterm::terminal::size() {
        Ok((w, _)) if w > 0 => usize::from(w),
        _ => 80,
    };
    let color = color_allowed(std::env::var_os("NO_COLOR").as_deref());
    let raw = RawMode::enable().context("cannot put the terminal in raw mode")?;
    let screen = Arc::new(Screen::new(width, color, PROMPT, || {
        crossterm::terminal::size()
            .ok()
            .map(|(w, _)| usize::from(w))
    }));

    let (tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Blocking reads in a thread of their own. After the chat ends the thread may still
        // wait in a read until the process exits (the workers' grace at most); it then drops
        // what it read rather than act on it.
        std::thread::spawn(move || {
            let mut decoder = Decoder::default();
            let mut buf = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                for input in decoder.feed(&buf[..n]) {
                    if tx.send(input).is_err() {
                        return;
                    }
                }
            }
        });
    }

    let mut greeting = String::from(
        "brain chat: /help lists the commands, anything else asks your notes; Ctrl-D quits.",
    );
    if let Some(note) = note {
        greeting.push('\n');
        greeting.push_str(note);
    }
    screen.print(&greeting);
    let mut session = Session {
        shell: shell.clone(),
        table: commands(shell),
        screen: screen.clone(),
        ops: Arc::default(),
        tasks: tokio::task::JoinSet::new(),
        history,
    };
    session.resume().await;

    // SIGTERM (or a SIGINT sent by `kill`: the keyboard's Ctrl-C is a key in raw mode)
    // quits as /quit does, so the terminal is restored and the work is put back.
    let mut signals = Interrupts::new().context("cannot listen for signals")?;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Ctrl-C on an empty line arms this; a second Ctrl-C right after quits.
    let mut armed = false;
    loop {
        let event = tokio::select! {
            _ = ticker.tick() => {
                screen.tick();
                continue;
            }
            event = events.recv() => event,
            _ = signals.next() => break,
        };
        let Some(event) = event else { break };
        match event {
            Input::Key(key) => {
                let was_armed = std::mem::replace(&mut armed, false);
                match editor.key(key) {
                    Action::Redraw | Action::Cleared => {
                        screen.input(editor.chars(), editor.cursor());
                    }
                    Action::Submit(line) => {
                        screen.submitted(&format!("{PROMPT}{line}"));
                        session.remember(editor.history());
                        if !session.command(&line).await {
                            break;
                        }
                    }
                    Action::Complete => session.complete(&mut editor).await,
                    Action::Interrupt if was_armed => break,
                    Action::Interrupt => {
                        armed = true;
                        screen.print(
                            "(To quit: Ctrl-C again, Ctrl-D or /quit. /cancel stops an operation.)",
                        );
                    }
                    Action::Eof => break,
                    Action::ClearScreen => screen.clear(),
                }
            }
            Input::Paste(text) => {
                editor.insert(&text);
                screen.input(editor.chars(), editor.cursor());
            }
        }
    }
    screen.close(session.farewell().as_deref());
    stop.store(true, Ordering::Relaxed);
    session.tasks.abort_all();
    drop(raw);
    Ok(0)
}

impl Session {
    fn color(&self) -> bool {
        self.screen.color()
    }

    /// A tool's text with its fields named as this shell's flags (`` `--force` ``).
    fn words(&self, tool: &str, text: &str) -> String {
        self.table.in_own_words(tool, text)
    }

    fn error(&self, message: &str) {
        let mark = if self.color() {
            "\x1b[31merror:\x1b[0m"
        } else {
            "error:"
        };
        self.screen.print(&format!("{mark} {message}"));
    }

    fn remember(&self, entries: &[String]) {
        if let Err(error) = history::save(&self.history, entries) {
            self.error(&format!(
                "cannot save the history to {}: {error}",
                self.history.display()
            ));
        }
    }

    /// Runs one submitted line; `false` to quit.
    async fn command(&mut self, line: &str) -> bool {
        if bare_cancel(line) {
            let ids: Vec<String> = lock(&self.ops).job_ids();
            match ids.as_slice() {
                [id] => self.run("/cancel", "jobs_cancel", json!({ "id": id })).await,
                [] => self.error("/cancel needs a job or batch id: nothing started here is running (/jobs lists the work)"),
                many => self.error(&format!(
                    "/cancel needs a job or batch id: running now are {} (Tab completes them)",
                    many.join(", ")
                )),
            }
            return true;
        }
        let command = match command::parse(&self.table, line) {
            Ok(command) => command,
            Err(error @ brain_plugin_api::CommandError::Unknown { .. }) => {
                self.error(&format!("{error} (/help explains them)"));
                return true;
            }
            Err(error) => {
                self.error(&error.to_string());
                return true;
            }
        };
        match command {
            Command::Nothing => {}
            Command::Quit => return false,
            Command::Help => self
                .screen
                .print(&command::help(self.table.commands().to_vec())),
            Command::Ask(question) => self.ask(&question),
            Command::Run(run) => {
                let what = format!("/{}", run.command);
                self.run(&what, &run.tool, Value::Object(run.input)).await;
            }
        }
        true
    }

    /// Runs a command's tool: quick answers print above the prompt; the job or batch a
    /// tool started is followed in the background.
    async fn run(&mut self, what: &str, tool: &str, input: Value) {
        let result = match call(&self.shell, what, tool, input).await {
            Ok(result) => result,
            Err(message) => return self.error(&message),
        };
        match result.started {
            Some(started) => {
                // Quick work: only its summary (the follow below prints it at once).
                if self.shell.settle(&started.job_id).await.is_none() {
                    // Without "… Check status in 10 seconds with the status tool." (an
                    // LLM's words): here the bar shows the status.
                    self.screen
                        .print(&self.words(tool, &started.started_text()));
                }
                self.follow(started.job_id);
            }
            // A quick answer, or nothing to do (a plan): the answer is the result.
            None => self.screen.print(&self.words(tool, &result.text)),
        }
    }

    fn add(&self, id: Option<String>) -> u64 {
        let mut ops = lock(&self.ops);
        ops.next += 1;
        let key = ops.next;
        ops.running.insert(key, id);
        key
    }

    fn follow(&mut self, id: String) {
        let key = self.add(Some(id.clone()));
        let (shell, screen, ops) = (self.shell.clone(), self.screen.clone(), self.ops.clone());
        let color = self.color();
        let table = self.table.clone();
        self.tasks.spawn(async move {
            let text = follow(&shell, &screen, key, &id, color, &table).await;
            lock(&ops).running.remove(&key);
            screen.finish(key, &text);
        });
    }

    fn ask(&mut self, question: &str) {
        let key = self.add(None);
        self.screen.bar(
            key,
            LiveBar {
                state: BarState {
                    position: 0,
                    length: None,
                    prefix: "Asking your notes".into(),
                    message: format!("“{question}”"),
                },
                elapsed: Duration::ZERO,
                at: Instant::now(),
            },
        );
        let (shell, screen, ops) = (self.shell.clone(), self.screen.clone(), self.ops.clone());
        let question = question.to_owned();
        let color = self.color();
        self.tasks.spawn(async move {
            let text = match call(
                &shell,
                "the question",
                "query",
                json!({ "question": question }),
            )
            .await
            {
                Ok(result) => result.text,
                Err(message) if color => format!("\x1b[31merror:\x1b[0m {message}"),
                Err(message) => format!("error: {message}"),
            };
            lock(&ops).running.remove(&key);
            screen.finish(key, &text);
        });
    }

    /// Follows work that was active before the chat started.
    async fn resume(&mut self) {
        let Ok(result) = call(&self.shell, "", "jobs_list", json!({ "active": true })).await else {
            return;
        };
        let ids: Vec<String> =
            serde_json::from_value::<brain_plugin_api::JobListing>(result.structured)
                .map(|listing| listing.jobs.into_iter().map(|j| j.id).collect())
                .unwrap_or_default();
        if ids.is_empty() {
            return;
        }
        self.screen.print(&format!(
            "Unfinished work in the queue, continuing: {} (/cancel ID stops it)",
            ids.join(", ")
        ));
        for id in ids {
            self.follow(id);
        }
    }

    /// Tab: completes the word before the cursor, or lists the choices above the prompt.
    async fn complete(&self, editor: &mut Editor) {
        let before = editor.before_cursor();
        let (start, want) = self.table.completion(&before);
        let pool = match want {
            Want::Nothing => Vec::new(),
            Want::Words(words) => words,
            Want::Value { arg, .. } if !arg.choices.is_empty() => arg.choices.clone(),
            Want::Value {
                command,
                arg,
                typed,
            } if arg.completes => self.shell.complete(&command.tool, &arg.field, &typed).await,
            Want::Value { .. } => Vec::new(),
        };
        let word = &before[start..];
        let candidates = matching(word, pool);
        let start = before[..start].chars().count();
        match candidates.as_slice() {
            [] => {}
            [only] => editor.replace_before(start, &format!("{only} ")),
            many => {
                let prefix = complete::common_prefix(many);
                if prefix.len() > word.len() {
                    editor.replace_before(start, &prefix);
                } else {
                    self.screen.print(&many.join("  "));
                }
            }
        }
        self.screen.input(editor.chars(), editor.cursor());
    }

    /// What quitting does to unfinished work, when there is some.
    fn farewell(&self) -> Option<String> {
        let ids: Vec<String> = lock(&self.ops).job_ids();
        if ids.is_empty() {
            return None;
        }
        Some(format!(
            "Quitting with unfinished work: {}. Running jobs get {} s to finish; the rest go \
             back to the queue, and the next `brain chat` or `brain start` resumes them.",
            ids.join(", "),
            CHAT_GRACE.as_secs()
        ))
    }
}

/// Keeps operation `key`'s bar up to date until `id` ends; its summary then. Tools its
/// errors name are shown as this shell's commands.
async fn follow(
    shell: &Shell,
    screen: &Screen,
    key: u64,
    id: &str,
    color: bool,
    table: &CommandTable,
) -> String {
    let say = |text: &str| table.in_own_words("", text);
    let mut watch = match shell.queue().watch(id).await {
        Ok(watch) => watch,
        Err(error) => return format!("error: cannot follow {id}: {error}"),
    };
    let mut seen = Vec::new();
    while let Some(event) = watch.next().await {
        for failure in render::new_failures(&event, &mut seen) {
            screen.print(&painted(
                &say(&format!("✘ {}", render::failure_line(&failure))),
                color,
            ));
        }
        if event.status.is_finished() {
            let summary = render::summary(&event);
            let mut text = painted(&say(&summary.line), color);
            let reasons = render::unseen_reasons(&event, &seen);
            for line in reasons.iter().chain(&summary.warnings) {
                text.push_str(&format!("\n  {}", say(line)));
            }
            return text;
        }
        screen.bar(
            key,
            LiveBar {
                state: render::bar_state(&event),
                elapsed: Duration::from_millis(event.timing.elapsed_ms),
                at: Instant::now(),
            },
        );
    }
    format!("✘ lost track of {id} before it finished (/status {id} shows where it is)")
}
