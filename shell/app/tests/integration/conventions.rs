//! The command line's conventions, as a person who knows uv, cargo and gh expects them:
//! quiet by default (no log lines unless `-v`), `-q` for only errors and the result, the
//! tool's fields named as flags, and `--version` naming the commit.

use crate::support::{Demo, brain_run};

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
    let tool = demo.run(&["tool", "site_generate"]).expect(0);
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
