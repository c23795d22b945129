//! Tab completion's last step, pure: the longest prefix the candidates share, which a Tab
//! fills in when there are several. What the candidates are comes from the command table
//! ([`brain_plugin_api::CommandTable::completion`]) and the shell's completion sources.

/// The longest prefix all `words` share (whole characters).
pub(crate) fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut end = first.len();
    for word in &words[1..] {
        end = first
            .char_indices()
            .zip(word.chars())
            .find(|((_, a), b)| a != b)
            .map_or(end.min(word.len()), |((i, _), _)| i.min(end));
    }
    first[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_table() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (input, expected) in [
            (&[][..], ""),
            (&["batch_01a", "batch_01b"][..], "batch_01"),
            (&["preview", "production"], "pr"),
            (&["héro", "hérisson"], "hér"),
            (&["same"], "same"),
            (&["abc", "ab"], "ab"),
        ] {
            assert_eq!(common_prefix(&words(input)), expected, "{input:?}");
        }
    }
}
