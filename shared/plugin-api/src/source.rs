//! Where a call comes from (`cli`, `mcp:<session>`, `matrix:<room>`) and where an event
//! goes: to everyone, or to the source that started the work.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The origin of a call or a job: a kind (`cli`, `mcp`, `matrix`, `system`, …) and, for
/// interfaces with many conversations, the conversation (`mcp:<session>`, `matrix:<room>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Source(String);

/// A source string that is not `kind` or `kind:detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid source {value:?}: expected `kind` or `kind:detail`, where kind is 1-32 of a-z, 0-9, '-' \
     (e.g. `cli`, `mcp:session-1`, `matrix:!room:example.org`)"
)]
pub struct InvalidSource {
    pub value: String,
}

impl Source {
    /// The terminal interface.
    pub fn cli() -> Self {
        Self("cli".into())
    }

    /// Work the shell starts on its own (housekeeping, indexing at start-up).
    pub fn system() -> Self {
        Self("system".into())
    }

    /// A source of the given kind and conversation, e.g. `Source::with_detail("mcp", "s1")`.
    pub fn with_detail(kind: &str, detail: &str) -> Result<Self, InvalidSource> {
        format!("{kind}:{detail}").parse()
    }

    /// The kind before the first `:` (`matrix` for `matrix:!room:server`).
    pub fn kind(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(kind, _)| kind)
    }

    /// The conversation after the first `:`, if any.
    pub fn detail(&self) -> Option<&str> {
        self.0.split_once(':').map(|(_, detail)| detail)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Source {
    type Err = InvalidSource;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (kind, detail) = match value.split_once(':') {
            Some((kind, detail)) => (kind, Some(detail)),
            None => (value, None),
        };
        let kind_ok = (1..=32).contains(&kind.len())
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        // The detail is an opaque id chosen by an interface; only forbid what would make logs
        // and keys ambiguous.
        let detail_ok = detail
            .is_none_or(|d| !d.is_empty() && d.len() <= 255 && !d.chars().any(char::is_control));
        if kind_ok && detail_ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidSource {
                value: value.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for Source {
    type Error = InvalidSource;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Source> for String {
    fn from(source: Source) -> Self {
        source.0
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "source")]
pub enum Target {
    /// Every subscriber.
    Broadcast,
    /// The interface conversation that started the work.
    Source(Source),
}

impl Target {
    /// Whether a subscriber listening as `me` should see an event with this target. A
    /// subscriber listening as a bare kind (`cli`) also sees events for its conversations
    /// (`cli` sees nothing else; `mcp` sees `mcp:*`).
    pub fn reaches(&self, me: &Source) -> bool {
        match self {
            Target::Broadcast => true,
            Target::Source(to) => to == me || (me.detail().is_none() && to.kind() == me.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        fn check(input: &str, ok: bool) {
            assert_eq!(input.parse::<Source>().is_ok(), ok, "{input:?}");
        }
        check("cli", true);
        check("mcp:3f2a", true);
        check("matrix:!abc:example.org", true);
        check("", false);
        check("CLI", false);
        check("mcp:", false);
        check("a b", false);
        check("mcp:a\nb", false);
    }

    #[test]
    fn kind_and_detail() {
        let s: Source = "matrix:!r:example.org".parse().unwrap();
        assert_eq!(s.kind(), "matrix");
        assert_eq!(s.detail(), Some("!r:example.org"));
        assert_eq!(Source::cli().detail(), None);
    }

    #[test]
    fn targets_reach_their_source() {
        let s1 = Source::with_detail("mcp", "s1").unwrap();
        let s2 = Source::with_detail("mcp", "s2").unwrap();
        let to_s1 = Target::Source(s1.clone());
        assert!(to_s1.reaches(&s1));
        assert!(!to_s1.reaches(&s2));
        assert!(to_s1.reaches(&"mcp".parse().unwrap()));
        assert!(!to_s1.reaches(&Source::cli()));
        assert!(Target::Broadcast.reaches(&s2));
    }

    #[test]
    fn error_names_the_value() {
        let err = "Bad Kind".parse::<Source>().unwrap_err().to_string();
        assert!(err.contains("\"Bad Kind\""), "{err}");
    }
}
