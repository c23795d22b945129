//! `brain web` over plain HTTP: the owner's session on an open loopback server, the checks
//! against other sites (foreign Origin or Host, an action without the session's token),
//! escaping in the page shell, a tool started and followed over the event stream, history
//! filters and their errors, cancel through the shell, `/metrics`; with `[web.tokens]`:
//! sign-in, 401 without a secret, and a public token that may neither read nor cancel.
//! (The pages in a real browser are tested in tests/e2e/web.rs.)

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::http::{DASHBOARD, Events, Reply, get, listening, request, serve_web};
use crate::support::{Demo, Running, entry_of, json as parse_json};

/// The session cookie a reply sets, as a `Cookie` header's value.
fn cookie(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

/// The page's session token.
fn csrf(page: &str) -> String {
    let start = page
        .find("name=\"csrf-token\" content=\"")
        .expect("a csrf meta tag")
        + 27;
    page[start..].split('"').next().unwrap().to_owned()
}

fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    request(addr, "POST", path, &all, &body.to_string())
}

#[test]
fn the_owner_on_loopback_drives_and_follows_work_and_other_sites_are_refused() {
    let demo = Demo::paced(300, "");
    let (_web, addr) = serve_web(&demo, &[]);
    let page = get(&addr, "/", &[]);
    assert_eq!(page.status, 200, "{page:#?}");
    let session = cookie(&page);
    let token = csrf(&page.body);
    let origin = format!("http://{addr}");
    let me: &[(&str, &str)] = &[("Cookie", &session), ("Origin", &origin)];

    // The shell of a page escapes what the address carries.
    let shell = get(
        &addr,
        "/ops/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[("Cookie", &session)],
    );
    assert_eq!(shell.status, 200);
    assert!(
        shell.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !shell.body.contains("<script>alert"),
        "{}",
        shell.body
    );

    // An action without the session's token, from another site, or for another host.
    let refused = post(
        &addr,
        "/api/tools/site_generate",
        me,
        &json!({"force": true}),
    );
    assert_eq!(refused.status, 403, "{refused:#?}");
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    let evil: &[(&str, &str)] = &[
        ("Cookie", &session),
        ("Origin", "http://evil.example"),
        ("X-CSRF-Token", &token),
    ];
    let refused = post(
        &addr,
        "/api/tools/site_generate",
        evil,
        &json!({"force": true}),
    );
    assert_eq!(refused.status, 403);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("cross-site")
    );
    let stream = get(&addr, "/api/events", evil);
    assert_eq!(stream.status, 403);
    let rebound = get(&addr, "/api/overview", &[("Host", "evil.example:80")]);
    assert_eq!(rebound.status, 403);
    let listed = parse_json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|op| op["source"] != "web:owner"),
        "a refused action started nothing: {listed:#}"
    );

    // With it: the batch starts, and its stream follows it to the end.
    let with_token: Vec<(&str, &str)> = me
        .iter()
        .copied()
        .chain([("X-CSRF-Token", token.as_str())])
        .collect();
    let started = post(
        &addr,
        "/api/tools/site_generate",
        &with_token,
        &json!({"force": true}),
    );
    assert_eq!(started.status, 200, "{started:#?}");
    let id = started.json()["jobId"].as_str().unwrap().to_owned();
    let mut events = Events::open(
        &addr,
        &format!("/api/events?id={id}"),
        &[("Cookie", &session)],
    );
    let mut states = Vec::new();
    let last = loop {
        let (name, data) = events.next().expect("the stream to go on until the end");
        assert_eq!(
            name, "ops",
            "a stream for one operation sends only its states"
        );
        let op = data["ops"][0].clone();
        assert_eq!(op["id"], id.as_str());
        states.push(op["status"].as_str().unwrap().to_owned());
        if op["status"] == "completed" {
            break op;
        }
    };
    assert!(states.contains(&"processing".to_owned()), "{states:?}");
    assert_eq!(last["progress"]["current"], last["progress"]["total"]);
    assert_eq!(last["source"], "web:owner");

    // The history lists it by source; a bad filter names itself.
    let listed = get(&addr, "/api/ops?source=web", &[("Cookie", &session)]).json();
    assert_eq!(listed["ops"][0]["id"], id.as_str(), "{listed:#}");
    assert!(
        get(&addr, "/api/ops?source=cli", &[("Cookie", &session)]).json()["ops"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let bad = get(&addr, "/api/ops?status=done", &[("Cookie", &session)]);
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"].as_str().unwrap().contains("`status`"),
        "{bad:#?}"
    );
    let record = get(&addr, &format!("/api/ops/{id}"), &[("Cookie", &session)]).json();
    let items = record["items"].as_array().unwrap();
    assert_eq!(
        items.len() as u64,
        last["progress"]["total"].as_u64().unwrap()
    );
    assert!(
        items.iter().all(|i| i["status"] == "completed"),
        "{record:#}"
    );
    assert_eq!(
        get(&addr, "/api/ops/batch_nothing", &[("Cookie", &session)]).status,
        404
    );

    // Cancel a second batch from the dashboard: the CLI sees it end cancelled.
    let second = post(
        &addr,
        "/api/tools/site_generate",
        &with_token,
        &json!({"force": true}),
    );
    let second = second.json()["jobId"].as_str().unwrap().to_owned();
    let cancelled = post(
        &addr,
        &format!("/api/ops/{second}/cancel"),
        &with_token,
        &json!({}),
    );
    assert_eq!(cancelled.status, 200, "{cancelled:#?}");
    let mut events = Events::open(
        &addr,
        &format!("/api/events?id={second}"),
        &[("Cookie", &session)],
    );
    loop {
        let (_, data) = events.next().expect("the stream to go on until the end");
        if data["ops"][0]["status"] == "cancelled" {
            break;
        }
    }
    let listed = parse_json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout);
    assert_eq!(entry_of(&listed, &second)["status"], "cancelled");

    // This process's counters: every item of the first batch completed here.
    let metrics = get(&addr, "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    let total = last["progress"]["total"].as_u64().unwrap();
    assert!(
        metrics.body.lines().any(|l| l
            == format!("brains_jobs_completed_total{{type=\"site-builder:generate\"}} {total}")),
        "{}",
        metrics.body
    );
}

#[test]
fn tokens_sign_in_and_a_public_token_may_neither_read_nor_cancel() {
    let demo = Demo::init();
    demo.append_config(
        "\n[web.tokens.me]\nsecret = \"owner-secret-0123456789\"\npermission = \"anchor\"\n\
         [web.tokens.guest]\nsecret = \"guest-secret-0123456789\"\npermission = \"public\"\n",
    );
    let (_web, addr) = serve_web(&demo, &["--no-workers"]);

    // No secret, or a wrong one.
    assert_eq!(get(&addr, "/api/overview", &[]).status, 401);
    let page = get(&addr, "/", &[]);
    assert_eq!(
        (page.status, page.header("location")),
        (303, Some("/login"))
    );
    let wrong = get(
        &addr,
        "/api/overview",
        &[("Authorization", "Bearer nope-nope-nope-nope")],
    );
    assert_eq!(wrong.status, 401);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let failed = request(&addr, "POST", "/login", &form, "secret=not-a-secret-at-all");
    assert_eq!(failed.status, 401);
    assert!(failed.body.contains("not one of [web.tokens]"));

    // A public token: no reading the queue's work, no cancelling.
    let guest = [("Authorization", "Bearer guest-secret-0123456789")];
    assert_eq!(get(&addr, "/api/overview", &guest).status, 403);
    assert_eq!(get(&addr, "/api/events", &guest).status, 403);
    let cancel = request(&addr, "POST", "/api/ops/batch_x/cancel", &guest, "{}");
    assert_eq!(cancel.status, 403, "{cancel:#?}");
    assert!(
        cancel.json()["error"]
            .as_str()
            .unwrap()
            .contains("permission")
    );

    // Signing in sets the session; the owner's page then carries its token.
    let signed = request(
        &addr,
        "POST",
        "/login",
        &form,
        "secret=owner-secret-0123456789",
    );
    assert_eq!((signed.status, signed.header("location")), (303, Some("/")));
    let session = cookie(&signed);
    let overview = get(&addr, "/api/overview", &[("Cookie", &session)]);
    assert_eq!(overview.status, 200);
    assert_eq!(
        overview.json()["me"],
        json!({"name": "me", "permission": "anchor"})
    );
    let page = get(&addr, "/", &[("Cookie", &session)]);
    assert!(page.body.contains("me · anchor") && !csrf(&page.body).is_empty());
}

#[test]
fn an_open_address_without_tokens_and_a_bad_section_are_refused() {
    let demo = Demo::init();
    let run = demo.run(&["web", "--http", "0.0.0.0:0"]).expect(2);
    assert!(run.stderr.contains("[web.tokens"), "{}", run.stderr);
    demo.append_config("\n[web]\nhttp = \"somewhere\"\n");
    let run = demo.run(&["web"]).expect(2);
    assert!(run.stderr.contains("`web.http`"), "{}", run.stderr);
}

#[test]
fn failed_work_is_retried_from_the_dashboard_and_inputs_can_be_hidden() {
    let demo = Demo::init();
    demo.failing_generator();
    demo.append_config("\n[web]\nhide_inputs = true\n");
    let (_web, addr) = serve_web(&demo, &[]);
    let page = get(&addr, "/", &[]);
    let session = cookie(&page);
    let token = csrf(&page.body);
    let origin = format!("http://{addr}");
    let me: &[(&str, &str)] = &[
        ("Cookie", &session),
        ("Origin", &origin),
        ("X-CSRF-Token", &token),
    ];
    let started = post(&addr, "/api/tools/site_generate", me, &json!({}));
    let id = started.json()["jobId"].as_str().unwrap().to_owned();
    let follow_to_the_end = || {
        let mut events = Events::open(
            &addr,
            &format!("/api/events?id={id}"),
            &[("Cookie", &session)],
        );
        loop {
            let (_, data) = events.next().expect("the stream to go on until the end");
            let op = data["ops"][0].clone();
            if op["status"]
                .as_str()
                .is_some_and(|s| s != "pending" && s != "processing")
            {
                return op;
            }
        }
    };
    let ended = follow_to_the_end();
    assert_eq!(ended["status"], "failed", "{ended:#}");
    let failed = ended["errors"].as_array().unwrap().len();
    assert!(failed > 0, "{ended:#}");

    // The failed items go back to the queue (and fail again: the generator still does).
    let retried = post(&addr, &format!("/api/ops/{id}/retry"), me, &json!({}));
    assert_eq!(retried.status, 200, "{retried:#?}");
    assert!(
        retried.json()["text"]
            .as_str()
            .unwrap()
            .contains("queued again"),
        "{retried:#?}"
    );
    assert_eq!(follow_to_the_end()["status"], "failed");
    let log = parse_json(&demo.run(&["jobs", "logs", &id, "--json"]).expect(0).stdout);
    let retried_lines = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "retried")
        .count();
    assert_eq!(retried_lines, failed, "{log:#}");

    // Inputs hidden by configuration: none in an item's record.
    let record = get(&addr, &format!("/api/ops/{id}"), &[("Cookie", &session)]).json();
    let item = record["items"][0]["id"].as_str().unwrap().to_owned();
    let item = get(&addr, &format!("/api/ops/{item}"), &[("Cookie", &session)]).json();
    assert_eq!(item["job"]["input"], Value::Null, "{item:#}");
    assert_eq!(item["job"]["inputHidden"], true);
}

#[test]
fn fifty_streams_each_end_on_the_final_state_of_a_batch() {
    let demo = Demo::init();
    let (_web, addr) = serve_web(&demo, &[]);
    let page = get(&addr, "/", &[]);
    let session = cookie(&page);
    // Fifty browsers' streams, each keeping the newest state it saw of every operation.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut readers = Vec::new();
    for _ in 0..50 {
        let (addr, session, tx) = (addr.clone(), session.clone(), tx.clone());
        readers.push(std::thread::spawn(move || {
            let mut events = Events::open(&addr, "/api/events", &[("Cookie", &session)]);
            let _ = tx.send(());
            let mut newest = std::collections::HashMap::new();
            while let Some((name, data)) = events.next() {
                if name != "ops" {
                    continue;
                }
                for op in data["ops"].as_array().unwrap() {
                    newest.insert(op["id"].as_str().unwrap().to_owned(), op.clone());
                }
                let done = newest
                    .values()
                    .any(|op| op["type"] == "batch" && op["status"] == "completed");
                if done {
                    return newest;
                }
            }
            newest
        }));
    }
    for _ in 0..50 {
        rx.recv_timeout(Duration::from_secs(60)).unwrap();
    }
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    let id = crate::support::detached_id(&queued.stdout);
    let done = demo.wait_completed(&id);
    for reader in readers {
        let newest = reader.join().unwrap();
        let last = &newest[&id];
        assert_eq!(last["status"], "completed", "{last:#}");
        assert_eq!(last["progress"], done["progress"], "{last:#}");
    }
}

#[test]
fn metrics_only_serves_metrics_and_nothing_else() {
    let demo = Demo::init();
    let mut running =
        Running::spawn(demo.command(&["web", "--http", "127.0.0.1:0", "--metrics-only"]));
    let addr = listening(&mut running, "brain metrics at http://");
    let metrics = get(&addr, "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("# TYPE brains_jobs_completed counter")
            && metrics.body.ends_with("# EOF\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text; version=1.0.0")),
        "{metrics:#?}"
    );
    for path in ["/", "/api/overview", "/api/events"] {
        assert_eq!(get(&addr, path, &[]).status, 404, "{path}");
    }
}

#[test]
fn brain_start_serves_the_dashboard_when_web_http_is_set() {
    let demo = Demo::init();
    demo.append_config("\n[web]\nhttp = \"127.0.0.1:0\"\n");
    let mut running = Running::spawn(demo.command(&["start"]));
    let addr = listening(&mut running, DASHBOARD);
    running.wait_for_line("brain running in", Duration::from_secs(60));
    let overview = get(&addr, "/api/overview", &[]);
    assert_eq!(overview.status, 200, "{overview:#?}");
    let workers = overview.json()["workers"].clone();
    assert_eq!(running.interrupt(), 0, "{workers:#}");
}
