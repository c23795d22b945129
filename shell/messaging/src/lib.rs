//! The typed in-process event bus that carries job progress and other events from the
//! engine to every interface.
//!
//! The bus is generic over one closed event type (the shell uses
//! `brain_plugin_api::Event`). Each subscriber owns a private inbox, so a slow or stuck
//! subscriber never blocks a publisher or another subscriber:
//!
//! - events whose [`BusEvent::delivery`] is [`Delivery::Latest`] are coalesced per key —
//!   a subscriber that falls behind sees the newest state for that key, not a backlog;
//! - events with [`Delivery::Always`] (lifecycle transitions) are queued in order and never
//!   dropped while the subscription lives. They also discard a still-pending coalesced event
//!   with the same key, because the lifecycle event is newer state.
//!
//! Subscribers filter with a predicate evaluated at publish time (so filtered-out events
//! cost them nothing). Dropping the [`Subscription`] unsubscribes.

mod bus;

pub use bus::{Bus, Subscription, TryRecvError};

/// How the bus treats an event that a subscriber has not received yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// Delivered in publish order, never dropped. If `supersedes` names a key, a pending
    /// [`Delivery::Latest`] event with that key is removed first (it is older state).
    Always { supersedes: Option<&'a str> },
    /// Only the newest pending event per key is delivered; it keeps the queue position of
    /// the first pending event with that key, so ordering between keys stays fair.
    Latest { key: &'a str },
}

/// An event type the bus can carry.
pub trait BusEvent: Clone + Send + Sync + 'static {
    /// Whether this event may be coalesced with later events of the same key.
    fn delivery(&self) -> Delivery<'_>;
}
