//! One progress message per operation, edited in place: the newest state is sent at most
//! once per interval (Synapse allows a user about one event per 5 s at steady state), a
//! rate-limit answer is waited out and then the newest state — not the refused one — is
//! sent, and the final state is always sent.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A state of the progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Markdown.
    pub text: String,
    /// The operation ended: this is the last state.
    pub done: bool,
}

/// Why an edit did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// M_LIMIT_EXCEEDED, with the server's retry_after when it gave one.
    RateLimited(Option<Duration>),
    /// Anything else (network, server error): retried with backoff.
    Other(String),
}

/// How long to keep trying to deliver the final state through errors other than rate limits.
const FINAL_PATIENCE: Duration = Duration::from_secs(600);

/// Sends the states `rx` carries through `send`, coalesced: waits for a change, lets at least
/// `interval` pass since the previous send (collecting newer states meanwhile), sends the
/// newest, and repeats until a `done` state was delivered or the sender is gone (then its
/// last state is delivered too). `initial` is what the message already says.
pub async fn run<F, Fut>(
    mut rx: watch::Receiver<Line>,
    initial: &str,
    interval: Duration,
    mut send: F,
) -> Result<(), String>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), SendError>>,
{
    let mut last_text = initial.to_owned();
    let mut last_sent = Instant::now();
    loop {
        let closed = rx.changed().await.is_err();
        tokio::time::sleep_until(last_sent + interval).await;
        let mut failing_since: Option<Instant> = None;
        let line = loop {
            let line = rx.borrow_and_update().clone();
            if line.text == last_text {
                break line;
            }
            match send(line.text.clone()).await {
                Ok(()) => {
                    last_text = line.text.clone();
                    last_sent = Instant::now();
                    break line;
                }
                Err(SendError::RateLimited(after)) => {
                    let wait = after.unwrap_or(interval).max(Duration::from_millis(100));
                    tracing::info!(
                        ?wait,
                        "progress edit rate-limited; sending the newest state after the wait"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(SendError::Other(error)) => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > FINAL_PATIENCE {
                        return Err(format!("giving up on the progress message: {error}"));
                    }
                    tracing::warn!(%error, "progress edit failed; retrying");
                    tokio::time::sleep(interval.max(Duration::from_secs(1))).await;
                }
            }
        };
        if line.done || closed {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn line(text: &str, done: bool) -> Line {
        Line {
            text: text.into(),
            done,
        }
    }

    // Paused time (`run` uses tokio's clock): every sleep ends exactly on time, however
    // busy the machine, so the edits are known to the millisecond.
    #[tokio::test(start_paused = true)]
    async fn coalesces_and_always_sends_the_final_state() {
        let (tx, rx) = watch::channel(line("start", false));
        let sent = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
        let s = sent.clone();
        let interval = Duration::from_millis(200);
        let editor = tokio::spawn(async move {
            run(rx, "start", interval, move |text| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push((text, Instant::now()));
                    Ok(())
                }
            })
            .await
        });
        let began = Instant::now();
        // A state every 15 ms: step i at (i - 1) × 15 ms, "done" at 300 ms. No state lands
        // on a multiple of the interval, so no send races a state change.
        for i in 1..=20 {
            tx.send_replace(line(&format!("step {i}"), false));
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        tx.send_replace(line("done", true));
        editor.await.unwrap().unwrap();
        let sent = sent.lock().unwrap();
        let edits: Vec<(&str, Duration)> = sent
            .iter()
            .map(|(text, at)| (text.as_str(), *at - began))
            .collect();
        // 21 states, two edits: at 200 ms the newest state (step 14, from 195 ms), and at
        // 400 ms, one interval later, the final one.
        assert_eq!(
            edits,
            [
                ("step 14", Duration::from_millis(200)),
                ("done", Duration::from_millis(400)),
            ]
        );
    }

    #[tokio::test]
    async fn rate_limits_are_waited_out_with_the_newest_state() {
        let (tx, rx) = watch::channel(line("start", false));
        let attempts = Arc::new(Mutex::new(Vec::<String>::new()));
        let a = attempts.clone();
        let tx2 = tx.clone();
        let editor = tokio::spawn(async move {
            run(rx, "start", Duration::from_millis(50), move |text| {
                let a = a.clone();
                let tx2 = tx2.clone();
                async move {
                    let mut a = a.lock().unwrap();
                    a.push(text);
                    if a.len() <= 2 {
                        // A newer state arrives while the server refuses.
                        tx2.send_replace(line(&format!("newer {}", a.len()), a.len() == 2));
                        return Err(SendError::RateLimited(Some(Duration::from_millis(30))));
                    }
                    Ok(())
                }
            })
            .await
        });
        tx.send_replace(line("first", false));
        drop(tx);
        editor.await.unwrap().unwrap();
        assert_eq!(*attempts.lock().unwrap(), ["first", "newer 1", "newer 2"]);
    }

    #[tokio::test]
    async fn a_dropped_sender_still_gets_its_last_state_out() {
        let (tx, rx) = watch::channel(line("start", false));
        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let s = sent.clone();
        tx.send_replace(line("last", false));
        drop(tx);
        run(rx, "start", Duration::from_millis(10), move |text| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(text);
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(*sent.lock().unwrap(), ["last"]);
    }
}
