//! The chat's terminal output. The bottom of the screen is a live region this module owns:
//! one row per running operation's bar, then the prompt row with the line being typed. It
//! is redrawn as a whole, under one lock, whenever a bar, the line or the width changes (and
//! on a timer, so spinners and elapsed times move); anything else — results, summaries,
//! errors — is printed *above* it by the same lock, into the scrollback. So a bar update can
//! never land in the middle of the typed line.
//!
//! Every row of the region is cut to the terminal width minus one column, and the prompt
//! row scrolls horizontally around the cursor, so no row ever wraps and the region's height
//! is always its row count: a redraw moves up that many rows and clears to the end of the
//! screen. Widths are display widths (`unicode-width`), so wide characters count double.
//! The width is read again before every redraw (not only on the resize event, which may
//! come a frame late). When the terminal narrows, terminals that reflow (most do) may have
//! wrapped the old rows; the way up then counts the wrapped rows (on one that does not
//! reflow, such as xterm, a row or two of the output above the region is overwritten
//! instead — never the region).
//!
//! The pure parts — [`bar_text`], [`frame`], [`rows_after_resize`] — are unit-tested; the
//! [`Screen`] only writes what they compute.

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::render::BarState;

/// The spinner's frames, one per redraw tick.
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// The bar's width in characters, as `brain site …`'s bars.
const BAR_WIDTH: usize = 30;

/// A bar line: "⠋ Generating content [=====>    ] 2/5  40% · 3s · ETA 4 s · landing:hero",
/// or without a total "⠋ query · 1s · what are …". The ETA is in the state's message (the
/// progress monitor's, as `brain site …` shows it).
pub(crate) fn bar_text(state: &BarState, elapsed: Duration, tick: usize) -> String {
    let spin = SPINNER[tick % SPINNER.len()];
    let clock = clock(elapsed);
    match state.length {
        Some(length) if length > 0 => {
            let position = state.position.min(length);
            let filled = usize::try_from(position * BAR_WIDTH as u64 / length).unwrap_or(0);
            let mut bar = "=".repeat(filled);
            if filled < BAR_WIDTH {
                bar.push('>');
                bar.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
            }
            let percent = position * 100 / length;
            format!(
                "{spin} {} [{bar}] {position}/{length} {percent:>3}% · {clock} · {}",
                state.prefix, state.message
            )
        }
        _ => format!("{spin} {} · {clock} · {}", state.prefix, state.message),
    }
}

/// Elapsed time as a bar shows it: "4s", "2m05s", "1h02m".
fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// What the live region shows: its rows, top to bottom (the prompt row last), and the
/// cursor's column on the prompt row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) rows: Vec<String>,
    pub(crate) cursor_col: usize,
}

fn width_of(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// `text` cut to at most `max` columns.
fn truncate(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let w = width_of(c);
        if used + w > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out
}

/// The region for a terminal `width` columns wide: each bar cut to fit, then the prompt and
/// the part of `input` around `cursor` that fits (scrolled so the cursor stays visible).
pub(crate) fn frame(
    width: usize,
    bars: &[String],
    prompt: &str,
    input: &[char],
    cursor: usize,
) -> Frame {
    let max = width.saturating_sub(1).max(1);
    let mut rows: Vec<String> = bars.iter().map(|b| truncate(b, max)).collect();
    let prompt = truncate(prompt, max / 2);
    let room = max.saturating_sub(prompt.width()).max(1);
    let widths: Vec<usize> = input.iter().map(|c| width_of(*c)).collect();
    let cursor = cursor.min(input.len());
    // Scrolled only when the text before the cursor does not fit: then the cursor sits at
    // the right edge, with as much of what precedes it as fits.
    let mut start = 0;
    if widths[..cursor].iter().sum::<usize>() >= room {
        start = cursor;
        let mut used = 0;
        while start > 0 && used + widths[start - 1] < room {
            start -= 1;
            used += widths[start];
        }
    }
    let mut shown = prompt.clone();
    let mut used = 0;
    for (c, w) in input[start..].iter().zip(&widths[start..]) {
        if used + w > room {
            break;
        }
        used += w;
        shown.push(*c);
    }
    rows.push(shown);
    Frame {
        rows,
        cursor_col: prompt.width() + widths[start..cursor].iter().sum::<usize>(),
    }
}

/// How many rows above the cursor the region starts once the terminal is `width` columns
/// wide, for rows drawn `drawn` columns wide and a cursor at `cursor_col`: a row that no
/// longer fits takes as many rows as a reflowing terminal wraps it into.
pub(crate) fn rows_after_resize(drawn: &[usize], cursor_col: usize, width: usize) -> usize {
    let width = width.max(1);
    let Some((_, above)) = drawn.split_last() else {
        return 0;
    };
    above
        .iter()
        .map(|w| w.div_ceil(width).max(1))
        .sum::<usize>()
        + cursor_col / width
}

/// One operation's bar as drawn: the state from its last event and when that came, so the
/// elapsed time moves between events.
#[derive(Debug, Clone)]
pub(crate) struct LiveBar {
    pub(crate) state: BarState,
    /// The elapsed time the last event reported.
    pub(crate) elapsed: Duration,
    pub(crate) at: Instant,
}

/// The live region and everything printed above it.
pub(crate) struct Screen {
    inner: Mutex<State>,
}

struct State {
    width: usize,
    color: bool,
    prompt: String,
    input: Vec<char>,
    cursor: usize,
    /// Bars by key, in the order the operations started.
    bars: Vec<(u64, LiveBar)>,
    tick: usize,
    /// The widths of the rows last drawn, the cursor's column and the terminal's width
    /// then: where the region is.
    drawn: Vec<usize>,
    drawn_col: usize,
    drawn_width: usize,
    /// Reads the terminal's width now; `None` keeps the last known one.
    probe: fn() -> Option<usize>,
    closed: bool,
}

impl Screen {
    /// A screen `width` columns wide; `probe` reads the width again before each redraw, so
    /// a frame drawn between a resize and its event does not use the old width.
    pub(crate) fn new(
        width: usize,
        color: bool,
        prompt: &str,
        probe: fn() -> Option<usize>,
    ) -> Screen {
        Screen {
            inner: Mutex::new(State {
                width,
                color,
                prompt: prompt.to_owned(),
                input: Vec::new(),
                cursor: 0,
                bars: Vec::new(),
                tick: 0,
                drawn: Vec::new(),
                drawn_col: 0,
                drawn_width: width,
                probe,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while drawing leaves nothing half-valid that a redraw would not fix.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn color(&self) -> bool {
        self.lock().color
    }

    /// The line being typed changed.
    pub(crate) fn input(&self, input: &[char], cursor: usize) {
        let mut s = self.lock();
        s.input = input.to_vec();
        s.cursor = cursor;
        s.draw(None);
    }

    /// Enter: the line moves above the region as `echo`, and the prompt is empty again.
    pub(crate) fn submitted(&self, echo: &str) {
        let mut s = self.lock();
        s.input.clear();
        s.cursor = 0;
        s.draw(Some(echo));
    }

    /// Prints `text` (any number of lines) above the region.
    pub(crate) fn print(&self, text: &str) {
        self.lock().draw(Some(text));
    }

    /// Adds or updates the bar of operation `key`.
    pub(crate) fn bar(&self, key: u64, bar: LiveBar) {
        let mut s = self.lock();
        match s.bars.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = bar,
            None => s.bars.push((key, bar)),
        }
        s.draw(None);
    }

    /// Removes the bar of operation `key` and prints `text` above, in one redraw: the bar
    /// becomes its summary.
    pub(crate) fn finish(&self, key: u64, text: &str) {
        let mut s = self.lock();
        s.bars.retain(|(k, _)| *k != key);
        s.draw(Some(text));
    }

    /// Moves the spinners and the elapsed times; with no bars, redraws only if the
    /// terminal's width changed (the region follows a resize without a signal handler).
    pub(crate) fn tick(&self) {
        let mut s = self.lock();
        if !s.bars.is_empty() {
            s.tick = s.tick.wrapping_add(1);
            s.draw(None);
        } else if (s.probe)().is_some_and(|w| w > 0 && w != s.drawn_width) {
            s.draw(None);
        }
    }

    /// Ctrl-L: a clean screen with the region at the top.
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        s.write("\x1b[H\x1b[2J");
        s.drawn.clear();
        s.drawn_col = 0;
        s.draw(None);
    }

    /// Erases the region, prints `text` above where it was, and draws nothing more.
    pub(crate) fn close(&self, text: Option<&str>) {
        let mut s = self.lock();
        let mut out = s.erase();
        if let Some(text) = text {
            push_lines(&mut out, text);
        }
        out.push_str("\x1b[?25h");
        s.write(&out);
        s.closed = true;
        s.drawn.clear();
    }
}

/// `text` with each line ended by CR LF (raw mode does not turn LF into CR LF).
fn push_lines(out: &mut String, text: &str) {
    for line in text.split('\n') {
        out.push_str(line);
        out.push_str("\r\n");
    }
}

impl State {
    /// The escape codes that go to the region's top-left corner and clear to the end.
    fn erase(&mut self) -> String {
        if let Some(width) = (self.probe)().filter(|w| *w > 0) {
            self.width = width;
        }
        let up = if self.width < self.drawn_width {
            rows_after_resize(&self.drawn, self.drawn_col, self.width)
        } else {
            self.drawn.len().saturating_sub(1)
        };
        let mut out = String::from("\x1b[?25l\r");
        if up > 0 {
            out.push_str(&format!("\x1b[{up}A"));
        }
        out.push_str("\x1b[J");
        out
    }

    fn draw(&mut self, above: Option<&str>) {
        if self.closed {
            return;
        }
        let mut out = self.erase();
        if let Some(text) = above {
            push_lines(&mut out, text);
        }
        let bars: Vec<String> = self
            .bars
            .iter()
            .map(|(_, b)| bar_text(&b.state, b.elapsed + b.at.elapsed(), self.tick))
            .collect();
        let frame = frame(self.width, &bars, &self.prompt, &self.input, self.cursor);
        for (i, row) in frame.rows.iter().enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            // The spinner (a bar row's first character) in green on a colour terminal.
            match row.chars().next() {
                Some(c) if self.color && i + 1 < frame.rows.len() => {
                    out.push_str(&format!("\x1b[32m{c}\x1b[0m{}", &row[c.len_utf8()..]));
                }
                _ => out.push_str(row),
            }
        }
        out.push('\r');
        if frame.cursor_col > 0 {
            out.push_str(&format!("\x1b[{}C", frame.cursor_col));
        }
        out.push_str("\x1b[?25h");
        self.drawn = frame.rows.iter().map(|r| r.width()).collect();
        self.drawn_col = frame.cursor_col;
        self.drawn_width = self.width;
        self.write(&out);
    }

    fn write(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A terminal that went away has no one to show the error to.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(position: u64, length: Option<u64>) -> BarState {
        BarState {
            position,
            length,
            prefix: "Generating content".into(),
            message: "ETA 4 s · Generating landing:hero".into(),
        }
    }

    #[test]
    fn bar_text_table() {
        let cases = [
            (
                state(2, Some(5)),
                3,
                0,
                "⠋ Generating content [============>                 ] 2/5  40% · 3s · ETA 4 s · Generating landing:hero",
            ),
            (
                state(5, Some(5)),
                125,
                1,
                "⠙ Generating content [==============================] 5/5 100% · 2m05s · ETA 4 s · Generating landing:hero",
            ),
            (
                state(0, None),
                3_725,
                10,
                "⠋ Generating content · 1h02m · ETA 4 s · Generating landing:hero",
            ),
        ];
        for (state, secs, tick, expected) in cases {
            assert_eq!(bar_text(&state, Duration::from_secs(secs), tick), expected);
        }
    }

    #[test]
    fn frame_cuts_bars_and_keeps_the_cursor_visible() {
        let input: Vec<char> = "hello world".chars().collect();
        let f = frame(40, &["x".repeat(50)], "brain> ", &input, 11);
        assert_eq!(f.rows, ["x".repeat(39), "brain> hello world".into()]);
        assert_eq!(f.cursor_col, 18);

        // 16 columns: 15 usable, 7 for the prompt, 8 for the text.
        let f = frame(16, &[], "brain> ", &input, 11);
        assert_eq!(f.rows, ["brain> o world"]);
        assert_eq!(f.cursor_col, 14);
        let f = frame(16, &[], "brain> ", &input, 2);
        assert_eq!(f.rows, ["brain> hello wo"]);
        assert_eq!(f.cursor_col, 9);

        // Wide characters count two columns and are never cut in half.
        let wide: Vec<char> = "日本語のテキスト".chars().collect();
        let f = frame(16, &[], "brain> ", &wide, wide.len());
        assert_eq!(f.rows, ["brain> キスト"]);
        assert_eq!(f.cursor_col, 13);
        assert!(f.rows.iter().all(|r| r.width() < 16));
    }

    #[test]
    fn resize_counts_wrapped_rows() {
        // Two 60-column bars and a prompt with the cursor at column 30.
        let drawn = [60, 60, 35];
        assert_eq!(rows_after_resize(&drawn, 30, 100), 2);
        assert_eq!(rows_after_resize(&drawn, 30, 40), 4);
        assert_eq!(rows_after_resize(&drawn, 30, 20), 7);
        assert_eq!(
            rows_after_resize(&[0, 10], 0, 20),
            1,
            "an empty row is a row"
        );
        assert_eq!(rows_after_resize(&[], 0, 20), 0);
    }

    #[test]
    fn clock_table() {
        for (secs, expected) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m00s"),
            (3_599, "59m59s"),
            (7_260, "2h01m"),
        ] {
            assert_eq!(clock(Duration::from_secs(secs)), expected);
        }
    }
}
