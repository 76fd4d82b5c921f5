//! Stopping work in progress: what Ctrl-C, SIGTERM or an agent's shutdown ask of the engine.
//!
//! An [`Interrupt`] is shared between whoever receives the request (a signal handler, the
//! agent's shutdown path) and the code doing the work. The first request **stops**: no new
//! step starts, and every running command gets SIGTERM on its process group, then SIGKILL
//! when the grace period is over. A second request **kills**: SIGKILL at once.
//!
//! ```
//! use armonic_lifecycle::Interrupt;
//! use std::time::Duration;
//!
//! let interrupt = Interrupt::new(Duration::from_secs(10));
//! assert!(!interrupt.is_stopping());
//! interrupt.request(Some(15)); // SIGTERM received
//! assert!(interrupt.is_stopping() && !interrupt.is_killing());
//! assert_eq!(interrupt.signal(), Some(15));
//! interrupt.request(None); // a second request
//! assert!(interrupt.is_killing());
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The grace period a running command gets between SIGTERM and SIGKILL, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// A grace period that is a parent's, as it is when asked.
const FOLLOW: u64 = u64::MAX;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const KILLING: u8 = 2;

/// A request to stop, shared by clones. Cheap to check from any thread; a task can also wait
/// for it ([`Interrupt::changed`]).
///
/// An interrupt may have a parent ([`Interrupt::child`]): it is requested when its parent is,
/// and may be requested alone. An agent gives each call a child of its own interrupt, so that
/// a caller's Ctrl-C stops that call and the agent's shutdown stops them all.
#[derive(Debug, Clone)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    level: AtomicU8,
    /// The signal of the first request, 0 when none (or not a signal).
    signal: AtomicI32,
    /// [`FOLLOW`]: the grace of `parents[0]`, whatever it becomes.
    grace_ms: AtomicU64,
    parents: Vec<Interrupt>,
    /// Tasks waiting for a change.
    waiting: Mutex<Vec<Waker>>,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt::new(DEFAULT_GRACE)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(FOLLOW - 1)
        .min(FOLLOW - 1)
}

impl Interrupt {
    /// An interrupt not requested yet; commands get `grace` between SIGTERM and SIGKILL.
    pub fn new(grace: Duration) -> Interrupt {
        Interrupt::with_parents(grace, Vec::new())
    }

    fn with_parents(grace: Duration, parents: Vec<Interrupt>) -> Interrupt {
        Interrupt {
            inner: Arc::new(Inner {
                level: AtomicU8::new(RUNNING),
                signal: AtomicI32::new(0),
                grace_ms: AtomicU64::new(millis(grace)),
                parents,
                waiting: Mutex::new(Vec::new()),
            }),
        }
    }

    /// An interrupt requested whenever this one is, and that can be requested alone; with
    /// this one's grace period until told otherwise.
    pub fn child(&self) -> Interrupt {
        Interrupt::with_parents(self.grace(), vec![self.clone()])
    }

    /// An interrupt requested whenever this one or `other` is (a call stopped by the agent's
    /// shutdown or by its caller), with `other`'s grace period: the one `other` has when the
    /// grace is needed (a caller stopping a call says its own as it stops it).
    pub fn joining(&self, other: &Interrupt) -> Interrupt {
        let joined = Interrupt::with_parents(Duration::ZERO, vec![other.clone(), self.clone()]);
        joined.inner.grace_ms.store(FOLLOW, Ordering::SeqCst);
        joined
    }

    /// Asks to stop (first request) or to kill (any later one, or one made while a parent
    /// already stops it). `signal` is the signal number that caused the first request, if
    /// any (it decides the exit status: 128 + signal).
    pub fn request(&self, signal: Option<i32>) {
        let first = self.level() == RUNNING
            && self
                .inner
                .level
                .compare_exchange(RUNNING, STOPPING, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
        if first {
            self.inner
                .signal
                .store(signal.unwrap_or(0), Ordering::SeqCst);
        } else {
            self.inner.level.store(KILLING, Ordering::SeqCst);
        }
        self.wake();
    }

    /// Asks to kill running commands at once.
    pub fn kill(&self) {
        self.inner.level.store(KILLING, Ordering::SeqCst);
        self.wake();
    }

    fn wake(&self) {
        let waiting = std::mem::take(
            &mut *self
                .inner
                .waiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for w in waiting {
            w.wake();
        }
    }

    fn level(&self) -> u8 {
        let own = self.inner.level.load(Ordering::SeqCst);
        self.inner
            .parents
            .iter()
            .map(Interrupt::level)
            .fold(own, u8::max)
    }

    /// Whether a stop was asked: no new step may start.
    pub fn is_stopping(&self) -> bool {
        self.level() >= STOPPING
    }

    /// Sleeps `d` on this thread, or less when a stop is asked meanwhile; says whether one
    /// was (it is noticed within 50 ms).
    pub fn sleep(&self, d: Duration) -> bool {
        let end = std::time::Instant::now() + d;
        loop {
            if self.is_stopping() {
                return true;
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Whether running commands must be killed at once.
    pub fn is_killing(&self) -> bool {
        self.level() >= KILLING
    }

    /// The signal of the first request (this interrupt's own, else its parent's).
    pub fn signal(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => self.inner.parents.iter().find_map(Interrupt::signal),
            s => Some(s),
        }
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        match self.inner.grace_ms.load(Ordering::SeqCst) {
            FOLLOW => self
                .inner
                .parents
                .first()
                .map_or(DEFAULT_GRACE, Interrupt::grace),
            ms => Duration::from_millis(ms),
        }
    }

    /// Changes the time between SIGTERM and SIGKILL (a caller stopping a call gives its own).
    pub fn set_grace(&self, grace: Duration) {
        self.inner.grace_ms.store(millis(grace), Ordering::SeqCst);
    }

    /// Completes when this interrupt (or a parent) goes further than `seen`: from running to
    /// stopping, or from stopping to killing. Give it [`Interrupt::stage`] as last seen.
    pub fn changed(&self, seen: Stage) -> Changed {
        Changed {
            interrupt: self.clone(),
            seen,
        }
    }

    /// How far the interrupt has gone.
    pub fn stage(&self) -> Stage {
        match self.level() {
            RUNNING => Stage::Running,
            STOPPING => Stage::Stopping,
            _ => Stage::Killing,
        }
    }

    fn register(&self, waker: &Waker) {
        let mut waiting = self
            .inner
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !waiting.iter().any(|w| w.will_wake(waker)) {
            waiting.push(waker.clone());
        }
        drop(waiting);
        for p in &self.inner.parents {
            p.register(waker);
        }
    }
}

/// How far an [`Interrupt`] has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Not requested.
    Running,
    /// Stop: no new step, SIGTERM to running ones.
    Stopping,
    /// Kill: SIGKILL to running steps.
    Killing,
}

/// The future of [`Interrupt::changed`]: the new stage.
#[derive(Debug)]
pub struct Changed {
    interrupt: Interrupt,
    seen: Stage,
}

impl Future for Changed {
    type Output = Stage;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Stage> {
        let now = self.interrupt.stage();
        if now > self.seen {
            return Poll::Ready(now);
        }
        self.interrupt.register(cx.waker());
        // A request between the check and the registration must not be missed.
        let now = self.interrupt.stage();
        if now > self.seen {
            Poll::Ready(now)
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_stops_and_the_second_kills() {
        let i = Interrupt::new(Duration::from_secs(1));
        let seen_elsewhere = i.clone();
        i.request(Some(2));
        assert!(seen_elsewhere.is_stopping());
        assert!(!seen_elsewhere.is_killing());
        i.request(Some(15));
        assert!(seen_elsewhere.is_killing());
        assert_eq!(
            i.signal(),
            Some(2),
            "the first signal decides the exit status"
        );
    }

    #[test]
    fn a_child_stops_with_its_parent_and_can_stop_alone() {
        let parent = Interrupt::new(Duration::from_secs(3));
        let (a, b) = (parent.child(), parent.child());
        assert_eq!(a.grace(), Duration::from_secs(3));
        a.set_grace(Duration::from_millis(200));
        assert_eq!(a.grace(), Duration::from_millis(200));
        a.request(Some(2));
        assert!(a.is_stopping());
        assert!(!b.is_stopping() && !parent.is_stopping(), "alone");
        parent.request(Some(15));
        assert!(b.is_stopping());
        assert_eq!(b.signal(), Some(15));
        assert_eq!(a.signal(), Some(2), "its own first");
        parent.kill();
        assert!(a.is_killing() && b.is_killing());
        let caller = Interrupt::new(Duration::from_secs(1));
        let call = Interrupt::default().joining(&caller);
        assert_eq!(call.grace(), Duration::from_secs(1), "the caller's grace");
        caller.set_grace(Duration::from_millis(300));
        assert_eq!(
            call.grace(),
            Duration::from_millis(300),
            "as the caller says when it stops"
        );
        caller.request(Some(2));
        assert!(call.is_stopping());
    }

    #[test]
    fn a_task_waiting_for_a_change_is_woken_by_its_parent() {
        use std::sync::atomic::AtomicBool;
        use std::task::Wake;
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let parent = Interrupt::default();
        let child = parent.child();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let mut changed = Box::pin(child.changed(Stage::Running));
        assert!(changed.as_mut().poll(&mut cx).is_pending());
        parent.request(None);
        assert!(flag.0.load(Ordering::SeqCst), "woken");
        assert_eq!(changed.as_mut().poll(&mut cx), Poll::Ready(Stage::Stopping));
        let mut next = Box::pin(child.changed(Stage::Stopping));
        assert!(next.as_mut().poll(&mut cx).is_pending());
        child.request(None);
        assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(Stage::Killing));
    }
}
