//! `brain site serve`: the built site on loopback, rebuilt through the queue when a note or
//! `brain.toml` changes, open pages told to reload, nothing outside the site served, and Ctrl-C stops
//! it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Demo, Running, edit_config, json, wait_until};

/// Upper bound for anything the test waits on (never a pace).
const BOUND: Duration = Duration::from_secs(60);

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` (the raw target, sent as is): the status code and the body, or `None` when
/// nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(BOUND)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let code = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((code, body))
}

#[test]
fn serve_rebuilds_when_a_note_changes_and_reloads_open_pages() {
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    let port = free_port();
    let mut serve = Running::spawn(demo.command(&["site", "serve", "--port", &port.to_string()]));
    serve.wait_for_line(&format!("at http://127.0.0.1:{port}/"), BOUND);

    // Nothing is built before it starts: the home page answers once its first build is in.
    wait_until("the first build to be served", || {
        get(port, "/").is_some_and(|(code, _)| code == 200)
    });
    let (_, home) = get(port, "/").unwrap();
    assert!(home.contains("<title>Home · demo</title>"), "{home}");
    assert!(
        home.contains("new EventSource(\"/__brain/reload\")"),
        "{home}"
    );
    let (code, _) = get(port, "/notes/example-product/").unwrap();
    assert_eq!(code, 200);
    let (code, not_found) = get(port, "/no/such/page").unwrap();
    assert_eq!(code, 404);
    assert!(not_found.contains("Page not found"), "{not_found}");
    for outside in ["/../brain.toml", "/%2e%2e/brain.toml", "/.brain/brain.db"] {
        assert_eq!(get(port, outside).unwrap().0, 404, "{outside}");
    }

    // An open page's reload stream.
    let mut events = TcpStream::connect(("127.0.0.1", port)).unwrap();
    events.set_read_timeout(Some(BOUND)).unwrap();
    write!(
        events,
        "GET /__brain/reload HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut events = BufReader::new(events);
    let mut line = String::new();
    while !line.starts_with(": connected") {
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
    }

    // A new published note: rebuilt, the page told to reload, the note's page served.
    demo.write_note(
        "rye.md",
        "---\ntitle: Rye bread\npublish: true\n---\n\nDense and dark.\n",
    );
    // Each rebuild tells the page to reload; the one after the note was written whole
    // serves its page.
    let deadline = Instant::now() + BOUND;
    let rye = loop {
        assert!(Instant::now() < deadline, "the note's page never came");
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
        if !line.starts_with("data: reload") {
            continue;
        }
        if let Some((200, page)) = get(port, "/notes/rye-bread/") {
            break page;
        }
    };
    assert!(rye.contains("<h1>Rye bread</h1>"), "{rye}");

    // brain.toml's [site] changed: read again and built, the page reloaded.
    edit_config(
        &demo.dir,
        "description = \"A personal brain, published.\"",
        "description = \"Bread, baked daily.\"",
    );
    let deadline = Instant::now() + BOUND;
    loop {
        assert!(Instant::now() < deadline, "the new [site] was never built");
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "the stream ended");
        if line.starts_with("data: reload")
            && get(port, "/").is_some_and(|(_, home)| home.contains("Bread, baked daily."))
        {
            break;
        }
    }

    // The rebuilds were build jobs of their own, run by this command.
    let listed = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    let builds = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["label"] == "build preview" && j["status"] == "completed")
        .count();
    assert!(builds >= 2, "{listed:#}");

    let (code, said) = serve.interrupt_and_read();
    assert_eq!(code, 130, "{said}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after Ctrl-C"
    );
}
