//! A `brain chat` on a real pseudo-terminal and the screen it drew (a vt100 emulator): what
//! the chat tests type and wait for. Shared by the example plugin's tests (`#[path]`).

use std::io::Write;
use std::num::NonZeroU16;
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::Session;

/// How long the screen may take to show what a test waits for.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(40);

pub(crate) const COLS: u16 = 110;
const ROWS: u16 = 40;

/// `brain chat` on a pseudo-terminal, and the screen it drew.
pub(crate) struct Term {
    session: Session,
    parser: vt100::Parser,
}

fn size(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap()
}

impl Term {
    /// Runs `command` (a `brain chat`) on a terminal of its own and waits for its prompt.
    pub(crate) fn spawn(command: Command) -> Term {
        let mut session = Session::spawn(command).unwrap();
        session
            .get_process_mut()
            .set_window_size(COLS, ROWS)
            .unwrap();
        let mut term = Term {
            session,
            parser: vt100::Parser::new(size(ROWS), size(COLS), 0),
        };
        term.wait_for("the prompt", |t| t.prompt() == "brain>");
        term
    }

    /// Narrows (or widens) the terminal to `cols`; what was drawn before is read at the old
    /// width.
    pub(crate) fn resize(&mut self, cols: u16) {
        self.pump();
        self.session
            .get_process_mut()
            .set_window_size(cols, ROWS)
            .unwrap();
        self.parser.set_size(size(ROWS), size(cols));
    }

    /// Feeds everything the chat wrote so far to the screen.
    pub(crate) fn pump(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            match self.session.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.parser.process(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // EIO: the chat exited and the terminal closed.
                Err(_) => break,
            }
        }
    }

    pub(crate) fn rows(&self) -> Vec<String> {
        self.parser
            .screen()
            .rows(0, COLS)
            .map(|r| r.trim_end().to_owned())
            .collect()
    }

    pub(crate) fn screen(&self) -> String {
        self.rows().join("\n")
    }

    /// The row the cursor is on: the prompt with the typed line.
    pub(crate) fn prompt(&self) -> String {
        let (row, _) = self.parser.screen().cursor_position();
        self.rows()[usize::from(row)].clone()
    }

    pub(crate) fn cursor_col(&self) -> u16 {
        self.parser.screen().cursor_position().1
    }

    /// The row right above the prompt.
    pub(crate) fn above_prompt(&self, n: usize) -> String {
        let (row, _) = self.parser.screen().cursor_position();
        self.rows()[usize::from(row) - n].clone()
    }

    #[track_caller]
    pub(crate) fn wait_for(&mut self, what: &str, done: impl Fn(&Term) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.pump();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn send(&mut self, text: &str) {
        self.session.send(text).unwrap();
        self.session.flush().unwrap();
    }

    /// Types `line` and Enter, then waits until the prompt is empty again.
    pub(crate) fn enter(&mut self, line: &str) {
        self.send(line);
        self.send("\r");
        self.wait_for(&format!("{line:?} to be submitted"), |t| {
            t.prompt() == "brain>" && t.screen().contains(&format!("brain> {line}"))
        });
    }

    /// SIGKILLs what runs on the terminal and waits until it is gone (reaped: a zombie
    /// would still look alive to a liveness check by pid).
    pub(crate) fn kill(mut self) {
        let pid = self.session.get_process().pid().as_raw().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -KILL {pid}");
        self.ended();
    }

    pub(crate) fn has_row(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.rows().iter().any(|r| pred(r))
    }

    /// Waits for the chat to exit; its exit code.
    pub(crate) fn exit_code(mut self) -> i32 {
        match self.ended() {
            expectrl::WaitStatus::Exited(_, code) => code,
            other => panic!("{other:?}\n{}", self.screen()),
        }
    }

    /// Waits (polling every 20 ms, at most [`TIMEOUT`]) until what runs on the terminal
    /// has ended and is reaped; how it ended.
    fn ended(&mut self) -> expectrl::WaitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.pump();
            match self.session.get_process().status().unwrap() {
                expectrl::WaitStatus::StillAlive => {}
                other => return other,
            }
            assert!(
                Instant::now() < deadline,
                "still running:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
