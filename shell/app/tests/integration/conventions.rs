//! The command line's conventions, as a person who knows uv, cargo and gh expects them:
//! quiet by default (no log lines unless `-v`), `-q` for only errors and the result, the
//! tool's fields named as flags, and `--version` naming the commit.

use crate::support::{Demo, brain_run, edit_config, json};

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let tmp = tempfile::tempdir().unwrap();
    let run = brain_run(tmp.path(), &["--version"]).expect(0);
    // "brain 0.1.0 (55f8a6c 2026-12-07)": the commit this test was built from.
    let line = run.stdout.trim();
    let (name, rest) = line.split_once(' ').unwrap();
    assert_eq!(name, "brain");
    let (version, commit) = rest.split_once(' ').unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let commit = commit.trim_start_matches('(').trim_end_matches(')');
    let (hash, date) = commit.split_once(' ').unwrap();
    assert!(
        hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    assert_eq!(date.len(), 10, "{line}");
}

#[test]
fn commands_log_nothing_unless_asked() {
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    let built = demo.run(&["site", "build"]).expect(0);
    assert!(built.stdout.contains("Built preview"), "{built:#?}");
    let unknown = demo.run(&["jobs", "status", "job_nope"]).expect(2);
    for run in [&built, &unknown] {
        for level in [" INFO ", " WARN ", " DEBUG "] {
            assert!(!run.stderr.contains(level), "{level}: {}", run.stderr);
        }
    }
    // -vv asks for the debug lines, which say how the call went.
    let debug = demo.run(&["-vv", "jobs", "status", "job_nope"]).expect(2);
    assert!(debug.stderr.contains(" DEBUG "), "{}", debug.stderr);
    let debug = demo.run(&["site", "build", "-vv"]).expect(0);
    assert!(debug.stderr.contains(" DEBUG "), "{}", debug.stderr);
}

#[test]
fn quiet_prints_only_the_result() {
    let demo = Demo::init();
    let run = demo.run(&["site", "generate", "-q"]).expect(0);
    assert_eq!(run.stderr, "", "{run:#?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(lines[0].starts_with("✔ "), "{run:#?}");
    // Without -q (piped), the steps are told on stderr.
    let run = demo.run(&["site", "generate", "--force"]).expect(0);
    assert!(run.stderr.contains("Generating content"), "{run:#?}");
}

#[test]
fn messages_name_the_tools_fields_as_flags() {
    let demo = Demo::init();
    demo.run(&["site", "generate"]).expect(0);
    let again = demo.run(&["site", "generate"]).expect(0);
    assert!(
        again.stdout.contains("(`--force` regenerates them)"),
        "{again:#?}"
    );
    // The tool itself, as an LLM calls it, names its input field.
    let tool = demo.run(&["tool", "site_generate", "--detach"]).expect(0);
    assert!(
        tool.stdout.contains("(`force` regenerates them)"),
        "{tool:#?}"
    );
}

#[test]
fn errors_name_the_command_to_run() {
    let demo = Demo::init();
    let failed = demo.run(&["site", "build"]).expect(1);
    assert!(
        failed
            .stderr
            .contains("generate it first (`brain site generate`)"),
        "{failed:#?}"
    );
}

/// The everyday job commands end to end: a batch fails, `jobs list` finds it by its state
/// and age, a short id names it, and `jobs retry` queues its failed items again for a
/// worker to finish.
#[test]
fn failed_work_is_found_by_filters_and_prefixes_and_retried() {
    let demo = Demo::init();
    demo.failing_generator();
    demo.run(&["site", "generate", "--route", "about"])
        .expect(1);
    demo.run(&["site", "generate", "--route", "landing"])
        .expect(1);

    // Arrays, newest first as the text is; filters by state and time.
    let failed = json(
        &demo
            .run(&["jobs", "list", "--status", "failed", "--json"])
            .expect(0)
            .stdout,
    );
    let ids: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{failed:#}");
    assert_eq!(failed[0]["label"], "Generating content", "{failed:#}");
    assert_eq!(
        failed[0]["progress"]["total"], 4,
        "newest first: {failed:#}"
    );
    assert_eq!(failed[0]["jobType"], "site-builder:generate", "{failed:#}");
    assert_eq!(failed[0]["source"], "cli", "{failed:#}");
    let landing = ids[0].to_owned();
    for (args, expected) in [
        (vec!["--status", "completed"], 0),
        (vec!["--status", "failed", "--since", "1h"], 2),
        (vec!["--since", "2999-01-01T00:00:00Z"], 0),
        (vec!["--type", "site-builder:build"], 0),
        (vec!["--limit", "1"], 1),
    ] {
        let mut all = vec!["jobs", "list", "--json"];
        all.extend(&args);
        let listed = json(&demo.run(&all).expect(0).stdout);
        assert_eq!(
            listed.as_array().unwrap().len(),
            expected,
            "{args:?}: {listed:#}"
        );
    }
    let text = demo.run(&["jobs", "list"]).expect(0).stdout;
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("AGE"), "{text}");
    assert!(text.contains(" ago "), "{text}");
    let bad = demo.run(&["jobs", "list", "--since", "soon"]).expect(2);
    assert!(bad.stderr.starts_with("error: --since: "), "{bad:#?}");

    // A unique start of an id names it; a shared start lists candidates.
    let short = &landing[..landing.len() - 6];
    let status = json(
        &demo
            .run(&["jobs", "status", short, "--json"])
            .expect(0)
            .stdout,
    );
    assert_eq!(status["id"], landing.as_str(), "{status:#}");
    let ambiguous = demo.run(&["jobs", "status", "batch_"]).expect(2);
    assert!(
        ambiguous
            .stderr
            .contains("is the start of more than one id")
            && ambiguous.stderr.contains(&landing),
        "{ambiguous:#?}"
    );

    // Back to the offline generator; retry queues the 4 failed items of the batch again.
    edit_config(&demo.dir, "provider = \"openai\"", "provider = \"local\"");
    let retried = demo.run(&["jobs", "retry", short]).expect(0);
    assert_eq!(
        retried.stdout.trim(),
        format!("{landing}: 4 failed jobs queued again"),
        "{retried:#?}"
    );
    let _worker = demo.start();
    let done = demo.wait_completed(&landing);
    assert_eq!(done["progress"]["current"], 4, "{done:#}");
    assert!(demo.dir.join("content/preview/landing/hero.md").is_file());
    // The log says what happened to each item: its failed attempt, the retry, the end.
    let log = json(
        &demo
            .run(&["jobs", "logs", short, "--json"])
            .expect(0)
            .stdout,
    );
    let hero: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["label"] == "landing:hero")
        .map(|l| (l["kind"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    let kinds: Vec<&str> = hero.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds.first(), Some(&"queued"), "{hero:?}");
    for kind in ["error", "retried", "started", "progress", "completed"] {
        assert!(kinds.contains(&kind), "{kind}: {hero:?}");
    }
    let error = hero.iter().find(|(kind, _)| *kind == "error").unwrap().1;
    assert!(error.contains("127.0.0.1:9"), "{hero:?}");
    assert!(
        kinds.iter().position(|k| *k == "error") < kinds.iter().position(|k| *k == "retried"),
        "{hero:?}"
    );
    assert_eq!(kinds.last(), Some(&"completed"), "{hero:?}");
    let text = demo.run(&["jobs", "logs", &landing]).expect(0).stdout;
    assert!(
        text.lines()
            .any(|l| l.contains("landing:hero") && l.contains("  error  ")),
        "{text}"
    );
    assert!(
        demo.run(&["jobs", "logs", "job_nope"])
            .expect(2)
            .stderr
            .contains("job_nope")
    );

    // Nothing failed is left to retry: said, exit 2.
    let again = demo.run(&["jobs", "retry", &landing]).expect(2);
    assert!(
        again.stderr.contains("only failed work is retried"),
        "{again:#?}"
    );
}

/// `--json` on an attached command: a line per progress notification with the time so far
/// and the estimate, then the end — each a shape documented in docs/json/.
#[test]
fn json_lines_say_what_they_are_and_carry_the_estimate() {
    let demo = Demo::paced(300, "");
    let run = demo.run(&["site", "generate", "--json"]).expect(0);
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(json).collect();
    let (end, progress) = lines.split_last().unwrap();
    assert!(!progress.is_empty(), "{run:#?}");
    for line in progress {
        assert_eq!(line["event"], "progress", "{line:#}");
        assert!(
            line["jobId"].as_str().unwrap().starts_with("batch_"),
            "{line:#}"
        );
        assert!(line["elapsedMs"].is_u64(), "{line:#}");
    }
    // While it runs, the estimate of the time left comes with the count.
    assert!(
        progress
            .iter()
            .any(|l| l["status"] == "processing" && l["estimatedCompletionMs"].is_u64()),
        "{progress:#?}"
    );
    assert_eq!(end["event"], "end", "{end:#}");
    assert_eq!(end["status"], "completed", "{end:#}");
    assert_eq!(end["jobId"], progress[0]["jobId"], "{end:#}");
    for name in ["progress-line", "end-line", "jobs-list", "jobs-logs"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../docs/json/{name}.schema.json"));
        assert!(path.is_file(), "{}", path.display());
    }
}

/// A model server that cannot be reached: while the generator retries, the item's progress
/// says so in one line that changes ("model unreachable at … — retry 1/1 in …"); the end
/// is one short error, said once, naming the setting to check — for a port that refuses
/// connections and for one that accepts and never answers.
#[test]
fn an_unreachable_model_is_one_changing_line_and_one_short_error() {
    // A port nothing listens on: bound, then let go.
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_port = refusing.local_addr().unwrap().port();
    drop(refusing);
    // A port that accepts (the kernel completes the handshake) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for (port, said, check) in [
        (refused_port, "cannot connect to", "[ai.openai] base_url"),
        (
            silent_port,
            "did not answer within",
            "[ai.openai] timeout_seconds",
        ),
    ] {
        let demo = Demo::init();
        let base = format!("http://127.0.0.1:{port}/v1");
        edit_config(
            &demo.dir,
            "provider = \"local\"\n",
            &format!(
                "provider = \"openai\"\nopenai = {{ base_url = \"{base}\", model = \"m\", \
                 api_key = \"test-key-123\", max_retries = 1, timeout_seconds = 1 }}\n"
            ),
        );
        let run = demo.run(&["site", "generate", "about", "--json"]).expect(1);
        let lines: Vec<serde_json::Value> = run.stdout.lines().map(json).collect();
        let notice = format!("model unreachable at {base} — retry 1/1 in ");
        assert!(
            lines
                .iter()
                .any(|l| l["message"].as_str().is_some_and(|m| m.contains(&notice))),
            "{port}: no line says it retries: {run:#?}"
        );
        let end = lines.last().unwrap();
        assert_eq!(end["status"], "failed", "{end:#}");

        let run = demo.run(&["site", "generate", "about"]).expect(1);
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains(said)).collect();
        assert_eq!(errors.len(), 1, "{port}: said once: {run:#?}");
        let error = errors[0];
        assert!(error.contains(check), "{port}: names the setting: {error}");
        assert!(error.contains("gave up after 2 attempts"), "{error}");
        assert!(error.chars().count() < 260, "{port}: short: {error}");
        assert!(!error.contains("error sending request"), "{error}");
        assert!(!run.stderr.contains(" WARN "), "{run:#?}");
    }
    drop(silent);
}

/// `brain doctor` on a healthy brain, on one whose model and MCP settings are wrong, and
/// outside any brain.
#[test]
fn doctor_says_what_is_wrong_and_how_to_fix_it() {
    let demo = Demo::init();
    let healthy = demo.run(&["doctor"]).expect(0);
    for what in ["brain.toml", "database", "notes", "model", "mcp", "matrix"] {
        assert!(
            healthy.stdout.contains(&format!("✔ {what}: ")),
            "{what}: {healthy:#?}"
        );
    }
    assert!(healthy.stdout.contains("! workers: "), "{healthy:#?}");

    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refusing.local_addr().unwrap().port();
    drop(refusing);
    edit_config(
        &demo.dir,
        "provider = \"local\"\n",
        &format!(
            "provider = \"openai\"\nopenai = {{ base_url = \"http://127.0.0.1:{port}/v1\", \
             model = \"m\", timeout_seconds = 2 }}\n\n[mcp]\nhttp = \"0.0.0.0:7331\"\n"
        ),
    );
    let sick = demo.run(&["doctor"]).expect(1);
    let line = |what: &str| {
        sick.stdout
            .lines()
            .find(|l| l.contains(&format!(" {what}: ")))
            .unwrap_or_else(|| panic!("{what}: {sick:#?}"))
            .to_owned()
    };
    assert!(
        line("model").starts_with("✘ model: cannot connect to"),
        "{sick:#?}"
    );
    assert!(line("model").contains("[ai.openai] base_url"), "{sick:#?}");
    assert!(line("mcp").starts_with("✘ mcp: "), "{sick:#?}");
    // A public address needs tokens; a binary without MCP says it cannot serve one at all.
    let mcp_says = if cfg!(feature = "mcp") {
        "token"
    } else {
        "built without the MCP interface"
    };
    assert!(line("mcp").contains(mcp_says), "{sick:#?}");
    assert!(sick.stdout.ends_with("2 problems found.\n"), "{sick:#?}");

    let outside = tempfile::tempdir().unwrap();
    let run = brain_run(outside.path(), &["doctor"]).expect(2);
    assert!(
        run.stdout.contains("✘ brain.toml: no brain.toml in"),
        "{run:#?}"
    );
}

/// Everyday mistakes and what the CLI says to them, pinned whole: one line (clap's usage
/// errors aside), said once, in the CLI's words, no timestamps and no log levels.
#[test]
fn error_outputs_are_pinned() {
    let demo = Demo::init();
    demo.run(&["site", "generate", "about", "-q"]).expect(0);
    let batch = json(&demo.run(&["jobs", "list", "--json"]).expect(0).stdout)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let retried =
        format!("error: {batch} is completed, with nothing failed: only failed work is retried\n");
    let cases: [(&[&str], &str); 10] = [
        (
            &["jobs", "status", "job_nope"],
            "error: no job or batch with id \"job_nope\"\n",
        ),
        (
            &["jobs", "watch", "job_nope"],
            "error: no job or batch with id \"job_nope\"\n",
        ),
        (
            &["jobs", "cancel", "job_nope"],
            "error: no job or batch with id \"job_nope\"\n",
        ),
        (
            &["jobs", "logs", "zzz"],
            "error: no job or batch with id \"zzz\"\n",
        ),
        (&["jobs", "retry", &batch], &retried),
        (
            &["jobs", "list", "--limit", "0"],
            "error: --limit: must be between 1 and 500, got 0\n",
        ),
        (
            &["jobs", "list", "--since", "soon"],
            "error: --since: \"soon\" is neither a time ago (a number and a unit: 30m, 2h, 7d; \
             units s, m, h, d, w) nor a date and time (2026-12-07T09:00:00Z)\n",
        ),
        (
            &["tool", "status", "--args", "[1]"],
            "error: --args must be a JSON object, got [1]; e.g. --args '{\"id\": \"job_…\"}'\n",
        ),
        (
            &["site", "generate", "nope"],
            "error: invalid input at `--route`: unknown route \"nope\" (allowed: landing, about)\n",
        ),
        (
            &["site", "build", "--env", "staging"],
            "error: invalid value 'staging' for '--env <ENV>'\n  \
             [possible values: preview, production]\n\nFor more information, try '--help'.\n",
        ),
    ];
    for (args, expected) in cases {
        let run = demo.run(args).expect(2);
        assert_eq!(run.stderr, expected, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
}
