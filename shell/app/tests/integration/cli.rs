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

/// What bash offers after `line` (the last word being typed), with the script `brain
/// completions bash` prints loaded, in the folder `cwd`.
fn bash_offers(cwd: &std::path::Path, line: &str) -> Vec<String> {
    let script = brain_run(cwd, &["completions", "bash"]).expect(0).stdout;
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\n\
         COMP_POINT=${{#COMP_LINE}}\n_clap_complete_brain brain '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c").arg(program).current_dir(cwd);
    // The brain is the folder's, as for a person with no BRAIN_* set.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BRAIN_") {
            bash.env_remove(name);
        }
    }
    let output = bash.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_plugin_commands_and_values_from_the_brain() {
    let demo = crate::support::Demo::init();
    let offers = |line: &str| bash_offers(&demo.dir, line);
    assert!(offers("brain si").contains(&"site".to_owned()));
    assert_eq!(offers("brain site gen"), ["generate"]);
    let routes = offers("brain site generate --route ");
    for route in ["landing", "about", "/", "/about"] {
        assert!(routes.contains(&route.to_owned()), "{route}: {routes:?}");
    }
    assert_eq!(offers("brain site promote la"), ["landing"]);
    assert_eq!(offers("brain site build p"), ["preview", "production"]);
    let sections = offers("brain site generate landing ");
    assert!(sections.contains(&"hero".to_owned()), "{sections:?}");
    // From a folder inside the brain, the brain above is found.
    let inside = bash_offers(&demo.dir.join("notes"), "brain site generate --route ");
    assert!(inside.contains(&"landing".to_owned()), "{inside:?}");
}
