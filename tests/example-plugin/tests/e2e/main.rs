//! The example plugin's commands through the Matrix bot, against a real Synapse (installed
//! from PyPI on first use): `!help` lists `!count`, `!count 3` ends with the plugin's own
//! wording, and a long count's progress message counts live until `!cancel` stops it. No
//! interface names the plugin: the bot derives all of it from the declarations.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are tests too.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use brain_matrix::testing::{BotProcess, Limits, Person, Seen, Synapse};

const BOT: &str = "@bot:localhost";
/// Long enough for a busy 2-core machine; the test ends far sooner.
const WAIT: Duration = Duration::from_secs(120);

/// The bot's reply to `command`, and the newest text of it (its last edit, or itself).
fn answer<'a>(seen: &'a [Seen], command: &str) -> Option<(&'a Seen, String)> {
    let reply = seen
        .iter()
        .find(|s| s.sender == BOT && s.reply_to.as_deref() == Some(command))?;
    let newest = seen
        .iter()
        .filter(|s| s.replaces.as_deref() == Some(reply.event_id.as_str()))
        .max_by_key(|s| s.origin_ms)
        .and_then(|s| s.new_body.clone())
        .unwrap_or_else(|| reply.body.clone());
    Some((reply, newest))
}

/// Waits until the answer to `command` reads as `done` says; returns its newest text.
async fn wait_answer(
    alice: &Person,
    command: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let seen = alice
        .wait_for(what, WAIT, |seen| {
            answer(seen, command).is_some_and(|(_, text)| done(&text))
        })
        .await
        .unwrap();
    answer(&seen, command).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_help_and_live_progress_through_the_matrix_bot() {
    let tmp = tempfile::tempdir().unwrap();
    let synapse = Synapse::start(&tmp.path().join("synapse"), Limits::Raised)
        .await
        .unwrap();
    synapse
        .register(&[("bot", "botpass"), ("alice", "alicepass")])
        .await
        .unwrap();
    let dir = tmp.path().join("brain");
    let init = Command::new(env!("CARGO_BIN_EXE_brain-example"))
        .arg("init")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let config = dir.join("brain.toml");
    // Every command answers with a progress message, however quick its work.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("answer_within_ms = 1500", "answer_within_ms = 0");
    std::fs::write(
        &config,
        format!(
            "{text}\n[matrix]\nhomeserver = \"{}\"\nuser_id = \"{BOT}\"\npassword = \"botpass\"\n\
             anchor = \"@alice:localhost\"\nedit_interval_ms = 300\n",
            synapse.url
        ),
    )
    .unwrap();
    let mut matrix = Command::new(env!("CARGO_BIN_EXE_brain-example"));
    matrix
        .arg("--dir")
        .arg(&dir)
        .arg("matrix")
        .env_remove("BRAIN_DIR")
        .env_remove("RUST_LOG");
    let _bot = BotProcess::start(matrix, dir.join("bot.log"), WAIT);
    let alice = Person::login(&synapse, "alice", "alicepass").await.unwrap();
    let room = alice.create_room(BOT, false).await.unwrap();
    alice
        .wait_membership(&room, BOT, "join", WAIT)
        .await
        .unwrap();

    let help = alice.send(&room, "!help").await.unwrap();
    let listed = wait_answer(&alice, &help, "the help", |_| true).await;
    assert!(
        listed.contains("!count <to> [--delay-ms <delay-ms>]: Count to a number"),
        "{listed}"
    );

    let quick = alice.send(&room, "!count 3").await.unwrap();
    wait_answer(&alice, &quick, "the plugin's wording", |t| {
        t.starts_with("✅ Counted to 3 in ")
    })
    .await;

    // Far too slow to end first: a step shows, then !cancel stops it.
    let slow = alice
        .send(&room, "!count 50 --delay-ms 10000")
        .await
        .unwrap();
    let seen = alice
        .wait_for("a step counted", WAIT, |seen| {
            answer(seen, &slow).is_some_and(|(_, text)| text.contains("/50"))
        })
        .await
        .unwrap();
    let (progress, _) = answer(&seen, &slow).unwrap();
    let html = progress.formatted.as_deref().unwrap_or_default();
    let id = html
        .split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no job id in {progress:#?}"));
    alice.send(&room, &format!("!cancel {id}")).await.unwrap();
    wait_answer(&alice, &slow, "the count cancelled", |t| {
        t.starts_with("❌ ") && t.contains("ancel")
    })
    .await;

    let wrong = alice.send(&room, "!count fifty").await.unwrap();
    let refusal = wait_answer(&alice, &wrong, "the refusal", |_| true).await;
    // The plain body of the Markdown answer (the value is code in its HTML).
    assert_eq!(
        refusal,
        "!count: fifty is not a valid to: expected a whole number"
    );
}
