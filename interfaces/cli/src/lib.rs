//! The CLI interface: runs a slow tool as the owner at the terminal and follows the job or
//! batch it started until it ends, showing live progress — indicatif bars on a terminal,
//! plain lines in pipes and CI, JSON lines with `--json` — and a one-line summary at the
//! end. It also attaches to work another brain process runs (`brain jobs watch`), and turns
//! Ctrl-C into "detach" (another process does the work) or "cancel" (only we do).
//!
//! The `brain` binary wires these functions to its commands; this crate is the only one
//! that knows indicatif, and it uses only the shell's public API (`Shell::execute`,
//! `Shell::queue`) and the plugin API's event types.

pub mod chat;
mod output;
mod render;

use std::time::Duration;

use anyhow::Context;
use brain_core::Shell;
use brain_plugin_api::{
    Caller, START_A_WORKER, Spelling, ToolContext, ToolError, WAITING_FOR_WORKER,
};
use serde_json::Value;

pub use output::{EndLine, Mode, ProgressLine};
use output::{Renderer, Say, out_line};

/// How long jobs still running in this process may take to finish when the command ends
/// (after a detach, say); the rest go back to the queue for the next worker.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How an attached operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It completed (or the tool had nothing to start).
    Succeeded,
    /// It failed; the summary and the reasons were printed.
    Failed,
    /// Ctrl-C while another process runs the work: we stopped watching, it goes on.
    Detached,
    /// Ctrl-C with nobody else to do the work: it was cancelled.
    Cancelled,
    /// SIGTERM (a supervisor, a closing session): we stopped; the work went back to the
    /// queue unfinished, for the next worker.
    Terminated,
}

impl Outcome {
    /// The process exit code: 0, 1, 130 (interrupted, as shells report Ctrl-C) or 143
    /// (terminated, as shells report SIGTERM).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Succeeded => 0,
            Outcome::Failed => 1,
            Outcome::Detached | Outcome::Cancelled => 130,
            Outcome::Terminated => 143,
        }
    }
}

/// Runs `tool` with `input` as the owner and follows what it started until it ends. This
/// process runs that operation and the unfinished work it depends on — following each
/// dependency first — and nothing else: other work waits for the brain's workers, and one
/// line says so. A tool that answers at once (a dry run, nothing to do) has its text (or
/// JSON) printed. The shell is shut down gracefully before returning.
pub async fn run(shell: &Shell, tool: &str, input: Value, mode: Mode) -> anyhow::Result<Outcome> {
    run_saying(shell, tool, input, mode, saying(spelling(shell), tool)).await
}

/// [`run`] for a tool called by its name with JSON input (`brain tool`): its messages keep
/// the tool's own words (`to`, not the command's `--to`), as the person typed them.
pub async fn run_tool(
    shell: &Shell,
    tool: &str,
    input: Value,
    mode: Mode,
) -> anyhow::Result<Outcome> {
    run_saying(shell, tool, input, mode, std::sync::Arc::new(str::to_owned)).await
}

async fn run_saying(
    shell: &Shell,
    tool: &str,
    input: Value,
    mode: Mode,
    say: Say,
) -> anyhow::Result<Outcome> {
    // Listening before the work starts: an early Ctrl-C is then ours to handle (cancel or
    // detach) rather than a kill that leaves jobs half-claimed.
    let mut interrupts = Interrupts::new().context("cannot listen for Ctrl-C")?;
    let result = async {
        shell
            .start_scoped_workers()
            .await
            .context("cannot start the workers")?;
        let result = shell
            .execute(tool, input, ToolContext::new(Caller::cli()))
            .await
            .map_err(|error| refusal(error, &say))?;
        let Some(started) = result.started else {
            print_result(&result.structured, &say(&result.text), mode)?;
            return Ok(Outcome::Succeeded);
        };
        let id = started.job_id;
        let queue = shell.queue();
        let dependencies = queue
            .waits_for(&id)
            .await
            .with_context(|| format!("cannot read what {id} waits for"))?;
        let mut scope = dependencies.clone();
        scope.push(id.clone());
        shell
            .run_also(&scope)
            .await
            .context("cannot hand the work to this process's workers")?;
        let notes = Renderer::new(mode, say.clone());
        // What the tool started, in its own words (which sections and why, say) — without
        // "waiting for a worker": this process runs it.
        let said = started
            .message
            .split(&format!(" ({WAITING_FOR_WORKER}"))
            .next();
        notes.info(&say(&format!(
            "{}.",
            said.unwrap_or_default().trim_end_matches('.')
        )));
        if let Some(line) = others_waiting(shell, &scope).await {
            notes.info(&line);
        }
        for dependency in &dependencies {
            if let Some(outcome) =
                follow_dependency(shell, dependency, &id, mode, &say, &mut interrupts).await?
            {
                return Ok(outcome);
            }
        }
        attach(shell, &id, mode, &say, &mut interrupts).await
    }
    .await;
    shell.shutdown(SHUTDOWN_GRACE).await;
    result
}

/// How the terminal names what tools' messages name: fields as flags (`` `--force` ``),
/// tools as the commands a person types (`` `brain site generate` ``; the shell's own tools
/// are under `brain jobs`).
fn spelling(shell: &Shell) -> Spelling {
    Spelling::new(&shell.commands(&Caller::cli()), |c| {
        match (c.group.as_str(), c.name.as_str()) {
            ("", "jobs") => "brain jobs list".to_owned(),
            ("", name) => format!("brain jobs {name}"),
            (group, name) => format!("brain {group} {name}"),
        }
    })
}

/// "2 other operations are waiting for a worker: `brain start` runs them", when unfinished
/// work outside `scope` has no worker.
async fn others_waiting(shell: &Shell, scope: &[String]) -> Option<String> {
    let active = shell
        .queue()
        .list(brain_core::ListFilter {
            active: true,
            ..Default::default()
        })
        .await
        .ok()?;
    let waiting = active
        .iter()
        .filter(|s| !scope.contains(&s.event.id) && s.status_entry().waiting_for_worker)
        .count();
    match waiting {
        0 => None,
        1 => Some(format!(
            "1 other operation is {WAITING_FOR_WORKER}: `brain start` runs it."
        )),
        n => Some(format!(
            "{n} other operations are {WAITING_FOR_WORKER}: `brain start` runs them."
        )),
    }
}

/// Follows `dependency` (run here if no other process does) until it ends, saying first
/// why: "First finishing batch_… (Generating content, 2/5), which job_… depends on."
/// Returns an outcome only when a signal ended the command. In JSON mode only notes are
/// printed: stdout carries the operation's own lines.
async fn follow_dependency(
    shell: &Shell,
    dependency: &str,
    id: &str,
    mode: Mode,
    say: &Say,
    interrupts: &mut Interrupts,
) -> anyhow::Result<Option<Outcome>> {
    let queue = shell.queue();
    let mut watch = queue
        .watch(dependency)
        .await
        .with_context(|| format!("cannot follow {dependency}"))?;
    let mut renderer = Renderer::new(mode, say.clone());
    let described = match queue.status(dependency).await {
        Ok(state) => brain_plugin_api::Dependency {
            id: dependency.to_owned(),
            kind: state.event.kind,
            status: state.event.status,
            label: state.event.label.clone(),
            progress: state.event.progress,
        }
        .describe(),
        Err(_) => dependency.to_owned(),
    };
    renderer.info(&format!(
        "First finishing {described}, which {id} depends on."
    ));
    loop {
        tokio::select! {
            event = watch.next() => {
                let Some(event) = event else { return Ok(None) };
                if !event.status.is_finished() {
                    if mode != Mode::Json {
                        renderer.event(&event)?;
                    }
                    continue;
                }
                if mode != Mode::Json {
                    renderer.finish(&event, None)?;
                }
                return Ok(None);
            }
            signal = interrupts.next() => {
                renderer.abandon();
                if signal == Signal::Terminate {
                    renderer.note(&format!(
                        "Terminated: {id} stays queued, unfinished, after {dependency}; \
                         `brain start` finishes both (follow it with `brain jobs watch {id}`)."
                    ));
                    return Ok(Some(Outcome::Terminated));
                }
                // Ctrl-C stops what was asked for; the dependency may be someone else's.
                queue
                    .cancel(id)
                    .await
                    .with_context(|| format!("cannot cancel {id}"))?;
                renderer.note(&format!(
                    "Cancelled {id}; {dependency} was left to finish (`brain start` runs it)."
                ));
                return Ok(Some(Outcome::Cancelled));
            }
        }
    }
}

/// Starts `tool` without workers and prints its immediate answer: the `AsyncToolResponse`
/// (human text, or JSON with `json`), and whether a brain process is running to do the work.
pub async fn detach(shell: &Shell, tool: &str, input: Value, json: bool) -> anyhow::Result<()> {
    let say = saying(spelling(shell), tool);
    let result = shell
        .execute(tool, input, ToolContext::new(Caller::cli()))
        .await
        .map_err(|error| refusal(error, &say))?;
    let started = result.started.clone();
    let mode = if json { Mode::Json } else { Mode::Lines };
    match started {
        Some(started) if !json => {
            let running = shell.queue().any_worker_running().await;
            // The started sentence without "check status … with the status tool" (an
            // LLM's words): the note says how to follow it from here.
            out_line(&format!(
                "{}\n{}",
                say(&started.started_text()),
                detach_note(&started.job_id, running)
            ))
        }
        _ => print_result(&result.structured, &say(&result.text), mode),
    }
}

/// What a detached start tells the person about who will do the work.
fn detach_note(id: &str, worker_running: bool) -> String {
    if worker_running {
        format!("A brain process is running workers; follow it with `brain jobs watch {id}`.")
    } else {
        format!(
            "No brain process is running workers: it waits until one runs (`brain start`); \
             then follow it with `brain jobs watch {id}`."
        )
    }
}

/// Follows a job or batch that another process runs (no workers start here) until it ends.
pub async fn watch(shell: &Shell, id: &str, mode: Mode) -> anyhow::Result<Outcome> {
    let mut interrupts = Interrupts::new().context("cannot listen for Ctrl-C")?;
    // Whichever tool started it: tools its messages name are shown as commands.
    let say = saying(spelling(shell), "");
    attach(shell, id, mode, &say, &mut interrupts).await
}

/// A tool's refusal in the terminal's words: the field it names is the flag the person
/// typed (`invalid input at `--route``), and no "tool `…`" — they typed a command. The
/// error stays a `ToolError`, so its exit code is decided as before.
fn refusal(error: ToolError, say: &Say) -> anyhow::Error {
    match error {
        ToolError::InvalidInput { field, message } => {
            let flag = say(&format!("`{field}`"));
            anyhow::Error::new(ToolError::InvalidInput {
                field: flag.trim_matches('`').to_owned(),
                message: say(&message),
            })
        }
        other => anyhow::Error::new(other),
    }
}

/// A tool's text in `words`.
fn saying(words: Spelling, tool: &str) -> Say {
    let tool = tool.to_owned();
    std::sync::Arc::new(move |text: &str| words.in_own_words(&tool, text))
}

/// A synchronous tool answer: its JSON on one line, else its text.
fn print_result(structured: &Value, text: &str, mode: Mode) -> anyhow::Result<()> {
    match mode {
        Mode::Json => out_line(&structured.to_string()),
        _ => out_line(text),
    }
}

/// Renders `id`'s events until the final one, handling Ctrl-C; its errors are shown as
/// `say` words them.
async fn attach(
    shell: &Shell,
    id: &str,
    mode: Mode,
    say: &Say,
    interrupts: &mut Interrupts,
) -> anyhow::Result<Outcome> {
    let queue = shell.queue();
    let mut watch = queue
        .watch(id)
        .await
        .with_context(|| format!("cannot follow {id}"))?;
    let mut renderer = Renderer::new(mode, say.clone());
    let mut first = true;
    let mut cancelling = false;
    loop {
        tokio::select! {
            event = watch.next() => {
                let Some(event) = event else {
                    anyhow::bail!("lost track of {id} before it finished");
                };
                // The first state says whether anything runs the work at all.
                if std::mem::take(&mut first) && event.waiting_for_worker {
                    renderer.info(&format!("{id} is {WAITING_FOR_WORKER}: {START_A_WORKER}."));
                }
                if !event.status.is_finished() {
                    renderer.event(&event)?;
                    continue;
                }
                let entry = match queue.status(id).await {
                    Ok(state) => Some(state.status_entry()),
                    Err(error) => {
                        renderer.note(&format!("warning: cannot read the final status: {error}"));
                        None
                    }
                };
                let summary = renderer.finish(&event, entry)?;
                return Ok(if cancelling {
                    renderer.note(&format!("Cancelled {id}."));
                    Outcome::Cancelled
                } else if summary.ok {
                    Outcome::Succeeded
                } else {
                    Outcome::Failed
                });
            }
            signal = interrupts.next() => {
                if signal == Signal::Terminate {
                    // Not the person at the keyboard: stop, and leave the work to a worker.
                    // The shell's shutdown puts what ran here back in the queue.
                    renderer.abandon();
                    renderer.note(&format!(
                        "Terminated: {id} stays queued, unfinished; `brain start` finishes it \
                         (follow it with `brain jobs watch {id}`)."
                    ));
                    return Ok(Outcome::Terminated);
                }
                if cancelling {
                    // A second Ctrl-C: stop waiting for the cancellation to finish.
                    renderer.abandon();
                    renderer.note(&format!("Stopped waiting; {id} is being cancelled."));
                    return Ok(Outcome::Cancelled);
                }
                let others = other_workers(shell, id).await;
                if let Some(pid) = others.first() {
                    renderer.abandon();
                    renderer.note(&format!(
                        "Detached: brain process {pid} keeps running {id}; follow it again with `brain jobs watch {id}`."
                    ));
                    return Ok(Outcome::Detached);
                }
                cancelling = true;
                renderer.info(&format!(
                    "Cancelling {id}: no other brain process runs it; waiting for running jobs to stop…"
                ));
                queue
                    .cancel(id)
                    .await
                    .with_context(|| format!("cannot cancel {id}"))?;
            }
        }
    }
}

/// The pids of other processes running workers on this brain's database that would run
/// `id` (not one-shot commands busy with their own operations).
async fn other_workers(shell: &Shell, id: &str) -> Vec<u32> {
    let me = std::process::id();
    match shell.queue().workers().await {
        Ok(workers) => workers
            .into_iter()
            .filter(|w| w.scope.as_ref().is_none_or(|s| s.iter().any(|i| i == id)))
            .map(|w| w.pid)
            .filter(|pid| *pid != me)
            .collect(),
        // Unknown: cancelling is the safe reading of "nobody else works on it".
        Err(_) => Vec::new(),
    }
}

/// Which stop signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// Ctrl-C: the person wants this operation to stop.
    Interrupt,
    /// SIGTERM: the process is asked to end; the operation is left for a worker.
    Terminate,
}

impl Signal {
    /// What a shell reports for a process ended by this signal.
    fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, registered when created.
struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Signal::Interrupt,
                _ = self.terminate.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        for (outcome, code) in [
            (Outcome::Succeeded, 0),
            (Outcome::Failed, 1),
            (Outcome::Detached, 130),
            (Outcome::Cancelled, 130),
        ] {
            assert_eq!(outcome.exit_code(), code, "{outcome:?}");
        }
    }

    #[test]
    fn detach_note_says_whether_a_worker_runs() {
        assert!(detach_note("b", true).starts_with("A brain process is running"));
        assert!(detach_note("b", false).contains("No brain process is running workers"));
        assert!(detach_note("b", false).contains("brain jobs watch b"));
    }
}
