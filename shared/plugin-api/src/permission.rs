//! Who may run what: three permission levels and the caller of a tool.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source::Source;

/// A permission level. Ordered: `Public < Trusted < Anchor`; a caller may run a tool whose
/// visibility is at most its own level.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Anyone the interface lets in.
    Public,
    /// People the anchor trusts.
    Trusted,
    /// The owner of the brain.
    #[default]
    Anchor,
}

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::Public, Permission::Trusted, Permission::Anchor];

    /// Whether a caller at this level may use something visible at `visibility`.
    pub fn allows(self, visibility: Permission) -> bool {
        self >= visibility
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::Trusted => "trusted",
            Permission::Anchor => "anchor",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who calls a tool: the interface conversation, its permission level and, when the
/// interface knows it, the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub source: Source,
    pub permission: Permission,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl Caller {
    /// The owner at a terminal.
    pub fn cli() -> Self {
        Self {
            source: Source::cli(),
            permission: Permission::Anchor,
            user_id: None,
        }
    }

    pub fn new(source: Source, permission: Permission) -> Self {
        Self {
            source,
            permission,
            user_id: None,
        }
    }

    pub fn with_user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        fn check(caller: Permission, visibility: Permission, allowed: bool) {
            assert_eq!(
                caller.allows(visibility),
                allowed,
                "{caller} running a {visibility} tool"
            );
        }
        check(Permission::Anchor, Permission::Anchor, true);
        check(Permission::Anchor, Permission::Public, true);
        check(Permission::Trusted, Permission::Anchor, false);
        check(Permission::Trusted, Permission::Trusted, true);
        check(Permission::Public, Permission::Trusted, false);
        check(Permission::Public, Permission::Public, true);
    }
}
