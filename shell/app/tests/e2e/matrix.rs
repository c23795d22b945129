//! End-to-end tests of `brain matrix` against a real Synapse that each test starts for
//! itself (installed from PyPI on first use by scripts/test-deps/synapse.sh): a person's
//! client (matrix-sdk) invites the bot and sends commands; the bot's answers, progress
//! message and its edits are checked as the person's client received them.

use std::process::Stdio;
use std::time::{Duration, Instant};

use brain_matrix::testing::{BotProcess as Bot, Limits, Person, Seen, Synapse};
use serde_json::{Value, json};

use crate::support::Demo;
use crate::support::mcp::HttpBrain;
use crate::support::{brain, edit_config};

const BOT: &str = "@bot:localhost";
const ALICE: &str = "@alice:localhost";
const CAROL: &str = "@carol:localhost";

/// Long enough for a paced batch on a busy 2-core machine; the tests finish far sooner.
const WAIT: Duration = Duration::from_secs(120);

/// A demo brain whose content generation takes `delay_ms` per section, one at a time,
/// with `[matrix]` pointing at `synapse` (anchor: alice). Every command's work answers with
/// a progress message (`answer_within_ms = 0`), whatever its speed: what these tests follow.
fn demo(synapse: &Synapse, delay_ms: u32, edit_interval_ms: u32, extra: &str) -> Demo {
    let demo = progress_demo(synapse, delay_ms, edit_interval_ms, extra);
    edit_config(&demo.dir, "answer_within_ms = 1500", "answer_within_ms = 0");
    demo
}

fn progress_demo(synapse: &Synapse, delay_ms: u32, edit_interval_ms: u32, extra: &str) -> Demo {
    Demo::paced(
        delay_ms,
        &format!(
            "\n[matrix]\nhomeserver = \"{}\"\nuser_id = \"{BOT}\"\npassword = \"botpass\"\n\
             anchor = \"{ALICE}\"\nedit_interval_ms = {edit_interval_ms}\n{extra}",
            synapse.url
        ),
    )
}

/// `brain <subcommand>` for a demo brain (`matrix`, `matrix --no-workers`, or `start`, which
/// runs the bot as a configured interface), its log `<name>.log`, once it has synced once
/// (commands sent from now on run); killed on drop.
fn start_bot(demo: &Demo, name: &str, subcommand: &str) -> Bot {
    let mut args = vec!["--dir", "demo"];
    args.extend(subcommand.split_whitespace());
    Bot::start(
        brain(demo.tmp.path(), &args),
        demo.tmp.path().join(format!("{name}.log")),
        WAIT,
    )
}

/// The usual homeserver: raised rate limits, the bot's and Alice's accounts.
async fn bot_and_alice(dir: &std::path::Path) -> Synapse {
    homeserver(
        dir,
        Limits::Raised,
        &[("bot", "botpass"), ("alice", "alicepass")],
    )
    .await
}

/// Synapse plus registered users, started alongside.
async fn homeserver(dir: &std::path::Path, limits: Limits, users: &[(&str, &str)]) -> Synapse {
    let synapse = Synapse::start(&dir.join("synapse"), limits).await.unwrap();
    synapse.register(users).await.unwrap();
    synapse
}

/// The bot's reply to `command` (the progress message or a one-off answer).
fn reply_to<'a>(seen: &'a [Seen], command: &str) -> Option<&'a Seen> {
    seen.iter()
        .find(|s| s.sender == BOT && s.reply_to.as_deref() == Some(command))
}

/// Sends `body` to `room` as `person` and waits for the bot's reply to it: the message's
/// id, and everything seen by then.
async fn replied(person: &Person, room: &str, body: &str, what: &str) -> (String, Vec<Seen>) {
    let sent = person.send(room, body).await.unwrap();
    let seen = person
        .wait_for(what, WAIT, |seen| reply_to(seen, &sent).is_some())
        .await
        .unwrap();
    (sent, seen)
}

/// The edits of `original`, in the order the server sent them.
fn edits_of<'a>(seen: &'a [Seen], original: &str) -> Vec<&'a Seen> {
    let mut edits: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.replaces.as_deref() == Some(original))
        .collect();
    edits.sort_by_key(|s| s.origin_ms);
    edits
}

/// Waits until the progress message that answers `command` has an edit whose new text
/// starts with `final_prefix`; checks the message and every edit in `room`: notices from the
/// bot, each edit an `m.replace` of the original (never of an edit) with the `* ` fallback,
/// HTML alongside the plain body, and the final text last. Returns the edits' texts.
async fn follow(
    person: &Person,
    room: &str,
    command: &str,
    final_prefix: &str,
    interval_ms: u64,
) -> Vec<String> {
    let seen = person
        .wait_for(&format!("the final state {final_prefix:?}"), WAIT, |seen| {
            reply_to(seen, command).is_some_and(|original| {
                edits_of(seen, &original.event_id).iter().any(|e| {
                    e.new_body
                        .as_deref()
                        .unwrap_or("")
                        .starts_with(final_prefix)
                })
            })
        })
        .await
        .unwrap();
    let original = reply_to(&seen, command).unwrap();
    assert_eq!(original.msgtype, "m.notice", "{original:#?}");
    assert!(original.body.starts_with('⏳'), "{original:#?}");
    assert!(original.formatted.is_some(), "no HTML: {original:#?}");
    let edits = edits_of(&seen, &original.event_id);
    let bot_edits_in_room: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.room == room && s.sender == BOT && s.replaces.is_some())
        .collect();
    for edit in &bot_edits_in_room {
        let target = edit.replaces.as_deref().unwrap();
        assert!(
            seen.iter()
                .any(|s| s.event_id == target && s.replaces.is_none()),
            "an edit of an edit, or of an unknown event: {edit:#?}"
        );
    }
    for edit in &edits {
        assert_eq!(edit.msgtype, "m.notice", "{edit:#?}");
        assert!(edit.body.starts_with("* "), "no fallback body: {edit:#?}");
        assert!(edit.formatted.is_some(), "no HTML: {edit:#?}");
    }
    // Coalesced: edits of one message at least the interval apart (less a little for the
    // server's clock reading).
    for pair in edits.windows(2) {
        let gap = pair[1].origin_ms - pair[0].origin_ms;
        assert!(gap + 100 >= interval_ms, "edits {gap} ms apart: {edits:#?}");
    }
    let texts: Vec<String> = edits
        .iter()
        .map(|e| e.new_body.clone().unwrap_or_default())
        .collect();
    let last = texts.last().unwrap();
    assert!(
        last.starts_with(final_prefix),
        "the last edit is not final: {texts:#?}"
    );
    texts
}

/// A homeserver with the bot's and Alice's accounts, a brain whose bot runs (`brain
/// matrix`), and Alice in a room with it.
struct Chat {
    /// Kept for its Drop: the folder lives as long as the test.
    _tmp: tempfile::TempDir,
    synapse: Synapse,
    demo: Demo,
    bot: Bot,
    alice: Person,
    room: String,
}

impl Chat {
    async fn start() -> Chat {
        let tmp = tempfile::tempdir().unwrap();
        let synapse = bot_and_alice(tmp.path()).await;
        let demo = demo(&synapse, 0, 500, "");
        let bot = start_bot(&demo, "bot", "matrix");
        let (alice, room) = alice_with_the_bot(&synapse).await;
        Chat {
            _tmp: tmp,
            synapse,
            demo,
            bot,
            alice,
            room,
        }
    }
}

/// Alice logged in, in a new room with the bot, which has joined it.
async fn alice_with_the_bot(synapse: &Synapse) -> (Person, String) {
    let alice = Person::login(synapse, "alice", "alicepass").await.unwrap();
    let room = alice.create_room(BOT, false).await.unwrap();
    alice
        .wait_membership(&room, BOT, "join", WAIT)
        .await
        .unwrap();
    (alice, room)
}

/// The jobs and batches the brain knows, as `jobs_list` answers.
fn jobs(demo: &Demo) -> Value {
    demo.tool("jobs_list", &json!({}))["jobs"].clone()
}

fn build_jobs(demo: &Demo) -> usize {
    jobs(demo)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["label"].as_str().unwrap_or("").starts_with("build "))
        .count()
}

/// The id the first progress message carries as code.
fn job_id(message: &Seen) -> String {
    let html = message.formatted.as_deref().unwrap_or_default();
    let after = html.split("<code>").nth(1).unwrap_or_default();
    after.split("</code>").next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_a_plain_room_with_progress_status_and_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = homeserver(
        tmp.path(),
        Limits::Raised,
        &[
            ("bot", "botpass"),
            ("alice", "alicepass"),
            ("carol", "carolpass"),
        ],
    )
    .await;
    // 12.5 s of batch: `!status` sent once a section is done is answered long before the
    // end, even on a busy machine.
    let demo = demo(&synapse, 2500, 500, "announce = true\n");
    let _bot = start_bot(&demo, "bot", "matrix");
    let alice = Person::login(&synapse, "alice", "alicepass").await.unwrap();
    let carol = Person::login(&synapse, "carol", "carolpass").await.unwrap();

    // An invite from someone who is neither anchor nor trusted is declined.
    let carols = carol.create_room(BOT, false).await.unwrap();
    carol
        .wait_membership(&carols, BOT, "leave", WAIT)
        .await
        .unwrap();

    let room = alice.create_room(BOT, false).await.unwrap();
    alice
        .wait_membership(&room, BOT, "join", WAIT)
        .await
        .unwrap();
    alice.invite(&room, CAROL).await.unwrap();
    carol
        .wait_membership(&room, CAROL, "invite", WAIT)
        .await
        .unwrap();
    carol.join(&room).await.unwrap();

    let generate = alice.send(&room, "!generate").await.unwrap();
    // While the batch runs, `!status <id>` shows the plan's status fields.
    let seen = alice
        .wait_for("a progress edit past the first section", WAIT, |seen| {
            reply_to(seen, &generate).is_some_and(|o| {
                edits_of(seen, &o.event_id).iter().any(|e| {
                    let t = e.new_body.as_deref().unwrap_or("");
                    // Some sections done, most to go (an edit may skip a count).
                    ["— 1/5", "— 2/5"].iter().any(|n| t.contains(n))
                })
            })
        })
        .await
        .unwrap();
    let id = job_id(reply_to(&seen, &generate).unwrap());
    assert!(id.starts_with("batch_"), "{seen:#?}");
    let (status, seen) =
        replied(&alice, &room, &format!("!status {id}"), "the status answer").await;
    let answer = reply_to(&seen, &status).unwrap();
    for field in [
        "processing",
        "Progress: ",
        "Current operation: ",
        "Estimated completion: ",
        "Check again in: ",
    ] {
        assert!(answer.body.contains(field), "{field:?} in {answer:#?}");
    }
    assert!(
        answer.formatted.as_deref().unwrap().contains("<li>"),
        "{answer:#?}"
    );

    // A public user's `!build` is refused, and nothing is enqueued.
    let (refused, seen) = replied(&carol, &room, "!build", "the refusal").await;
    let refusal = reply_to(&seen, &refused).unwrap();
    assert!(
        refusal.body.contains("needs anchor permission"),
        "{refusal:#?}"
    );

    let texts = follow(&alice, &room, &generate, "✅ Generated 5 sections", 500).await;
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("⏳ Generating content — ")),
        "no progress between start and end: {texts:#?}"
    );

    // Editing a command into another does not run anything: the edit is ignored.
    let edit = alice.edit(&room, &generate, "!build").await.unwrap();
    // Free text addressed to the bot is a question for the notes; once it is answered, the
    // edit before it has been seen too.
    let (question, seen) = replied(&alice, &room, "bot: what do my notes say?", "the answer").await;
    let answer = reply_to(&seen, &question).unwrap();
    assert_eq!(answer.msgtype, "m.notice", "{answer:#?}");
    assert!(!answer.body.starts_with('❌'), "{answer:#?}");
    assert!(reply_to(&seen, &edit).is_none(), "{seen:#?}");
    assert_eq!(build_jobs(&demo), 0, "{:#}", jobs(&demo));

    // With `announce = true`, work started elsewhere (here: the CLI; the bot's process runs
    // it) gets a progress message of its own in the rooms, edited to its end.
    demo.tool("site_build", &json!({}));
    let announced = |seen: &[Seen]| -> Option<Seen> {
        seen.iter()
            .find(|s| {
                s.room == room
                    && s.sender == BOT
                    && s.reply_to.is_none()
                    && s.body.contains("(started from cli · ")
            })
            .cloned()
    };
    let seen = alice
        .wait_for("the announced build's final state", WAIT, |seen| {
            announced(seen).is_some_and(|a| {
                edits_of(seen, &a.event_id).iter().any(|e| {
                    e.new_body
                        .as_deref()
                        .unwrap_or("")
                        .starts_with("✅ Built preview")
                })
            })
        })
        .await
        .unwrap();
    let announcement = announced(&seen).unwrap();
    assert!(announcement.body.starts_with('⏳'), "{announcement:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_room_and_a_restart_that_keeps_the_device_and_skips_the_backlog() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = bot_and_alice(tmp.path()).await;
    let demo = demo(&synapse, 300, 500, "");
    let bot = start_bot(&demo, "bot", "matrix");
    let alice = Person::login(&synapse, "alice", "alicepass").await.unwrap();
    alice.wait_identity(BOT, WAIT).await.unwrap();
    let devices = alice.devices(BOT).await.unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(
        devices[0].1,
        "the bot's device is not cross-signed: {devices:?}"
    );

    // An encrypted direct chat, as Element creates one.
    let room = alice.create_room(BOT, true).await.unwrap();
    alice
        .wait_membership(&room, BOT, "join", WAIT)
        .await
        .unwrap();
    let generate = alice.send(&room, "!generate landing").await.unwrap();
    follow(&alice, &room, &generate, "✅ Generated 4 sections", 500).await;

    let session = || -> Value {
        let path = demo.dir.join(".brain/matrix/session.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let device = session()["session"]["device_id"].clone();
    assert_eq!(device.as_str(), Some(devices[0].0.as_str()));

    // Stopped while an operation runs: its message still gets a last edit, saying so. A
    // restart with the generator paused 10 minutes a section makes that certain: the bot
    // is stopped as soon as the progress message is seen, and stopping cuts the pause.
    bot.stop();
    edit_config(&demo.dir, "delay_ms = 300", "delay_ms = 600000");
    let bot = start_bot(&demo, "bot-paused", "matrix");
    let (about, _) = replied(&alice, &room, "!generate about", "the progress message").await;
    bot.stop();
    follow(&alice, &room, &about, "⏸ No more updates here", 500).await;
    let while_down = alice.send(&room, "!build").await.unwrap();
    // Back to a quick generator: the next start finishes the queued `about` batch too.
    edit_config(&demo.dir, "delay_ms = 600000", "delay_ms = 300");
    let bot = start_bot(&demo, "bot-again", "matrix");
    let after = alice.send(&room, "!build").await.unwrap();
    follow(&alice, &room, &after, "✅ Built preview", 500).await;
    // The command sent while the bot was down was not run, and never will be.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        reply_to(&alice.seen(), &while_down).is_none(),
        "{:#?}\nthe bot's log:\n{}",
        alice.seen(),
        bot.log()
    );
    assert_eq!(build_jobs(&demo), 1, "{:#}", jobs(&demo));
    // Same device: restored, not a new login.
    assert_eq!(session()["session"]["device_id"], device);
    assert_eq!(alice.devices(BOT).await.unwrap(), devices);
    drop(bot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_default_rate_limits_a_long_batch_still_ends_with_the_final_state() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = homeserver(
        tmp.path(),
        Limits::Default,
        &[("bot", "botpass"), ("alice", "alicepass")],
    )
    .await;
    // Edits asked for every 200 ms: far more than Synapse's 0.2/s with a burst of 10.
    let demo = demo(&synapse, 2000, 200, "");
    // `brain start` runs the bot too, as an interface, when [matrix] is configured.
    let bot = start_bot(&demo, "bot", "start");
    let (alice, room) = alice_with_the_bot(&synapse).await;
    let generate = alice.send(&room, "!generate").await.unwrap();
    follow(&alice, &room, &generate, "✅ Generated 5 sections", 200).await;
    // How many edits that took depends on the machine's pace; builds (a reply and its edits
    // each, in quick succession) are added until the server has refused one, so the test
    // always tests the refusal. The bucket refills at 0.2/s: a few rounds exhaust it.
    let mut rounds = 0;
    while !bot.log().contains("rate-limited") {
        rounds += 1;
        assert!(
            rounds <= 20,
            "the server never refused an edit:\n{}",
            bot.log()
        );
        let build = alice.send(&room, "!build").await.unwrap();
        follow(&alice, &room, &build, "✅ Built preview", 200).await;
    }
}

/// The bot runs no workers; another process (`brain mcp --http`, a whole-brain worker
/// without the bot — `brain start` would run the bot too, and a brain has one) runs the
/// batch `!generate` starts. The bot's progress message still follows it to the final
/// state: it follows the queue, not its own process's events. So does the announcement of
/// work started from the CLI, which says it waits for a worker while none runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_s_progress_follows_work_another_process_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = bot_and_alice(tmp.path()).await;
    let demo = demo(&synapse, 400, 200, "announce = true\n");
    let bot = start_bot(&demo, "bot", "matrix --no-workers");
    let worker = HttpBrain::start(&demo, "127.0.0.1:0");
    let (alice, room) = alice_with_the_bot(&synapse).await;
    let generate = alice.send(&room, "!generate").await.unwrap();
    let texts = follow(&alice, &room, &generate, "✅ Generated 5 sections", 200).await;
    let seen = alice.seen();
    let original = reply_to(&seen, &generate).unwrap();
    let id = job_id(original);
    let entry = demo.status(&id);
    assert_eq!(entry["status"], "completed", "{entry:#}");
    let finished = chrono::DateTime::parse_from_rfc3339(entry["finishedAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let last = edits_of(&seen, &original.event_id)
        .last()
        .unwrap()
        .origin_ms;
    let late = last as i64 - finished;
    eprintln!(
        "final edit {late} ms after the batch ended in the other process ({} edits)",
        texts.len()
    );
    // The aim is within a second (plus the edit interval); the bound leaves room for a
    // loaded machine and still catches a message that is never finished.
    assert!(late < 10_000, "final edit {late} ms after the end");
    assert!(
        bot.log()
            .contains("(no workers: `brain start` runs the work)"),
        "{}",
        bot.log()
    );

    // No worker now: work started from the CLI is announced as waiting for one, and
    // followed to its end once a worker runs it.
    assert_eq!(worker.stop(), 0);
    let detached = demo
        .run(&["site", "generate", "--force", "--detach"])
        .expect(0);
    let id = crate::support::detached_id(&detached.stdout);
    let announced = |seen: &[Seen]| -> Option<Seen> {
        seen.iter()
            .find(|s| s.sender == BOT && s.reply_to.is_none() && s.body.contains(&id))
            .cloned()
    };
    // The announcement, or an edit of it once the bot has seen the worker gone (it reads
    // the list of workers at most every 2 s), says it waits for one, with no countdown.
    let waiting = |seen: &[Seen]| -> Option<String> {
        let announcement = announced(seen)?;
        std::iter::once(announcement.body.clone())
            .chain(
                edits_of(seen, &announcement.event_id)
                    .iter()
                    .filter_map(|e| e.new_body.clone()),
            )
            .find(|text| text.contains("waiting for a worker"))
    };
    let seen = alice
        .wait_for(
            "the announcement of the CLI's batch, waiting for a worker",
            WAIT,
            |seen| waiting(seen).is_some(),
        )
        .await
        .unwrap();
    let text = waiting(&seen).unwrap();
    assert!(!text.contains(" left"), "{text}");
    let announcement = announced(&seen).unwrap();
    assert!(
        announcement.body.contains("(started from cli · "),
        "{announcement:#?}"
    );
    let worker = HttpBrain::start(&demo, "127.0.0.1:0");
    alice
        .wait_for("the announcement's final state", WAIT, |seen| {
            edits_of(seen, &announcement.event_id).iter().any(|e| {
                e.new_body
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("✅ Generated 5 sections")
            })
        })
        .await
        .unwrap();
    assert_eq!(worker.stop(), 0);
    bot.stop();
}

/// Work that ends within `answer_within_ms` answers with its outcome: one message, already
/// final, never edited. (A minute here, so that the build certainly ends within it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_work_answers_with_its_outcome_in_one_message() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = bot_and_alice(tmp.path()).await;
    let demo = progress_demo(&synapse, 0, 200, "");
    // Content to build (a build of nothing is refused).
    demo.run(&["site", "generate"]).expect(0);
    edit_config(
        &demo.dir,
        "answer_within_ms = 1500",
        "answer_within_ms = 60000",
    );
    let _bot = start_bot(&demo, "bot", "matrix");
    let (alice, room) = alice_with_the_bot(&synapse).await;
    let (build, seen) = replied(&alice, &room, "!build", "the answer to !build").await;
    let answer = reply_to(&seen, &build).unwrap().clone();
    assert!(
        answer.body.starts_with("✅ Built preview: 10 pages in "),
        "{answer:#?}"
    );
    // Another command answered after it: by then an edit of the first answer would have
    // been seen too, and there is none.
    let (_, seen) = replied(&alice, &room, "!status", "the answer to !status").await;
    assert!(edits_of(&seen, &answer.event_id).is_empty(), "{seen:#?}");
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`, …) to the bot's process.
fn signal(bot: &Bot, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &bot.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// Runs `brain --dir demo args…`, which must refuse to start because another process runs
/// the brain's bot: it exits within a bound (never reaching "brain running"), not 0, and
/// says so naming `holder`'s pid and command. Returns what it printed.
fn refused(demo: &Demo, name: &str, args: &[&str], holder: &Bot, holder_command: &str) -> String {
    let log = demo.tmp.path().join(format!("{name}.log"));
    let mut command = demo.command(args);
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = command.spawn().unwrap();
    let status = crate::support::process::wait_within(&mut child, WAIT);
    let stderr = std::fs::read_to_string(&log).unwrap();
    let Some(status) = status else {
        let _ = child.kill();
        panic!("`brain {args:?}` did not stop beside a running bot:\n{stderr}");
    };
    assert!(
        !status.success(),
        "{args:?} exited with {status}:\n{stderr}"
    );
    for expected in [
        format!("pid {}", holder.child.id()),
        format!("--dir demo {holder_command}`"),
        "one bot per brain".to_owned(),
        ".brain/matrix/bot.lock".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("brain running in"), "{stderr}");
    stderr
}

/// One bot per brain: while `brain start` runs the bot, `brain matrix` (with or without
/// workers) and a second `brain start` refuse, naming it; once it is killed (SIGKILL: no
/// clean-up of its own), `brain matrix` starts and answers, and now `brain start` is refused
/// naming that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bot_per_brain_a_second_is_refused_naming_the_first_until_it_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = bot_and_alice(tmp.path()).await;
    let demo = demo(&synapse, 0, 500, "");
    let mut first = start_bot(&demo, "first", "start");
    refused(&demo, "second-matrix", &["matrix"], &first, "start");
    refused(
        &demo,
        "second-matrix-no-workers",
        &["matrix", "--no-workers"],
        &first,
        "start",
    );
    refused(&demo, "second-start", &["start"], &first, "start");

    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let second = start_bot(&demo, "second", "matrix");
    let (alice, room) = alice_with_the_bot(&synapse).await;
    replied(&alice, &room, "!help", "the answer to !help").await;
    refused(&demo, "third-start", &["start"], &second, "matrix");
    second.stop();
}

/// More events between two syncs than the server sends (Synapse: the newest 10, with
/// `limited: true`): the bot is stopped (SIGSTOP, as a suspended laptop would be) while the
/// person sends 20 commands, then resumed. It fetches what the sync left out and answers
/// every command exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_twenty_commands_gets_twenty_replies() {
    let Chat {
        _tmp,
        synapse: _synapse,
        demo: _demo,
        bot,
        alice,
        room,
    } = Chat::start().await;
    replied(&alice, &room, "!help", "the answer to the first !help").await;

    signal(&bot, "STOP");
    let mut commands = Vec::new();
    for i in 0..20 {
        let command = if i % 2 == 0 { "!help" } else { "!jobs" };
        commands.push(alice.send(&room, command).await.unwrap());
    }
    signal(&bot, "CONT");
    alice
        .wait_for("an answer to each of the 20 commands", WAIT, |seen| {
            commands.iter().all(|c| reply_to(seen, c).is_some())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\nthe bot's log:\n{}", bot.log()));
    // Answered after them all: a second answer to one of them would have come by now.
    let (_, seen) = replied(&alice, &room, "!help", "the answer to the last !help").await;
    for command in &commands {
        let replies = seen
            .iter()
            .filter(|s| s.sender == BOT && s.reply_to.as_deref() == Some(command.as_str()))
            .count();
        assert_eq!(replies, 1, "replies to {command}: {seen:#?}");
    }
    // The burst did overflow a sync: the bot fetched the events it left out.
    assert!(
        bot.log()
            .contains("a sync left out earlier events; fetched them"),
        "{}",
        bot.log()
    );
    bot.stop();
}

/// A 60 KB command gets a short refusal naming the limit (before: no answer at all, the
/// reply repeating it was refused by the server), and replies to long input under the limit
/// repeat at most ~200 characters of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_command_gets_a_short_refusal_and_replies_never_echo_long_input() {
    let Chat {
        _tmp,
        synapse: _synapse,
        demo: _demo,
        bot,
        alice,
        room,
    } = Chat::start().await;

    let huge = alice
        .send(&room, &format!("!{}", "x".repeat(60_000)))
        .await
        .unwrap();
    let seen = alice
        .wait_for("the refusal of the 60 KB command", WAIT, |seen| {
            reply_to(seen, &huge).is_some()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\nthe bot's log:\n{}", bot.log()));
    let refusal = reply_to(&seen, &huge).unwrap();
    assert!(
        refusal.body.contains("limited to 4 KB (4096 bytes)"),
        "{refusal:#?}"
    );
    assert!(refusal.body.len() < 300, "{refusal:#?}");

    // Under the limit, each a long piece a reply could repeat: an unknown command's name,
    // an id, a question.
    for (letter, body) in [
        ('y', format!("!{}", "y".repeat(3000))),
        ('w', format!("!status {}", "w".repeat(3000))),
        ('z', format!("bot: what about {}?", "z".repeat(3000))),
    ] {
        let (command, seen) = replied(&alice, &room, &body, "the answer").await;
        let answer = reply_to(&seen, &command).unwrap();
        let echo = letter.to_string().repeat(201);
        assert!(!answer.body.contains(&echo), "{answer:#?}");
        assert!(
            !answer.formatted.as_deref().unwrap_or("").contains(&echo),
            "{answer:#?}"
        );
    }
    bot.stop();
}

/// How many of the bot's syncs Synapse has answered (its access log, one line a request).
fn bot_syncs(synapse: &Synapse) -> usize {
    std::fs::read_to_string(synapse.dir.join("hs.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("{@bot:localhost}") && l.contains("/sync?"))
        .count()
}

/// At the default log level an idle bot's log grows by less than 100 KB a day: measured per
/// sync (Synapse's log counts them) over syncs that time out with nothing new and syncs
/// woken by talk in the room that is not for the bot, extrapolated to the 2,880 long polls
/// (30 s each) of an idle day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_bot_logs_under_100_kb_a_day() {
    let Chat {
        _tmp,
        synapse,
        demo: _demo,
        bot,
        alice,
        room,
    } = Chat::start().await;
    // Polled until a condition, bounded by WAIT (an idle sync waits up to 30 s for news).
    let wait_syncs = |at_least: usize| {
        let until = Instant::now() + WAIT;
        while bot_syncs(&synapse) < at_least {
            assert!(Instant::now() < until, "the bot stopped syncing");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The join's syncs behind us.
    let start = bot_syncs(&synapse) + 1;
    wait_syncs(start);
    let (bytes_before, syncs_before) = (bot.log().len(), bot_syncs(&synapse));
    for i in 0..10 {
        let now = bot_syncs(&synapse);
        alice
            .send(&room, &format!("lunch at {i}, anyone?"))
            .await
            .unwrap();
        wait_syncs(now + 1);
    }
    // Two long polls that end with nothing.
    wait_syncs(bot_syncs(&synapse) + 2);
    let bytes = bot.log().len() - bytes_before;
    let syncs = bot_syncs(&synapse) - syncs_before;
    let per_day = bytes * 2880 / syncs;
    eprintln!(
        "idle log: {bytes} bytes over {syncs} syncs, {per_day} bytes a day at 2,880 syncs a day"
    );
    assert!(per_day < 100_000, "{}", bot.log());
    bot.stop();
}

/// Prints how soon the bot answers a command (median and worst of 20, by the server's
/// timestamps of the command and the reply), sent at varied moments of its sync cycle.
/// A measurement, not a timed assertion: it asserts only that every command is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_reply_latency_is_printed() {
    let Chat {
        _tmp,
        synapse: _synapse,
        demo: _demo,
        bot,
        alice,
        room,
    } = Chat::start().await;
    let mut latencies = Vec::new();
    for i in 0..21u64 {
        // Pacing only: spreads the commands over the bot's sync cycle.
        tokio::time::sleep(Duration::from_millis(i * 137 % 700)).await;
        let body = if i % 2 == 0 { "!help" } else { "!status" };
        let command = alice.send(&room, body).await.unwrap();
        let seen = alice
            .wait_for("the answer", WAIT, |seen| {
                reply_to(seen, &command).is_some() && seen.iter().any(|s| s.event_id == command)
            })
            .await
            .unwrap();
        let sent = seen
            .iter()
            .find(|s| s.event_id == command)
            .unwrap()
            .origin_ms;
        let answered = reply_to(&seen, &command).unwrap().origin_ms;
        // The first is a warm-up (the room's first command).
        if i > 0 {
            latencies.push(answered.saturating_sub(sent));
        }
    }
    latencies.sort_unstable();
    eprintln!(
        "first reply: median {} ms, worst {} ms over {} commands ({:?})",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len(),
        latencies
    );
    bot.stop();
}
