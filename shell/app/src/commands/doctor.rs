//! `brain doctor`: checks a brain the way a person would before asking for help — its
//! configuration, its database files, its notes, whether a process runs its work, whether
//! the model it is set up for answers, and its MCP and Matrix settings — and says what is
//! wrong and how to fix it. Exit 0 when nothing is wrong (notes may remain), 1 otherwise.

use std::path::Path;

use anyhow::Context;
use brain_core::{ListFilter, Shell};

use crate::commands::{Brain, interface_problems};
use crate::exit::Reported;
use crate::{logging, output};

/// One check's finding.
enum Finding {
    Ok(String),
    /// Not wrong, but worth knowing (nothing runs the queued work).
    Note(String),
    Wrong(String),
}

impl Finding {
    fn line(&self, what: &str) -> String {
        match self {
            Finding::Ok(text) => format!("✔ {what}: {text}"),
            Finding::Note(text) => format!("! {what}: {text}"),
            Finding::Wrong(text) => format!("✘ {what}: {text}"),
        }
    }
}

pub(crate) async fn run(brain: &Brain) -> anyhow::Result<()> {
    let mut findings: Vec<(&str, Finding)> = Vec::new();
    let config = match brain.load_config() {
        Ok(config) => config,
        // Nothing else can be checked without it.
        Err(error) => {
            output::line(&Finding::Wrong(format!("{error:#}")).line("brain.toml"))?;
            return Err(Reported(crate::exit::code_of(&error)).into());
        }
    };
    logging::init(brain.log_level, Some(&config.logging), brain.audience)?;
    let problems = interface_problems(&config);
    findings.push((
        "brain.toml",
        Finding::Ok(format!(
            "valid (brain {:?}, {} plugin{})",
            config.brain.name,
            brain.plugins.len(),
            if brain.plugins.len() == 1 { "" } else { "s" }
        )),
    ));
    let notes_dir = match config.section_json("notes").get("dir") {
        Some(serde_json::Value::String(dir)) => brain.dir.join(dir),
        _ => brain.dir.join("notes"),
    };
    let mut builder = Shell::builder(&brain.dir).config(config);
    for plugin in &brain.plugins {
        builder = builder.plugin_arc(plugin.clone());
    }
    let shell = match builder.build().await {
        Ok(shell) => shell,
        Err(error) => {
            findings.push((
                "brain",
                Finding::Wrong(format!("cannot open it: {error:#}")),
            ));
            return report(findings);
        }
    };
    findings.push(("database", database(&shell)?));
    findings.push(("notes", notes(&notes_dir, &shell.dirs().data)));
    findings.push(("workers", workers(&shell).await));
    findings.push((
        "model",
        match shell.check_generator().await {
            Ok(text) => Finding::Ok(text),
            Err(problem) => Finding::Wrong(problem),
        },
    ));
    findings.push(("mcp", mcp(&shell, &problems)));
    findings.push(("matrix", matrix(&shell, &problems)));
    report(findings)
}

/// Prints the findings; exit 1 when any is wrong.
fn report(findings: Vec<(&str, Finding)>) -> anyhow::Result<()> {
    let wrong = findings
        .iter()
        .filter(|(_, f)| matches!(f, Finding::Wrong(_)))
        .count();
    for (what, finding) in &findings {
        output::line(&finding.line(what))?;
    }
    match wrong {
        0 => Ok(()),
        n => {
            output::line(&format!(
                "{n} problem{} found.",
                if n == 1 { "" } else { "s" }
            ))?;
            Err(Reported(crate::exit::FAILED).into())
        }
    }
}

/// The queue's file opened (its identity and schema were checked on the way), and what it
/// holds.
fn database(shell: &Shell) -> anyhow::Result<Finding> {
    if shell.config().queue.url.is_some() {
        // Connected and migrated, or the shell would not have been built.
        return Ok(Finding::Ok(format!(
            "the queue at {} and .brain/notes.db open",
            shell.queue().path().display()
        )));
    }
    let path = shell.dirs().data.join("brain.db");
    let size = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    Ok(Finding::Ok(format!(
        ".brain/brain.db ({} KB) and .brain/notes.db open",
        size.div_ceil(1024)
    )))
}

/// The notes folder and its Markdown files.
fn notes(dir: &Path, data: &Path) -> Finding {
    if !dir.is_dir() {
        return Finding::Wrong(format!(
            "{} is not a folder (create it, or set [notes] dir in brain.toml)",
            dir.display()
        ));
    }
    let count = count_notes(dir);
    let indexed = data.join("notes.db").is_file();
    match count {
        0 => Finding::Note(format!(
            "no notes in {} yet: write Markdown files there",
            dir.display()
        )),
        n => Finding::Ok(format!(
            "{n} note{} in {}{}",
            if n == 1 { "" } else { "s" },
            dir.display(),
            if indexed { ", indexed" } else { "" }
        )),
    }
}

/// `*.md` files under `dir`, hidden folders skipped (as the index does).
fn count_notes(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_dir() && !hidden {
                count_notes(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "md"))
            }
        })
        .sum()
}

/// Which processes run the brain's work, and whether work waits for one.
async fn workers(shell: &Shell) -> Finding {
    let queue = shell.queue();
    let waiting = queue
        .list(ListFilter {
            active: true,
            ..ListFilter::default()
        })
        .await
        .map(|states| states.len())
        .unwrap_or(0);
    match queue.workers().await {
        Ok(workers) if !workers.is_empty() => {
            let pids: Vec<String> = workers
                .iter()
                .map(|w| format!("pid {} on {}", w.pid, w.host))
                .collect();
            Finding::Ok(format!("running: {}", pids.join(", ")))
        }
        Ok(_) if waiting > 0 => Finding::Note(format!(
            "no brain process runs workers, and {waiting} operation{} wait{} for one: \
             start one with `brain start`",
            if waiting == 1 { "" } else { "s" },
            if waiting == 1 { "s" } else { "" }
        )),
        Ok(_) => Finding::Note(
            "no brain process runs workers (`brain start` runs them; `brain site …` runs \
             its own operation)"
                .to_owned(),
        ),
        Err(error) => Finding::Wrong(format!("cannot read the workers: {error}")),
    }
}

fn mcp(shell: &Shell, problems: &[String]) -> Finding {
    if let Some(problem) = problems.iter().find(|p| p.contains("mcp")) {
        return Finding::Wrong(problem.clone());
    }
    match crate::commands::mcp::configured(shell) {
        Ok(Some(_)) => Finding::Ok("served over HTTP by `brain start` ([mcp] http)".to_owned()),
        Ok(None) => Finding::Ok("over stdio with `brain mcp` ([mcp] http not set)".to_owned()),
        Err(error) => Finding::Wrong(format!("{error:#}")),
    }
}

fn matrix(shell: &Shell, problems: &[String]) -> Finding {
    if let Some(problem) = problems.iter().find(|p| p.contains("matrix")) {
        return Finding::Wrong(problem.clone());
    }
    match shell.config().section("matrix") {
        None => Finding::Ok("not set up ([matrix] absent)".to_owned()),
        Some(section) => Finding::Ok(format!(
            "bot {} on {}",
            section.get("user").and_then(|v| v.as_str()).unwrap_or("?"),
            section
                .get("homeserver")
                .and_then(|v| v.as_str())
                .unwrap_or("?")
        )),
    }
}
