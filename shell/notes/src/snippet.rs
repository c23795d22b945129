//! Search snippets, built in Rust from a bounded window of a note. FTS5's `snippet()`
//! re-reads and re-tokenizes the whole note and scores every candidate window against every
//! match, which is quadratic in a note's size (47 s for one search of a 4 MB note). Here a
//! note's body is stored in chunks; a snippet reads chunks in order until one holds every
//! query word or the search's byte budget is spent, and picks the window of [`WINDOW`]
//! tokens with the most distinct query words, like FTS5 would.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Tokens in a snippet (what FTS5's `snippet()` was asked for before).
pub(crate) const WINDOW: usize = 20;

/// The query's words, folded as the index's tokenizer folds text (`unicode61
/// remove_diacritics 2`: case and diacritics ignored); each matches as a prefix.
pub(crate) struct Terms {
    folded: Vec<String>,
}

impl Terms {
    pub(crate) fn new(words: &[&str]) -> Self {
        Terms {
            folded: words.iter().map(|w| fold(w)).collect(),
        }
    }

    /// The first query word `token` starts with (after folding).
    fn matching(&self, token: &str) -> Option<usize> {
        let folded;
        let token = if token.is_ascii() {
            // The common case, without an allocation per token.
            return self.folded.iter().position(|word| {
                token.len() >= word.len()
                    && token.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            });
        } else {
            folded = fold(token);
            &folded
        };
        self.folded.iter().position(|word| token.starts_with(word))
    }

    pub(crate) fn len(&self) -> usize {
        self.folded.len()
    }
}

/// Lower case without diacritics ("Crème" → "creme").
fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A token: its byte range in the text and the query word it matches, if any.
struct Token {
    start: usize,
    end: usize,
    word: Option<usize>,
}

/// Runs of letters and digits, as the query's words are cut.
fn tokens(text: &str, terms: &Terms) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (at, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (start, c.is_alphanumeric()) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                tokens.push(Token {
                    start: from,
                    end: at,
                    word: terms.matching(&text[from..at]),
                });
                start = None;
            }
            _ => {}
        }
    }
    tokens
}

/// A snippet of one piece of text: how many distinct query words it shows, and the text
/// with those words in `[` `]`.
#[derive(Debug, PartialEq)]
pub(crate) struct Window {
    pub(crate) distinct: usize,
    pub(crate) text: String,
}

/// The best window of `text`: the most distinct query words, the first such; `None` when no
/// word matches. `more_before`/`more_after` say whether the text continues beyond this
/// piece (another chunk), for the ellipses.
pub(crate) fn best_window(
    text: &str,
    terms: &Terms,
    more_before: bool,
    more_after: bool,
) -> Option<Window> {
    let tokens = tokens(text, terms);
    if tokens.iter().all(|t| t.word.is_none()) {
        return None;
    }
    let width = WINDOW.min(tokens.len());
    // Sliding window: how often each word occurs in it.
    let mut counts = vec![0usize; terms.len()];
    let mut distinct = 0;
    let (mut best, mut best_start) = (0, 0);
    for (at, token) in tokens.iter().enumerate() {
        if let Some(word) = token.word {
            counts[word] += 1;
            if counts[word] == 1 {
                distinct += 1;
            }
        }
        if at >= width
            && let Some(word) = tokens[at - width].word
        {
            counts[word] -= 1;
            if counts[word] == 0 {
                distinct -= 1;
            }
        }
        if at + 1 >= width && distinct > best {
            best = distinct;
            best_start = at + 1 - width;
            if best == terms.len() {
                break;
            }
        }
    }
    // The first such window ends at a match; move it so its first match has some words of
    // context before it, keeping its last match inside.
    let inside = &tokens[best_start..best_start + width];
    let first = best_start + inside.iter().position(|t| t.word.is_some()).unwrap_or(0);
    let last = best_start + inside.iter().rposition(|t| t.word.is_some()).unwrap_or(0);
    let start = first
        .saturating_sub(width / 4)
        .max((last + 1).saturating_sub(width))
        .min(tokens.len() - width);
    Some(Window {
        distinct: best,
        text: render(
            text,
            &tokens[start..start + width],
            more_before || start > 0,
            more_after || start + width < tokens.len(),
        ),
    })
}

/// The first [`WINDOW`] tokens of `text`, for a note whose matches were not found within
/// the budget (or are in its title or tags only).
pub(crate) fn opening(text: &str, more_after: bool) -> String {
    let tokens = tokens(text, &Terms { folded: Vec::new() });
    let width = WINDOW.min(tokens.len());
    render(
        text,
        &tokens[..width],
        false,
        more_after || width < tokens.len(),
    )
}

/// The text from the first token to the last, matched tokens in brackets.
fn render(text: &str, window: &[Token], ellipsis_before: bool, ellipsis_after: bool) -> String {
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        return String::new();
    };
    let mut out = String::new();
    if ellipsis_before {
        out.push('…');
    }
    let mut at = first.start;
    for token in window.iter().filter(|t| t.word.is_some()) {
        out.push_str(&text[at..token.start]);
        out.push('[');
        out.push_str(&text[token.start..token.end]);
        out.push(']');
        at = token.end;
    }
    out.push_str(&text[at..last.end]);
    if ellipsis_after {
        out.push('…');
    }
    out
}

/// Splits a body into chunks of about `size` bytes, cut after whitespace where there is
/// some (so no word is cut), else at a character boundary.
pub(crate) fn chunks(body: &str, size: usize) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = body;
    while rest.len() > size {
        let mut cut = size;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut].rfind(char::is_whitespace) {
            // After the whitespace character (its length: it may be more than one byte).
            let after = space + rest[space..].chars().next().map_or(1, char::len_utf8);
            if after > size / 2 {
                cut = after;
            }
        }
        if cut == 0 {
            // A first character longer than `size` (impossible for sizes over 4).
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (chunk, tail) = rest.split_at(cut);
        chunks.push(chunk);
        rest = tail;
    }
    if !rest.is_empty() || chunks.is_empty() {
        chunks.push(rest);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(words: &[&str]) -> Terms {
        Terms::new(words)
    }

    #[test]
    fn matched_words_are_bracketed_with_context_before() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            + " Bought bread and milk today. The end";
        let window = best_window(&text, &terms(&["bread", "milk"]), false, false).unwrap();
        assert_eq!(window.distinct, 2);
        assert!(
            window.text.contains("Bought [bread] and [milk] today"),
            "{}",
            window.text
        );
        assert!(window.text.starts_with('…') && window.text.contains("w9"));
        assert!(!window.text.ends_with('…'), "{}", window.text);
    }

    #[test]
    fn the_window_with_most_distinct_words_wins() {
        let filler = "x ".repeat(50);
        let text = format!("rust {filler} rust and borrowing {filler}");
        let window = best_window(&text, &terms(&["rust", "borrow"]), false, false).unwrap();
        assert_eq!(window.distinct, 2);
        assert!(
            window.text.contains("[rust] and [borrowing]"),
            "{}",
            window.text
        );
    }

    #[test]
    fn case_and_diacritics_are_folded_and_words_are_prefixes() {
        let window = best_window(
            "La Crème brûlée du CAFÉ",
            &terms(&["creme", "cafe"]),
            false,
            false,
        )
        .unwrap();
        assert_eq!(window.text, "La [Crème] brûlée du [CAFÉ]");
        assert!(best_window("nothing here", &terms(&["rust"]), false, false).is_none());
        let window = best_window("Ownership rules", &terms(&["owner"]), true, true).unwrap();
        assert_eq!(window.text, "…[Ownership] rules…");
    }

    #[test]
    fn an_opening_is_the_first_tokens() {
        let text = (0..30)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let opening = opening(&text, false);
        assert!(
            opening.starts_with("w0, w1") && opening.ends_with("w19…"),
            "{opening}"
        );
        assert_eq!(super::opening("", false), "");
    }

    #[test]
    fn chunks_cut_after_whitespace_and_keep_every_byte() {
        let body = "ab cd ef gh ij kl mn op ".repeat(100) + "é".repeat(50).as_str();
        let parts = chunks(&body, 64);
        assert_eq!(parts.concat(), body);
        assert!(parts.iter().all(|p| p.len() <= 64), "{parts:?}");
        assert!(parts[0].ends_with(' '), "{:?}", parts[0]);
        let no_space = "x".repeat(200);
        assert_eq!(chunks(&no_space, 64).concat(), no_space);
        assert_eq!(chunks("", 64), [""]);
    }
}
