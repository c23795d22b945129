//! Benchmark of the site build: a 1,000-route site (one landing page and 999 pages), each
//! route with four sections (hero,
//! features, text, cta) whose valid content files are written directly, then built by the
//! `site-builder:build` handler exactly as a worker runs it (templates loaded, content
//! files read and validated, pages rendered and written to a fresh folder, the folder
//! swapped in). Each figure is the median of 3 builds; the target (≥ 5,000 pages/s) is
//! printed, never asserted. It runs in the system's temporary folder and, where there is
//! one, again in `/dev/shm` (memory): the first figure includes what the file system
//! charges for creating a folder and a file per page, the second (`…_tmpfs`) is the
//! plugin's own speed. Both run in two shapes: the navigation lists the first ten pages
//! (a realistic menu; the rest are reached by links and the sitemap), and `…_full_nav`,
//! where every page lists all 1,000.
//!
//! Run it with `cargo run --release -p brain-site-builder --example site-bench`. Options:
//! `--json` (one `{"name", "value", "unit"}` object per line on stdout; notes go to
//! stderr), `--quick` (100 routes, for a smoke run), `--routes N`, `--runs N`.

// A benchmark's results are its output.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use brain_plugin_api::testing::{self, RecordingContext};
use brain_site_builder::internals::{
    Cta, Feature, Features, Hero, SectionContent, Site, Text, write_content,
};
use brain_site_builder::{BuildOutput, Environment, SiteBuilder};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Pages per second the build should reach.
const TARGET_PAGES_PER_SECOND: f64 = 5_000.0;

struct Options {
    json: bool,
    routes: usize,
    runs: usize,
}

fn options() -> Res<Options> {
    let mut options = Options {
        json: false,
        routes: 1_000,
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => options.json = true,
            "--quick" => options.routes = 100,
            "--routes" => options.routes = number(args.next())?,
            "--runs" => options.runs = number(args.next())?.max(1),
            "--help" | "-h" => {
                println!("usage: site-bench [--json] [--quick] [--routes N] [--runs N]");
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

/// How many pages the navigation lists in the realistic shape: the home page and the next
/// nine. The full shape lists every page on every page (a 45 KB menu per page at 1,000
/// routes), which measures the file system more than the renderer.
const NAV_PAGES: usize = 10;

/// The `[site]` table of a site with `routes` routes.
fn site_config(routes: usize, full_nav: bool) -> Value {
    let sections = json!([
        {"id": "hero", "template": "hero"},
        {"id": "features", "template": "features"},
        {"id": "text", "template": "text"},
        {"id": "cta", "template": "cta"},
    ]);
    let routes: Vec<Value> = (0..routes)
        .map(|i| {
            if i == 0 {
                json!({"id": "landing", "path": "/", "title": "Home", "sections": sections})
            } else {
                json!({
                    "id": format!("page-{i:04}"),
                    "path": format!("/page-{i:04}"),
                    "title": format!("Page {i}"),
                    "nav": full_nav || i < NAV_PAGES,
                    "sections": sections,
                })
            }
        })
        .collect();
    json!({
        "title": "Bench Site",
        "description": "A site with many pages.",
        "base_url": "https://example.org",
        "routes": routes,
    })
}

/// Writes every section's preview content.
fn write_site_content(root: &Path, site: &Site) -> Res<()> {
    for route in &site.routes {
        for section in &route.sections {
            let content = match section.id.as_str() {
                "hero" => SectionContent::Hero(Hero {
                    headline: format!("{} — notes, published", route.title),
                    subheadline: "What I think about, written down & <kept>.".into(),
                    cta_text: "Read more".into(),
                    cta_url: "/".into(),
                }),
                "features" => SectionContent::Features(Features {
                    title: "What I work on".into(),
                    items: (1..=4)
                        .map(|n| Feature {
                            title: format!("Feature {n}"),
                            description: "One or two sentences about something worth knowing."
                                .into(),
                            note: Some(format!("ideas/{n}.md")),
                        })
                        .collect(),
                }),
                "text" => SectionContent::Text(Text {
                    title: "About this page".into(),
                    body: "A paragraph with *emphasis* and a [link](https://example.org).\n\n\
                           - one\n- two\n- three\n\nAnother paragraph, a little longer, to \
                           have something to render."
                        .into(),
                }),
                _ => SectionContent::Cta(Cta {
                    headline: "Get in touch".into(),
                    text: "Write to me.".into(),
                    button_text: "Email me".into(),
                    button_url: "mailto:me@example.org".into(),
                }),
            };
            write_content(root, Environment::Preview, route, section, &content)?;
        }
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_size(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// One figure set: builds in a brain folder under `base`.
struct Measured {
    rate: f64,
    time: f64,
    bytes: u64,
}

async fn measure(options: &Options, base: &Path, full_nav: bool) -> Res<Measured> {
    let dir = tempfile::tempdir_in(base)?;
    let root = dir.path();
    let config = site_config(options.routes, full_nav);
    let site = Site::from_config(&config, root)?.ok_or("the site config is empty")?;
    let started = Instant::now();
    write_site_content(root, &site)?;
    eprintln!(
        "site-bench: {} routes, {} content files written in {:.2?} (in {})",
        site.routes.len(),
        site.routes.len() * 4,
        started.elapsed(),
        root.display()
    );

    let registration = RecordingContext::with_config("site-builder", config)
        .in_dir(root)
        .register(&SiteBuilder)?;
    let build = registration
        .handlers
        .iter()
        .find(|(job_type, _)| job_type == "site-builder:build")
        .map(|(_, handler)| handler.clone())
        .ok_or("no build handler")?;

    let mut rates = Vec::new();
    let mut times = Vec::new();
    for run in 1..=options.runs {
        let (ctx, _) = testing::job_context("site-builder:build");
        let started = Instant::now();
        let output = build.run_json(r#"{"environment":"preview"}"#, ctx).await?;
        let elapsed = started.elapsed();
        let output: BuildOutput = serde_json::from_value(output)?;
        if output.pages != site.routes.len() || !output.warnings.is_empty() {
            return Err(format!(
                "unexpected build: {} pages, warnings {:?}",
                output.pages,
                output.warnings.iter().take(3).collect::<Vec<_>>()
            )
            .into());
        }
        let rate = output.pages as f64 / elapsed.as_secs_f64();
        eprintln!(
            "  .. run {run}/{}: {} pages in {:.1} ms = {rate:.0} pages/s",
            options.runs,
            output.pages,
            elapsed.as_secs_f64() * 1e3
        );
        rates.push(rate);
        times.push(elapsed.as_secs_f64());
    }
    // The previous site's folder is deleted in the background; let it finish before the
    // output is measured and the next figure starts.
    std::thread::sleep(Duration::from_millis(500));
    Ok(Measured {
        rate: median(rates),
        time: median(times),
        bytes: dir_size(&root.join("dist/preview")),
    })
}

async fn run(options: &Options) -> Res<()> {
    // The system's temporary folder (a disk, usually), and memory where there is a tmpfs:
    // the first includes the file system's cost of creating a folder and a file per page,
    // the second shows the plugin's own.
    let mut places = vec![("", std::env::temp_dir())];
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        places.push(("_tmpfs", shm.to_path_buf()));
    }
    let mut results = Vec::new();
    for (shape, full_nav) in [("", false), ("_full_nav", true)] {
        for (place, base) in &places {
            let m = measure(options, base, full_nav).await?;
            results.push((format!("{shape}{place}"), base, full_nav, m));
        }
    }
    for (suffix, base, full_nav, m) in &results {
        let figures = [
            (
                format!("site_build_pages_per_second{suffix}"),
                m.rate,
                "pages/s",
            ),
            (format!("site_build_time{suffix}"), m.time * 1e3, "ms"),
            (
                format!("site_build_output{suffix}"),
                m.bytes as f64 / 1_048_576.0,
                "MiB",
            ),
        ];
        if options.json {
            for (name, value, unit) in figures {
                println!("{}", json!({"name": name, "value": value, "unit": unit}));
            }
        } else {
            println!(
                "site build in {}, {} routes x 4 sections, navigation listing {} pages, median of {}:",
                base.display(),
                options.routes,
                if *full_nav {
                    options.routes
                } else {
                    NAV_PAGES.min(options.routes)
                },
                options.runs
            );
            println!(
                "  {:>10.0} pages/s   (target >= {:.0})",
                m.rate, TARGET_PAGES_PER_SECOND
            );
            println!("  {:>10.1} ms per build", m.time * 1e3);
            println!("  {:>10.1} MiB written", m.bytes as f64 / 1_048_576.0);
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let result = options().and_then(|options| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()?;
        runtime.block_on(run(&options))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("site-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
