//! The plugin's declared commands, which no interface names: `brain-example example count`
//! in the CLI (positional or flag, help, usage errors, shell completion with the plugin's
//! values), and `/count`, `/hello` in the chat on a real terminal (Tab completion, a live
//! bar, the plugin's own wording).

use std::path::Path;
use std::process::Command;

use brain_example_plugin::ExamplePlugin;
use brain_plugin_api::{Call, CommandTable, Parsed, Plugin};
use brain_site_builder::SiteBuilder;
use serde_json::{Value, json};

use crate::support::{command, run};
use crate::term::Term;

/// A scaffolded brain whose `[example]` section lists friends for `hello`'s completion.
fn brain(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("brain");
    run(&dir, &["init"]).expect(0);
    let config = dir.join("brain.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[example]\nfriends = [\"Ada\", \"Grace\"]\n");
    std::fs::write(&config, text).unwrap();
    dir
}

/// What the shell's completion offers for the command line `words` (the last one being
/// typed), asked the way fish asks: `COMPLETE=fish brain-example -- brain-example …`, run
/// in the brain's folder.
fn completions(dir: &Path, words: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_brain-example"))
        .current_dir(dir)
        .env("COMPLETE", "fish")
        .env_remove("BRAIN_DIR")
        .arg("--")
        .arg("brain-example")
        .args(words)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_cli_derives_the_plugin_s_commands_with_help_errors_and_completion() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = brain(tmp.path());

    let help = run(&dir, &["--help"]).expect(0);
    assert!(help.stdout.contains("\n  example "), "{}", help.stdout);
    let group = run(&dir, &["example", "--help"]).expect(0);
    assert!(
        group.stdout.contains("count  Count to a number"),
        "{}",
        group.stdout
    );
    assert!(
        group.stdout.contains("hello  Greet someone"),
        "{}",
        group.stdout
    );

    // The positional and the flag form run the same tool, followed to the plugin's wording.
    let counted = run(&dir, &["example", "count", "5", "-q"]).expect(0);
    assert!(
        counted.stdout.starts_with("✔ Counted to 5 in "),
        "{counted:#?}"
    );
    let json = run(&dir, &["example", "count", "--to", "7", "--json"]).expect(0);
    let last = json.stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains("\"status\":\"completed\"") && last.contains("\"sum\":28"),
        "{json:#?}"
    );
    assert_eq!(
        run(&dir, &["example", "hello", "Ada"]).expect(0).stdout,
        "Hello, Ada!\n"
    );

    // Usage errors exit 2 and name the argument; the tool's own check too.
    for (args, says) in [
        (&["example", "count"][..], "<TO>"),
        (&["example", "count", "fifty"], "invalid value 'fifty'"),
        (
            &["example", "count", "5", "--to", "6"],
            "cannot be used with",
        ),
        (
            &["example", "count", "5000"],
            "`--to`: must be between 1 and 1000",
        ),
        (&["example", "frob"], "unrecognized subcommand 'frob'"),
    ] {
        let refused = run(&dir, args).expect(2);
        assert!(refused.stderr.contains(says), "{args:?}: {refused:#?}");
    }

    // Completion: the group, its commands, and values from the plugin's configuration.
    assert!(completions(&dir, &["ex"]).contains(&"example".to_owned()));
    assert_eq!(completions(&dir, &["example", "c"]), ["count"]);
    let names = completions(&dir, &["example", "hello", ""]);
    for name in ["Ada", "Grace", "world"] {
        assert!(names.contains(&name.to_owned()), "{name}: {names:?}");
    }
    assert_eq!(
        completions(&dir, &["example", "hello", "--name", "G"]),
        ["Grace"]
    );
}

#[test]
fn the_chat_derives_the_plugin_s_commands_with_tab_live_progress_and_wording() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = brain(tmp.path());
    let mut chat = command(&dir, &["chat"]);
    chat.env("TERM", "xterm-256color").env("NO_COLOR", "1");
    let mut term = Term::spawn(chat);

    term.send("/cou\t");
    term.wait_for("/count completed", |t| t.prompt() == "brain> /count");
    term.send("3\r");
    term.wait_for("the plugin's wording", |t| {
        t.has_row(|r| r.starts_with("✔ Counted to 3 in "))
    });

    term.send("/hello G\t");
    term.wait_for("a friend completed", |t| {
        t.prompt() == "brain> /hello Grace"
    });
    term.send("\r");
    term.wait_for("the greeting", |t| t.has_row(|r| r == "Hello, Grace!"));

    // A count far too slow to end first: its live bar counts, then /cancel stops it.
    term.enter("/count 50 --delay-ms 10000");
    term.wait_for("a live bar with a count", |t| {
        t.has_row(|r| r.contains("count to 50") && r.contains("/50 "))
    });
    term.enter("/cancel");
    term.wait_for("the count cancelled", |t| {
        t.has_row(|r| r.starts_with("✘ ") && r.contains("count to 50") && r.contains("ancel"))
    });

    term.enter("/count");
    term.wait_for("the usage named", |t| {
        t.has_row(|r| r == "error: /count needs <to> (usage: /count <to> [--delay-ms <delay-ms>])")
    });
    term.send("/quit\r");
    assert_eq!(term.exit_code(), 0);
}

/// The one parser of the chat and the Matrix bot over the real declarations: the site
/// builder's and this plugin's, the same lines with `/` and with `!`.
#[test]
fn the_one_parser_reads_the_real_declarations_the_same_way_behind_any_prefix() {
    let declared: Vec<_> = [&SiteBuilder as &dyn Plugin, &ExamplePlugin as &dyn Plugin]
        .iter()
        .flat_map(|p| p.commands())
        .collect();
    let call = |tool: &str, command: &str, input: Value| {
        Ok(Parsed::Call(Call {
            command: command.into(),
            tool: tool.into(),
            input: input.as_object().cloned().unwrap_or_default(),
        }))
    };
    let cases = [
        ("generate", call("site_generate", "generate", json!({}))),
        (
            "generate landing hero --force --dry-run",
            call(
                "site_generate",
                "generate",
                json!({"route": "landing", "section": "hero", "force": true, "dryRun": true}),
            ),
        ),
        (
            "build --env=Production",
            call("site_build", "build", json!({"environment": "production"})),
        ),
        (
            "promote --section hero",
            call("site_promote", "promote", json!({"section": "hero"})),
        ),
        (
            "rollback /about",
            call("site_rollback", "rollback", json!({"route": "/about"})),
        ),
        (
            "count 50",
            call("example_count", "count", json!({"to": 50})),
        ),
        (
            "count --to 5 --delay-ms 20",
            call("example_count", "count", json!({"to": 5, "delay_ms": 20})),
        ),
        (
            "hello Ada",
            call("example_hello", "hello", json!({"name": "Ada"})),
        ),
    ];
    for prefix in ["/", "!"] {
        let table = CommandTable::new(prefix, declared.clone());
        for (text, expected) in &cases {
            let line = format!("{prefix}{text}");
            assert_eq!(table.parse_line(&line).as_ref(), Some(expected), "{line}");
        }
        for (text, says) in [
            ("count", "needs <to>"),
            ("count 5 6", "takes at most 1 argument"),
            ("build staging", "expected preview or production"),
            ("generate --force=yes", "--force takes no value"),
            ("gen", "did you mean"),
        ] {
            let line = format!("{prefix}{text}");
            let error = match table.parse_line(&line) {
                Some(Err(error)) => error.to_string(),
                other => panic!("{line}: {other:?}"),
            };
            assert!(error.contains(says), "{line}: {error}");
            assert!(error.contains(prefix), "{line}: {error}");
        }
    }
}
