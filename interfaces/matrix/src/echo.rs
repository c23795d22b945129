//! Keeping what people typed out of the bot's replies: a command longer than
//! [`MAX_COMMAND_BYTES`] gets a short refusal instead of running, and any reply that repeats
//! a long piece of the command (an unknown command's name, an id, a question the answer
//! quotes) repeats at most [`ECHO_CHARS`] characters of it. A reply that repeated a 60 KB
//! message whole would be refused by the homeserver (Synapse's 64 KiB event limit) and the
//! person would get no answer at all. Pure functions.

/// The longest message the bot runs as a command or question, in bytes (UTF-8).
pub const MAX_COMMAND_BYTES: usize = 4096;

pub use brain_plugin_api::{ECHO_CHARS, shorten};

/// The longest reply the bot sends, in bytes of Markdown: far below the homeserver's event
/// limit even with the HTML rendering beside it. Longer replies are cut.
pub const MAX_REPLY_BYTES: usize = 24 * 1024;

/// The answer to a message of `bytes` bytes over the limit. Names the limit, quotes nothing.
pub fn too_long(bytes: usize) -> String {
    format!(
        "⛔ That message is {} KB; commands and questions are limited to {} KB ({MAX_COMMAND_BYTES} bytes). Nothing was run.",
        bytes.div_ceil(1024),
        MAX_COMMAND_BYTES / 1024
    )
}

/// `reply` with every repetition of a long piece of `inputs` (longer than [`ECHO_CHARS`])
/// shortened to [`ECHO_CHARS`] characters, as written or as Rust's `{:?}` quotes it (which
/// tools' messages use), and cut to [`MAX_REPLY_BYTES`].
pub fn clip_echoes(reply: &str, inputs: &[&str]) -> String {
    let mut out = brain_plugin_api::clip_echoes(reply, inputs);
    if out.len() > MAX_REPLY_BYTES {
        let mut end = MAX_REPLY_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("\n\n… (cut: the reply was too long to send)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_are_shortened_wherever_a_reply_repeats_them() {
        let long = "x".repeat(3000);
        let reply = format!("No note matches {long:?}. Unknown command `!{long}`.");
        let clipped = clip_echoes(&reply, &[&long]);
        assert!(!clipped.contains(&"x".repeat(ECHO_CHARS + 1)), "{clipped}");
        assert!(clipped.contains(&format!("{}…", "x".repeat(ECHO_CHARS))));
        assert!(clipped.starts_with("No note matches \""));

        // Quoted with escapes by `{:?}`: the escaped form is shortened too.
        let quoty = format!("say \"{}\"\n", "y".repeat(500));
        let reply = format!("No note matches {quoty:?}.");
        assert!(!clip_echoes(&reply, &[&quoty]).contains(&"y".repeat(ECHO_CHARS + 1)));
    }

    #[test]
    fn short_inputs_and_other_text_are_left_alone() {
        assert_eq!(
            clip_echoes("Unknown command `!frob`.", &["frob"]),
            "Unknown command `!frob`."
        );
        let long_reply = "z".repeat(5000);
        assert_eq!(clip_echoes(&long_reply, &["q"]), long_reply);
    }

    #[test]
    fn overlong_replies_are_cut_on_a_char_boundary() {
        let reply = "é".repeat(MAX_REPLY_BYTES);
        let clipped = clip_echoes(&reply, &[]);
        assert!(clipped.len() < MAX_REPLY_BYTES + 100);
        assert!(clipped.ends_with("too long to send)"));
    }

    #[test]
    fn the_refusal_names_the_limit_and_rounds_up() {
        assert_eq!(
            too_long(60_001),
            "⛔ That message is 59 KB; commands and questions are limited to 4 KB (4096 bytes). Nothing was run."
        );
        assert!(too_long(4097).contains("5 KB"));
        assert_eq!(shorten("abc", 2), "ab…");
        assert_eq!(shorten("ab", 2), "ab");
    }
}
