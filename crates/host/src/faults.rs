//! Fault injection for key-value calls.

use std::sync::atomic::{AtomicU64, Ordering};

/// Fault injection handle shared by every component instance of a [`crate::Host`].
///
/// Every `spin:key-value` and `wasi:keyvalue` call (resource drops excepted), across all
/// components, is counted from 1 since the last [`Faults::clear`].
#[derive(Debug, Default)]
pub struct Faults {
    calls: AtomicU64,
    fail_at: AtomicU64,
    trap_at: AtomicU64,
}

/// What the n-th key-value call must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Proceed normally.
    None,
    /// Return the interface's `other("injected fault")` error.
    Fail,
    /// Trap the instance.
    Trap,
}

impl Faults {
    /// Makes the `n`-th key-value call from now (counting since the last [`Faults::clear`])
    /// return `other("injected fault")`. Fires at most once.
    pub fn fail_nth(&self, n: u64) {
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Makes the `n`-th key-value call (counting since the last [`Faults::clear`]) trap the
    /// calling instance (its request answers 500). Fires at most once.
    pub fn trap_nth(&self, n: u64) {
        self.trap_at.store(n, Ordering::SeqCst);
    }

    /// Disarms all faults and resets the call counter to zero.
    pub fn clear(&self) {
        self.fail_at.store(0, Ordering::SeqCst);
        self.trap_at.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
    }

    /// Key-value calls counted since the last [`Faults::clear`].
    pub fn kv_calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Counts one call and tells whether it must fail or trap.
    pub(crate) fn next(&self) -> Fault {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self
            .trap_at
            .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Fault::Trap;
        }
        if self
            .fail_at
            .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Fault::Fail;
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once() {
        let f = Faults::default();
        f.fail_nth(2);
        f.trap_nth(3);
        assert_eq!(f.next(), Fault::None);
        assert_eq!(f.next(), Fault::Fail);
        assert_eq!(f.next(), Fault::Trap);
        assert_eq!(f.next(), Fault::None);
        assert_eq!(f.kv_calls(), 4);
        f.clear();
        assert_eq!(f.kv_calls(), 0);
    }
}
