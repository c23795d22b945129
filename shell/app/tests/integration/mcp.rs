//! `brain mcp` spoken to directly, with no MCP SDK: raw JSON-RPC on stdio (malformed input,
//! closing stdin while a call waits), raw HTTP on one kept-alive connection, and the
//! configuration mistakes that stop it. The real Python and TypeScript clients are in the
//! end-to-end tier (tests/e2e/mcp.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::mcp::{HttpBrain, call, status_entry, stdio_brain, stdio_brain_with};
use crate::support::process::{json_lines, next_matching, wait_within};
use crate::support::{Demo, edit_config};

#[test]
fn stdio_survives_malformed_json_rpc() {
    let demo = Demo::paced(10, "");
    let mut child = stdio_brain(&demo);
    let mut stdin = child.stdin.take().unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    writeln!(
        stdin,
        "{{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}}"
    )
    .unwrap();
    writeln!(stdin, "{{this is not json").unwrap();
    writeln!(
        stdin,
        "{{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": \"tools/list\"}}"
    )
    .unwrap();
    stdin.flush().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value {
        let line = lines.next().expect("brain mcp answered").unwrap();
        serde_json::from_str(&line).expect("stdout carries only JSON-RPC")
    };
    let mut answers = Vec::new();
    let mut parse_errors = Vec::new();
    while answers.len() < 2 {
        let msg = next();
        if msg["id"] == 1 || msg["id"] == 2 {
            answers.push(msg);
        } else if msg["error"]["code"] == -32700 {
            parse_errors.push(msg);
        }
    }
    let tools = answers[1]["result"]["tools"].as_array().unwrap();
    assert!(tools.len() > 3, "{answers:#?}");
    check_tool_schemas(tools);
    // The line that was not JSON got a parse error with a null id (JSON-RPC 2.0).
    assert_eq!(parse_errors.len(), 1, "{parse_errors:#?}");
    assert!(
        parse_errors[0].as_object().unwrap().contains_key("id") && parse_errors[0]["id"].is_null(),
        "{parse_errors:#?}"
    );
    // An invalid request gets an error answer that carries an id.
    writeln!(
        stdin,
        "{{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"tools/call\", \"params\": [1, 2]}}"
    )
    .unwrap();
    stdin.flush().unwrap();
    let invalid = loop {
        let msg = next();
        if msg.get("error").is_some() {
            break msg;
        }
    };
    assert!(
        invalid.as_object().unwrap().contains_key("id"),
        "{invalid:#}"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "exits cleanly at EOF: {status:?}");
}

#[test]
fn refuses_open_addresses_without_tokens_and_names_bad_keys() {
    let demo = Demo::paced(10, "");
    let run = demo.run(&["mcp", "--http", "0.0.0.0:0"]).expect(2);
    assert!(run.stderr.contains("not a loopback address"), "{run:#?}");
    assert!(run.stderr.contains("mcp.tokens"), "{run:#?}");

    let demo = Demo::paced(10, "\n[mcp]\nwait_seconds = \"soon\"\n");
    let run = demo.run(&["mcp", "--http", "127.0.0.1:0"]).expect(2);
    assert!(run.stderr.contains("mcp.wait_seconds"), "{run:#?}");

    let demo = Demo::paced(
        10,
        "\n[mcp]\n[mcp.tokens.x]\nsecret = \"0123456789abcdef\"\npermission = \"root\"\n",
    );
    let run = demo.run(&["mcp"]).expect(2);
    assert!(run.stderr.contains("mcp.tokens.x.permission"), "{run:#?}");
}

#[test]
fn closing_stdin_while_a_call_waits_exits_cleanly() {
    // 25 s of batch: far more than rmcp's 5 s drain of open calls after EOF plus the
    // section that is running when the shell stops, so the batch is left unfinished.
    let demo = Demo::paced(5000, "");
    let (mut child, mut stdin, messages) = session(&demo, &[]);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "site_generate", "arguments": {"force": true},
        "_meta": {"progressToken": "held"}}});
    writeln!(stdin, "{call}").unwrap();
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let progress = next_matching(&messages, Duration::from_secs(20), &mut seen, |m| {
        m["method"] == "notifications/progress" && m["params"]["progressToken"] == "held"
    });
    let id = progress["params"]["_meta"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();

    drop(stdin);
    let closed = Instant::now();
    let status = wait_within(&mut child, Duration::from_secs(20))
        .expect("brain mcp still running 20 s after stdin closed");
    assert!(status.success(), "exit status {status:?}; {seen:#?}");
    eprintln!(
        "brain mcp exited {:?} after stdin closed with a call open",
        closed.elapsed()
    );
    // stdout carried only JSON-RPC, after EOF too, and the call, if answered, got a result.
    seen.extend(messages.try_iter());
    assert!(seen.iter().all(|m| m.get("notJson").is_none()), "{seen:#?}");
    if let Some(answer) = seen.iter().find(|m| m["id"] == 2) {
        assert!(answer.get("result").is_some(), "{answer:#}");
    }
    let entry = demo.status(&id);
    assert!(
        ["pending", "processing"].contains(&entry["status"].as_str().unwrap()),
        "the batch stays queued for the next start: {entry:#}"
    );
}

/// The README's setup: `brain start` runs the work, `brain mcp` (here with `--no-workers`,
/// so certainly none of it) serves an LLM host. A call with a progress token follows the
/// batch another process runs — through a restart of that process — and answers with the
/// completed result, not the handle at the end of its wait bound.
#[test]
fn a_call_follows_work_another_process_runs_to_its_result() {
    // 30 s a section: the batch is certainly processing while the first worker runs.
    let demo = Demo::paced(30_000, "");
    let worker = demo.start();
    let (mut child, mut stdin, messages) =
        session(&demo, &["--no-workers", "--wait-seconds", "300"]);
    // The listing's updates too: every change here is made by another process.
    let subscribe = json!({"jsonrpc": "2.0", "id": 9, "method": "resources/subscribe",
        "params": {"uri": "brain://jobs"}});
    let generate = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "site_generate", "arguments": {"force": true},
        "_meta": {"progressToken": "elsewhere"}}});
    writeln!(stdin, "{subscribe}\n{generate}").unwrap();
    stdin.flush().unwrap();
    let mut seen = Vec::new();
    let processing = next_matching(&messages, Duration::from_secs(60), &mut seen, |m| {
        m["method"] == "notifications/progress" && m["params"]["_meta"]["status"] == "processing"
    });
    let id = processing["params"]["_meta"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The worker stops mid-batch (its section goes back to the queue). Nothing runs the
    // batch now: the call's progress says so, and so does the status tool over MCP — no
    // ETA, no countdown.
    assert_eq!(worker.interrupt(), 0);
    let waiting = next_matching(&messages, Duration::from_secs(60), &mut seen, |m| {
        m["method"] == "notifications/progress"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.starts_with("waiting for a worker"))
    });
    assert!(
        !waiting["params"]["message"]
            .as_str()
            .unwrap()
            .contains(" left"),
        "{waiting:#}"
    );
    let entry = status_entry(&mut stdin, &messages, &mut seen, 3, &id);
    assert_eq!(entry["waitingForWorker"], true, "{entry:#}");
    assert!(entry.get("estimatedCompletionMs").is_none(), "{entry:#}");
    assert!(entry.get("checkAgainInMs").is_none(), "{entry:#}");
    assert!(
        entry["checkAgainIn"]
            .as_str()
            .is_some_and(|t| t.contains("brain start")),
        "{entry:#}"
    );

    // Another worker, with a quick generator, finishes the batch.
    edit_config(&demo.dir, "delay_ms = 30000", "delay_ms = 20");
    let worker = demo.start();
    let waiting_at = seen.len();
    let answer = next_matching(&messages, Duration::from_secs(120), &mut seen, |m| {
        m["id"] == 2
    });
    let answered = chrono::Utc::now();
    // The batch changed after the worker stopped (another one finished it): the listing's
    // subscribers heard of it, though nothing changed in this process.
    let listing_updated = |m: &Value| {
        m["method"] == "notifications/resources/updated" && m["params"]["uri"] == "brain://jobs"
    };
    if !seen[waiting_at..].iter().any(listing_updated) {
        next_matching(
            &messages,
            Duration::from_secs(30),
            &mut seen,
            listing_updated,
        );
    }
    let result = &answer["result"];
    assert_eq!(
        result["structuredContent"]["status"], "completed",
        "{answer:#}"
    );
    let last = seen
        .iter()
        .rev()
        .find(|m| m["method"] == "notifications/progress")
        .unwrap();
    assert_eq!(
        last["params"]["progress"].as_f64(),
        Some(5.0),
        "the final count last: {last:#}"
    );
    let entry = demo.status(&id);
    let finished =
        chrono::DateTime::parse_from_rfc3339(entry["finishedAt"].as_str().unwrap()).unwrap();
    let late = (answered - finished.with_timezone(&chrono::Utc)).num_milliseconds();
    eprintln!("the call answered {late} ms after the batch ended in the other process");
    // The aim is within a second; the bound leaves room for a loaded machine and still
    // catches a call that waits for its time limit (what it did before the follow stream).
    assert!(late < 10_000, "answered {late} ms after the end");
    drop(stdin);
    wait_within(&mut child, Duration::from_secs(20)).expect("brain mcp exits after stdin closes");
    assert_eq!(worker.interrupt(), 0);
}

/// `brain mcp extra…` on stdio after the initialize handshake: its stdin and its messages.
fn session(
    demo: &Demo,
    extra: &[&str],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<Value>,
) {
    let mut child = stdio_brain_with(demo, extra);
    let mut stdin = child.stdin.take().unwrap();
    let messages = json_lines(&mut child);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    writeln!(stdin, "{init}").unwrap();
    writeln!(
        stdin,
        "{{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}}"
    )
    .unwrap();
    stdin.flush().unwrap();
    (child, stdin, messages)
}

/// A call without a progress token waits `answer_within_ms` for the work it started: work
/// done by then answers with its result, longer work with the job handle.
#[test]
fn quick_work_answers_with_its_result_and_slow_work_with_its_handle() {
    // Content to build first (a build of nothing is refused), then a slow generator.
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    demo.slow_generator(30_000);
    // A minute to answer: the build certainly ends within it.
    edit_config(
        &demo.dir,
        "answer_within_ms = 1500",
        "answer_within_ms = 60000",
    );
    let (mut child, mut stdin, messages) = session(&demo, &[]);
    let build = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "site_build", "arguments": {}}});
    let mut seen = Vec::new();
    let answer = call(
        &mut stdin,
        &messages,
        &mut seen,
        &build,
        Duration::from_secs(120),
    );
    let result = &answer["result"]["structuredContent"];
    assert_eq!(result["status"], "completed", "{answer:#}");
    assert!(
        result["jobId"].as_str().unwrap().starts_with("job_"),
        "{answer:#}"
    );
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("completed"),
        "{answer:#}"
    );
    drop(stdin);
    wait_within(&mut child, Duration::from_secs(20)).expect("brain mcp exits");

    // 30 s a section against a fifth of a second to answer: the handle.
    edit_config(
        &demo.dir,
        "answer_within_ms = 60000",
        "answer_within_ms = 200",
    );
    let (mut child, mut stdin, messages) = session(&demo, &[]);
    let generate = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "site_generate", "arguments": {"force": true}}});
    let answer = call(
        &mut stdin,
        &messages,
        &mut seen,
        &generate,
        Duration::from_secs(120),
    );
    let result = &answer["result"]["structuredContent"];
    assert_eq!(result["status"], "started", "{answer:#}");
    assert!(
        result["jobId"].as_str().unwrap().starts_with("batch_"),
        "{answer:#}"
    );
    drop(stdin);
    wait_within(&mut child, Duration::from_secs(30)).expect("brain mcp exits");
}

/// One HTTP/1.1 response read off a kept-alive connection: status, headers (lower-case
/// names), body (by Content-Length).
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, String) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8(body).unwrap())
}

/// A connection to `addr`: its writing half, and its reading half (reads give up after a
/// minute, an upper bound).
fn connect(addr: &str) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    (stream.try_clone().unwrap(), BufReader::new(stream))
}

/// Refusals leave a kept-alive connection usable, as a pooling client (httpx, undici)
/// expects: the server reads the whole body before it answers, even when the body arrives
/// after the headers and the answer is a 401. Only a body over the limit closes the
/// connection, and then it says so.
#[test]
fn refusals_keep_a_pooled_connection_usable() {
    const SECRET: &str = "owner-secret-0123456789";
    let demo = Demo::paced(
        10,
        &format!(
            "\n[mcp]\nmax_body_bytes = 65536\n[mcp.tokens.owner]\nsecret = \"{SECRET}\"\n\
             permission = \"anchor\"\n"
        ),
    );
    let server = HttpBrain::start(&demo, "127.0.0.1:0");
    let addr = server
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (mut writer, mut reader) = connect(&addr);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
    .to_string();
    let request = |authorization: &str, length: usize| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\n{authorization}\
             Content-Length: {length}\r\n\r\n"
        )
    };
    for authorization in ["", "Authorization: Bearer not-the-secret-at-all\r\n", ""] {
        // The headers alone first: a server that answered now would leave the body unread.
        writer
            .write_all(request(authorization, body.len()).as_bytes())
            .unwrap();
        writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        writer.write_all(body.as_bytes()).unwrap();
        let (status, headers, text) = read_response(&mut reader);
        assert_eq!(status, 401, "{headers:?} {text}");
        assert!(
            !headers
                .iter()
                .any(|(n, v)| n == "connection" && v == "close"),
            "{headers:?}"
        );
    }
    // The same connection still serves a good request.
    let good = format!("Authorization: Bearer {SECRET}\r\n");
    writer
        .write_all(request(&good, body.len()).as_bytes())
        .unwrap();
    writer.write_all(body.as_bytes()).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line:?}");

    // Over the limit: 413, and the connection is closed, saying so.
    let (mut writer, mut reader) = connect(&addr);
    // 100,000 bytes announced, one byte over the limit sent: the server has read all that
    // was sent when it answers, so its close is a clean one (unread bytes would reset it).
    writer
        .write_all(request(&good, 100_000).as_bytes())
        .unwrap();
    writer.write_all(&vec![b' '; 65_537]).unwrap();
    let (status, headers, text) = read_response(&mut reader);
    assert_eq!(status, 413, "{headers:?} {text}");
    assert!(text.contains("max_body_bytes"), "{text}");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "connection" && v == "close"),
        "{headers:?}"
    );
    assert_eq!(server.stop(), 0);
}

/// Every tool publishes an object output schema without boolean subschemas (strict
/// validators refuse them); `wait` is offered exactly on the tools that start work.
fn check_tool_schemas(tools: &[Value]) {
    fn no_boolean_subschemas(schema: &Value, at: &str) {
        let Value::Object(map) = schema else { return };
        for (key, child) in map {
            let children: Vec<&Value> = match (key.as_str(), child) {
                ("properties" | "$defs", Value::Object(m)) => m.values().collect(),
                ("items" | "additionalProperties", c) => vec![c],
                ("anyOf" | "oneOf" | "allOf", Value::Array(a)) => a.iter().collect(),
                _ => continue,
            };
            for child in children {
                assert_ne!(
                    child,
                    &Value::Bool(true),
                    "a `true` schema under {key} in {at}"
                );
                no_boolean_subschemas(child, at);
            }
        }
    }
    let starting = [
        "notes_index",
        "site_build",
        "site_generate",
        "site_promote",
        "site_rollback",
        "site_serve",
    ];
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        let output = &tool["outputSchema"];
        assert_eq!(output["type"], "object", "{name}: {tool:#}");
        no_boolean_subschemas(output, name);
        no_boolean_subschemas(&tool["inputSchema"], name);
        let has_wait = tool["inputSchema"]["properties"].get("wait").is_some();
        assert_eq!(has_wait, starting.contains(&name), "{name}: {tool:#}");
    }
}
