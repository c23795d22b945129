//! The three ways an attached operation is shown: indicatif bars on a terminal's stderr,
//! plain lines on stderr (pipes, CI, `--quiet`), and JSON lines on stdout (`--json`). Each
//! renders the same events through the pure functions of `render`; only this module and
//! `render` know what the person sees, and only this module knows indicatif.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use brain_plugin_api::{
    Dependency, JobProgressEvent, JobStatus, JobStatusEntry, ProgressNotification,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::{self, Summary};

/// At most one progress line per this interval per operation in line mode: a CI log stays
/// readable however fast the work reports.
const LINE_INTERVAL: Duration = Duration::from_secs(1);

/// How often a bar redraws on its own, so the spinner and elapsed time move between events.
const TICK: Duration = Duration::from_millis(120);

/// A line of `--json` output while an operation runs: the plan's progress notification
/// with the time so far and the estimate of the time left.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressLine {
    /// Always `progress`: what this line is.
    pub event: String,
    #[serde(flatten)]
    pub notification: ProgressNotification,
    pub elapsed_ms: u64,
    /// Time left as a person says it ("25 seconds"); absent when nothing is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion_ms: Option<u64>,
    /// Unfinished, and no live process runs workers for it: no ETA until one starts.
    pub waiting_for_worker: bool,
    /// Unfinished work this waits for before it can start.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub waiting_for: Vec<Dependency>,
}

impl ProgressLine {
    fn of(event: &JobProgressEvent) -> Self {
        Self {
            event: "progress".into(),
            notification: event.notification(),
            elapsed_ms: event.timing.elapsed_ms,
            estimated_completion: event.timing.estimated_completion.clone(),
            estimated_completion_ms: event.timing.estimated_completion_ms,
            waiting_for_worker: event.waiting_for_worker,
            waiting_for: event.waiting_for.clone(),
        }
    }
}

/// The last line of `--json` output: the operation's final status.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndLine {
    /// Always `end`: what this line is.
    pub event: String,
    pub job_id: String,
    #[serde(flatten)]
    pub entry: JobStatusEntry,
}

/// How the person asked to see progress, and what the terminal allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on stderr, in colour unless `NO_COLOR` is set.
    Bars { color: bool },
    /// One line per status change, progress at most once a second, on stderr.
    Lines,
    /// `--quiet`: only errors (failed items, the failure summary) on stderr and the final
    /// result on stdout.
    Quiet,
    /// JSON lines on stdout: every event's `ProgressNotification`, then the final status.
    Json,
}

impl Mode {
    /// `--json` wins, then `--quiet`; a stderr that is not a terminal means plain lines.
    pub fn detect(json: bool, quiet: bool) -> Mode {
        if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if !std::io::stderr().is_terminal() {
            Mode::Lines
        } else {
            Mode::Bars {
                color: color_allowed(std::env::var_os("NO_COLOR").as_deref()),
            }
        }
    }
}

/// `NO_COLOR` (<https://no-color.org>): any non-empty value turns colour off.
pub(crate) fn color_allowed(no_color: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty())
}

/// Writes one line to stdout; a closed pipe is not an error (the reader has what it wanted).
pub(crate) fn out_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write to stdout")),
    }
}

/// Writes one line to stderr. Messages are best effort: a closed stderr must not turn a
/// finished operation into a failure.
pub(crate) fn err_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// How a tool's text is worded for the terminal (see `crate::spelling`).
pub(crate) type Say = std::sync::Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Renders the events of one operation.
pub(crate) struct Renderer {
    mode: Mode,
    /// Errors and summaries come from the tool: in the terminal's words.
    say: Say,
    bar: Option<ProgressBar>,
    /// The look the bar has now: with a length (bar) or not (spinner), and its layout.
    bar_look: Option<(bool, Layout)>,
    /// The last state line printed ([`render::status_line`]): a new one is printed when
    /// the status or what holds the work up changes.
    last_state: Option<String>,
    last_line: Option<(Instant, String)>,
    seen_failures: Vec<String>,
}

impl Renderer {
    pub(crate) fn new(mode: Mode, say: Say) -> Renderer {
        Renderer {
            mode,
            say,
            bar: None,
            bar_look: None,
            last_state: None,
            last_line: None,
            seen_failures: Vec::new(),
        }
    }

    /// Shows one unfinished state.
    pub(crate) fn event(&mut self, event: &JobProgressEvent) -> anyhow::Result<()> {
        match self.mode {
            Mode::Json => out_line(&json_line(&ProgressLine::of(event))),
            Mode::Lines => {
                self.failures(event);
                let state = render::status_line(event);
                if self.last_state.as_ref() != Some(&state) {
                    err_line(&state);
                    self.last_state = Some(state);
                }
                let line = render::progress_line(event);
                if event.status == JobStatus::Processing
                    && line_due(self.last_line.as_ref(), &line, Instant::now())
                {
                    err_line(&line);
                    self.last_line = Some((Instant::now(), line));
                }
                Ok(())
            }
            Mode::Bars { color } => {
                self.failures(event);
                self.draw(event, color);
                Ok(())
            }
            Mode::Quiet => {
                self.failures(event);
                Ok(())
            }
        }
    }

    /// What is going on ("Generating content for 4 sections."): a note, except with
    /// `--quiet`.
    pub(crate) fn info(&self, text: &str) {
        if self.mode != Mode::Quiet {
            self.note(text);
        }
    }

    /// A message for the person, above the bar when there is one: an outcome or a warning,
    /// shown in every mode.
    pub(crate) fn note(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(text),
            // JSON mode keeps stdout machine-readable; messages still go to stderr.
            _ => err_line(text),
        }
    }

    /// Removes the bar without a summary (detaching).
    pub(crate) fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Shows the final state: the summary (bars, lines) or the final status entry (JSON).
    pub(crate) fn finish(
        &mut self,
        event: &JobProgressEvent,
        entry: Option<JobStatusEntry>,
    ) -> anyhow::Result<Summary> {
        let mut summary = render::summary(event);
        if self.mode != Mode::Json {
            summary.reasons = render::unseen_reasons(event, &self.seen_failures);
        }
        summary.line = (self.say)(&summary.line);
        for text in summary
            .reasons
            .iter_mut()
            .chain(summary.warnings.iter_mut())
        {
            *text = (self.say)(text);
        }
        if let Some(waited) = entry.as_ref().and_then(render::waited) {
            summary.line.push_str(&format!(" ({waited})"));
        }
        match self.mode {
            Mode::Json => {
                out_line(&json_line(&ProgressLine::of(event)))?;
                // Without a stored status (it could not be read), the event's own.
                let entry = entry.unwrap_or_else(|| event.status_entry(event.observed_at, false));
                out_line(&json_line(&EndLine {
                    event: "end".into(),
                    job_id: event.id.clone(),
                    entry,
                }))?;
            }
            Mode::Lines | Mode::Quiet | Mode::Bars { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let state = render::status_line(event);
                if self.mode == Mode::Lines && self.last_state.as_ref() != Some(&state) {
                    err_line(&state);
                }
                let color = matches!(self.mode, Mode::Bars { color: true });
                if summary.ok {
                    out_line(&painted(&summary.line, color))?;
                    for warning in &summary.warnings {
                        err_line(&format!("  {warning}"));
                    }
                } else {
                    err_line(&painted(&summary.line, color));
                    for reason in &summary.reasons {
                        err_line(&format!("  {reason}"));
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Prints items that failed since the last event, above the bar.
    fn failures(&mut self, event: &JobProgressEvent) {
        for error in render::new_failures(event, &mut self.seen_failures) {
            self.note(&(self.say)(&format!("✘ {}", render::failure_line(&error))));
        }
    }

    fn draw(&mut self, event: &JobProgressEvent, color: bool) {
        let state = render::bar_state(event);
        let fresh = self.bar.is_none();
        // Hidden until configured: a first draw with the default style would flash an
        // empty bar.
        let bar = self.bar.get_or_insert_with(|| {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        });
        let has_length = state.length.is_some();
        // Measured at every event, so a terminal made narrower gets a narrower bar.
        let layout = Layout::for_width(crossterm::terminal::size().ok().map(|(cols, _)| cols));
        if self.bar_look != Some((has_length, layout)) {
            self.bar_look = Some((has_length, layout));
            bar.set_style(style(has_length, color, layout));
        }
        match state.length {
            Some(length) => bar.set_length(length),
            None => bar.unset_length(),
        }
        bar.set_position(state.position);
        bar.set_prefix(brain_plugin_api::shorten(
            &state.prefix,
            layout.prefix_chars(),
        ));
        bar.set_message(state.message);
        // The monitor's elapsed time: right even when attaching to work started long ago.
        bar.set_elapsed(Duration::from_millis(event.timing.elapsed_ms));
        if fresh {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(TICK);
        }
    }
}

/// How much of the bar fits the terminal's width: the message always takes what is left
/// (and is cut to it), the label and the bar itself shrink first, then the bar goes, so a
/// line never wraps from 40 columns up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Under 70 columns: no bar, only the count.
    Tiny,
    /// 70-89 columns.
    Narrow,
    /// 90-119 columns.
    Medium,
    /// 120 columns or more (or an unknown width).
    Wide,
}

impl Layout {
    fn for_width(width: Option<u16>) -> Layout {
        match width {
            Some(w) if w < 70 => Layout::Tiny,
            Some(w) if w < 90 => Layout::Narrow,
            Some(w) if w < 120 => Layout::Medium,
            _ => Layout::Wide,
        }
    }

    /// The bar's width in characters; `None`: no bar.
    fn bar_chars(self) -> Option<usize> {
        match self {
            Layout::Tiny => None,
            Layout::Narrow => Some(10),
            Layout::Medium => Some(20),
            Layout::Wide => Some(30),
        }
    }

    /// The longest label shown before it is cut.
    fn prefix_chars(self) -> usize {
        match self {
            Layout::Tiny => 14,
            Layout::Narrow => 20,
            Layout::Medium => 30,
            Layout::Wide => 40,
        }
    }
}

/// Whether a progress line is worth printing now: it says something new and the last one
/// is at least [`LINE_INTERVAL`] old.
fn line_due(last: Option<&(Instant, String)>, line: &str, now: Instant) -> bool {
    match last {
        None => true,
        Some((at, text)) => text != line && now.duration_since(*at) >= LINE_INTERVAL,
    }
}

/// The bar's look. indicatif's `{eta}` is deliberately absent: the ETA is in `{msg}`, from
/// the progress monitor.
fn style(has_length: bool, color: bool, layout: Layout) -> ProgressStyle {
    let fallback = if has_length {
        ProgressStyle::default_bar()
    } else {
        ProgressStyle::default_spinner()
    };
    ProgressStyle::with_template(&template(has_length, color, layout))
        .map(|s| s.progress_chars("=> "))
        .unwrap_or(fallback)
}

fn template(has_length: bool, color: bool, layout: Layout) -> String {
    let (spinner, prefix) = if color {
        ("{spinner:.green}", "{prefix:.bold}")
    } else {
        ("{spinner}", "{prefix}")
    };
    if !has_length {
        return format!("{spinner} {prefix} · {{elapsed}} · {{wide_msg}}");
    }
    match layout.bar_chars() {
        None => format!("{spinner} {prefix} {{pos}}/{{len}} {{percent:>3}}% · {{wide_msg}}"),
        Some(chars) => {
            let bar = if color {
                format!("{{bar:{chars}.cyan/blue}}")
            } else {
                format!("{{bar:{chars}}}")
            };
            format!(
                "{spinner} {prefix} [{bar}] {{pos}}/{{len}} {{percent:>3}}% · {{elapsed}} · {{wide_msg}}"
            )
        }
    }
}

/// The summary's mark in green or red on a colour terminal; plain otherwise.
pub(crate) fn painted(line: &str, color: bool) -> String {
    if !color {
        return line.to_owned();
    }
    let paint = |mark: &str, code: &str, rest: &str| format!("\x1b[{code}m{mark}\x1b[0m{rest}");
    if let Some(rest) = line.strip_prefix('✔') {
        paint("✔", "32", rest)
    } else if let Some(rest) = line.strip_prefix('✘') {
        paint("✘", "31", rest)
    } else {
        line.to_owned()
    }
}

/// One JSON line; serializing these plain types cannot fail, and if it did the line says so.
fn json_line(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_table() {
        use std::ffi::OsStr;
        for (value, allowed) in [
            (None, true),
            (Some(""), true),
            (Some("1"), false),
            (Some("true"), false),
        ] {
            assert_eq!(color_allowed(value.map(OsStr::new)), allowed, "{value:?}");
        }
    }

    #[test]
    fn line_due_table() {
        let t0 = Instant::now();
        let last = (t0, "a: 1/5".to_owned());
        let cases = [
            (None, "a: 1/5", t0, true),
            (
                Some(&last),
                "a: 2/5",
                t0 + Duration::from_millis(999),
                false,
            ),
            (Some(&last), "a: 2/5", t0 + Duration::from_secs(1), true),
            (Some(&last), "a: 1/5", t0 + Duration::from_secs(5), false),
        ];
        for (last, line, now, due) in cases {
            assert_eq!(line_due(last, line, now), due, "{line} {:?}", now - t0);
        }
    }

    #[test]
    fn painting_only_with_colour() {
        assert_eq!(
            painted("✔ Built preview in 0.4s", false),
            "✔ Built preview in 0.4s"
        );
        assert_eq!(
            painted("✘ 1 of 2 sections failed", true),
            "\x1b[31m✘\x1b[0m 1 of 2 sections failed"
        );
        assert_eq!(painted("plain", true), "plain");
    }

    #[test]
    fn templates_parse() {
        for layout in [Layout::Tiny, Layout::Narrow, Layout::Medium, Layout::Wide] {
            for has_length in [true, false] {
                for color in [true, false] {
                    let t = template(has_length, color, layout);
                    assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
                    assert!(!t.contains("{eta"), "the ETA comes from the monitor: {t}");
                    assert!(t.ends_with("{wide_msg}"), "the message takes the rest: {t}");
                }
            }
        }
    }

    #[test]
    fn layouts_by_width() {
        for (width, layout) in [
            (Some(40), Layout::Tiny),
            (Some(69), Layout::Tiny),
            (Some(70), Layout::Narrow),
            (Some(100), Layout::Medium),
            (Some(120), Layout::Wide),
            (Some(200), Layout::Wide),
            (None, Layout::Wide),
        ] {
            assert_eq!(Layout::for_width(width), layout, "{width:?}");
        }
    }
}
