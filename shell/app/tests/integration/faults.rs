//! Brains a person may meet in a bad state: read-only (a read-only mount, a backup) and
//! damaged database files. A read-only brain can still be listed, watched and searched; a
//! write to it, or any use of a damaged file, fails with an error that names the file —
//! and nothing stored is changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{Demo, brain, detached_id, json, run};

/// A read-only bind mount of a brain folder (root only), unmounted on drop.
struct ReadOnlyView {
    path: PathBuf,
}

impl ReadOnlyView {
    fn of(dir: &Path, at: PathBuf) -> Option<ReadOnlyView> {
        std::fs::create_dir_all(&at).unwrap();
        let mount = |args: &[&str]| Command::new("mount").args(args).status();
        let (dir, view) = (dir.to_str().unwrap(), at.to_str().unwrap());
        if !mount(&["--bind", dir, view]).is_ok_and(|s| s.success()) {
            return None;
        }
        let view = ReadOnlyView { path: at };
        let remounted = mount(&["-o", "remount,bind,ro", view.path.to_str().unwrap()]);
        assert!(remounted.unwrap().success(), "remount read-only");
        Some(view)
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn a_read_only_brain_lists_watches_and_searches_and_refuses_writes_by_name() {
    let demo = Demo::paced(200, "");
    demo.write_note(
        "zeppelin.md",
        "# Zeppelin\n\nThe zeppelin flew over the harbour.\n",
    );
    demo.run(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#])
        .expect(0);
    let queued = demo.run(&["site", "generate", "--detach"]).expect(0);
    let id = detached_id(&queued.stdout);

    let Some(view) = ReadOnlyView::of(&demo.dir, demo.tmp.path().join("view")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: a read-only bind mount must work there"
        );
        eprintln!("skipped: a read-only bind mount needs root");
        return;
    };
    assert!(
        std::fs::write(view.path.join("probe"), "x").is_err(),
        "the view is read-only"
    );
    let in_view = |args: &[&str]| {
        let mut all = vec!["--dir", view.path.to_str().unwrap()];
        all.extend_from_slice(args);
        run(brain(demo.tmp.path(), &all))
    };

    let listed = in_view(&["jobs", "list"]).expect(0);
    assert!(listed.stdout.contains(&id), "{listed:#?}");
    let status = json(&in_view(&["jobs", "status", &id, "--json"]).expect(0).stdout);
    assert_eq!(status["status"], "pending", "{status:#}");
    let found = json(
        &in_view(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#])
            .expect(0)
            .stdout,
    );
    assert_eq!(found["notes"][0]["path"], "zeppelin.md", "{found:#}");

    // Watched from the read-only view while a worker on the writable folder runs it.
    let (done_tx, done) = std::sync::mpsc::channel();
    let watch = brain(
        demo.tmp.path(),
        &["--dir", view.path.to_str().unwrap(), "jobs", "watch", &id],
    );
    std::thread::spawn(move || done_tx.send(run(watch)));
    let worker = demo.start();
    let watched = done
        .recv_timeout(Duration::from_secs(120))
        .expect("the watch ended")
        .expect(0);
    assert!(
        watched.stdout.contains("completed") || watched.stderr.contains("completed"),
        "{watched:#?}"
    );
    assert_eq!(worker.interrupt(), 0);

    // A write names the file and says why; nothing was stored.
    let before = std::fs::read(demo.dir.join(".brain/brain.db")).unwrap();
    let refused = in_view(&["site", "build", "--detach"]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused.stderr.contains(".brain/brain.db") && refused.stderr.contains("cannot be written"),
        "{refused:#?}"
    );
    assert!(
        !refused
            .stderr
            .contains("database error: attempt to write a readonly database: "),
        "the cause is said once: {refused:#?}"
    );
    drop(view);
    assert_eq!(
        std::fs::read(demo.dir.join(".brain/brain.db")).unwrap(),
        before
    );
    demo.run(&["jobs", "list"]).expect(0);
}

/// Moves everything in the WAL into the database file, so damage to it is visible.
fn checkpoint(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

#[test]
fn a_damaged_database_is_named_and_left_as_it_is() {
    let demo = Demo::init();
    demo.write_note("a.md", "# A\n\nSome text about zeppelins.\n");
    demo.run(&["site", "generate", "--detach"]).expect(0);
    demo.run(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#])
        .expect(0);

    // The job database, cut short.
    let jobs = demo.dir.join(".brain/brain.db");
    checkpoint(&jobs);
    let length = std::fs::metadata(&jobs).unwrap().len();
    assert!(length > 16_384, "{length} bytes");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&jobs)
        .unwrap()
        .set_len(8192)
        .unwrap();
    let damaged = std::fs::read(&jobs).unwrap();
    let refused = demo.run(&["jobs", "list"]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused.stderr.contains(".brain/brain.db") && refused.stderr.contains("damaged"),
        "{refused:#?}"
    );
    assert_eq!(
        refused.stderr.matches("malformed").count(),
        1,
        "the cause is said once: {refused:#?}"
    );
    assert_eq!(std::fs::read(&jobs).unwrap(), damaged, "left as it is");

    // The notes index, cut short: a search names it and says how to rebuild it.
    std::fs::remove_file(&jobs).unwrap();
    let notes = demo.dir.join(".brain/notes.db");
    checkpoint(&notes);
    let length = std::fs::metadata(&notes).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&notes)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    let refused = demo.run(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused.stderr.contains(".brain/notes.db") && refused.stderr.contains("damaged"),
        "{refused:#?}"
    );
}

/// A tmpfs of 8 MB at `at` (root only), unmounted on drop.
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    fn mount(at: PathBuf) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { at })
    }

    /// Fills it to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.at.join("filler")).unwrap();
        let mut size = 64 * 1024;
        let block = vec![0u8; size];
        while size > 0 {
            if file.write_all(&block[..size]).is_err() {
                size /= 2;
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

#[test]
fn on_a_full_disk_commands_that_read_work_and_a_write_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(tmp.path().join("disk")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: mounting a tmpfs must work there"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    crate::support::brain_run(&disk.at, &["init", "demo"]).expect(0);
    let cli = |args: &[&str]| {
        let mut all = vec!["--dir", "demo"];
        all.extend_from_slice(args);
        run(brain(&disk.at, &all))
    };
    std::fs::write(
        disk.at.join("demo/notes/zeppelin.md"),
        "# Zeppelin\n\nThe zeppelin flew over.\n",
    )
    .unwrap();
    cli(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#]).expect(0);
    let queued = cli(&["site", "generate", "--detach"]).expect(0);
    let id = detached_id(&queued.stdout);

    // No log and no WAL index (the last connection closing removes both): the enqueue
    // below must create them, which a full disk refuses (a log with room left would take
    // the write, and the test would prove nothing), and readers must do without an index.
    checkpoint(&disk.at.join("demo/.brain/brain.db"));
    checkpoint(&disk.at.join("demo/.brain/notes.db"));
    assert!(!disk.at.join("demo/.brain/brain.db-shm").exists());
    disk.fill();
    let listed = cli(&["jobs", "list"]).expect(0);
    assert!(listed.stdout.contains(&id), "{listed:#?}");
    let found = json(
        &cli(&["tool", "search", "--args", r#"{"query": "zeppelin"}"#])
            .expect(0)
            .stdout,
    );
    assert_eq!(found["notes"][0]["path"], "zeppelin.md", "{found:#}");
    let refused = cli(&["site", "build", "--detach"]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused.stderr.contains("brain.db") && refused.stderr.contains("disk is full"),
        "{refused:#?}"
    );
}
