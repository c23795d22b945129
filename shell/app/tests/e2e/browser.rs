//! The preview site in a real browser: Debian's headless Chromium renders the built home
//! page to a DOM dump and a screenshot; driven by playwright-core, it follows the user
//! story of the site following the notes (search, a card clicked, layout at two widths,
//! axe-core's accessibility rules), and the W3C Nu checker validates every page. Not
//! ignored and never skipped: without `/usr/bin/chromium` the test fails and says which
//! package to install.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Demo, Running, json, wait_until};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
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
pub(crate) fn pixel_stats(path: &Path) -> (u32, u32, usize, f64) {
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

/// The npm folder with playwright-core, axe-core and vnu-jar (installed once).
pub(crate) fn browser_tools() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(repo.join("scripts/test-deps/browser.sh"))
        .output()
        .expect("run scripts/test-deps/browser.sh");
    assert!(
        out.status.success(),
        "browser.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `GET path` answers 200.
fn answers(port: u16, path: &str) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    if write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 200")
}

/// Every file under `dir`, as (path, text).
fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                found.push((path, text));
            }
        }
    }
    found
}

/// The user story of the site following the notes, as a visitor's browser sees it: a
/// brain generated and built, then three new notes (a product, an about text, a blog
/// post) and a private one; generate regenerates what they made stale, the build has their
/// pages, tags, feed, search index and backlinks and nothing of the private note; every
/// page is valid HTML (the W3C Nu checker); served by `brain site serve`, Chromium finds
/// the product from the search box, reaches its page from its card, and the home and note
/// pages keep their layout at 1280 and 390 px with no WCAG A/AA violation (axe-core).
#[test]
fn the_site_follows_the_notes_in_a_browser() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's `chromium`"
    );
    let tools = browser_tools();
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    demo.run(&["site", "build"]).expect(0);

    demo.write_note(
        "bread.md",
        "---\ntitle: Sourdough bread\ntags: [product, baking]\ndate: 2026-12-01\npublish: true\n---\n\nA loaf baked every morning. How it began: [[Opening day]].\n",
    );
    demo.write_note(
        "about-marta.md",
        "---\ntitle: About Marta\ntags: [about]\npublish: true\n---\n\nMarta bakes in Lisbon; the [[Sourdough bread]] is hers.\n",
    );
    demo.write_note(
        "opening.md",
        "---\ntitle: Opening day\ntags: [blog, baking]\ndate: 2026-12-05\npublish: true\n---\n\nThe shop opened today. [[Quarrel with the landlord]] aside, it went well.\n",
    );
    demo.write_note(
        "landlord.md",
        "---\ntitle: Quarrel with the landlord\ntags: [grievances]\n---\n\nXylophone-loud arguments about the rent.\n",
    );
    let plan = json(
        &demo
            .run(&["site", "generate", "--dry-run", "--json"])
            .expect(0)
            .stdout,
    );
    let planned = plan["sections"].as_array().unwrap();
    assert!(
        planned.iter().any(|s| s["section"] == "products"
            && s["reason"]
                .as_str()
                .unwrap()
                .contains("1 new product note (bread.md)")),
        "{plan:#}"
    );
    demo.run(&["site", "generate"]).expect(0);
    let again = demo.run(&["site", "generate"]).expect(0);
    assert!(
        again.stdout.starts_with("Nothing to generate"),
        "{again:#?}"
    );
    demo.run(&["site", "build"]).expect(0);

    let dist = demo.dir.join("dist/preview");
    for page in [
        "blog/opening-day/index.html",
        "blog/index.html",
        "blog/feed.xml",
        "notes/sourdough-bread/index.html",
        "tags/baking/index.html",
        "search.json",
    ] {
        assert!(dist.join(page).is_file(), "no {page}");
    }
    let bread = demo.read("dist/preview/notes/sourdough-bread/index.html");
    assert!(bread.contains("Linked from"), "backlinks: {bread}");
    let site = files(&dist);
    for private in [
        "Quarrel with the landlord",
        "Xylophone",
        "grievances",
        "landlord",
    ] {
        for (path, text) in &site {
            assert!(
                !text.contains(private),
                "{private:?} leaked into {}",
                path.display()
            );
        }
    }

    // Valid HTML5, every page.
    let vnu = Command::new("java")
        .arg("-jar")
        .arg(tools.join("node_modules/vnu-jar/build/dist/vnu.jar"))
        .args(["--errors-only", "--skip-non-html"])
        .arg(&dist)
        .output()
        .expect("run java");
    assert!(
        vnu.status.success() && vnu.stderr.is_empty() && vnu.stdout.is_empty(),
        "the Nu HTML checker found errors:\n{}{}",
        String::from_utf8_lossy(&vnu.stdout),
        String::from_utf8_lossy(&vnu.stderr)
    );

    let port = free_port();
    let serve = Running::spawn(demo.command(&["site", "serve", "--port", &port.to_string()]));
    wait_until("the site to be served", || {
        answers(port, "/notes/sourdough-bread/")
    });
    let shots = demo.tmp.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let story = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/site_story.mjs"))
        .arg(&tools)
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg(&shots)
        .args(["Sourdough bread", "notes/sourdough-bread/index.html"])
        .output()
        .expect("run node");
    assert!(
        story.status.success(),
        "the browser story failed:\n{}{}",
        String::from_utf8_lossy(&story.stdout),
        String::from_utf8_lossy(&story.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&story.stdout).unwrap();
    assert_eq!(said["problems"], json!([]), "{said:#}");
    for (name, width) in [
        ("index", 1280),
        ("note", 1280),
        ("index", 390),
        ("note", 390),
    ] {
        let (w, h, colours, deviation) = pixel_stats(&shots.join(format!("{name}-{width}.png")));
        assert_eq!(w, width, "{name}");
        assert!(
            h >= 900 && colours > 64 && deviation > 8.0,
            "{name}-{width}: a blank page?"
        );
    }
    let (code, _) = serve.interrupt_and_read();
    assert_eq!(code, 130);
}
