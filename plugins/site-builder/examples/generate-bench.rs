//! Benchmark of content generation through the whole shell: a brain whose `[site]` has 250
//! routes of four sections each (hero, features, products, cta: 1,000 sections) and 50
//! notes (10 tagged `product`), `[ai] provider = "local"`. A real `brain_core::Shell` with
//! the `SiteBuilder` plugin is built on it, its workers started, and the `site_generate`
//! tool called as the command line calls it; the clock stops when the batch's final event
//! arrives (`Queue::watch`: pushed by the bus, no polling). Every section's content file is
//! then checked to be there. Each run uses a fresh brain (new database, new notes index,
//! no content); the figure is the median of 3. The target (≥ 2,000 sections/s) is printed,
//! never asserted.
//!
//! Run it with `cargo run --release -p brain-site-builder --example generate-bench`.
//! Options: `--json` (one `{"name", "value", "unit"}` object per line on stdout; notes go
//! to stderr), `--quick` (25 routes: 100 sections, for a smoke run), `--routes N`,
//! `--runs N`, `--concurrency N` (`[queue] concurrency`, default 16), `--in DIR` (where
//! the brains are made). By default it measures in the system's temporary folder and
//! again in `/dev/shm` where there is one (`…_tmpfs`): each section ends with a file
//! created, synced and renamed, and on a disk that can cost more than everything else, so
//! each place also reports how fast the file system alone writes such files.

// A benchmark's results are its output.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brain_core::Shell;
use brain_plugin_api::{Caller, JobStatus, ToolContext};
use brain_site_builder::SiteBuilder;
use brain_site_builder::internals::write_atomic;
use serde_json::json;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Sections per second generation should reach.
const TARGET_SECTIONS_PER_SECOND: f64 = 2_000.0;
/// Sections per route.
const SECTIONS: [&str; 4] = ["hero", "features", "products", "cta"];
/// Notes in the brain, and how many of them are tagged `product`.
const NOTES: usize = 50;
const PRODUCT_NOTES: usize = 10;
/// Topics the notes are about and the pages are titled after, so that each section's
/// search finds notes (as on a real site).
const TOPICS: [&str; 10] = [
    "Gardening",
    "Photography",
    "Cooking",
    "Cycling",
    "Woodworking",
    "Astronomy",
    "Beekeeping",
    "Pottery",
    "Sailing",
    "Typography",
];

struct Options {
    json: bool,
    routes: usize,
    runs: usize,
    concurrency: usize,
    /// Where the brains are made; `None`: the temporary folder and /dev/shm.
    base: Option<PathBuf>,
}

fn options() -> Res<Options> {
    let mut options = Options {
        json: false,
        routes: 250,
        runs: 3,
        concurrency: 16,
        base: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => options.json = true,
            "--quick" => options.routes = 25,
            "--routes" => options.routes = number(args.next())?.max(1),
            "--runs" => options.runs = number(args.next())?.max(1),
            "--concurrency" => options.concurrency = number(args.next())?.clamp(1, 256),
            "--in" => options.base = Some(args.next().ok_or("a folder must follow --in")?.into()),
            "--help" | "-h" => {
                println!(
                    "usage: generate-bench [--json] [--quick] [--routes N] [--runs N] \
                     [--concurrency N] [--in DIR]"
                );
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

/// `brain.toml` of the benchmark's brain.
fn brain_toml(routes: usize, concurrency: usize) -> String {
    let mut toml = format!(
        "[brain]\nname = \"bench\"\n\n\
         [queue]\nconcurrency = {concurrency}\n\n\
         [logging]\nlevel = \"warn\"\n\n\
         [notes]\ndir = \"notes\"\n\n\
         [ai]\nprovider = \"local\"\n\n\
         [site]\ntitle = \"Bench brain\"\n\
         description = \"Notes on many crafts, published.\"\n\
         base_url = \"https://example.org\"\n"
    );
    let sections = SECTIONS
        .iter()
        .map(|s| format!("{{ id = \"{s}\", template = \"{s}\" }}"))
        .collect::<Vec<_>>()
        .join(", ");
    for i in 0..routes {
        let topic = TOPICS[i % TOPICS.len()];
        let (id, path, title) = if i == 0 {
            ("landing".to_owned(), "/".to_owned(), "Home".to_owned())
        } else {
            (
                format!("page-{i:04}"),
                format!("/page-{i:04}"),
                format!("{topic} {i}"),
            )
        };
        let _ = write!(
            toml,
            "\n[[site.routes]]\nid = \"{id}\"\npath = \"{path}\"\ntitle = \"{title}\"\n\
             sections = [{sections}]\n"
        );
    }
    toml
}

/// Fifty notes on the topics; the first ten are tagged `product`.
fn write_notes(dir: &Path) -> Res<()> {
    let notes = dir.join("notes");
    std::fs::create_dir_all(&notes)?;
    for i in 0..NOTES {
        let topic = TOPICS[i % TOPICS.len()];
        let tags = if i < PRODUCT_NOTES {
            format!("[product, {}]", topic.to_lowercase())
        } else {
            format!("[{}]", topic.to_lowercase())
        };
        let text = format!(
            "---\ntitle: {topic} note {i}\ntags: {tags}\ndate: 2024-05-{:02}\n---\n\n\
             # {topic} note {i}\n\n\
             What I learned about {topic} this time: features that matter, a hero moment, \
             and a call to action for anyone who wants to start. {topic} takes patience.\n\n\
             - first point about {topic}\n- second point\n- third point\n",
            i % 28 + 1
        );
        std::fs::write(
            notes.join(format!("{}-{i:02}.md", topic.to_lowercase())),
            text,
        )?;
    }
    Ok(())
}

/// What one run measured.
struct Run {
    sections: u64,
    /// From the tool call to the batch's final event.
    total: Duration,
    /// The tool call alone (selecting sections, enqueueing the batch).
    enqueue: Duration,
}

async fn run_once(options: &Options, base: &Path) -> Res<Run> {
    let tmp = tempfile::tempdir_in(base)?;
    let dir = tmp.path();
    std::fs::write(
        dir.join("brain.toml"),
        brain_toml(options.routes, options.concurrency),
    )?;
    write_notes(dir)?;
    let shell = Shell::builder(dir)
        .env(Vec::new())
        .plugin(SiteBuilder)
        .build()
        .await?;
    shell.start_workers().await?;

    let started = Instant::now();
    let answer = shell
        .execute("site_generate", json!({}), ToolContext::new(Caller::cli()))
        .await?;
    let enqueue = started.elapsed();
    let id = answer.structured["jobId"]
        .as_str()
        .ok_or_else(|| format!("site_generate answered without a jobId: {}", answer.text))?
        .to_owned();
    let mut watch = shell.queue().watch(&id).await?;
    let mut last = None;
    while let Some(event) = watch.next().await {
        if event.status.is_finished() {
            last = Some(event);
            break;
        }
    }
    let total = started.elapsed();
    let last = last.ok_or("the watch ended before the batch did")?;
    let batch = last.batch.as_ref().ok_or("the final event has no batch")?;
    let expected = (options.routes * SECTIONS.len()) as u64;
    if last.status != JobStatus::Completed || batch.completed != expected {
        return Err(format!(
            "the batch ended {:?}: {} of {expected} completed, errors {:?}",
            last.status,
            batch.completed,
            batch.errors.iter().take(3).collect::<Vec<_>>()
        )
        .into());
    }
    shell.shutdown(Duration::from_secs(10)).await;

    let written = count_files(&dir.join("content/preview"));
    if written != expected {
        return Err(format!("{written} content files written, {expected} expected").into());
    }
    Ok(Run {
        sections: expected,
        total,
        enqueue,
    })
}

fn count_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { count_files(&path) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The file system's own speed at what each section ends with: `write_atomic` (create,
/// write, fsync, rename) of a small file, four per folder, as many as there are sections,
/// in a fresh folder under `base`. Files per second.
fn file_system_rate(base: &Path, files: usize) -> Res<f64> {
    let tmp = tempfile::tempdir_in(base)?;
    let text = "---\ntemplate: cta\nheadline: Get in touch\ntext: Write to me.\n---\n".repeat(4);
    let started = Instant::now();
    for i in 0..files {
        let path = tmp.path().join(format!(
            "content/preview/page-{:04}/{i}.md",
            i / SECTIONS.len()
        ));
        write_atomic(&path, text.as_bytes())?;
    }
    Ok(files as f64 / started.elapsed().as_secs_f64())
}

/// The medians of one place.
struct Measured {
    rate: f64,
    time_ms: f64,
    enqueue_ms: f64,
    file_system_rate: f64,
}

async fn measure(options: &Options, base: &Path) -> Res<Measured> {
    let mut rates = Vec::new();
    let mut times = Vec::new();
    let mut enqueues = Vec::new();
    for run in 1..=options.runs {
        let measured = run_once(options, base).await?;
        let rate = measured.sections as f64 / measured.total.as_secs_f64();
        eprintln!(
            "generate-bench: {}: run {run}/{}: {} sections in {:.1} ms ({:.1} ms to enqueue) = {rate:.0} sections/s",
            base.display(),
            options.runs,
            measured.sections,
            measured.total.as_secs_f64() * 1e3,
            measured.enqueue.as_secs_f64() * 1e3,
        );
        rates.push(rate);
        times.push(measured.total.as_secs_f64() * 1e3);
        enqueues.push(measured.enqueue.as_secs_f64() * 1e3);
    }
    let file_system_rate = file_system_rate(base, options.routes * SECTIONS.len())?;
    eprintln!(
        "generate-bench: {}: the file system alone writes {file_system_rate:.0} content files/s",
        base.display()
    );
    Ok(Measured {
        rate: median(rates),
        time_ms: median(times),
        enqueue_ms: median(enqueues),
        file_system_rate,
    })
}

async fn run(options: &Options) -> Res<()> {
    // The chosen folder; by default the system's temporary folder (a disk, usually) and,
    // where there is one, memory: the first includes what the file system charges for a
    // file per section, the second (`…_tmpfs`) shows the shell's and the plugin's own speed.
    let places: Vec<(&str, PathBuf)> = match &options.base {
        Some(base) => vec![("", base.clone())],
        None => {
            let mut places = vec![("", std::env::temp_dir())];
            let shm = Path::new("/dev/shm");
            if shm.is_dir() {
                places.push(("_tmpfs", shm.to_path_buf()));
            }
            places
        }
    };
    let sections = options.routes * SECTIONS.len();
    if !options.json {
        println!(
            "site_generate: {} routes x {} sections = {sections} sections, {NOTES} notes, \
             provider local, [queue] concurrency {}, median of {} runs (fresh brain each)",
            options.routes,
            SECTIONS.len(),
            options.concurrency,
            options.runs
        );
        println!();
        println!(
            "| place | sections/s | target | tool call to done | enqueue | file system alone |"
        );
        println!("|---|---|---|---|---|---|");
    }
    for (suffix, base) in &places {
        let m = measure(options, base).await?;
        if options.json {
            let figures = [
                ("site_generate_sections_per_second", m.rate, "sections/s"),
                ("site_generate_time", m.time_ms, "ms"),
                ("site_generate_enqueue_time", m.enqueue_ms, "ms"),
                (
                    "file_system_content_files_per_second",
                    m.file_system_rate,
                    "files/s",
                ),
            ];
            for (name, value, unit) in figures {
                println!(
                    "{}",
                    json!({"name": format!("{name}{suffix}"), "value": value, "unit": unit})
                );
            }
        } else {
            println!(
                "| {} | {:.0} | >= {TARGET_SECTIONS_PER_SECOND:.0} | {:.1} ms | {:.1} ms | {:.0} files/s |",
                base.display(),
                m.rate,
                m.time_ms,
                m.enqueue_ms,
                m.file_system_rate
            );
        }
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
            eprintln!("generate-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
