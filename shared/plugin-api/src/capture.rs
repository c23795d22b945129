//! Warnings captured in a test: the WARN and ERROR events logged on the test's thread, so a
//! test can wait for "the moment X was logged" instead of guessing a time. Re-exported by
//! [`crate::testing`].

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// A WARN or ERROR event: its message and its other fields, as text (strings as they
/// are, other values by `Debug`).
#[derive(Debug, Clone, Default)]
pub struct Logged {
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl Logged {
    /// The value of field `name`, if the event has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Receives the WARN and ERROR events logged on this thread while the guard lives. In a
/// current-thread runtime (`#[tokio::test]`'s) every task runs on the test's thread, so
/// this sees what the code under test logs — and that code, from a warning up to its next
/// await, has run before the test's task gets to look at the warning.
pub fn capture_warnings() -> (tracing::subscriber::DefaultGuard, UnboundedReceiver<Logged>) {
    // `tracing` caches whether a log line is wanted once per process, asking the thread
    // that first reaches it. A sibling test's thread without a subscriber would answer
    // "never" and silence that line for this capture too (seen with 16 test threads).
    // A global subscriber that answers "ask each time" keeps every line live; installing
    // it also re-asks the lines already cached. Another global one, if set, stays.
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(AskEachTime);
    });
    let (tx, rx) = unbounded_channel();
    let guard = tracing::subscriber::set_default(Warnings(tx));
    (guard, rx)
}

struct Warnings(UnboundedSender<Logged>);

/// Records nothing; says every log line may be wanted, so each event asks the subscriber
/// of the thread it happens on.
struct AskEachTime;

impl tracing::Subscriber for AskEachTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // ERROR is below WARN in `tracing`'s order of verbosity.
        *metadata.level() <= tracing::Level::WARN
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut logged = Logged::default();
        event.record(&mut logged);
        // The receiver may be gone at the end of a test; nothing to do then.
        let _ = self.0.send(logged);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

impl tracing::field::Visit for Logged {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }
}

impl Logged {
    fn put(&mut self, name: &str, value: String) {
        match name {
            "message" => self.message = value,
            name => self.fields.push((name.to_owned(), value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_warnings_with_their_fields_and_nothing_quieter() {
        let (guard, mut rx) = capture_warnings();
        tracing::info!(job = "a", "not captured");
        tracing::warn!(job = "job_1", attempt = 2, "the result is discarded");
        tracing::error!("broken");
        drop(guard);
        tracing::warn!("after the guard");
        let first = rx.try_recv().unwrap();
        assert_eq!(first.message, "the result is discarded");
        assert_eq!(first.field("job"), Some("job_1"));
        assert_eq!(first.field("attempt"), Some("2"));
        assert_eq!(rx.try_recv().unwrap().message, "broken");
        assert!(rx.try_recv().is_err());
    }
}
