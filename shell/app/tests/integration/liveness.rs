//! Worker presence across pid namespaces: a second `brain start` in another pid namespace
//! (a container or sandbox sharing the folder, same host name) cannot check the first
//! one's pid, so it must not take it for dead and run its running job a second time.
//! Needs root for `unshare -pf --mount-proc` (CI runs as root); elsewhere it says so and
//! checks nothing unless `CI` is set, where a missing `unshare` fails it.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Demo, Running};

fn unshare_works() -> bool {
    Command::new("unshare")
        .args(["-pf", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_worker_in_another_pid_namespace_does_not_take_the_first_for_dead() {
    if !unshare_works() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: `unshare -pf --mount-proc` must work there"
        );
        eprintln!("skipped: `unshare -pf --mount-proc` needs root");
        return;
    }
    // 30 s a section: the first section is certainly running when the second starts.
    let demo = Demo::paced(30_000, "");
    let first = demo.start();
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    let id = queued
        .stdout
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':')
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while demo.status(&id)["status"] != "processing" {
        assert!(Instant::now() < deadline, "the generate never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The second worker sweeps for dead workers before it says it runs.
    let mut command = Command::new("unshare");
    command
        .args(["-pf", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_brain"))
        .args(["--dir", "demo", "start"])
        .current_dir(demo.tmp.path());
    let second = Running::start(command);
    // `unshare` waits with SIGINT ignored: the signal goes to the brain it started.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", second.pid())).unwrap();
    let inner: u32 = children.split_whitespace().next().unwrap().parse().unwrap();
    let (code, said) = second.interrupt_pid_and_read(inner);
    assert_eq!(code, 0, "{said}");
    assert!(
        !said.contains("recovered a job whose worker stopped"),
        "the second worker took the first for dead:\n{said}"
    );
    let entry = demo.status(&id);
    assert_eq!(entry["status"], "processing", "{entry:#}");
    assert_eq!(entry["workerRunning"], true, "{entry:#}");
    assert_eq!(first.interrupt(), 0);
}
