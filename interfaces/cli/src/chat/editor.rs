//! The line editor's state, pure: the text being typed, the cursor, and history browsing,
//! changed by key events and answering with what the chat should do next. It never draws;
//! the screen shows [`Editor::chars`] and [`Editor::cursor`] after every key.
//!
//! Keys: printable characters insert; Left/Right (Ctrl-B/F), Ctrl-Left/Right (Alt-B/F) by
//! word, Home/End (Ctrl-A/E); Backspace, Delete, Ctrl-W (word), Ctrl-U (to start), Ctrl-K
//! (to end); Up/Down (Ctrl-P/N) browse history, keeping the line being typed as the newest
//! entry; Tab completes; Enter submits; Ctrl-C clears the line (on an empty line: interrupt);
//! Ctrl-D deletes (on an empty line: end of input); Ctrl-L redraws the screen.

use super::history::HISTORY_LIMIT;
use super::keys::Key;

/// What a key asks of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Show the line again (it may have changed).
    Redraw,
    /// Enter: this line, now in the history; the editor is empty again.
    Submit(String),
    /// Tab: complete the word before the cursor.
    Complete,
    /// Ctrl-C on a line with text: the text is gone.
    Cleared,
    /// Ctrl-C on an empty line.
    Interrupt,
    /// Ctrl-D on an empty line.
    Eof,
    /// Ctrl-L.
    ClearScreen,
}

#[derive(Debug, Default)]
pub(crate) struct Editor {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// The history entry shown, while browsing.
    browsing: Option<usize>,
    /// The line being typed when browsing started, restored by going past the newest entry.
    draft: Vec<char>,
}

impl Editor {
    pub(crate) fn new(history: Vec<String>) -> Editor {
        Editor {
            history,
            ..Editor::default()
        }
    }

    pub(crate) fn chars(&self) -> &[char] {
        &self.chars
    }

    pub(crate) fn cursor(&self) -> usize {
        self.cursor
    }

    pub(crate) fn history(&self) -> &[String] {
        &self.history
    }

    /// The text before the cursor (what completion looks at).
    pub(crate) fn before_cursor(&self) -> String {
        self.chars[..self.cursor].iter().collect()
    }

    /// Replaces the text before the cursor from char `start` with `text`.
    pub(crate) fn replace_before(&mut self, start: usize, text: &str) {
        let start = start.min(self.cursor);
        let new: Vec<char> = text.chars().collect();
        let count = new.len();
        self.chars.splice(start..self.cursor, new);
        self.cursor = start + count;
    }

    /// Inserts text at the cursor (typed or pasted); line breaks and other control
    /// characters become spaces, so a paste cannot submit or hide anything.
    pub(crate) fn insert(&mut self, text: &str) {
        for c in text.chars() {
            let c = if c.is_control() { ' ' } else { c };
            self.chars.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    pub(crate) fn key(&mut self, key: Key) -> Action {
        match key {
            Key::Enter => return self.submit(),
            Key::Tab => return Action::Complete,
            Key::Ctrl('c') => {
                if self.chars.is_empty() {
                    return Action::Interrupt;
                }
                self.set(Vec::new());
                self.browsing = None;
                return Action::Cleared;
            }
            Key::Ctrl('d') => {
                if self.chars.is_empty() {
                    return Action::Eof;
                }
                self.delete();
            }
            Key::Ctrl('l') => return Action::ClearScreen,
            Key::Ctrl('a') | Key::Home => self.cursor = 0,
            Key::Ctrl('e') | Key::End => self.cursor = self.chars.len(),
            Key::Ctrl('b') | Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Ctrl('f') | Key::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            Key::Alt('b') | Key::WordLeft => self.cursor = self.word_left(),
            Key::Alt('f') | Key::WordRight => self.cursor = self.word_right(),
            Key::Backspace => self.backspace(),
            Key::Ctrl('w') | Key::AltBackspace => self.kill_word(),
            Key::Ctrl('u') => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::Ctrl('k') => self.chars.truncate(self.cursor),
            Key::Ctrl('p') | Key::Up => self.older(),
            Key::Ctrl('n') | Key::Down => self.newer(),
            Key::Delete => self.delete(),
            Key::Char(c) => self.insert(&c.to_string()),
            Key::Ctrl(_) | Key::Alt(_) | Key::Esc => {}
        }
        Action::Redraw
    }

    fn submit(&mut self) -> Action {
        let line: String = self.chars.iter().collect();
        self.set(Vec::new());
        self.browsing = None;
        self.draft.clear();
        let trimmed = line.trim();
        if !trimmed.is_empty() && self.history.last().map(String::as_str) != Some(trimmed) {
            self.history.push(trimmed.to_owned());
            if self.history.len() > HISTORY_LIMIT {
                let extra = self.history.len() - HISTORY_LIMIT;
                self.history.drain(..extra);
            }
        }
        Action::Submit(line)
    }

    fn set(&mut self, chars: Vec<char>) {
        self.cursor = chars.len();
        self.chars = chars;
    }

    fn older(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.chars.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        self.set(self.history[next].chars().collect());
    }

    fn newer(&mut self) {
        let Some(i) = self.browsing else { return };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            self.set(self.history[i + 1].chars().collect());
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.set(draft);
        }
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    fn kill_word(&mut self) {
        let start = self.word_left();
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// The start of the word before the cursor (skipping spaces first).
    fn word_left(&self) -> usize {
        let mut i = self.cursor;
        while i > 0 && self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }

    /// The end of the word after the cursor.
    fn word_right(&self) -> usize {
        let mut i = self.cursor;
        let n = self.chars.len();
        while i < n && self.chars[i].is_whitespace() {
            i += 1;
        }
        while i < n && !self.chars[i].is_whitespace() {
            i += 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: Key) -> Key {
        key
    }

    fn ctrl(c: char) -> Key {
        Key::Ctrl(c)
    }

    fn typed(editor: &mut Editor, text: &str) {
        for c in text.chars() {
            assert_eq!(editor.key(press(Key::Char(c))), Action::Redraw);
        }
    }

    fn line(editor: &Editor) -> String {
        editor.chars().iter().collect()
    }

    #[test]
    fn editing_keys() {
        let mut e = Editor::default();
        typed(&mut e, "hello world");
        e.key(press(Key::Left));
        e.key(press(Key::Left));
        e.key(press(Key::Backspace));
        assert_eq!((line(&e).as_str(), e.cursor()), ("hello wold", 8));
        e.key(ctrl('a'));
        e.key(press(Key::Delete));
        assert_eq!((line(&e).as_str(), e.cursor()), ("ello wold", 0));
        e.key(press(Key::End));
        e.key(ctrl('w'));
        assert_eq!((line(&e).as_str(), e.cursor()), ("ello ", 5));
        typed(&mut e, "wörld");
        e.key(Key::WordLeft);
        assert_eq!(e.cursor(), 5);
        e.key(ctrl('k'));
        assert_eq!(line(&e), "ello ");
        e.key(ctrl('a'));
        e.key(Key::WordRight);
        assert_eq!(e.cursor(), 4);
        e.key(ctrl('u'));
        assert_eq!((line(&e).as_str(), e.cursor()), (" ", 0));
        e.insert("a\nb\tc");
        assert_eq!(line(&e), "a b c ");
        assert_eq!(e.before_cursor(), "a b c");
        e.replace_before(2, "bee ");
        assert_eq!((line(&e).as_str(), e.cursor()), ("a bee  ", 6));
    }

    #[test]
    fn ctrl_c_clears_then_interrupts_and_ctrl_d_ends_only_an_empty_line() {
        let mut e = Editor::default();
        typed(&mut e, "abc");
        e.key(press(Key::Home));
        assert_eq!(e.key(ctrl('d')), Action::Redraw);
        assert_eq!(line(&e), "bc");
        assert_eq!(e.key(ctrl('c')), Action::Cleared);
        assert_eq!((line(&e).as_str(), e.cursor()), ("", 0));
        assert_eq!(e.key(ctrl('c')), Action::Interrupt);
        assert_eq!(e.key(ctrl('d')), Action::Eof);
        assert_eq!(e.key(ctrl('l')), Action::ClearScreen);
        assert_eq!(e.key(press(Key::Tab)), Action::Complete);
    }

    #[test]
    fn history_browsing_keeps_the_draft() {
        let mut e = Editor::new(vec!["/jobs".into()]);
        typed(&mut e, "/status");
        assert_eq!(e.key(press(Key::Enter)), Action::Submit("/status".into()));
        typed(&mut e, " /status ");
        assert_eq!(e.key(press(Key::Enter)), Action::Submit(" /status ".into()));
        assert_eq!(e.history(), ["/jobs", "/status"], "no repeated entry");
        assert_eq!(e.key(press(Key::Enter)), Action::Submit(String::new()));
        assert_eq!(e.history().len(), 2, "no empty entry");
        typed(&mut e, "draft");
        e.key(press(Key::Up));
        assert_eq!((line(&e).as_str(), e.cursor()), ("/status", 7));
        e.key(press(Key::Up));
        assert_eq!(line(&e), "/jobs");
        e.key(press(Key::Up));
        assert_eq!(line(&e), "/jobs", "stays at the oldest");
        e.key(press(Key::Down));
        assert_eq!(line(&e), "/status");
        e.key(ctrl('n'));
        assert_eq!(line(&e), "draft");
        e.key(press(Key::Down));
        assert_eq!(line(&e), "draft");
    }

    #[test]
    fn history_is_bounded() {
        let mut e = Editor::new((0..HISTORY_LIMIT).map(|i| i.to_string()).collect());
        typed(&mut e, "newest");
        e.key(press(Key::Enter));
        assert_eq!(e.history().len(), HISTORY_LIMIT);
        assert_eq!(e.history().first().map(String::as_str), Some("1"));
        assert_eq!(e.history().last().map(String::as_str), Some("newest"));
    }
}
