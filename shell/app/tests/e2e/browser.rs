//! The preview site in a real browser: Debian's headless Chromium renders the built home
//! page to a DOM dump and a screenshot. Not ignored and never skipped: without
//! `/usr/bin/chromium` the test fails and says which package to install.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Demo;

const CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// What one Chromium run printed.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with `args` after the common flags and a fresh profile in
/// `profile`; kills its whole process group if it takes longer than [`BROWSER_TIMEOUT`].
fn chromium(profile: &Path, args: &[String]) -> Output {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout ends the browser's helpers too.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {CHROMIUM}: {e}"));
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).map(|_| text)
    });
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = child.wait();
            let stderr = stderr.join().unwrap();
            panic!("chromium {args:?} still running after {BROWSER_TIMEOUT:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        code: status.code(),
        stdout: stdout.join().unwrap().expect("chromium's stdout is UTF-8"),
        stderr: stderr.join().unwrap(),
    }
}

/// Width, height, distinct colours and the standard deviation of luminance (0-255) of an
/// 8-bit RGB or RGBA PNG.
fn pixel_stats(path: &Path) -> (u32, u32, usize, f64) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{info:?}");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let mut colours = HashSet::new();
    let (mut sum, mut sum_sq, mut n) = (0f64, 0f64, 0f64);
    for row in buffer[..info.buffer_size()].chunks_exact(info.line_size) {
        for pixel in row[..info.width as usize * channels].chunks_exact(channels) {
            colours.insert([pixel[0], pixel[1], pixel[2]]);
            let luminance = 0.2126 * f64::from(pixel[0])
                + 0.7152 * f64::from(pixel[1])
                + 0.0722 * f64::from(pixel[2]);
            sum += luminance;
            sum_sq += luminance * luminance;
            n += 1.0;
        }
    }
    let mean = sum / n;
    let deviation = (sum_sq / n - mean * mean).max(0.0).sqrt();
    (info.width, info.height, colours.len(), deviation)
}

#[test]
fn the_preview_site_renders_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's `chromium` package \
         (apt-get update && apt-get install -y chromium); this test does not skip"
    );
    let demo = Demo::init();
    let brain = demo.start();
    demo.tool_until_done("site_generate", &json!({}), "batch");
    demo.tool_until_done("site_build", &json!({ "environment": "preview" }), "job");
    assert_eq!(brain.interrupt(), 0);

    let index = demo
        .dir
        .join("dist/preview/index.html")
        .canonicalize()
        .unwrap();
    let url = format!("file://{}", index.display());
    let hero_headline = demo.read("content/preview/landing/hero.md");
    let hero_headline = hero_headline
        .lines()
        .find_map(|l| l.strip_prefix("headline: "))
        .unwrap_or_else(|| panic!("no headline in hero.md:\n{hero_headline}"))
        .to_owned();

    // The DOM as the browser built it.
    let profile = tempfile::tempdir_in(demo.tmp.path()).unwrap();
    let dom = chromium(profile.path(), &["--dump-dom".to_owned(), url.clone()]);
    assert_eq!(dom.code, Some(0), "--dump-dom failed:\n{}", dom.stderr);
    assert!(
        dom.stdout.contains("<title>Home · demo</title>"),
        "{}",
        dom.stdout
    );
    assert!(
        dom.stdout
            .contains("<a class=\"brand\" href=\"./\">demo</a>"),
        "site title:\n{}",
        dom.stdout
    );
    assert!(
        dom.stdout.contains(&format!("<h1>{hero_headline}</h1>")),
        "hero headline {hero_headline:?}:\n{}",
        dom.stdout
    );
    assert!(
        dom.stdout.contains("id=\"features\""),
        "features:\n{}",
        dom.stdout
    );

    // A screenshot: a real PNG of the window's size, not a blank page.
    let screenshot = demo.tmp.path().join("screenshot.png");
    let profile = tempfile::tempdir_in(demo.tmp.path()).unwrap();
    let shot = chromium(
        profile.path(),
        &[
            "--window-size=1200,1600".to_owned(),
            format!("--screenshot={}", screenshot.display()),
            url,
        ],
    );
    assert_eq!(shot.code, Some(0), "--screenshot failed:\n{}", shot.stderr);
    let size = std::fs::metadata(&screenshot)
        .unwrap_or_else(|e| panic!("no screenshot: {e}; stderr:\n{}", shot.stderr))
        .len();
    assert!(size > 10_000, "the screenshot has only {size} bytes");
    let (width, height, colours, deviation) = pixel_stats(&screenshot);
    assert_eq!((width, height), (1200, 1600));
    assert!(
        colours > 64,
        "only {colours} distinct colours: a blank page?"
    );
    assert!(
        deviation > 8.0,
        "luminance varies too little (σ = {deviation:.1}): a blank page?"
    );
}
