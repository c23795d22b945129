//! `brain init [DIR]`: scaffolds a brain — a commented `brain.toml`, four example notes (two of them published) and
//! a `.gitignore` for the `.brain/` data folder. It never overwrites: each file is created
//! only if absent (`create_new`, so a file appearing meanwhile is kept too), and every file
//! is reported as `created` or `kept`. Running it again, or in a folder that already has
//! notes, is therefore always safe.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use brain_core::CONFIG_FILE;

use crate::cli::InitArgs;
use crate::commands::Brain;
use crate::output;

/// The folder the notes live in.
const NOTES_DIR: &str = "notes";

pub(crate) fn run(brain: &Brain, args: InitArgs) -> anyhow::Result<()> {
    brain.init_logging()?;
    let dir = args.target.unwrap_or_else(|| brain.dir.clone());
    std::fs::create_dir_all(dir.join(NOTES_DIR))
        .with_context(|| format!("cannot create {}", dir.join(NOTES_DIR).display()))?;
    let name = brain_name(&dir)?;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();

    let mut files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from(CONFIG_FILE), brain_toml(&name)),
        (PathBuf::from(".gitignore"), GITIGNORE.to_owned()),
    ];
    for (file, text) in NOTES {
        files.push((
            Path::new(NOTES_DIR).join(file),
            text.replace("{date}", &today),
        ));
    }
    for (relative, text) in &files {
        let path = dir.join(relative);
        let created = create_new(&path, text)?;
        output::line(&format!(
            "{} {}",
            if created { "created" } else { "kept" },
            relative.display()
        ))?;
        if !created && relative == Path::new(".gitignore") && !ignores_data(&path) {
            eprintln!("note: add `.brain/` to .gitignore: it holds the job database and logs");
        }
    }
    let start = if dir == Path::new(".") {
        "brain start".to_owned()
    } else {
        format!("brain --dir {} start", dir.display())
    };
    eprintln!(
        "brain {name:?} is ready in {}; run it with `{start}`",
        dir.display()
    );
    Ok(())
}

/// The directory's own name, which is what people call the folder (`.` is resolved first).
fn brain_name(dir: &Path) -> anyhow::Result<String> {
    let absolute = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    Ok(absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.trim().is_empty())
        // The file system root has no name.
        .unwrap_or_else(|| "brain".to_owned()))
}

/// Writes `text` to `path` unless it exists; true when it wrote.
fn create_new(path: &Path, text: &str) -> anyhow::Result<bool> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Whether an existing `.gitignore` already keeps the data folder out (roughly: a line that
/// names it); only used to suggest a line, never to edit the file.
fn ignores_data(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .map(str::trim)
            .any(|line| matches!(line, ".brain" | ".brain/" | "/.brain" | "/.brain/"))
    })
}

/// `brain.toml` for a brain called `name`, every section explained.
fn brain_toml(name: &str) -> String {
    // A TOML string literal, escaped: folder names may hold quotes or backslashes.
    let quoted = toml::Value::String(name.to_owned()).to_string();
    BRAIN_TOML.replace("{name}", &quoted)
}

const BRAIN_TOML: &str = r#"# The configuration of this brain. Every key can also be set from the environment as
# BRAIN_<SECTION>__<KEY> (two underscores between levels), e.g. BRAIN_QUEUE__CONCURRENCY=8.
# `brain config check` validates this file and prints the effective configuration.

# What people and agents call this brain.
[brain]
name = {name}

# The job queue: everything slow (building the site, ...) runs as a durable background job,
# stored in .brain/brain.db, worked on by `brain start`.
[queue]
# A PostgreSQL database instead, shared by brain processes on several hosts (README:
# "Several hosts, one queue"):
# url = "postgres://brain:password@db.example:5432/brains"
# Jobs one `brain start` runs at once (1-256).
concurrency = 4
# Days finished jobs are kept (1-3650).
retention_days = 7
# Progress updates published per second, at most (1-1000).
max_events_per_second = 10
# Seconds a running job stays claimed without a heartbeat before another worker may take
# it over (2-3600).
lease_seconds = 30
# Milliseconds the chat, MCP and Matrix interfaces wait for work they started before they
# answer (0-60000): work done by then answers with its result, longer work with its job id.
answer_within_ms = 1500

# Logs go to stderr, or are appended to `file` (relative to this folder).
# `--log-level`, RUST_LOG and BRAIN_LOG_LEVEL override the level.
[logging]
# error, warn, info, debug or trace.
level = "info"
# file = ".brain/brain.log"

# Who may do what through the chat and MCP interfaces, by their user id there. The anchor
# owns the brain and may use every tool; trusted people may use the tools meant for them
# (job status, for one); everyone else only public tools. The command line is the anchor.
[permissions]
# anchor = ["@me:example.org"]
# trusted = ["@friend:example.org"]

# Where the notes are (markdown files with YAML frontmatter); they are indexed for search.
[notes]
dir = "notes"

# What writes content: "local" composes it offline from the site settings and the notes
# (deterministic, no network); "openai" asks any OpenAI-compatible endpoint (OpenAI,
# Ollama, llama.cpp server, vLLM).
[ai]
provider = "local"
# [ai.local]
# delay_ms = 0               # pause per generated section (0-600000), to watch progress
# [ai.openai]
# base_url = "http://127.0.0.1:11434/v1"
# model = "llama3.1"
# api_key = "..."            # or set OPENAI_API_KEY
# timeout_seconds = 60
# max_retries = 3

# The MCP server (`brain mcp` on stdio needs none of this). Over HTTP, `brain start` and
# `brain mcp` serve at http://<http>/mcp; anything but loopback needs a token.
# [mcp]
# http = "127.0.0.1:7331"
# wait_seconds = 45          # how long a call with a progress token stays open (0-3600)
# keep_alive_seconds = 15    # a progress notification at least this often (1-60)
# max_body_bytes = 1048576   # the largest request (1024-67108864)
# allowed_origins = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
# allowed_hosts = ["brain.example.org"]
# [mcp.tokens.laptop]
# secret = "<openssl rand -hex 24>"   # 16+ characters; prefer BRAIN_MCP__TOKENS__LAPTOP__SECRET
# permission = "anchor"      # anchor | trusted | public

# The Matrix bot (`brain matrix`; `brain start` runs it whenever this section is set).
# [matrix]
# homeserver = "https://matrix.example.org"
# user_id = "@brain:example.org"
# password = "..."           # or access_token; prefer BRAIN_MATRIX__PASSWORD
# anchor = "@me:example.org"
# trusted = ["@friend:example.org"]
# command_prefix = "!"
# rooms = ["!abc:example.org"]    # only act here (default: any room it joined)
# edit_interval_ms = 5000    # at most one progress edit per message this often
# announce = false           # post progress for work started from the CLI or MCP too
# device_name = "brain"

# The website built from the notes: its routes, and the sections of each page. Notes are
# private: a note gets a page of its own only when its header says `publish: true`, or it
# carries one of the `publish_tags`; the sections are written from published notes only.
[site]
title = {name}
description = "A personal brain, published."
base_url = "http://localhost:8080"
publish_tags = ["public"]

[[site.routes]]
id = "landing"
path = "/"
title = "Home"
sections = [
  { id = "hero", template = "hero" },
  { id = "features", template = "features" },
  { id = "products", template = "products" },
  { id = "cta", template = "cta" },
]

[[site.routes]]
id = "about"
path = "/about"
title = "About"
sections = [{ id = "text", template = "text" }]

# Published notes are listed in collections: a page listing them (newest first), their own
# pages below it, and an Atom feed. A note goes to the first collection with one of its
# tags; every other published note to /notes.
[[site.collections]]
id = "blog"
title = "Blog"
tags = ["blog"]
"#;

const GITIGNORE: &str = "# The brain's data: job database, logs, interface state.\n.brain/\n";

/// (file name in notes/, text with `{date}` for today).
const NOTES: [(&str, &str); 4] = [
    (
        "welcome.md",
        r#"---
title: Welcome to your brain
tags: [welcome, guide]
date: {date}
---

# Welcome to your brain

This folder is your brain. Notes are Markdown files in `notes/`, each starting with a
short YAML header: a `title`, some `tags` and a `date`. Write them in any editor, and
link them with `[[wikilinks]]` to their titles.

Notes are private. One gets a page on the site only when its header says
`publish: true`, or it carries a tag listed in `publish_tags` in `brain.toml` (`public`
to begin with); see "Hello, world" for one that is published. A link to a private
note shows as plain text, and nothing else of it reaches the site.

- `brain start` runs the brain: its plugins and the workers for slow jobs.
- `brain site generate`, then `brain site build`, make the site in `dist/preview/`.
- `brain jobs list` shows what runs and what ran.
- `brain config check` shows the configuration in `brain.toml`.
"#,
    ),
    (
        "ideas.md",
        r#"---
title: Ideas worth keeping
tags: [ideas]
date: {date}
---

# Ideas worth keeping

A place for thoughts that are not ready yet. Link them, tag them, come back to them:
the brain keeps them, and plugins can turn them into something — a page, an answer.
"#,
    ),
    (
        "example-product.md",
        r#"---
title: Example product
tags: [product]
date: {date}
publish: true
---

# Example product

A note tagged `product` describes something you offer. The site's products section lists
these notes: replace this one with your own, or delete it.

- **What it is**: one sentence a visitor understands.
- **Who it is for**: the people it helps.
- **Why it matters**: what changes for them.
"#,
    ),
    (
        "hello-world.md",
        r#"---
title: Hello, world
tags: [blog]
date: {date}
publish: true
---

# Hello, world

This note is published: its header says `publish: true`, so it has a page of its own,
and its `blog` tag lists it in the site's blog, with a feed. It links to the
[[Example product]], which is published too; that page lists this one under
"Linked from". Remove `publish: true` and the page is gone at the next build.
"#,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaffolded_config_is_valid_for_any_folder_name() {
        for name in ["notes", "my \"brain\"", r"back\slash", "Ünïcode"] {
            let text = brain_toml(name);
            let config =
                brain_core::Config::parse(&text, Path::new("/x"), Vec::<(String, String)>::new())
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(config.brain.name, name);
            assert_eq!(config.queue, brain_core::QueueSection::default());
            assert_eq!(config.section_json("site")["title"], name);
            assert_eq!(
                config.section_json("site")["routes"][0]["sections"][2]["template"],
                "products"
            );
        }
    }

    #[test]
    fn notes_have_front_matter() {
        for (file, text) in NOTES {
            assert!(file.ends_with(".md"));
            let header = text.split("---").nth(1).unwrap();
            for key in ["title: ", "tags: [", "date: {date}"] {
                assert!(header.contains(key), "{file}: {key}");
            }
        }
        assert_eq!(
            NOTES
                .iter()
                .filter(|(_, text)| text.contains("tags: [product]"))
                .count(),
            1
        );
    }
}
