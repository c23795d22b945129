//! The command line itself: help, usage errors, completions.

use crate::support::brain_run;

#[test]
fn help_lists_the_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let run = brain_run(tmp.path(), &["--help"]).expect(0);
    for command in ["init", "start", "jobs", "tool", "config", "completions"] {
        assert!(run.stdout.contains(command), "{command}: {}", run.stdout);
    }
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    brain_run(tmp.path(), &["frobnicate"]).expect(2);
    brain_run(tmp.path(), &["--log-level", "loud", "jobs", "list"]).expect(2);
}

#[test]
fn completions_name_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = brain_run(tmp.path(), &["completions", shell]).expect(0);
        assert!(run.stdout.contains("brain"), "{shell}: {}", run.stdout);
    }
    let bash = brain_run(tmp.path(), &["completions", "bash"]).expect(0);
    assert!(bash.stdout.contains("complete"), "{}", bash.stdout);
}
