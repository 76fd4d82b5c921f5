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

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::time::Duration;

/// The grace period a running command gets between SIGTERM and SIGKILL, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const KILLING: u8 = 2;

/// A request to stop, shared by clones. Cheap to check from any thread.
#[derive(Debug, Clone)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    level: AtomicU8,
    /// The signal of the first request, 0 when none (or not a signal).
    signal: AtomicI32,
    grace: Duration,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt::new(DEFAULT_GRACE)
    }
}

impl Interrupt {
    /// An interrupt not requested yet; commands get `grace` between SIGTERM and SIGKILL.
    pub fn new(grace: Duration) -> Interrupt {
        Interrupt {
            inner: Arc::new(Inner {
                level: AtomicU8::new(RUNNING),
                signal: AtomicI32::new(0),
                grace,
            }),
        }
    }

    /// Asks to stop (first request) or to kill (any later one). `signal` is the signal number
    /// that caused the first request, if any (it decides the exit status: 128 + signal).
    pub fn request(&self, signal: Option<i32>) {
        let first = self
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
    }

    /// Asks to kill running commands at once.
    pub fn kill(&self) {
        self.inner.level.store(KILLING, Ordering::SeqCst);
    }

    /// Whether a stop was asked: no new step may start.
    pub fn is_stopping(&self) -> bool {
        self.inner.level.load(Ordering::SeqCst) >= STOPPING
    }

    /// Whether running commands must be killed at once.
    pub fn is_killing(&self) -> bool {
        self.inner.level.load(Ordering::SeqCst) >= KILLING
    }

    /// The signal of the first request.
    pub fn signal(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        self.inner.grace
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
}
