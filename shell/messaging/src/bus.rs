//! The bus itself: a copy-on-write list of subscribers, each with a private inbox.
//!
//! How it works:
//!
//! - The subscriber list is an `Arc<Vec<..>>` behind an `RwLock`. Publishing only takes
//!   the lock long enough to clone that `Arc` (a snapshot); subscribing and unsubscribing
//!   replace the vector (`Arc::make_mut`). So user filters and inbox work never run while
//!   the list lock is held, and subscribe/unsubscribe (rare) pay the O(n) copy instead of
//!   publish (frequent).
//! - Each inbox is a `std::sync::Mutex` around a queue of slots plus a map
//!   `key -> newest pending Latest event`. A `Latest` slot in the queue only names its key
//!   and a slot id; the event lives in the map. Coalescing replaces the map value (the slot
//!   keeps its queue position); superseding removes the map entry, which turns the slot
//!   stale, and receive skips stale slots. Every inbox critical section is O(1) amortised
//!   and never waits on anything, so publish never blocks on a subscriber.
//! - Receivers are woken by a `tokio::sync::Notify` per inbox. `notify_one` stores a permit
//!   when nobody is waiting, so a publish that lands between the receiver's empty check and
//!   its `.await` is not lost.
//! - Closing marks every inbox closed (under its lock) and empties the list; a publish that
//!   raced with close finds the inbox closed and drops the event, so "drain, then `None`"
//!   holds. Dropping the last [`Bus`] handle closes the bus.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

use crate::{BusEvent, Delivery};

/// A cheap, clonable handle to an in-process event bus.
///
/// All clones share the same subscribers. When the last handle is dropped the bus closes,
/// exactly as if [`Bus::close`] had been called.
pub struct Bus<E> {
    // The extra `Handle` layer lets us notice when the last *Bus* handle goes away:
    // subscriptions hold `Arc<Shared>` too, so the strong count of `Shared` cannot tell.
    handle: Arc<Handle<E>>,
}

// Manual impl: a derive would add an `E: Clone` bound we do not need.
impl<E> Clone for Bus<E> {
    fn clone(&self) -> Self {
        Self {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<E: BusEvent> Default for Bus<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Bus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.handle.shared;
        f.debug_struct("Bus")
            .field("subscribers", &shared.snapshot().len())
            .field("closed", &shared.closed.load(Ordering::Acquire))
            .finish()
    }
}

impl<E: BusEvent> Bus<E> {
    /// Creates an open bus with no subscribers.
    pub fn new() -> Self {
        Self {
            handle: Arc::new(Handle {
                shared: Arc::new(Shared {
                    subscribers: RwLock::new(Arc::new(Vec::new())),
                    closed: AtomicBool::new(false),
                    coalesced: AtomicU64::new(0),
                }),
            }),
        }
    }

    /// Delivers `event` to every subscriber whose filter accepts it.
    ///
    /// Never waits for a subscriber: each delivery is a short, uncontended inbox update
    /// (coalescing or appending), so the cost is O(subscribers). A no-op once the bus is
    /// closed.
    pub fn publish(&self, event: E) {
        let shared = &self.handle.shared;
        // Fast path only; correctness after close comes from each inbox's own flag.
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        let snapshot = shared.snapshot();
        // Clone for every match except the last, which gets the original: saves one
        // clone per publish (often the only one) without collecting the matches.
        let mut previous: Option<&Subscriber<E>> = None;
        let mut coalesced = 0;
        for sub in snapshot.iter() {
            // Filters run with no lock held at all.
            if (sub.filter)(&event)
                && let Some(earlier) = previous.replace(sub)
            {
                coalesced += u64::from(earlier.inbox.push(event.clone()));
            }
        }
        if let Some(last) = previous {
            coalesced += u64::from(last.inbox.push(event));
        }
        if coalesced > 0 {
            shared.coalesced.fetch_add(coalesced, Ordering::Relaxed);
        }
    }

    /// How many events a newer one of the same key replaced in a subscriber's inbox
    /// before it was read, since the bus was made.
    pub fn coalesced(&self) -> u64 {
        self.handle.shared.coalesced.load(Ordering::Relaxed)
    }

    /// Subscribes to the events for which `filter` returns `true`.
    ///
    /// The filter runs at publish time on the publisher's thread, so it should be cheap;
    /// rejected events never reach this subscription's inbox. Subscribing to a closed bus
    /// yields a subscription that is already closed.
    pub fn subscribe(
        &self,
        filter: impl Fn(&E) -> bool + Send + Sync + 'static,
    ) -> Subscription<E> {
        let shared = &self.handle.shared;
        let sub = Arc::new(Subscriber {
            filter: Box::new(filter),
            inbox: Inbox::new(),
        });
        {
            let mut list = shared.write();
            // Checked under the write lock, which `close` also holds when setting the flag,
            // so a subscription is either in the list close empties or already closed.
            if shared.closed.load(Ordering::Acquire) {
                sub.inbox.close();
            } else {
                Arc::make_mut(&mut list).push(Arc::clone(&sub));
            }
        }
        Subscription {
            shared: Arc::clone(shared),
            sub,
        }
    }

    /// Subscribes to every event.
    pub fn subscribe_all(&self) -> Subscription<E> {
        self.subscribe(|_| true)
    }

    /// The number of live subscriptions (zero once the bus is closed).
    pub fn subscriber_count(&self) -> usize {
        self.handle.shared.snapshot().len()
    }

    /// Closes the bus: later publishes are dropped, and each subscriber receives what is
    /// already pending and then `None`.
    pub fn close(&self) {
        self.handle.shared.close();
    }
}

/// Closes the bus when the last [`Bus`] handle is dropped.
struct Handle<E> {
    shared: Arc<Shared<E>>,
}

impl<E> Drop for Handle<E> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// State shared by the bus handles and the subscriptions (which need it to unsubscribe).
struct Shared<E> {
    /// Copy-on-write so publishers can take a snapshot and drop the lock at once.
    subscribers: RwLock<Arc<Vec<Arc<Subscriber<E>>>>>,
    closed: AtomicBool,
    /// Events replaced in an inbox by a newer one of the same key before being read.
    coalesced: AtomicU64,
}

impl<E> Shared<E> {
    fn snapshot(&self) -> Arc<Vec<Arc<Subscriber<E>>>> {
        let list: RwLockReadGuard<'_, _> =
            self.subscribers.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&list)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Arc<Vec<Arc<Subscriber<E>>>>> {
        // Nothing that can panic runs under this lock, but recover anyway: the list is
        // always valid between statements.
        self.subscribers.write().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let list = {
            let mut list = self.write();
            self.closed.store(true, Ordering::Release);
            // The bus stops holding the inboxes; subscriptions keep their own.
            std::mem::take(&mut *list)
        };
        for sub in list.iter() {
            sub.inbox.close();
        }
    }

    fn unsubscribe(&self, sub: &Arc<Subscriber<E>>) {
        let mut list = self.write();
        if list.iter().any(|s| Arc::ptr_eq(s, sub)) {
            Arc::make_mut(&mut list).retain(|s| !Arc::ptr_eq(s, sub));
        }
    }
}

type Filter<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;

struct Subscriber<E> {
    filter: Filter<E>,
    inbox: Inbox<E>,
}

/// One subscriber's pending events plus the means to wake its receiver.
struct Inbox<E> {
    state: Mutex<InboxState<E>>,
    notify: Notify,
}

struct InboxState<E> {
    /// Delivery order. `Latest` slots point into `latest`; they are stale (skipped) when
    /// the map no longer holds an entry with their id.
    queue: VecDeque<Slot<E>>,
    /// The newest pending event for each key that has a live `Latest` slot.
    latest: HashMap<String, Pending<E>>,
    /// Number of `Always` slots in `queue`, so `pending` need not scan the queue.
    always: usize,
    /// Distinguishes a key's current slot from an older, superseded one.
    next_id: u64,
    closed: bool,
}

enum Slot<E> {
    Always(E),
    Latest { key: String, id: u64 },
}

struct Pending<E> {
    id: u64,
    event: E,
}

impl<E> Inbox<E> {
    fn new() -> Self {
        Self {
            state: Mutex::new(InboxState {
                queue: VecDeque::new(),
                latest: HashMap::new(),
                always: 0,
                next_id: 0,
                closed: false,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, InboxState<E>> {
        // Every mutation leaves the state consistent before anything that could panic
        // (user `delivery`), so a poisoned lock still guards valid data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        // Wake a waiting receiver so it can observe the close.
        self.notify.notify_one();
    }
}

impl<E: BusEvent> Inbox<E> {
    /// Queues `event`; `true` when it replaced a pending one of the same key.
    fn push(&self, event: E) -> bool {
        let appended = {
            let mut st = self.lock();
            if st.closed {
                return false;
            }
            let st = &mut *st;
            match event.delivery() {
                Delivery::Latest { key } => {
                    if let Some(pending) = st.latest.get_mut(key) {
                        // Coalesce: newer state, same queue position.
                        pending.event = event;
                        false
                    } else {
                        let key = key.to_owned();
                        let id = st.next_id;
                        st.next_id = st.next_id.wrapping_add(1);
                        st.queue.push_back(Slot::Latest {
                            key: key.clone(),
                            id,
                        });
                        st.latest.insert(key, Pending { id, event });
                        true
                    }
                }
                Delivery::Always { supersedes } => {
                    if let Some(key) = supersedes {
                        // Its slot turns stale and is skipped on receive. Stale slots
                        // never outnumber the Always slots that caused them, so the
                        // queue stays bounded by what must be delivered anyway.
                        st.latest.remove(key);
                    }
                    st.queue.push_back(Slot::Always(event));
                    st.always += 1;
                    true
                }
            }
        };
        // A replacement in place needs no wake-up: its slot was appended earlier, and
        // that append already notified.
        if appended {
            self.notify.notify_one();
        }
        !appended
    }
}

/// A subscriber's end of the bus. Dropping it unsubscribes.
pub struct Subscription<E> {
    shared: Arc<Shared<E>>,
    sub: Arc<Subscriber<E>>,
}

impl<E> fmt::Debug for Subscription<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.sub.inbox.lock();
        f.debug_struct("Subscription")
            .field("pending", &(st.always + st.latest.len()))
            .field("closed", &st.closed)
            .finish()
    }
}

impl<E> Drop for Subscription<E> {
    fn drop(&mut self) {
        self.shared.unsubscribe(&self.sub);
        // A publisher may still hold a snapshot listing this inbox; closing it makes such
        // in-flight deliveries no-ops instead of filling a queue nobody reads.
        self.sub.inbox.close();
    }
}

impl<E: BusEvent> Subscription<E> {
    /// Waits for the next event.
    ///
    /// Returns `None` once the bus is closed (or every [`Bus`] handle is dropped) and this
    /// inbox is drained. Cancel-safe: if the future is dropped before it completes, no
    /// event is lost.
    pub async fn recv(&mut self) -> Option<E> {
        loop {
            match self.try_recv() {
                Ok(event) => return Some(event),
                Err(TryRecvError::Closed) => return None,
                // If a publish slipped in after the check, `notify_one` left a permit and
                // this returns at once. Dropping the future here loses nothing: events
                // stay in the inbox until `try_recv` takes them.
                Err(TryRecvError::Empty) => self.sub.inbox.notify.notified().await,
            }
        }
    }

    /// Takes the next event without waiting.
    pub fn try_recv(&mut self) -> Result<E, TryRecvError> {
        let mut st = self.sub.inbox.lock();
        let st = &mut *st;
        while let Some(slot) = st.queue.pop_front() {
            match slot {
                Slot::Always(event) => {
                    st.always -= 1;
                    return Ok(event);
                }
                Slot::Latest { key, id } => match st.latest.entry(key) {
                    Entry::Occupied(entry) if entry.get().id == id => {
                        return Ok(entry.remove().event);
                    }
                    // Superseded by an Always event (and maybe re-added behind it).
                    _ => {}
                },
            }
        }
        if st.closed {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// The number of events waiting in this inbox (stale, superseded slots excluded).
    pub fn pending(&self) -> usize {
        let st = self.sub.inbox.lock();
        st.always + st.latest.len()
    }
}

/// Why [`Subscription::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is pending right now; more may come.
    Empty,
    /// The bus is closed and this inbox is drained; nothing more will come.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "no event is pending",
            TryRecvError::Closed => "the bus is closed and the inbox is drained",
        })
    }
}

impl std::error::Error for TryRecvError {}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use tokio::time::timeout;

    use super::*;

    /// A stand-in for the shell's event type covering all three delivery kinds.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        /// Coalesced per key.
        Progress { key: &'static str, n: u64 },
        /// Always delivered; supersedes pending progress for its key.
        Lifecycle {
            key: &'static str,
            what: &'static str,
        },
        /// Always delivered, supersedes nothing; `target` is for filtering tests.
        Plain { target: u32, from: u32, seq: u32 },
    }

    impl BusEvent for Ev {
        fn delivery(&self) -> Delivery<'_> {
            match self {
                Ev::Progress { key, .. } => Delivery::Latest { key },
                Ev::Lifecycle { key, .. } => Delivery::Always {
                    supersedes: Some(key),
                },
                Ev::Plain { .. } => Delivery::Always { supersedes: None },
            }
        }
    }

    fn progress(key: &'static str, n: u64) -> Ev {
        Ev::Progress { key, n }
    }

    fn lifecycle(key: &'static str, what: &'static str) -> Ev {
        Ev::Lifecycle { key, what }
    }

    fn plain(target: u32, seq: u32) -> Ev {
        Ev::Plain {
            target,
            from: 0,
            seq,
        }
    }

    /// Takes everything pending without waiting.
    fn drain(sub: &mut Subscription<Ev>) -> Vec<Ev> {
        std::iter::from_fn(|| sub.try_recv().ok()).collect()
    }

    const WAIT: Duration = Duration::from_secs(5);

    /// Receives one event, failing the test instead of hanging.
    async fn recv(sub: &mut Subscription<Ev>) -> Option<Ev> {
        timeout(WAIT, sub.recv()).await.expect("recv timed out")
    }

    #[test]
    fn inbox_scenarios() {
        // (name, published while nobody reads, what the reader then gets)
        let cases: Vec<(&str, Vec<Ev>, Vec<Ev>)> = vec![
            (
                "always events keep publish order",
                vec![plain(0, 1), plain(0, 2), plain(0, 3)],
                vec![plain(0, 1), plain(0, 2), plain(0, 3)],
            ),
            (
                "progress coalesces to the newest value",
                vec![progress("a", 1), progress("a", 2), progress("a", 3)],
                vec![progress("a", 3)],
            ),
            (
                "coalesced progress keeps its first position",
                vec![progress("a", 1), plain(0, 1), progress("a", 2)],
                vec![progress("a", 2), plain(0, 1)],
            ),
            (
                "lifecycle supersedes pending progress of its key only",
                vec![
                    progress("b", 1),
                    progress("a", 5),
                    lifecycle("a", "completed"),
                ],
                vec![progress("b", 1), lifecycle("a", "completed")],
            ),
            (
                "progress after lifecycle is queued behind it",
                vec![
                    progress("a", 1),
                    lifecycle("a", "started"),
                    progress("a", 2),
                    progress("a", 3),
                ],
                vec![lifecycle("a", "started"), progress("a", 3)],
            ),
            (
                "plain events supersede nothing",
                vec![progress("a", 1), plain(0, 1), progress("a", 2)],
                vec![progress("a", 2), plain(0, 1)],
            ),
            (
                "lifecycle with nothing pending is just queued",
                vec![lifecycle("a", "queued"), lifecycle("a", "started")],
                vec![lifecycle("a", "queued"), lifecycle("a", "started")],
            ),
            (
                "repeated supersede cycles leave only live events",
                vec![
                    progress("a", 1),
                    lifecycle("a", "x"),
                    progress("a", 2),
                    lifecycle("a", "y"),
                    progress("a", 3),
                ],
                vec![lifecycle("a", "x"), lifecycle("a", "y"), progress("a", 3)],
            ),
        ];
        for (name, published, expected) in cases {
            let bus = Bus::new();
            let mut sub = bus.subscribe_all();
            for event in published {
                bus.publish(event);
            }
            assert_eq!(sub.pending(), expected.len(), "{name}: pending");
            assert_eq!(drain(&mut sub), expected, "{name}: received");
            assert_eq!(sub.try_recv(), Err(TryRecvError::Empty), "{name}: empty");
            assert_eq!(sub.pending(), 0, "{name}: pending after drain");
        }
    }

    #[tokio::test]
    async fn fans_out_and_filters_by_target() {
        let bus = Bus::new();
        let mut all = bus.subscribe_all();
        let mut all2 = bus.subscribe_all();
        let mut only1 = bus.subscribe(|e: &Ev| matches!(e, Ev::Plain { target: 1, .. }));
        let mut only2 = bus.subscribe(|e: &Ev| matches!(e, Ev::Plain { target: 2, .. }));
        let mut nothing = bus.subscribe(|_: &Ev| false);
        assert_eq!(bus.subscriber_count(), 5);

        let events = [plain(1, 1), plain(2, 2), plain(1, 3), plain(3, 4)];
        for event in events.clone() {
            bus.publish(event);
        }

        for sub in [&mut all, &mut all2] {
            for expected in &events {
                assert_eq!(recv(sub).await.as_ref(), Some(expected));
            }
            assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
        }
        assert_eq!(drain(&mut only1), vec![plain(1, 1), plain(1, 3)]);
        assert_eq!(drain(&mut only2), vec![plain(2, 2)]);
        assert_eq!(nothing.pending(), 0);
        assert_eq!(nothing.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stuck_subscriber_blocks_nobody() {
        const N: u64 = 1_000_000;
        let bus = Bus::new();
        let stuck = bus.subscribe_all();
        let mut live = bus.subscribe_all();

        let reader = tokio::spawn(async move {
            let (mut received, mut last) = (0_u64, 0_u64);
            while last < N {
                match live.recv().await {
                    Some(Ev::Progress { key: "a", n }) => {
                        // Coalescing may skip values but never goes back in time.
                        assert!(n > last, "progress went from {last} to {n}");
                        last = n;
                        received += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            received
        });

        for n in 1..=N {
            bus.publish(progress("a", n));
        }

        let received = timeout(WAIT, reader)
            .await
            .expect("reader stalled")
            .unwrap();
        assert!(received >= 1);
        let mut stuck = stuck;
        assert_eq!(stuck.pending(), 1);
        assert_eq!(stuck.try_recv(), Ok(progress("a", N)));
        assert_eq!(stuck.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn coalesces_per_key_in_first_seen_order() {
        let bus = Bus::new();
        let mut sub = bus.subscribe_all();
        for n in 1..=1000 {
            bus.publish(progress("a", n));
            bus.publish(progress("b", n));
        }
        assert_eq!(sub.pending(), 2);
        assert_eq!(
            drain(&mut sub),
            vec![progress("a", 1000), progress("b", 1000)]
        );

        // The same holds when "b" shows up first.
        for n in 1..=1000 {
            bus.publish(progress("b", n));
            bus.publish(progress("a", n));
        }
        assert_eq!(
            drain(&mut sub),
            vec![progress("b", 1000), progress("a", 1000)]
        );
    }

    #[test]
    fn lifecycle_events_are_never_dropped() {
        const N: u32 = 10_000;
        let bus = Bus::new();
        let mut sub = bus.subscribe_all();
        let whats = ["queued", "started", "completed"];
        for i in 0..N {
            bus.publish(lifecycle("a", whats[i as usize % 3]));
            // Interleaved progress must neither displace nor reorder lifecycle events.
            bus.publish(progress("a", u64::from(i)));
        }
        assert_eq!(sub.pending(), N as usize + 1);
        let got = drain(&mut sub);
        let lifecycles: Vec<&Ev> = got
            .iter()
            .filter(|e| matches!(e, Ev::Lifecycle { .. }))
            .collect();
        assert_eq!(lifecycles.len(), N as usize);
        for (i, event) in lifecycles.into_iter().enumerate() {
            assert_eq!(event, &lifecycle("a", whats[i % 3]), "lifecycle #{i}");
        }
        assert_eq!(got.last(), Some(&progress("a", u64::from(N - 1))));
    }

    #[test]
    fn lifecycle_supersedes_pending_progress_of_same_key() {
        let bus = Bus::new();
        let mut sub = bus.subscribe_all();
        bus.publish(progress("a", 5));
        bus.publish(progress("b", 7));
        bus.publish(lifecycle("a", "completed"));
        assert_eq!(sub.pending(), 2);
        assert_eq!(
            drain(&mut sub),
            vec![progress("b", 7), lifecycle("a", "completed")]
        );
    }

    #[tokio::test]
    async fn dropping_a_subscription_unsubscribes() {
        let bus = Bus::new();
        let a = bus.subscribe_all();
        let mut b = bus.subscribe_all();
        assert_eq!(bus.subscriber_count(), 2);
        bus.publish(plain(0, 1));

        drop(a);
        assert_eq!(bus.subscriber_count(), 1);
        bus.publish(plain(0, 2));
        assert_eq!(drain(&mut b), vec![plain(0, 1), plain(0, 2)]);

        // The bus no longer holds the dropped inbox: only `b`'s remains in the list.
        let list = bus.handle.shared.snapshot();
        assert_eq!(list.len(), 1);
        assert!(Arc::ptr_eq(&list[0], &b.sub));
        drop(list);

        drop(b);
        assert_eq!(bus.subscriber_count(), 0);
        bus.publish(plain(0, 3));
    }

    #[tokio::test]
    async fn close_drains_pending_then_ends() {
        let bus = Bus::new();
        let mut a = bus.subscribe_all();
        let mut b = bus.subscribe_all();
        bus.publish(plain(0, 1));
        bus.publish(progress("x", 1));
        bus.close();
        bus.publish(plain(0, 2)); // no-op after close

        assert_eq!(recv(&mut a).await, Some(plain(0, 1)));
        assert_eq!(recv(&mut a).await, Some(progress("x", 1)));
        assert_eq!(recv(&mut a).await, None);
        assert_eq!(recv(&mut a).await, None);
        assert_eq!(a.try_recv(), Err(TryRecvError::Closed));

        assert_eq!(b.try_recv(), Ok(plain(0, 1)));
        assert_eq!(b.try_recv(), Ok(progress("x", 1)));
        assert_eq!(b.try_recv(), Err(TryRecvError::Closed));

        assert_eq!(bus.subscriber_count(), 0);
        let mut late = bus.subscribe_all();
        assert_eq!(recv(&mut late).await, None);
        assert_eq!(late.try_recv(), Err(TryRecvError::Closed));
    }

    #[tokio::test]
    async fn close_wakes_a_waiting_receiver() {
        let bus = Bus::<Ev>::new();
        let mut sub = bus.subscribe_all();
        let waiter = tokio::spawn(async move { sub.recv().await });
        tokio::task::yield_now().await;
        bus.close();
        assert_eq!(
            timeout(WAIT, waiter).await.expect("not woken").unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn dropping_every_bus_handle_closes() {
        let bus = Bus::new();
        let clone = bus.clone();
        let mut sub = bus.subscribe_all();
        clone.publish(plain(0, 1));
        drop(bus);
        // One handle left: still open.
        clone.publish(plain(0, 2));
        assert_eq!(recv(&mut sub).await, Some(plain(0, 1)));
        assert_eq!(recv(&mut sub).await, Some(plain(0, 2)));
        drop(clone);
        assert_eq!(recv(&mut sub).await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishers_deliver_every_event_once_in_order() {
        const PUBLISHERS: u32 = 4;
        const PER: u32 = 10_000;
        let bus = Bus::new();
        let mut sub = bus.subscribe(|e: &Ev| matches!(e, Ev::Plain { .. }));

        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|from| {
                let bus = bus.clone();
                tokio::spawn(async move {
                    for seq in 0..PER {
                        bus.publish(Ev::Plain {
                            target: 0,
                            from,
                            seq,
                        });
                        // Noise that the filter rejects and that coalesces.
                        bus.publish(progress("noise", u64::from(seq)));
                        if seq % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();

        let mut next = vec![0_u32; PUBLISHERS as usize];
        let mut seen = HashSet::new();
        for _ in 0..PUBLISHERS * PER {
            match recv(&mut sub).await {
                Some(Ev::Plain { from, seq, .. }) => {
                    assert_eq!(seq, next[from as usize], "publisher {from} out of order");
                    next[from as usize] += 1;
                    assert!(seen.insert((from, seq)), "duplicate {from}/{seq}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        for publisher in publishers {
            publisher.await.unwrap();
        }
        assert_eq!(next, vec![PER; PUBLISHERS as usize]);
        assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recv_is_woken_by_a_publish_from_another_task() {
        let bus = Bus::new();
        let mut sub = bus.subscribe_all();

        // Ping-pong many times so a lost wake-up in any interleaving shows up as a timeout.
        for seq in 0..1000 {
            let publisher = bus.clone();
            tokio::spawn(async move {
                if seq % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                publisher.publish(plain(0, seq));
            });
            assert_eq!(recv(&mut sub).await, Some(plain(0, seq)));
        }

        // And once with the receiver certainly parked first.
        let publisher = bus.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            publisher.publish(lifecycle("a", "done"));
        });
        assert_eq!(recv(&mut sub).await, Some(lifecycle("a", "done")));
    }

    #[tokio::test]
    async fn recv_is_cancel_safe() {
        let bus = Bus::new();
        let mut sub = bus.subscribe_all();

        // Cancelled while waiting: nothing consumed, the next recv still works.
        for _ in 0..3 {
            assert!(timeout(Duration::from_millis(1), sub.recv()).await.is_err());
        }
        bus.publish(plain(0, 1));
        bus.publish(plain(0, 2));

        // In select!, the losing recv must not swallow an event.
        let mut got = Vec::new();
        while got.len() < 2 {
            tokio::select! {
                biased;
                event = sub.recv() => got.push(event),
                () = tokio::task::yield_now() => {}
            }
        }
        assert_eq!(got, vec![Some(plain(0, 1)), Some(plain(0, 2))]);
    }

    #[test]
    fn handles_are_send_and_sync_and_errors_display() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<Subscription<Ev>>();
        assert_send_sync::<Bus<Ev>>();

        let err: Box<dyn std::error::Error> = Box::new(TryRecvError::Closed);
        assert_eq!(
            err.to_string(),
            "the bus is closed and the inbox is drained"
        );
        assert_eq!(TryRecvError::Empty.to_string(), "no event is pending");
    }
}
