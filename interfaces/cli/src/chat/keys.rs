//! Terminal input, pure: the bytes a terminal in raw mode sends, decoded into keys and
//! pastes. The chat reads stdin itself rather than through crossterm's event reader, whose
//! edge-triggered poll drops the keys that arrive together with a resize signal (a key typed
//! right after resizing the window was lost until the next one).
//!
//! Decoded: UTF-8 characters; Enter (CR or LF), Tab, Backspace (DEL or BS), Ctrl-letters;
//! Esc-prefixed Alt-characters and Alt-Backspace; the CSI and SS3 sequences of xterm-like
//! terminals for arrows, Home, End, Delete and Ctrl/Alt-arrows (word moves); bracketed paste
//! (`ESC [200~ … ESC [201~`). Anything else is skipped whole. A sequence or character cut at
//! the end of a read waits for the next read; a lone Esc there is the Esc key.

/// A key the line editor understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Char(char),
    /// Ctrl and a letter (given in lower case).
    Ctrl(char),
    /// Alt (sent as an Esc prefix) and a character.
    Alt(char),
    Enter,
    Tab,
    Backspace,
    AltBackspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    Up,
    Down,
    Home,
    End,
    Esc,
}

/// One thing typed: a key, or a paste (kept whole so it cannot run commands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    Key(Key),
    Paste(String),
}

const ESC: u8 = 0x1b;
const PASTE_END: &[u8] = b"\x1b[201~";

/// How long a CSI sequence may be before it is taken for garbage.
const MAX_SEQUENCE: usize = 32;

/// Keeps what a read left incomplete.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    pending: Vec<u8>,
    /// Inside a bracketed paste: what was pasted so far.
    paste: Option<Vec<u8>>,
}

enum Parsed {
    Input(Input, usize),
    PasteStart(usize),
    Skip(usize),
    Incomplete,
}

impl Decoder {
    /// Decodes one read's bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<Input> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            let rest = &buf[i..];
            if let Some(paste) = &mut self.paste {
                if rest.starts_with(PASTE_END) {
                    out.push(Input::Paste(String::from_utf8_lossy(paste).into_owned()));
                    self.paste = None;
                    i += PASTE_END.len();
                } else if PASTE_END.starts_with(rest) {
                    break; // the end marker, cut by the read
                } else {
                    paste.push(rest[0]);
                    i += 1;
                }
                continue;
            }
            match parse(rest) {
                Parsed::Input(input, len) => {
                    out.push(input);
                    i += len;
                }
                Parsed::PasteStart(len) => {
                    self.paste = Some(Vec::new());
                    i += len;
                }
                Parsed::Skip(len) => i += len,
                Parsed::Incomplete => break,
            }
        }
        self.pending = buf[i..].to_vec();
        if self.pending == [ESC] && self.paste.is_none() {
            self.pending.clear();
            out.push(Input::Key(Key::Esc));
        }
        out
    }
}

fn key(key: Key, len: usize) -> Parsed {
    Parsed::Input(Input::Key(key), len)
}

fn parse(b: &[u8]) -> Parsed {
    match b[0] {
        ESC => escape(b),
        b'\r' | b'\n' => key(Key::Enter, 1),
        b'\t' => key(Key::Tab, 1),
        0x7f | 0x08 => key(Key::Backspace, 1),
        c @ 0x01..=0x1a => key(Key::Ctrl(char::from(c - 1 + b'a')), 1),
        c if c < 0x20 => Parsed::Skip(1),
        c => {
            let len = match c {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                0x80..=0xff => return Parsed::Skip(1),
                _ => 1,
            };
            if b.len() < len {
                return Parsed::Incomplete;
            }
            match std::str::from_utf8(&b[..len])
                .ok()
                .and_then(|s| s.chars().next())
            {
                Some(c) => key(Key::Char(c), len),
                None => Parsed::Skip(1),
            }
        }
    }
}

fn escape(b: &[u8]) -> Parsed {
    let Some(&next) = b.get(1) else {
        return Parsed::Incomplete;
    };
    match next {
        b'[' => csi(b),
        b'O' => match b.get(2) {
            None => Parsed::Incomplete,
            Some(c) => match arrow(*c) {
                Some(k) => key(k, 3),
                None => Parsed::Skip(3),
            },
        },
        0x7f | 0x08 => key(Key::AltBackspace, 2),
        c if c.is_ascii_graphic() => key(Key::Alt(char::from(c)), 2),
        // Esc Esc, Esc and a control character: the Esc key, then the rest on its own.
        _ => key(Key::Esc, 1),
    }
}

/// The final byte of an arrow, Home or End sequence.
fn arrow(c: u8) -> Option<Key> {
    Some(match c {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        _ => return None,
    })
}

/// `ESC [ params final`.
fn csi(b: &[u8]) -> Parsed {
    let Some(end) = b.iter().skip(2).position(|c| (0x40..=0x7e).contains(c)) else {
        return if b.len() < MAX_SEQUENCE {
            Parsed::Incomplete
        } else {
            Parsed::Skip(b.len())
        };
    };
    let end = end + 2;
    let params = &b[2..end];
    let len = end + 1;
    let k = match (params, b[end]) {
        (b"1;5" | b"1;3" | b"5" | b"3", b'C') => Some(Key::WordRight),
        (b"1;5" | b"1;3" | b"5" | b"3", b'D') => Some(Key::WordLeft),
        (_, c @ (b'A' | b'B' | b'C' | b'D' | b'H' | b'F')) => arrow(c),
        (b"1" | b"7", b'~') => Some(Key::Home),
        (b"4" | b"8", b'~') => Some(Key::End),
        (b"3", b'~') => Some(Key::Delete),
        (b"200", b'~') => return Parsed::PasteStart(len),
        _ => None,
    };
    match k {
        Some(k) => key(k, len),
        None => Parsed::Skip(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(inputs: Vec<Input>) -> Vec<Key> {
        inputs
            .into_iter()
            .map(|i| match i {
                Input::Key(k) => k,
                Input::Paste(p) => panic!("paste {p:?}"),
            })
            .collect()
    }

    #[test]
    fn bytes_to_keys() {
        use Key::*;
        let cases: [(&[u8], &[Key]); 14] = [
            (b"ab", &[Char('a'), Char('b')]),
            ("é日".as_bytes(), &[Char('é'), Char('日')]),
            (
                b"\r\n\t\x7f\x08",
                &[Enter, Enter, Tab, Backspace, Backspace],
            ),
            (
                b"\x01\x03\x04\x15\x17",
                &[Ctrl('a'), Ctrl('c'), Ctrl('d'), Ctrl('u'), Ctrl('w')],
            ),
            (b"\x1b[A\x1b[B\x1b[C\x1b[D", &[Up, Down, Right, Left]),
            (b"\x1bOA\x1bOH\x1bOF", &[Up, Home, End]),
            (
                b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[3~",
                &[Home, End, Home, End, Delete],
            ),
            (
                b"\x1b[1;5C\x1b[1;5D\x1b[1;3D",
                &[WordRight, WordLeft, WordLeft],
            ),
            (b"\x1b[1;2A", &[Up]),
            (b"\x1bb\x1bf\x1b\x7f", &[Alt('b'), Alt('f'), AltBackspace]),
            (b"\x1b[15~x\x1b[?1;2cy", &[Char('x'), Char('y')]),
            (b"\x1b", &[Esc]),
            (b"\x1b\x1b[A", &[Esc, Up]),
            (b"\x00\x1cz", &[Char('z')]),
        ];
        for (bytes, expected) in cases {
            assert_eq!(keys(Decoder::default().feed(bytes)), expected, "{bytes:?}");
        }
    }

    #[test]
    fn sequences_cut_by_a_read_wait_for_the_next() {
        let mut d = Decoder::default();
        assert_eq!(keys(d.feed(b"a\x1b[")), [Key::Char('a')]);
        assert_eq!(keys(d.feed(b"1;5")), []);
        assert_eq!(keys(d.feed(b"Cb")), [Key::WordRight, Key::Char('b')]);
        let e = "é".as_bytes();
        assert_eq!(keys(d.feed(&e[..1])), []);
        assert_eq!(keys(d.feed(&e[1..])), [Key::Char('é')]);
    }

    #[test]
    fn pastes_are_kept_whole() {
        let mut d = Decoder::default();
        let got = d.feed(b"x\x1b[200~/quit\r\nnext\x1b[20");
        assert_eq!(got, [Input::Key(Key::Char('x'))]);
        let got = d.feed(b"1~y");
        assert_eq!(
            got,
            [
                Input::Paste("/quit\r\nnext".into()),
                Input::Key(Key::Char('y'))
            ]
        );
    }
}
