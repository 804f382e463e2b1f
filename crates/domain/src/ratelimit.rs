//! Per-token rate limits: a fixed one-minute window counted with atomic increments, so
//! every instance of every component agrees on the count.
//!
//! One key per token holds an 8-byte integer `window << 24 | count`. A request
//! increments it (one atomic call); if the increment lands in an older window, the
//! request resets the key to `current << 24 | 1` with a compare-and-swap (the key
//! exists, so the swap is conditional: of concurrent resetters one wins, the others
//! re-increment in the new window). Storage stays one key per token, whatever the
//! traffic.

use crate::keys;
use crate::store::{Store, StoreError, Swap};
use crate::time::Timestamp;

/// The window length.
pub const WINDOW_MS: i64 = 60_000;
const COUNT_BITS: u32 = 24;
const COUNT_MASK: i64 = (1 << COUNT_BITS) - 1;

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

/// Counts one request of `subject` (a token id, or `admin`) against `limit` per minute.
pub async fn hit<S: Store>(
    store: &S,
    subject: &str,
    limit: u32,
    now: Timestamp,
) -> Result<Verdict, StoreError> {
    let key = keys::rate_limit(subject);
    let window = window_of(now);
    let mut count = None;
    for _ in 0..crate::records::CAS_ATTEMPTS {
        let v = store.increment(&key, 1).await?;
        if v >> COUNT_BITS >= window {
            count = Some(v & COUNT_MASK);
            break;
        }
        // Our increment landed in a stale window: start the current one.
        let (cas, seen) = store.cas(&key).await?;
        let seen = seen
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, i64::from_le_bytes);
        if seen >> COUNT_BITS >= window {
            continue; // someone else reset it; count again in the new window
        }
        if store
            .swap(cas, &((window << COUNT_BITS) | 1).to_le_bytes())
            .await?
            == Swap::Done
        {
            count = Some(1);
            break;
        }
    }
    let count = count.ok_or_else(|| StoreError::new("too much contention on a rate limit"))?;
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
        });
    }
}
