//! The section templates and the typed content each one renders. These shapes are a
//! contract: a generator asked for `site-section:<template>` answers with exactly one of
//! them (snake_case keys, no others), content files hold them as YAML frontmatter, and the
//! HTML templates read them. The JSON schemas handed to generators come from these types,
//! so the doc comments below are what a language model reads about each field.

use brain_plugin_api::{JsonSchema, schema_of};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A section template: what a section of a page is and which content it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    Hero,
    Features,
    Products,
    Cta,
    Text,
    NoteList,
}

impl Template {
    /// Every template, in the order they are listed to people.
    pub const ALL: [Template; 6] = [
        Template::Hero,
        Template::Features,
        Template::Products,
        Template::Cta,
        Template::Text,
        Template::NoteList,
    ];

    /// The name used in `brain.toml`, content files and file names (`note-list`).
    pub fn name(self) -> &'static str {
        match self {
            Template::Hero => "hero",
            Template::Features => "features",
            Template::Products => "products",
            Template::Cta => "cta",
            Template::Text => "text",
            Template::NoteList => "note-list",
        }
    }

    pub fn parse(name: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.name() == name)
    }

    /// "hero, features, products, cta, text, note-list", for error messages.
    pub fn allowed() -> String {
        Template::ALL.map(Template::name).join(", ")
    }

    /// The generation request kind a generator dispatches on: `site-section:<name>`.
    pub fn generation_kind(self) -> String {
        format!("site-section:{}", self.name())
    }

    /// What the section is for, for people and language models alike.
    pub fn description(self) -> &'static str {
        match self {
            Template::Hero => {
                "The band at the top of a page: a headline saying what the site offers, a \
                 one-sentence subheadline and a call-to-action button."
            }
            Template::Features => {
                "A grid of cards, each one thing the site's author does, knows or offers, drawn \
                 from a note."
            }
            Template::Products => {
                "The products or services offered, one card each, from the notes tagged \
                 `product` (may be empty)."
            }
            Template::Cta => {
                "A call to action: a short headline, one or two sentences and a button."
            }
            Template::Text => "A titled block of prose, written in Markdown.",
            Template::NoteList => "A list of notes, each with its title and a one-line summary.",
        }
    }

    /// The JSON schema of the content this template renders.
    pub fn schema(self) -> Value {
        match self {
            Template::Hero => schema_of::<Hero>(),
            Template::Features => schema_of::<Features>(),
            Template::Products => schema_of::<Products>(),
            Template::Cta => schema_of::<Cta>(),
            Template::Text => schema_of::<Text>(),
            Template::NoteList => schema_of::<NoteList>(),
        }
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The top of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Hero {
    /// What the site offers, in at most about eight words.
    pub headline: String,
    /// One sentence expanding on the headline.
    pub subheadline: String,
    /// The button's label, e.g. "Read the notes".
    pub cta_text: String,
    /// Where the button leads: an absolute URL, or a path of this site such as `/about`.
    pub cta_url: String,
}

/// A grid of feature cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// The section's heading.
    pub title: String,
    /// Three to six cards.
    pub items: Vec<Feature>,
}

/// One feature card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// A short title, two to five words.
    pub title: String,
    /// One or two sentences.
    pub description: String,
    /// The path of the note this card comes from (e.g. `ideas/rust.md`); null or absent
    /// when it comes from none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The products or services offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Products {
    /// The section's heading.
    pub title: String,
    /// One card per product note; empty when there are none.
    pub items: Vec<Product>,
}

/// One product card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// The product's name.
    pub name: String,
    /// What it is and who it is for, in one or two sentences.
    pub description: String,
    /// The path of the note describing it; null or absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A call to action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Cta {
    /// A short, direct headline.
    pub headline: String,
    /// One or two sentences saying why to act.
    pub text: String,
    /// The button's label.
    pub button_text: String,
    /// Where the button leads: an absolute URL, a `mailto:` link or a path of this site.
    pub button_url: String,
}

/// A titled block of prose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The section's heading.
    pub title: String,
    /// The text, in Markdown (paragraphs, lists, links, emphasis; no HTML).
    pub body: String,
}

/// A list of notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoteList {
    /// The section's heading.
    pub title: String,
    pub notes: Vec<NoteItem>,
}

/// One entry of a note list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoteItem {
    /// The note's title.
    pub title: String,
    /// The note's path in the notes folder, e.g. `ideas/rust.md`.
    pub path: String,
    /// One sentence saying what the note is about.
    pub summary: String,
}

/// The content of one section, of whichever template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SectionContent {
    Hero(Hero),
    Features(Features),
    Products(Products),
    Cta(Cta),
    Text(Text),
    NoteList(NoteList),
}

/// A value that does not fit a template's type: where (`items[1].title`, empty for the
/// whole value) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

impl SectionContent {
    pub fn template(&self) -> Template {
        match self {
            SectionContent::Hero(_) => Template::Hero,
            SectionContent::Features(_) => Template::Features,
            SectionContent::Products(_) => Template::Products,
            SectionContent::Cta(_) => Template::Cta,
            SectionContent::Text(_) => Template::Text,
            SectionContent::NoteList(_) => Template::NoteList,
        }
    }

    /// Reads `value` as `template`'s content; an error names the field at fault.
    pub fn from_value(template: Template, value: Value) -> Result<SectionContent, FieldError> {
        Ok(match template {
            Template::Hero => SectionContent::Hero(typed(value)?),
            Template::Features => SectionContent::Features(typed(value)?),
            Template::Products => SectionContent::Products(typed(value)?),
            Template::Cta => SectionContent::Cta(typed(value)?),
            Template::Text => SectionContent::Text(typed(value)?),
            Template::NoteList => SectionContent::NoteList(typed(value)?),
        })
    }
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        FieldError {
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_match_serde() {
        for t in Template::ALL {
            assert_eq!(Template::parse(t.name()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.name()));
        }
        assert_eq!(Template::parse("herox"), None);
        assert_eq!(
            Template::allowed(),
            "hero, features, products, cta, text, note-list"
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        let err = SectionContent::from_value(
            Template::Features,
            json!({"title": "x", "items": [
                {"title": "a", "description": "b", "note": null},
                {"title": 3, "description": "b", "note": "x.md"}
            ]}),
        )
        .unwrap_err();
        assert_eq!(err.path, "items[1].title");
        assert!(err.message.starts_with("invalid type"), "{err}");
        let err = SectionContent::from_value(Template::Hero, json!({"headline": "x"})).unwrap_err();
        assert!(err.message.contains("missing field"), "{err}");
    }

    #[test]
    fn schemas_are_closed_objects() {
        let schema = Template::Features.schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["title", "items"]));
        let hero = Template::Hero.schema();
        assert_eq!(
            hero["required"],
            json!(["headline", "subheadline", "cta_text", "cta_url"])
        );
    }

    #[test]
    fn a_card_may_come_from_no_note() {
        for note in [json!(null), json!("ideas.md")] {
            let content = SectionContent::from_value(
                Template::Features,
                json!({"title": "x", "items": [{"title": "a", "description": "b", "note": note}]}),
            )
            .unwrap();
            let SectionContent::Features(features) = content else {
                panic!("not features");
            };
            assert_eq!(features.items[0].note.as_deref(), note.as_str());
        }
        assert!(
            SectionContent::from_value(
                Template::Products,
                json!({"title": "x", "items": [{"name": "a", "description": "b"}]}),
            )
            .is_ok()
        );
    }
}
