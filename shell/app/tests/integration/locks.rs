//! "database is locked" never reaches a person: while another process holds the queue's
//! write lock longer than SQLite's busy timeout (5 s), a command that must write waits and
//! then succeeds — both when the database needs migrating at open and when it only
//! enqueues.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::Demo;

/// Runs `brain site generate --detach` while `hold` keeps a write transaction open, until
/// the command has waited out SQLite's busy timeout and is retrying (its debug log says
/// so); it must succeed once the lock is released.
fn detach_under_a_held_lock(demo: &Demo, hold: &rusqlite::Connection) {
    hold.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut child = demo
        .command(&["site", "generate", "--detach"])
        .env("BRAIN_LOG_LEVEL", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
        }
    });
    // The condition: the busy timeout has passed and the command is retrying, which is
    // where one that gives up would have failed.
    let mut said = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}; it said:\n{}", said.join("\n")));
        let retrying = line.contains("database busy;");
        said.push(line);
        if retrying {
            break;
        }
    }
    hold.execute_batch("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    said.extend(lines.try_iter());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = said.join("\n");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Queued batch batch_"),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("locked"), "{stderr}");
}

#[test]
fn a_held_write_lock_delays_a_command_but_never_fails_it() {
    // A brain whose queue does not exist yet: the command must create and migrate it.
    let demo = Demo::paced(20, "");
    let db = demo.dir.join(".brain/brain.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&db);
    let hold = rusqlite::Connection::open(&db).unwrap();
    detach_under_a_held_lock(&demo, &hold);

    // Up to date: opening writes nothing; the enqueue waits for the lock.
    let listed = demo.run(&["jobs", "list", "--json"]).expect(0);
    let id = crate::support::json(&listed.stdout)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    demo.run(&["jobs", "cancel", &id]).expect(0);
    detach_under_a_held_lock(&demo, &hold);
}
