//! The web dashboard with real peers: its pages in Debian's Chromium driven by
//! playwright-core (`dashboard_story.mjs`: live progress of a batch another process runs,
//! cancel from the page, the start form, HTML shown as text, every page at 1280 and 390
//! px, kept as artefacts under target/test-artifacts/web/), and `/metrics` read by the
//! Prometheus project's strict OpenMetrics parser (Python `prometheus_client`), its counters
//! checked against the queue.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::browser::{CHROMIUM, browser_tools, pixel_stats};
use crate::support::http::{get, serve_web};
use crate::support::{Demo, entry_of, json};

/// A finished job whose label and error are markup, stored as another program might have.
fn store_markup_job(demo: &Demo) -> String {
    let id = "job_01m9zzzzzzzzzzzzzzzzzzzzzz".to_owned();
    let db = rusqlite::Connection::open(demo.dir.join(".brain/brain.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    db.execute(
        "INSERT INTO jobs (id, job_type, input, source, status, max_attempts, attempt, last_error, \
         created_at, scheduled_at, started_at, finished_at, label) \
         VALUES (?1, 'x:markup', '{}', 'cli', 'failed', 1, 1, ?2, ?3, ?3, ?3, ?3, ?4)",
        rusqlite::params![
            id,
            "<script>window.__pwned = 2</script> failed",
            now,
            "<img src=x onerror=\"window.__pwned = 1\"> <b>bold</b>",
        ],
    )
    .unwrap();
    id
}

/// Where the screenshots are kept after the test.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts/web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_dashboard_follows_work_live_in_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's `chromium` package; this test does not skip"
    );
    let tools = browser_tools();
    // One worker, a second a section: a batch of five cannot end before the page has seen
    // it move, nor before the page's cancel arrives.
    let demo = Demo::paced(1000, "");
    // The dashboard runs no workers: the `brain start` the story starts does the work.
    let (_web, addr) = serve_web(&demo, &["--no-workers"]);
    let markup = store_markup_job(&demo);
    let shots = artefacts();
    let story = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/dashboard_story.mjs"))
        .arg(&tools)
        .arg(format!("http://{addr}"))
        .arg(&shots)
        .arg(env!("CARGO_BIN_EXE_brain"))
        .arg(&demo.dir)
        .arg(&markup)
        .env_remove("BRAIN_DIR")
        .output()
        .expect("run node");
    let said: Value = serde_json::from_slice(&story.stdout).unwrap_or_else(|e| {
        panic!(
            "the story printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&story.stdout),
            String::from_utf8_lossy(&story.stderr)
        )
    });
    assert_eq!(said["problems"], serde_json::json!([]), "{said:#}");
    // The page showed the end within a bound that leaves room for a loaded machine (the
    // figure is printed; see the closing notes for what it measures here).
    let lag = said["lagMs"].as_i64().unwrap();
    eprintln!(
        "the page showed the batch completed {lag} ms after the queue stored it; counts seen {}",
        said["counts"]
    );
    assert!(lag < 10_000, "{said:#}");

    let listed = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    let cancelled = said["cancelled"].as_str().unwrap();
    assert_eq!(
        entry_of(&listed, cancelled)["status"],
        "cancelled",
        "{listed:#}"
    );
    let generated = said["generated"].as_str().unwrap();
    assert_eq!(entry_of(&listed, generated)["status"], "completed");
    let built = said["built"].as_str().unwrap();
    assert_eq!(entry_of(&listed, built)["status"], "completed");
    assert!(demo.dir.join("dist/preview/index.html").is_file());

    let files = said["screenshots"].as_array().unwrap();
    assert_eq!(files.len(), 14, "{said:#}");
    for file in files {
        let file = Path::new(file.as_str().unwrap());
        let (width, _, colours, deviation) = pixel_stats(file);
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(
            name.ends_with(&format!("-{width}.png")),
            "{name}: {width} px wide"
        );
        assert!(colours > 16 && deviation > 4.0, "{name}: a blank page?");
    }
}

#[test]
fn metrics_parse_with_prometheus_client_and_match_the_queue() {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-deps/prometheus.sh"))
        .output()
        .expect("run scripts/test-deps/prometheus.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let demo = Demo::init();
    let (_web, addr) = serve_web(&demo, &[]);
    // Queued by the CLI, run by the dashboard's workers: this process counts the runs.
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    let id = crate::support::detached_id(&queued.stdout);
    let done = demo.wait_completed(&id);
    let items = done["progress"]["total"].as_u64().unwrap();

    let text = get(&addr, "/metrics", &[]).body;
    let mut parse = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/parse_metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    parse
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let parsed = parse.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "prometheus_client refused the exposition:\n{}\n{text}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let families: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let sample = |family: &str, name: &str, labels: &[(&str, &str)]| -> f64 {
        let samples = families[family]["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no {family} in {families:#}"));
        samples
            .iter()
            .find(|s| s[0] == name && labels.iter().all(|(k, v)| s[1][*k] == *v))
            .and_then(|s| s[2].as_f64())
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {family}: {samples:?}"))
    };
    let generate = [("type", "site-builder:generate")];
    let n = items as f64;
    assert_eq!(families["brains_jobs_completed"]["type"], "counter");
    assert_eq!(
        sample(
            "brains_jobs_completed",
            "brains_jobs_completed_total",
            &generate
        ),
        n
    );
    assert_eq!(
        sample(
            "brains_jobs_started",
            "brains_jobs_started_total",
            &generate
        ),
        n
    );
    assert_eq!(families["brains_job_run_seconds"]["type"], "histogram");
    assert_eq!(
        sample(
            "brains_job_run_seconds",
            "brains_job_run_seconds_count",
            &generate
        ),
        n
    );
    assert_eq!(
        sample(
            "brains_job_run_seconds",
            "brains_job_run_seconds_bucket",
            &[("type", "site-builder:generate"), ("le", "+Inf")]
        ),
        n
    );
    assert_eq!(
        sample(
            "brains_job_wait_seconds",
            "brains_job_wait_seconds_count",
            &generate
        ),
        n
    );
    assert_eq!(
        sample(
            "brains_job_eta_error_ratio",
            "brains_job_eta_error_ratio_count",
            &generate
        ),
        n
    );
    // The database's view: nothing waits, one worker process, and the hour's endings
    // include the batch's items (and the notes index run at start).
    assert_eq!(sample("brains_queue_depth", "brains_queue_depth", &[]), 0.0);
    assert_eq!(sample("brains_workers", "brains_workers", &[]), 1.0);
    assert!(
        sample(
            "brains_jobs_ended_last_hour",
            "brains_jobs_ended_last_hour",
            &[("outcome", "completed")]
        ) >= n
    );
    assert_eq!(
        sample("brains_jobs_rescued", "brains_jobs_rescued_total", &[]),
        0.0
    );
    assert_eq!(families["brains_bus_coalesced"]["type"], "counter");
}
