//! `site_serve` and its `site-builder:serve` job: serves `dist/<environment>/` on loopback
//! while it runs, rebuilds the site — a `site-builder:build` job through the queue, with its
//! own progress — whenever the notes, the content, the templates or `brain.toml` change
//! (`[site]` read again), and tells open pages to reload (Server-Sent Events from `/__brain/reload`; every HTML page it serves
//! gets a three-line script that listens). It runs until cancelled: Ctrl-C on `brain site
//! serve`, or `brain jobs cancel <id>`.
//!
//! The server is a small HTTP/1.1 file server for one person's browser on the same
//! machine: GET and HEAD, one request per connection, files looked up under the output
//! folder only (no `..`), `404.html` for what is missing. The site is read from disk per
//! request, and builds swap the whole folder in one step, so a page is never half new.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use brain_plugin_api::{
    JobContext, JobError, JobHandler, JobStatus, JsonSchema, Wording, tagged_process_gone,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::build::BuildInput;
use crate::content::Environment;
use crate::render::files_under;
use crate::state::Shared;
use crate::tools::build_job;

/// How often the watched folders are looked at. A changed file is noticed within this.
const WATCH_EVERY: Duration = Duration::from_millis(300);
/// How often a build the server waits for is asked about.
const BUILD_POLL: Duration = Duration::from_millis(100);
/// The largest request head read: a browser's GET is far smaller.
const MAX_HEAD: usize = 16 * 1024;
/// A comment sent to open reload streams this often, so a closed tab is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Where pages listen for "reload".
const RELOAD_PATH: &str = "/__brain/reload";
/// Put before `</body>` of every HTML page served.
const RELOAD_SCRIPT: &str = "<script>new EventSource(\"/__brain/reload\").onmessage = function () { location.reload(); };</script>";

/// The serve job's input (and `site_serve`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "brain_plugin_api::schemars")]
#[serde(deny_unknown_fields)]
pub struct ServeInput {
    /// Which site to serve and rebuild: `preview` (the default) or `production`.
    #[serde(default)]
    pub environment: Environment,
    /// The port on 127.0.0.1 (default 8080; 0 picks a free one, named in the progress).
    #[serde(default = "default_port")]
    pub port: u16,
}

fn default_port() -> u16 {
    8080
}

impl Default for ServeInput {
    fn default() -> Self {
        ServeInput {
            environment: Environment::default(),
            port: default_port(),
        }
    }
}

/// The serve job's input: the tool's, and the process that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeJobInput {
    #[serde(flatten)]
    pub(crate) serve: ServeInput,
    /// The `process_tag` of the process that asked: a server belongs to it, and a serve
    /// job left in the queue after that process ended (SIGTERM leaves work queued) ends at
    /// once instead of serving from whichever worker finds it later.
    pub(crate) owner: String,
}

/// The job that serves the site until cancelled.
pub(crate) struct ServeJob {
    pub(crate) shared: Arc<Shared>,
}

/// The wording of a serve operation: it ends only when stopped.
pub(crate) fn wording(environment: Environment) -> Wording {
    Wording::job(format!("Stopped serving {environment}"))
}

#[async_trait]
impl JobHandler for ServeJob {
    type Input = ServeJobInput;
    /// Nothing: it ends only when cancelled.
    type Output = ();

    async fn run(&self, input: ServeJobInput, ctx: JobContext) -> Result<(), JobError> {
        self.shared.site_for_job()?;
        if tagged_process_gone(&input.owner) == Some(true) {
            return Err(JobError::permanent(
                "not served: the `brain site serve` that asked for this server has ended",
            ));
        }
        let input = input.serve;
        let root = self.shared.root().to_path_buf();
        let out = root.join("dist").join(input.environment.name());
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, input.port)))
            .await
            .map_err(|e| {
                JobError::permanent(format!(
                    "cannot listen on 127.0.0.1:{}: {e} (choose another port with --port)",
                    input.port
                ))
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| JobError::permanent(format!("cannot read the server's address: {e}")))?
            .port();
        let url = format!("http://127.0.0.1:{port}/");
        let (reload, _) = watch::channel(0u64);
        let reload = Arc::new(reload);
        let server = tokio::spawn(accept(
            listener,
            out,
            reload.clone(),
            ctx.cancellation().clone(),
        ));

        let mut seen = fingerprint(&watched(&root));
        let mut builds = 0u64;
        let mut last = "first build".to_owned();
        // The first build makes sure what is served is the site of now.
        let mut pending = true;
        let mut changed = false;
        loop {
            if pending {
                pending = false;
                ctx.report_progress(builds, 0, &format!("Serving {url} · building ({last})"));
                match rebuild(&self.shared, input.environment, &ctx).await {
                    Ok(said) => last = said,
                    Err(JobError::Cancelled) => break,
                    Err(e) => last = format!("the build failed: {e}"),
                }
                builds += 1;
                reload.send_modify(|n| *n += 1);
                ctx.report_progress(builds, 0, &format!("Serving {url} · {last}"));
            }
            tokio::select! {
                () = ctx.cancellation().cancelled() => break,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
            // A change is built once the files have stayed the same for one more look:
            // an editor saving (or a script writing) is usually done by then.
            let folder = root.clone();
            let now = tokio::task::spawn_blocking(move || fingerprint(&watched(&folder)))
                .await
                .unwrap_or(seen);
            if now != seen {
                seen = now;
                changed = true;
            } else if changed {
                changed = false;
                pending = true;
                last = match self.shared.reload_site() {
                    Ok(true) => "brain.toml's [site] changed".to_owned(),
                    Ok(false) => "a file changed".to_owned(),
                    Err(e) => format!("brain.toml is not valid, so its [site] is as it was: {e}"),
                };
            }
        }
        server.abort();
        Err(JobError::Cancelled)
    }

    /// It runs until stopped: no end to estimate.
    fn default_duration(&self) -> Duration {
        Duration::from_secs(24 * 3600)
    }
}

/// Enqueues a build of `environment` (as `site_build` does) and waits for it; what it said.
async fn rebuild(
    shared: &Shared,
    environment: Environment,
    ctx: &JobContext,
) -> Result<String, JobError> {
    let input = BuildInput {
        environment,
        strict: false,
    };
    let plugin = &*shared.ctx;
    let started = async {
        let (job, message) = build_job(shared, input, ctx.info().source.clone()).await?;
        plugin.enqueue(job, &message).await
    }
    .await
    .map_err(|e| JobError::retryable(format!("cannot start a build: {e}")))?;
    let id = started.job_id;
    loop {
        tokio::select! {
            () = ctx.cancellation().cancelled() => {
                let _ = plugin.cancel(&id).await;
                return Err(JobError::Cancelled);
            }
            () = tokio::time::sleep(BUILD_POLL) => {}
        }
        let status = plugin
            .job_status(&id)
            .await
            .map_err(|e| JobError::retryable(format!("cannot follow build {id}: {e}")))?;
        match status.status {
            JobStatus::Completed => {
                let pages = status
                    .result
                    .as_ref()
                    .and_then(|r| r["pages"].as_u64())
                    .unwrap_or(0);
                return Ok(format!("built {pages} pages ({id})"));
            }
            JobStatus::Failed | JobStatus::Cancelled => {
                return Ok(format!("build {id} did not complete: {}", status.message));
            }
            _ => {}
        }
    }
}

/// What a change in means a rebuild: everything in the brain folder — the notes, the
/// content, the templates, `brain.toml` and a `[site] file` — but the built sites (`dist/`)
/// and hidden folders (`.brain/`, `.git/`).
fn watched(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name != "dist"
        })
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
}

/// A hash of every watched file's path, size and modification time (hidden ones
/// skipped).
fn fingerprint(paths: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for file in paths.iter().flat_map(|path| files_under(path)) {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        file.hash(&mut hasher);
        meta.len().hash(&mut hasher);
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// Accepts connections until the job is cancelled (or the task aborted).
async fn accept(
    listener: TcpListener,
    out: PathBuf,
    reload: Arc<watch::Sender<u64>>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let out = out.clone();
        let reload = reload.subscribe();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _ = respond(stream, &out, reload, stop).await;
        });
    }
}

/// Answers one request.
async fn respond(
    mut stream: TcpStream,
    out: &Path,
    mut reload: watch::Receiver<u64>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let Some((method, target)) = read_head(&mut stream).await? else {
        return Ok(());
    };
    if method != "GET" && method != "HEAD" {
        return send(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"only GET and HEAD\n",
            true,
        )
        .await;
    }
    let path = target.split(['?', '#']).next().unwrap_or("/");
    if path == RELOAD_PATH {
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n: connected\n\n")
            .await?;
        reload.borrow_and_update();
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                changed = reload.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    stream.write_all(b"data: reload\n\n").await?;
                }
                () = tokio::time::sleep(KEEP_ALIVE) => stream.write_all(b": still here\n\n").await?,
            }
        }
    }
    let head_only = method == "HEAD";
    match file_for(out, path) {
        Some(file) => match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let kind = content_type(&file);
                let bytes = with_reload(kind, bytes);
                send(&mut stream, "200 OK", kind, &bytes, head_only).await
            }
            Err(_) => not_found(&mut stream, out, head_only).await,
        },
        None => not_found(&mut stream, out, head_only).await,
    }
}

async fn not_found(stream: &mut TcpStream, out: &Path, head_only: bool) -> std::io::Result<()> {
    let page = tokio::fs::read(out.join("404.html"))
        .await
        .unwrap_or_else(|_| {
            b"<!doctype html><title>Not found</title><p>Not found. Is the site built?</p>".to_vec()
        });
    let page = with_reload("text/html; charset=utf-8", page);
    send(
        stream,
        "404 Not Found",
        "text/html; charset=utf-8",
        &page,
        head_only,
    )
    .await
}

/// Reads the request head; the method and target of its first line, `None` when the
/// client sent nothing usable.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut first = text.lines().next().unwrap_or_default().split_whitespace();
    match (first.next(), first.next()) {
        (Some(method), Some(target)) => Ok(Some((method.to_owned(), target.to_owned()))),
        _ => Ok(None),
    }
}

/// The file under `out` that `path` names (`/blog/` → `blog/index.html`), never outside it.
fn file_for(out: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut file = out.to_path_buf();
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part if part.contains('\\') || part.starts_with('.') => return None,
            part => file.push(part),
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

/// `%XX` escapes decoded; `None` for a malformed escape or text that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// An HTML page with the reload script before its `</body>`.
fn with_reload(kind: &str, bytes: Vec<u8>) -> Vec<u8> {
    if !kind.starts_with("text/html") {
        return bytes;
    }
    let text = String::from_utf8_lossy(&bytes);
    match text.rfind("</body>") {
        Some(at) => format!("{}{RELOAD_SCRIPT}\n{}", &text[..at], &text[at..]).into_bytes(),
        None => format!("{text}{RELOAD_SCRIPT}").into_bytes(),
    }
}

async fn send(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_site() {
        let out = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(out.path().join("blog/a")).unwrap();
        std::fs::write(out.path().join("blog/a/index.html"), "a").unwrap();
        std::fs::write(out.path().join("index.html"), "home").unwrap();
        std::fs::write(out.path().join("caf\u{e9}.txt"), "c").unwrap();
        assert_eq!(
            file_for(out.path(), "/"),
            Some(out.path().join("index.html"))
        );
        assert_eq!(
            file_for(out.path(), "/blog/a/"),
            Some(out.path().join("blog/a/index.html"))
        );
        assert_eq!(
            file_for(out.path(), "/caf%C3%A9.txt"),
            Some(out.path().join("caf\u{e9}.txt"))
        );
        for outside in [
            "/../x",
            "/blog/%2e%2e/%2e%2e/etc/passwd",
            "/%zz",
            "/.hidden",
            "/nope",
        ] {
            assert_eq!(file_for(out.path(), outside), None, "{outside}");
        }
        let page = with_reload("text/html; charset=utf-8", b"<body>x</body>".to_vec());
        assert_eq!(
            String::from_utf8(page).unwrap(),
            format!("<body>x{RELOAD_SCRIPT}\n</body>")
        );
        assert_eq!(with_reload("text/css", b"a{}".to_vec()), b"a{}");
    }
}
