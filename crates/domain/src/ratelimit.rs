//! Per-token rate limits: a fixed one-minute window counted with atomic increments, so
//! every instance of every component agrees on the count, on every Spin key-value
//! backend.
//!
//! One key per token and window, `ratelimit/{subject}/{window}`, counts the window's
//! requests with `increment` alone (the one primitive that is atomic and honest on every
//! backend; nothing else ever writes the key, so its encoding never matters). The first
//! request of a window (count 1) deletes the previous window's key, so a token keeps at
//! most two keys whatever the traffic (a delete that fails fails its request, like any
//! store failure, and leaves one stale key behind).
//!
//! The counters live in [`Store::rate_limits`], not in the durable data: every request
//! writes them, and losing them (a restart of an in-memory store) only gives each token
//! a fresh window. Roster's Spin adapter keeps them in the store label `ratelimit`, which
//! the runtime config points at memory (one instance) or Redis/Valkey (several), so a
//! read costs the default store no durable write (docs/storage.md).

use crate::keys;
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// The window length.
pub const WINDOW_MS: i64 = 60_000;

/// The outcome of one request against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in this window after this one.
    pub remaining: u32,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u32,
}

fn window_of(now: Timestamp) -> i64 {
    now.0.div_euclid(WINDOW_MS)
}

/// Counts one request of `subject` (a token id, or `admin`) against `limit` per minute,
/// in `store`'s [`Store::rate_limits`]: one `increment`, plus one `delete` for the first
/// request of a window; nothing else of `store` is touched.
pub async fn hit<S: Store>(
    store: &S,
    subject: &str,
    limit: u32,
    now: Timestamp,
) -> Result<Verdict, StoreError> {
    let store = store.rate_limits();
    let window = window_of(now);
    let count = store
        .increment(&keys::rate_limit(subject, window), 1)
        .await?;
    if count == 1 {
        store.delete(&keys::rate_limit(subject, window - 1)).await?;
    }
    let used = u32::try_from(count).unwrap_or(u32::MAX);
    let elapsed = now.0.rem_euclid(WINDOW_MS);
    let reset_secs = u32::try_from((WINDOW_MS - elapsed + 999) / 1000).unwrap_or(60);
    Ok(Verdict {
        allowed: used <= limit,
        limit,
        remaining: limit.saturating_sub(used),
        reset_secs: reset_secs.max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use futures::executor::block_on;

    #[test]
    fn counts_within_a_window_and_resets_in_the_next() {
        let s = MemoryStore::new();
        let t0 = Timestamp(1_795_331_760_000); // a window boundary
        block_on(async {
            for i in 1..=3 {
                let v = hit(&s, "tok", 3, t0.plus_millis(i)).await.unwrap();
                assert!(v.allowed);
                assert_eq!(v.remaining, 3 - u32::try_from(i).unwrap());
            }
            let v = hit(&s, "tok", 3, t0.plus_millis(59_000)).await.unwrap();
            assert!(!v.allowed);
            assert_eq!(v.remaining, 0);
            assert_eq!(v.reset_secs, 1);
            // Another subject has its own budget.
            assert!(hit(&s, "other", 3, t0).await.unwrap().allowed);
            // The next window starts afresh.
            let v = hit(&s, "tok", 3, t0.plus_millis(60_001)).await.unwrap();
            assert!(v.allowed);
            assert_eq!(v.remaining, 2);
            assert_eq!(v.reset_secs, 60);
            // The first request of a window removed the previous window's key.
            let keys: Vec<String> = s.snapshot().into_keys().collect();
            assert_eq!(
                keys,
                vec![
                    keys::rate_limit("other", window_of(t0)),
                    keys::rate_limit("tok", window_of(t0) + 1),
                ]
            );
        });
    }

    #[test]
    fn counts_in_the_rate_limit_store_only() {
        let s = MemoryStore::new().with_rate_limits(MemoryStore::new());
        let t0 = Timestamp(1_795_331_760_000);
        block_on(async {
            for i in 1..=3 {
                let v = hit(&s, "tok", 2, t0.plus_millis(i)).await.unwrap();
                assert_eq!(v.allowed, i <= 2);
            }
            // The next window deletes the previous one's key, in the same store.
            assert!(
                hit(&s, "tok", 2, t0.plus_millis(60_000))
                    .await
                    .unwrap()
                    .allowed
            );
        });
        assert_eq!(s.calls(), 0, "the durable store is never touched");
        assert!(s.snapshot().is_empty());
        let counters = s.rate_limits();
        assert_eq!(counters.calls(), 6, "four increments, a delete per window");
        assert_eq!(
            counters.snapshot().into_keys().collect::<Vec<_>>(),
            vec![keys::rate_limit("tok", window_of(t0) + 1)]
        );
    }

    #[test]
    fn counts_the_same_on_redis() {
        let s = MemoryStore::with_flavor(crate::store::Flavor::Redis);
        let t0 = Timestamp(1_795_331_760_000);
        block_on(async {
            for i in 1..=4 {
                let v = hit(&s, "tok", 3, t0.plus_millis(i)).await.unwrap();
                assert_eq!(v.allowed, i <= 3);
            }
            assert!(
                hit(&s, "tok", 3, t0.plus_millis(60_000))
                    .await
                    .unwrap()
                    .allowed
            );
        });
    }
}
