//! What generated content came from, so the site can follow the notes and never overwrite
//! a person's edit. Generating a section records, in
//! `.brain/site/generated/<route>/<section>.json`, a hash of the file it wrote, a hash of
//! the request (prompt, template, schema: the site's settings as the generator saw them)
//! and the notes it drew on, each with its content hash. A later `site_generate` compares: a file whose hash differs was
//! edited by hand (kept); a record whose notes or request differ from what the section would
//! be generated from now is stale (regenerated, saying why).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use brain_plugin_api::{GenerationRequest, NoteHit, SideEffect};
use serde::{Deserialize, Serialize};

use crate::config::{Route, Section};

/// What one generated section came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The hash of the content file as written.
    pub(crate) file: String,
    /// The hash of the request: prompt, template and schema.
    pub(crate) request: String,
    /// The notes drawn on: path → content hash.
    pub(crate) notes: BTreeMap<String, String>,
}

impl Record {
    pub(crate) fn new(bytes: &[u8], request: &GenerationRequest, notes: &[&NoteHit]) -> Record {
        Record {
            file: hash(bytes),
            request: request_hash(request),
            notes: note_hashes(notes),
        }
    }
}

/// Where a preview section's record lives: `<data>/site/generated/<route>/<section>.json`.
pub(crate) fn record_path(data: &Path, route: &Route, section: &Section) -> PathBuf {
    data.join("site")
        .join("generated")
        .join(&route.id)
        .join(format!("{}.json", section.id))
}

/// The staged write of a section's record.
pub(crate) fn record_write(
    data: &Path,
    route: &Route,
    section: &Section,
    record: &Record,
) -> SideEffect {
    SideEffect::WriteFile {
        path: record_path(data, route, section),
        // A plain struct of strings always serializes.
        bytes: serde_json::to_vec_pretty(record).unwrap_or_default(),
    }
}

pub(crate) fn read_record(data: &Path, route: &Route, section: &Section) -> Option<Record> {
    let bytes = std::fs::read(record_path(data, route, section)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A section's preview content as it stands against its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// No content file.
    Missing,
    /// A file no generation recorded, or changed since: a person's. Never overwritten
    /// without `force`, and then kept beside as `.orig`.
    Edited,
    /// Generated and unchanged; whether its sources changed is for [`why_stale`].
    Generated(Record),
}

/// `file`'s state against its record.
pub(crate) fn state(file: &Path, record: Option<Record>) -> State {
    let Ok(bytes) = std::fs::read(file) else {
        return State::Missing;
    };
    match record {
        Some(record) if record.file == hash(&bytes) => State::Generated(record),
        _ => State::Edited,
    }
}

/// Why content generated from `record` would come out differently now, from `request` and
/// `notes`: "1 new note (ideas/rust.md), 1 changed note" — `None` when nothing changed.
/// `kind` names the notes ("product note").
pub(crate) fn why_stale(
    record: &Record,
    request: &GenerationRequest,
    notes: &[&NoteHit],
    kind: &str,
) -> Option<String> {
    let now = note_hashes(notes);
    let mut reasons = Vec::new();
    let added: Vec<&String> = now
        .keys()
        .filter(|p| !record.notes.contains_key(*p))
        .collect();
    let changed = now
        .iter()
        .filter(|(p, h)| record.notes.get(*p).is_some_and(|old| old != *h))
        .count();
    let gone = record
        .notes
        .keys()
        .filter(|p| !now.contains_key(*p))
        .count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if !added.is_empty() {
        let names: Vec<&str> = added.iter().take(3).map(|p| p.as_str()).collect();
        reasons.push(format!(
            "{} new {kind}{} ({}{})",
            added.len(),
            plural(added.len()),
            names.join(", "),
            if added.len() > 3 { ", …" } else { "" }
        ));
    }
    if changed > 0 {
        reasons.push(format!("{changed} changed {kind}{}", plural(changed)));
    }
    if gone > 0 {
        reasons.push(format!("{gone} {kind}{} no longer found", plural(gone)));
    }
    if record.request != request_hash(request) {
        reasons.push("the site's settings or the prompt changed".to_owned());
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

fn note_hashes(notes: &[&NoteHit]) -> BTreeMap<String, String> {
    notes
        .iter()
        .map(|n| (n.path.clone(), n.hash.clone()))
        .collect()
}

/// The request as the generator sees it, minus the notes (tracked one by one).
fn request_hash(request: &GenerationRequest) -> String {
    let mut context = request.context.clone();
    if let Some(fields) = context.as_object_mut() {
        fields.remove("notes");
        fields.remove("products");
    }
    let text = format!(
        "{}\n{}\n{}\n{}",
        request.kind, request.prompt, request.schema, context
    );
    hash(text.as_bytes())
}

/// A content hash in hex (16 characters: enough to tell versions apart).
pub(crate) fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(path: &str, hash: &str) -> NoteHit {
        NoteHit {
            path: path.into(),
            title: path.into(),
            tags: Vec::new(),
            summary: String::new(),
            snippet: String::new(),
            score: 1.0,
            hash: hash.into(),
        }
    }

    fn request(prompt: &str) -> GenerationRequest {
        GenerationRequest {
            kind: "site-section:products".into(),
            prompt: prompt.into(),
            schema: json!({"type": "object"}),
            context: json!({"site": {"title": "T"}, "notes": [1], "products": [2]}),
        }
    }

    #[test]
    fn staleness_says_what_changed() {
        let (a, b, c) = (note("a.md", "1"), note("b.md", "2"), note("c.md", "3"));
        let record = Record::new(b"text", &request("p"), &[&a, &b]);
        assert_eq!(why_stale(&record, &request("p"), &[&b, &a], "note"), None);
        let b2 = note("b.md", "22");
        assert_eq!(
            why_stale(&record, &request("p"), &[&a, &b2, &c], "product note").as_deref(),
            Some("1 new product note (c.md), 1 changed product note")
        );
        assert_eq!(
            why_stale(&record, &request("q"), &[&a], "note").as_deref(),
            Some("1 note no longer found, the site's settings or the prompt changed")
        );
    }

    #[test]
    fn a_file_changed_since_it_was_generated_is_a_person_s() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hero.md");
        assert_eq!(state(&file, None), State::Missing);
        std::fs::write(&file, "generated").unwrap();
        let record = Record::new(b"generated", &request("p"), &[]);
        assert_eq!(
            state(&file, Some(record.clone())),
            State::Generated(record.clone())
        );
        assert_eq!(state(&file, None), State::Edited);
        std::fs::write(&file, "edited").unwrap();
        assert_eq!(state(&file, Some(record)), State::Edited);
    }
}
