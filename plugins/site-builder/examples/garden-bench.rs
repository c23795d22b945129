//! Benchmark of a notes site through the whole shell, beside Hugo: a brain of N published
//! notes (each ~1 KB of Markdown with three `[[wikilinks]]` to other notes, two of 40 tags,
//! a date; every tenth tagged `blog`), a site of one route without sections and two
//! collections (`/blog`, `/notes`). A real `brain_core::Shell` with the `SiteBuilder`
//! plugin and its workers is built on it and `site_build` called as the command line calls
//! it; the clock stops when the build's final event arrives. Each build reads the notes
//! from the notes index (refreshed first) and renders every page: note pages with
//! backlinks, collections, tags, feeds, the search index, the sitemap, the link check.
//!
//! Figures, each the median of `--runs` builds:
//! - `full_build`: the whole site written to a fresh folder and swapped in (the manifest of
//!   the site in place removed first, so nothing can be reused);
//! - `nothing_changed`: a build with nothing changed (every page rendered in memory and
//!   compared with the site in place; nothing written);
//! - `one_note_changed`: a build right after one note's text changed (the index refreshes
//!   that note, every page is rendered, the few that differ are replaced in place);
//! - `peak_rss_indexing`: the process's peak resident memory (VmHWM) after the first build,
//!   which filled the notes index; `peak_rss_builds`: its peak during the builds after it
//!   (the peak is reset in between);
//! - `hugo`: Debian's `hugo` building the same notes (links as Markdown links, the same
//!   tags and dates, minimal templates with a tag list and a page per tag) into a fresh
//!   folder, when `hugo` is installed; `hugo_size`/`brains_size` are the two outputs' sizes.
//!
//! Targets (printed, never asserted): 1,000 notes in ≤ 0.2 s, one note changed in ≤ 50 ms,
//! ≤ 200 MB at 10,000 notes.
//!
//! Run it with `cargo run --release -p brain-site-builder --example garden-bench`. Options:
//! `--notes N` (one size; default 1,000 and 10,000), `--runs N` (default 3), `--json` (one
//! `{"name", "value", "unit"}` object per line on stdout), `--no-hugo`.

// A benchmark's results are its output.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use brain_core::Shell;
use brain_plugin_api::{Caller, JobStatus, ToolContext};
use brain_site_builder::SiteBuilder;
use serde_json::json;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const TAGS: usize = 40;
const LINKS_PER_NOTE: usize = 3;

struct Options {
    sizes: Vec<usize>,
    runs: usize,
    json: bool,
    hugo: bool,
}

fn options() -> Res<Options> {
    let mut options = Options {
        sizes: vec![1_000, 10_000],
        runs: 3,
        json: false,
        hugo: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--notes" => options.sizes = vec![number(args.next())?],
            "--runs" => options.runs = number(args.next())?.max(1),
            "--json" => options.json = true,
            "--no-hugo" => options.hugo = false,
            "--help" | "-h" => {
                println!("usage: garden-bench [--notes N] [--runs N] [--json] [--no-hugo]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?} (try --help)").into()),
        }
    }
    Ok(options)
}

fn number(arg: Option<String>) -> Res<usize> {
    let arg = arg.ok_or("a number must follow the option")?;
    Ok(arg.parse()?)
}

const BRAIN_TOML: &str = "[brain]\nname = \"bench\"\n\n\
    [logging]\nlevel = \"warn\"\n\n\
    [notes]\ndir = \"notes\"\n\n\
    [site]\ntitle = \"Bench garden\"\n\
    base_url = \"https://example.org\"\n\n\
    [[site.routes]]\nid = \"landing\"\npath = \"/\"\ntitle = \"Home\"\n\n\
    [[site.collections]]\nid = \"blog\"\ntags = [\"blog\"]\n";

/// The `i`-th note: (title, slug, tags, date, body with `link` rendering a link to note j).
fn note(
    i: usize,
    n: usize,
    link: &dyn Fn(usize) -> String,
) -> (String, String, Vec<String>, String, String) {
    let title = format!("Note {i} on craft");
    let slug = format!("note-{i}-on-craft");
    let mut tags = vec![
        format!("topic-{}", i % TAGS),
        format!("topic-{}", (i * 7 + 3) % TAGS),
    ];
    tags.dedup();
    if i.is_multiple_of(10) {
        tags.push("blog".to_owned());
    }
    let date = format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1);
    let mut body = format!("# {title}\n\n");
    for p in 0..3 {
        let target = (i * 31 + p * 17 + 1) % n;
        let _ = write!(
            body,
            "Paragraph {p} of note {i}: what the work taught, with *emphasis* and `code`, \
             and a link to {} for more. Patience, flour, water and time; then the bake, \
             the crumb, the crust, and notes for next time.\n\n",
            if p < LINKS_PER_NOTE {
                link(target)
            } else {
                String::new()
            }
        );
    }
    body.push_str("- one point\n- another point\n- a last point\n");
    (title, slug, tags, date, body)
}

fn write_brain(dir: &Path, n: usize) -> Res<()> {
    std::fs::write(dir.join("brain.toml"), BRAIN_TOML)?;
    let notes = dir.join("notes");
    std::fs::create_dir_all(&notes)?;
    for i in 0..n {
        let (title, _, tags, date, body) = note(i, n, &|j| format!("[[Note {j} on craft]]"));
        std::fs::write(
            notes.join(format!("note-{i:05}.md")),
            format!(
                "---\ntitle: {title}\ntags: [{}]\ndate: {date}\npublish: true\n---\n\n{body}",
                tags.join(", ")
            ),
        )?;
    }
    Ok(())
}

/// The same notes as a Hugo site, with minimal templates.
fn write_hugo(dir: &Path, n: usize) -> Res<()> {
    std::fs::write(
        dir.join("hugo.toml"),
        "baseURL = \"https://example.org/\"\ntitle = \"Bench garden\"\n\
         disableKinds = [\"RSS\"]\n[taxonomies]\ntag = \"tags\"\n",
    )?;
    let layouts = dir.join("layouts/_default");
    std::fs::create_dir_all(&layouts)?;
    std::fs::write(
        layouts.join("baseof.html"),
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\
         <body><header><a href=\"/\">{{ .Site.Title }}</a></header><main>{{ block \"main\" . }}{{ end }}</main></body></html>\n",
    )?;
    std::fs::write(
        layouts.join("single.html"),
        "{{ define \"main\" }}<article><h1>{{ .Title }}</h1><p>{{ .Date.Format \"2006-01-02\" }}</p>\
         <ul>{{ range .Params.tags }}<li><a href=\"/tags/{{ . | urlize }}/\">{{ . }}</a></li>{{ end }}</ul>\
         {{ .Content }}</article>{{ end }}\n",
    )?;
    std::fs::write(
        layouts.join("list.html"),
        "{{ define \"main\" }}<h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a> {{ .Summary }}</li>{{ end }}</ul>{{ end }}\n",
    )?;
    let content = dir.join("content/notes");
    std::fs::create_dir_all(&content)?;
    for i in 0..n {
        let link = |j: usize| format!("[Note {j} on craft](/notes/note-{j:05}/)");
        let (title, _, tags, date, body) = note(i, n, &link);
        std::fs::write(
            content.join(format!("note-{i:05}.md")),
            format!(
                "---\ntitle: \"{title}\"\ntags: [{}]\ndate: {date}\n---\n\n{body}",
                tags.join(", ")
            ),
        )?;
    }
    Ok(())
}

/// One `site_build` through the shell: the time from the call to the final event.
async fn build(shell: &Shell) -> Res<(Duration, u64)> {
    let started = Instant::now();
    let answer = shell
        .execute("site_build", json!({}), ToolContext::new(Caller::cli()))
        .await?;
    let id = answer.structured["jobId"]
        .as_str()
        .ok_or_else(|| format!("site_build answered without a jobId: {}", answer.text))?
        .to_owned();
    let mut watch = shell.queue().watch(&id).await?;
    while let Some(event) = watch.next().await {
        if event.status.is_finished() {
            let took = started.elapsed();
            if event.status != JobStatus::Completed {
                return Err(
                    format!("the build ended {:?}: {:?}", event.status, event.error).into(),
                );
            }
            let status = shell.queue().status(&id).await?;
            let pages = status
                .event
                .result
                .as_ref()
                .and_then(|r| r["pages"].as_u64())
                .unwrap_or(0);
            return Ok((took, pages));
        }
    }
    Err("the watch ended before the build did".into())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}

/// The peak resident memory of this process, in MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Report {
    json: bool,
}

impl Report {
    fn figure(&self, name: &str, value: f64, unit: &str, note: &str) {
        if self.json {
            println!("{}", json!({"name": name, "value": value, "unit": unit}));
        } else {
            println!("{name:<28} {value:>10.1} {unit:<4} {note}");
        }
    }
}

async fn run_size(options: &Options, n: usize, report: &Report) -> Res<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    write_brain(dir, n)?;
    let shell = Shell::builder(dir)
        .env(Vec::new())
        .plugin(SiteBuilder)
        .build()
        .await?;
    shell.start_workers().await?;

    // The first build fills the notes index from the files.
    let (cold, pages) = build(&shell).await?;
    report.figure(
        &format!("notes_{n}_first_build_ms"),
        cold.as_secs_f64() * 1e3,
        "ms",
        &format!("({pages} pages; includes indexing {n} notes)"),
    );
    report.figure(
        &format!("notes_{n}_peak_rss_indexing_mb"),
        peak_rss_mb(),
        "MB",
        "(this process so far: the shell, indexing the notes, the first build)",
    );
    // From here the peak is the builds' own (Linux resets VmHWM on this write).
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    let mut full = Vec::new();
    for _ in 0..options.runs {
        // The build's files (the site, its manifest) are applied just after its final
        // event: wait for the manifest, then remove it so that nothing can be reused.
        let manifest = dir.join(".brain/site/built/preview.json");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !manifest.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        std::fs::remove_file(&manifest)?;
        full.push(build(&shell).await?.0.as_secs_f64() * 1e3);
    }
    let target = if n <= 1_000 {
        " (target <= 200 ms at 1,000)"
    } else {
        ""
    };
    report.figure(
        &format!("notes_{n}_full_build_ms"),
        median(full),
        "ms",
        target,
    );

    let mut same = Vec::new();
    for _ in 0..options.runs {
        same.push(build(&shell).await?.0.as_secs_f64() * 1e3);
    }
    report.figure(
        &format!("notes_{n}_nothing_changed_ms"),
        median(same),
        "ms",
        "",
    );

    let mut changed = Vec::new();
    for run in 0..options.runs {
        let path = dir.join("notes/note-00001.md");
        let mut text = std::fs::read_to_string(&path)?;
        let _ = writeln!(text, "\nA change, run {run}.");
        std::fs::write(&path, text)?;
        changed.push(build(&shell).await?.0.as_secs_f64() * 1e3);
    }
    let target = if n <= 1_000 { " (target <= 50 ms)" } else { "" };
    report.figure(
        &format!("notes_{n}_one_note_changed_ms"),
        median(changed),
        "ms",
        target,
    );
    let brains_size = size_of(&dir.join("dist/preview"));
    report.figure(
        &format!("notes_{n}_brains_size_mb"),
        brains_size as f64 / 1e6,
        "MB",
        "",
    );
    let target = if n >= 10_000 {
        " (target <= 200 MB)"
    } else {
        ""
    };
    report.figure(
        &format!("notes_{n}_peak_rss_builds_mb"),
        peak_rss_mb(),
        "MB",
        &format!("(the builds after the first){target}"),
    );
    shell.shutdown(Duration::from_secs(10)).await;

    if options.hugo {
        hugo(options, n, report)?;
    }
    Ok(())
}

fn hugo(options: &Options, n: usize, report: &Report) -> Res<()> {
    let version = match Command::new("hugo").arg("version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => {
            eprintln!("hugo is not installed (apt-get install hugo): no comparison");
            return Ok(());
        }
    };
    let tmp = tempfile::tempdir()?;
    write_hugo(tmp.path(), n)?;
    let mut times = Vec::new();
    for run in 0..options.runs {
        let out = tmp.path().join(format!("public-{run}"));
        let started = Instant::now();
        let status = Command::new("hugo")
            .args(["--quiet", "--source"])
            .arg(tmp.path())
            .arg("--destination")
            .arg(&out)
            .status()?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if !status.success() {
            return Err(format!("hugo failed: {status}").into());
        }
    }
    report.figure(
        &format!("notes_{n}_hugo_full_build_ms"),
        median(times),
        "ms",
        &format!("({version})"),
    );
    report.figure(
        &format!("notes_{n}_hugo_size_mb"),
        size_of(&tmp.path().join("public-0")) as f64 / 1e6,
        "MB",
        "",
    );
    Ok(())
}

async fn run(options: &Options) -> Res<()> {
    let report = Report { json: options.json };
    for &n in &options.sizes {
        run_size(options, n, &report).await?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let result = options().and_then(|options| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(&options))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("garden-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
