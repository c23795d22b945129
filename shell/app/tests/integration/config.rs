//! `brain config check` and configuration errors: exit 2 with a message that names the key
//! or variable, secrets never printed, and the logging settings obeyed.

use crate::support::{brain, brain_run, edit_config, run, scaffolded};

#[test]
fn check_prints_the_effective_config() {
    let (_tmp, dir) = scaffolded();
    let run = brain_run(&dir, &["config", "check"]).expect(0);
    let config: toml::Table = run.stdout.parse().unwrap();
    let queue = config["queue"].as_table().unwrap();
    assert_eq!(queue["concurrency"].as_integer(), Some(4));
    assert_eq!(queue["retention_days"].as_integer(), Some(7));
    assert_eq!(queue["max_events_per_second"].as_integer(), Some(10));
    assert_eq!(queue["lease_seconds"].as_integer(), Some(30));
    assert_eq!(config["logging"]["level"].as_str(), Some("info"));
    // The file alone was read: no database was opened.
    assert!(!dir.join(".brain").exists());
}

#[test]
fn secrets_are_masked() {
    let (_tmp, dir) = scaffolded();
    let path = dir.join("brain.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n[matrix]\nhomeserver = \"http://localhost:8008\"\nuser_id = \"@bot:localhost\"\nanchor = \"@me:localhost\"\npassword = \"hunter2\"\n",
    );
    std::fs::write(&path, text).unwrap();
    let run = brain_run(&dir, &["config", "check"]).expect(0);
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    let config: toml::Table = run.stdout.parse().unwrap();
    assert_eq!(config["matrix"]["password"].as_str(), Some("********"));
}

#[test]
fn a_bad_value_names_its_key() {
    let (_tmp, dir) = scaffolded();
    edit_config(&dir, "concurrency = 4", "concurrency = 0");
    let run = brain_run(&dir, &["config", "check"]).expect(2);
    assert!(run.stderr.contains("queue.concurrency"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Every command refuses it the same way.
    let jobs = brain_run(&dir, &["jobs", "list"]).expect(2);
    assert!(jobs.stderr.contains("queue.concurrency"), "{}", jobs.stderr);
}

#[test]
fn a_bad_override_names_its_variable() {
    let (_tmp, dir) = scaffolded();
    let mut command = brain(&dir, &["config", "check"]);
    command.env("BRAIN_QUEUE__CONCURRENCY", "abc");
    let run = run(command).expect(2);
    assert!(
        run.stderr.contains("BRAIN_QUEUE__CONCURRENCY"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_toml_is_a_config_error() {
    let (_tmp, dir) = scaffolded();
    edit_config(&dir, "[queue]", "[queue");
    let run = brain_run(&dir, &["config", "check"]).expect(2);
    assert!(run.stderr.contains("brain.toml:"), "{}", run.stderr);
}

#[test]
fn logs_go_to_the_configured_file() {
    let (_tmp, dir) = scaffolded();
    edit_config(
        &dir,
        "# file = \".brain/brain.log\"",
        "file = \"logs/brain.log\"",
    );
    // Successful tool calls are traced at debug level.
    edit_config(&dir, "level = \"info\"", "level = \"debug\"");
    let run = brain_run(&dir, &["tool", "jobs_list"]).expect(0);
    assert!(!run.stderr.contains("tool call"), "{}", run.stderr);
    let log = std::fs::read_to_string(dir.join("logs/brain.log")).unwrap();
    assert!(log.contains("tool call ok"), "{log}");
}

#[test]
fn log_level_precedence_reaches_the_logs() {
    let (_tmp, dir) = scaffolded();
    // [logging] level = "debug" logs each tool call; BRAIN_LOG_LEVEL=warn silences that.
    edit_config(&dir, "level = \"info\"", "level = \"debug\"");
    let mut quiet = brain(&dir, &["tool", "jobs_list"]);
    quiet.env("BRAIN_LOG_LEVEL", "warn");
    let quiet = run(quiet).expect(0);
    assert!(!quiet.stderr.contains("tool call"), "{}", quiet.stderr);
    // RUST_LOG beats BRAIN_LOG_LEVEL, and the flag beats both.
    let mut loud = brain(&dir, &["tool", "jobs_list"]);
    loud.env("BRAIN_LOG_LEVEL", "error")
        .env("RUST_LOG", "debug");
    assert!(run(loud).expect(0).stderr.contains("tool call ok"));
    let mut flag = brain(&dir, &["--log-level", "error", "tool", "jobs_list"]);
    flag.env("RUST_LOG", "debug");
    assert!(!run(flag).expect(0).stderr.contains("tool call"));

    let mut bad = brain(&dir, &["tool", "jobs_list"]);
    bad.env("BRAIN_LOG_LEVEL", "loud");
    let bad = run(bad).expect(2);
    assert!(bad.stderr.contains("BRAIN_LOG_LEVEL"), "{}", bad.stderr);
}

#[cfg(feature = "matrix")]
#[test]
fn a_bad_matrix_section_is_refused_naming_the_key() {
    let demo = crate::support::Demo::init();
    let run = demo.run(&["matrix"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("no [matrix] section"), "{run:#?}");
    let path = demo.dir.join("brain.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n[matrix]\nhomeserver = \"matrix.example.org\"\nuser_id = \"@b:example.org\"\n\
         password = \"x\"\nanchor = \"@me:example.org\"\n",
    );
    std::fs::write(&path, text).unwrap();
    for command in ["matrix", "start"] {
        let run = demo.run(&[command]);
        assert_eq!(run.code, 2, "{run:#?}");
        let expected = "[matrix] homeserver: \"matrix.example.org\" is not an http(s) URL";
        assert!(run.stderr.contains(expected), "{run:#?}");
    }
}

/// A CLI-only build (`--no-default-features`) refuses the interfaces it does not have, with
/// a configuration error that names the cargo feature, instead of ignoring them.
#[cfg(not(all(feature = "matrix", feature = "mcp")))]
#[test]
fn interfaces_left_out_of_the_build_are_refused_naming_the_feature() {
    let demo = crate::support::Demo::init();
    let path = demo.dir.join("brain.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    if !cfg!(feature = "matrix") {
        let run = demo.run(&["matrix"]).expect(2);
        assert!(run.stderr.contains("`matrix` cargo feature"), "{run:#?}");
        let with = format!("{original}\n[matrix]\nhomeserver = \"http://127.0.0.1:9\"\n");
        std::fs::write(&path, with).unwrap();
        let run = demo.run(&["start"]).expect(2);
        assert!(run.stderr.contains("`matrix` cargo feature"), "{run:#?}");
    }
    if !cfg!(feature = "mcp") {
        let run = demo.run(&["mcp"]).expect(2);
        assert!(run.stderr.contains("`mcp` cargo feature"), "{run:#?}");
        std::fs::write(
            &path,
            format!("{original}\n[mcp]\nhttp = \"127.0.0.1:0\"\n"),
        )
        .unwrap();
        let run = demo.run(&["start"]).expect(2);
        assert!(run.stderr.contains("`mcp` cargo feature"), "{run:#?}");
    }
}

/// Broken configurations, each: `brain config check` and an ordinary command (`brain jobs
/// list`) both exit 2, name the key (or section, variable, line), and never panic.
#[test]
fn every_mistake_exits_2_from_config_check_and_from_any_command_naming_the_key() {
    // (what, edit of the scaffolded brain.toml: (from, to) or text to append, env, needle)
    enum Edit {
        Replace(&'static str, &'static str),
        Append(&'static str),
        Env(&'static str, &'static str),
    }
    use Edit::*;
    // Extended below for each interface built in.
    #[cfg_attr(not(any(feature = "mcp", feature = "matrix")), allow(unused_mut))]
    let mut cases: Vec<(&str, Edit, &str)> = vec![
        (
            "zero workers",
            Replace("concurrency = 4", "concurrency = 0"),
            "queue.concurrency",
        ),
        (
            "a word for a number",
            Replace("concurrency = 4", "concurrency = \"four\""),
            "queue.concurrency",
        ),
        (
            "far too many workers",
            Replace("concurrency = 4", "concurrency = 100000"),
            "queue.concurrency",
        ),
        (
            "negative retention",
            Replace("retention_days = 7", "retention_days = -1"),
            "queue.retention_days",
        ),
        (
            "no lease",
            Replace("lease_seconds = 30", "lease_seconds = 0"),
            "queue.lease_seconds",
        ),
        (
            "no events",
            Replace("max_events_per_second = 10", "max_events_per_second = 0"),
            "queue.max_events_per_second",
        ),
        (
            "an answer wait over a minute",
            Replace("answer_within_ms = 1500", "answer_within_ms = 100000"),
            "queue.answer_within_ms",
        ),
        (
            "a misspelt queue key",
            Replace("concurrency = 4", "concurency = 4"),
            "unknown key `queue.concurency`: did you mean `concurrency`?",
        ),
        (
            "a misspelt section",
            Replace("[queue]", "[queu]"),
            "[queu]: did you mean [queue]",
        ),
        (
            "a misspelt site section",
            Replace("[site]\n", "[sitee]\n"),
            "did you mean [site]",
        ),
        (
            "a misspelt matrix section",
            Append("[matrx]\nhomeserver = \"http://x\"\n"),
            "did you mean [matrix]",
        ),
        (
            "a loud log level",
            Replace("level = \"info\"", "level = \"loud\""),
            "logging.level",
        ),
        (
            "logs into brain.toml",
            Replace(
                "level = \"info\"",
                "level = \"info\"\nfile = \"brain.toml\"",
            ),
            "logging.file",
        ),
        (
            "anchors not a list",
            Replace("[permissions]\n", "[permissions]\nanchor = \"@me:x\"\n"),
            "permissions.anchor",
        ),
        (
            "an unknown provider",
            Replace("provider = \"local\"", "provider = \"lokal\""),
            "ai.provider",
        ),
        (
            "a negative delay",
            Append("[ai.local]\ndelay_ms = -5\n"),
            "delay_ms",
        ),
        (
            "a word for a delay",
            Append("[ai.local]\ndelay_ms = \"slow\"\n"),
            "delay_ms",
        ),
        (
            "a misspelt ai key",
            Replace("provider = \"local\"", "providr = \"local\""),
            "unknown key `ai.providr`: did you mean `provider`?",
        ),
        (
            "a misspelt site key",
            Replace("[site]\ntitle", "[site]\ntitel"),
            "site.titel: unknown key: did you mean `title`?",
        ),
        (
            "an unknown template",
            Replace("template = \"hero\"", "template = \"herox\""),
            "template",
        ),
        (
            "a number for a URL",
            Replace("base_url = \"http://localhost:8080\"", "base_url = 5"),
            "base_url",
        ),
        (
            "a number for the notes folder",
            Replace("dir = \"notes\"", "dir = 5"),
            "notes.dir",
        ),
        ("an unclosed table", Append("[queue\n"), "brain.toml:"),
        (
            "a key given twice",
            Replace("concurrency = 4", "concurrency = 4\nconcurrency = 5"),
            "brain.toml:",
        ),
        (
            "a word in the environment",
            Env("BRAIN_QUEUE__CONCURRENCY", "abc"),
            "BRAIN_QUEUE__CONCURRENCY",
        ),
        (
            "an unknown key in the environment",
            Env("BRAIN_QUEUE__NOPE", "1"),
            "BRAIN_QUEUE__NOPE",
        ),
        (
            "a misspelt key in the environment",
            Env("BRAIN_QUEUE__CONCURENCY", "4"),
            "did you mean `concurrency`?",
        ),
        (
            "an out-of-range number in the environment",
            Env("BRAIN_QUEUE__LEASE_SECONDS", "0"),
            "queue.lease_seconds (from BRAIN_QUEUE__LEASE_SECONDS)",
        ),
        (
            "a bad provider in the environment",
            Env("BRAIN_AI__PROVIDER", "lokal"),
            "(from BRAIN_AI__PROVIDER)",
        ),
        (
            "an empty site title in the environment",
            Env("BRAIN_SITE__TITLE", " "),
            "site.title: must not be empty (from BRAIN_SITE__TITLE)",
        ),
    ];
    // The interfaces' sections are checked by their parsers, built in with them.
    #[cfg(feature = "mcp")]
    cases.extend([
        (
            "a negative mcp wait",
            Append("[mcp]\nwait_seconds = -1\n"),
            "wait_seconds",
        ),
        ("an unknown mcp key", Append("[mcp]\nbogus = 1\n"), "bogus"),
        (
            "a misspelt mcp key",
            Append("[mcp]\nwait_secnds = 3\n"),
            "`mcp.wait_secnds` in brain.toml: unknown key: did you mean `wait_seconds`?",
        ),
        (
            "a bad mcp address",
            Append("[mcp]\nhttp = \"not an address\"\n"),
            "http",
        ),
    ]);
    #[cfg(feature = "matrix")]
    cases.extend([
        (
            "a number for a homeserver",
            Append("[matrix]\nhomeserver = 5\n"),
            "homeserver",
        ),
        (
            "an unknown matrix key",
            Append("[matrix]\nhomeserver = \"http://x\"\nbogus = 1\n"),
            "bogus",
        ),
        (
            "a bad homeserver in the environment",
            Env("BRAIN_MATRIX__HOMESERVER", "x"),
            "[matrix] homeserver: \"x\" is not an http(s) URL, e.g. \"https://matrix.example.org\" (from BRAIN_MATRIX__HOMESERVER)",
        ),
        (
            "a misspelt matrix key",
            Append("[matrix]\nhomesever = \"http://x\"\n"),
            "[matrix] homesever: unknown key: did you mean `homeserver`?",
        ),
    ]);
    assert!(cases.len() >= if cfg!(feature = "mcp") { 30 } else { 25 });
    let mut wrong = Vec::new();
    for (what, edit, needle) in &cases {
        let (_tmp, dir) = scaffolded();
        let path = dir.join("brain.toml");
        let mut env = None;
        match edit {
            Replace(from, to) => edit_config(&dir, from, to),
            Append(text) => {
                let mut toml = std::fs::read_to_string(&path).unwrap();
                toml.push('\n');
                toml.push_str(text);
                std::fs::write(&path, toml).unwrap();
            }
            Env(name, value) => env = Some((*name, *value)),
        }
        for args in [&["config", "check"][..], &["jobs", "list"][..]] {
            let mut command = brain(&dir, args);
            if let Some((name, value)) = env {
                command.env(name, value);
            }
            let result = run(command);
            if result.code != 2
                || !result.stderr.contains(needle)
                || result.stderr.contains("panicked")
            {
                wrong.push(format!(
                    "{what}: brain {args:?} exited {} without naming {needle:?}: {}",
                    result.code, result.stderr
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The scaffolded brain.toml documents the keys a person can set, commented out; every one
/// of them, uncommented as written, is a key its owner accepts with a value in range.
#[test]
fn every_key_the_scaffold_documents_is_accepted_as_written() {
    let (_tmp, dir) = scaffolded();
    let path = dir.join("brain.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut uncommented = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return line.to_owned();
            };
            let key = rest.split([' ', '=']).next().unwrap_or("");
            let is_key = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && rest[key.len()..].trim_start().starts_with('=');
            if is_key || rest.starts_with('[') {
                uncommented += 1;
                rest.to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let checked = brain_run(&dir, &["config", "check"]);
    assert_eq!(checked.code, 0, "{checked:#?}\n{}", lines.join("\n"));
    let config: toml::Table = checked.stdout.parse().unwrap();
    for section in ["mcp", "matrix"] {
        assert!(config.contains_key(section), "{section} is documented");
    }
    assert_eq!(config["ai"]["local"]["delay_ms"].as_integer(), Some(0));
    assert!(uncommented > 30, "{uncommented} documented keys");
}
