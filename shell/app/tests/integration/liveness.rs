//! Workers that are paused or live in another pid namespace. A `brain start` stopped
//! (SIGSTOP) past its lease has its job taken over by another worker; when it resumes, the
//! content file it staged is not written after the other run completed, and it is a worker
//! again; two paused at once, both resumed, write nothing either. A second `brain start` in another pid namespace (a container or sandbox sharing
//! the folder, same host name) cannot check the first one's pid, so it must not take it
//! for dead and run its running job a second time — that test needs root for `unshare -pf
//! --mount-proc` (CI runs as root); elsewhere it says so and checks nothing unless `CI` is
//! set, where a missing `unshare` fails it.

use std::process::Command;
use std::time::Duration;

use crate::support::{Demo, Running, detached_id, edit_config, wait_until};

fn signal(pid: u32, name: &str) {
    assert!(
        Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// The worker that was paused past its lease: its job is taken over; resumed, it writes
/// nothing, and works again. (Whether its handler reaches the write or sees the lost lease
/// first is a race on resume; either way the file must not change. The engine's lease test
/// forces the write path.)
#[test]
fn a_worker_paused_past_its_lease_writes_nothing_when_it_resumes() {
    // A 2 s lease; 4 s to generate the one section asked for: the paused worker is
    // certainly mid-run when it stops.
    let demo = Demo::paced(4_000, "");
    edit_config(&demo.dir, "lease_seconds = 30", "lease_seconds = 2");
    let mut paused = demo.start();
    let queued = demo
        .run(&["site", "generate", "--route", "about", "--detach"])
        .expect(0);
    let id = detached_id(&queued.stdout);
    wait_until("the generate to start", || {
        demo.status(&id)["status"] == "processing"
    });
    signal(paused.pid(), "-STOP");
    // Another worker takes the job over once the lease lapses, and completes it.
    let other = demo.start();
    let entry = demo.wait_completed(&id);
    // Its effects are applied just after the completion commits; a stopped process has
    // applied them all (its shutdown waits for them).
    assert_eq!(other.interrupt(), 0);
    let file = demo.dir.join("content/preview/about/text.md");
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    signal(paused.pid(), "-CONT");
    // Resumed: its run ends, and its result — and its file — are refused.
    paused.wait_for_line("its result is discarded", Duration::from_secs(60));
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written,
        "the paused worker wrote the file after the other run completed"
    );
    assert_eq!(entry["status"], "completed", "{entry:#}");
    // And it is a worker again — the only one now — and runs new work.
    let again = demo
        .run(&[
            "site", "generate", "--route", "about", "--force", "--detach",
        ])
        .expect(0);
    assert!(
        again.stdout.contains("A brain process is running workers"),
        "{again:#?}"
    );
    let id = detached_id(&again.stdout);
    let entry = demo.wait_completed(&id);
    // The figure the issue asks for (printed, never asserted): how soon the resumed worker,
    // registered again, picked the new work up.
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(entry[field].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    eprintln!(
        "pickup after resuming: {} ms from enqueue to start",
        at("startedAt") - at("createdAt")
    );
    assert_eq!(paused.interrupt(), 0);
}

/// Two workers paused past their leases, each mid-run on a section of the same batch: a
/// third takes both over and completes the batch; resumed one after the other, neither
/// writes anything — every content file keeps the bytes and time the third gave it.
#[test]
fn two_workers_paused_past_their_leases_write_nothing_when_they_resume() {
    let demo = Demo::paced(4_000, "");
    edit_config(&demo.dir, "lease_seconds = 30", "lease_seconds = 2");
    let mut first = demo.start();
    let mut second = demo.start();
    let queued = demo
        .run(&["site", "generate", "--route", "landing", "--detach"])
        .expect(0);
    let id = detached_id(&queued.stdout);
    let db = demo.dir.join(".brain/brain.db");
    let running_workers = || {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row(
            "SELECT count(DISTINCT worker_id) FROM jobs
             WHERE batch_id = ?1 AND status = 'processing'",
            [&id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    wait_until("both workers to run a section", || running_workers() == 2);
    signal(first.pid(), "-STOP");
    signal(second.pid(), "-STOP");

    let third = demo.start();
    let entry = demo.wait_completed(&id);
    assert_eq!(entry["status"], "completed", "{entry:#}");
    assert_eq!(third.interrupt(), 0);
    let written = demo.content("preview");
    assert!(written.len() >= 3, "{:?}", written.keys());

    for paused in [&mut first, &mut second] {
        signal(paused.pid(), "-CONT");
        paused.wait_for_line("its result is discarded", Duration::from_secs(60));
    }
    assert_eq!(first.interrupt(), 0);
    assert_eq!(second.interrupt(), 0);
    assert_eq!(
        demo.content("preview"),
        written,
        "a resumed worker changed a content file after the batch completed"
    );
}

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
    let id = detached_id(&queued.stdout);
    wait_until("the generate to start", || {
        demo.status(&id)["status"] == "processing"
    });
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
