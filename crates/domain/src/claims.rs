//! Uniqueness claims that hold under concurrency on every Spin key-value backend.
//!
//! A claim key holds an integer: 0 when free, otherwise the sequence number of the
//! holder. A compare-and-swap on an *absent* key is an unconditional upsert in Spin's
//! SQLite store, so a claim first makes sure its key exists with `increment(key, 0)`
//! (atomic on every backend, creates 0 when absent, changes nothing otherwise) and only
//! then swaps 0 → n, which is a conditional write on every backend: of any number of
//! concurrent claimers exactly one writes. What the swap *reports* is not trusted (Spin's
//! Redis store reports failure after every swap): [`swap_checked`] reads the key back,
//! and since holder numbers are unique, finding ours there means we won. The integer is
//! written in the encoding the backend gave the key (8 little-endian bytes on SQLite,
//! decimal text on Redis), so later increments keep working. Claim keys are never
//! deleted, only released back to 0 (deleting one could let two claimers both see it
//! absent and both "win" on SQLite).
//!
//! A record that changes its unique values (a user's username or email, a group's name,
//! an organization's slug) moves its claims with `ClaimChange`: the new claims are
//! taken before the record names them, the old ones released after it stops naming
//! them, and the caller names what happens to claims taken for a write that did not
//! happen (`UnwrittenClaims`).

use crate::error::DomainError;
use crate::store::{Store, StoreError, decode_counter, encode_counter_like, swap_checked};

/// The result of [`try_claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key now holds our number (or already did).
    Won,
    /// Another holder (its number) has the key.
    Held(i64),
}

/// Claims `key` for holder `n` (non-zero).
pub async fn try_claim<S: Store>(store: &S, key: &str, n: i64) -> Result<Claim, StoreError> {
    for _ in 0..crate::records::CAS_ATTEMPTS {
        let current = store.increment(key, 0).await?;
        if current == n {
            return Ok(Claim::Won);
        }
        if current != 0 {
            return Ok(Claim::Held(current));
        }
        if take_over(store, key, 0, n).await? {
            return Ok(Claim::Won);
        }
    }
    Err(StoreError::new(format!(
        "too much contention claiming {key}"
    )))
}

/// Moves the existing claim `key` from `from` to `to` if it still holds `from`.
/// Returns whether it did (`to` must be a number only this caller writes).
pub async fn take_over<S: Store>(
    store: &S,
    key: &str,
    from: i64,
    to: i64,
) -> Result<bool, StoreError> {
    let (cas, seen) = store.cas(key).await?;
    match seen.as_deref().and_then(decode_counter) {
        Some(v) if v == from => {
            let value = encode_counter_like(seen.as_deref(), to);
            swap_checked(store, key, cas, &value).await
        }
        _ => Ok(false),
    }
}

/// Releases `key` if holder `n` has it (idempotent: releasing a claim we do not hold
/// changes nothing).
pub async fn release<S: Store>(store: &S, key: &str, n: i64) -> Result<(), StoreError> {
    for _ in 0..crate::records::CAS_ATTEMPTS {
        let (cas, seen) = store.cas(key).await?;
        match seen.as_deref().and_then(decode_counter) {
            Some(v) if v == n => {
                // Only the holder releases, so 0 written here is this call's doing.
                let value = encode_counter_like(seen.as_deref(), 0);
                if swap_checked(store, key, cas, &value).await? {
                    return Ok(());
                }
            }
            _ => return Ok(()),
        }
    }
    Err(StoreError::new(format!(
        "too much contention releasing {key}"
    )))
}

/// The current holder of `key`, if any.
pub async fn holder<S: Store>(store: &S, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .as_deref()
        .and_then(decode_counter)
        .filter(|v| *v != 0))
}

/// What happens to the claims a [`ClaimChange`] took when the record is not written (a
/// value already taken, a lost race, a record gone). Either way a claim never outlives
/// its use unnoticed: the holder number it carries is the record's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnwrittenClaims {
    /// Leave them held. A retry of the same change (or a concurrent change of the same
    /// record) reuses them; if nothing ends up naming them, the next claimant sees them
    /// abandoned and takes them over (users: `users::abandoned`; organizations:
    /// `orgs::claim_alias`). For records whose claimants take abandoned claims over.
    Leave,
    /// Give them back before answering: best effort when a value is taken or a claim
    /// fails (the conflict or failure is the answer), checked when the write reports it
    /// did not happen. A write that *fails* still leaves them, since it may have
    /// written (a read-back that failed, on Redis) and the record must never name a
    /// value without its claim. For groups, whose claimants never take a claim over.
    Release,
}

/// What the record write of a [`ClaimChange`] reported.
pub(crate) enum Write<T, R> {
    /// The record was written; `T` is what the caller needs of it.
    Written(T),
    /// The record was not written (`R` says why: a lost race, a missing record).
    NotWritten(R),
}

/// A record's move from the unique values it holds (`old`) to those it will hold
/// (`new`), each `(field, claim key)` as the entity's claims function lists them.
pub(crate) struct ClaimChange<'a> {
    /// The record's sequence number: the holder of its claims.
    pub(crate) holder: i64,
    /// The claims the record holds now.
    pub(crate) old: &'a [(&'static str, String)],
    /// The claims the record will hold once written.
    pub(crate) new: &'a [(&'static str, String)],
    /// What happens to claims taken for a write that does not happen.
    pub(crate) unwritten: UnwrittenClaims,
}

impl ClaimChange<'_> {
    /// Takes each claim in `new` that is not in `old` with `claim` (in `new`'s order;
    /// `false`: the value is taken, answered as [`DomainError::Conflict`] naming the
    /// field), then runs `write`; once it reports the record written, releases each
    /// claim in `old` that is not in `new` and that `keep` does not keep for the written
    /// record (in `old`'s order). Claims taken for a write that does not happen go as
    /// [`Self::unwritten`] says.
    pub(crate) async fn apply<S: Store, T, R>(
        &self,
        store: &S,
        claim: impl AsyncFn(&str) -> Result<bool, DomainError>,
        write: impl AsyncFnOnce() -> Result<Write<T, R>, DomainError>,
        keep: impl Fn(&T, &str) -> bool,
    ) -> Result<Write<T, R>, DomainError> {
        let mut taken: Vec<&str> = Vec::new();
        for (field, key) in self.new {
            if self.old.iter().any(|(_, o)| o == key) {
                continue;
            }
            let refused = match claim(key).await {
                Ok(true) => {
                    taken.push(key);
                    continue;
                }
                Ok(false) => DomainError::Conflict { field },
                Err(e) => e,
            };
            if self.unwritten == UnwrittenClaims::Release {
                // Best effort: the refusal is the answer.
                let _ = self.release(store, &taken).await;
            }
            return Err(refused);
        }
        match write().await? {
            Write::Written(t) => {
                for (_, key) in self.old {
                    if !self.new.iter().any(|(_, n)| n == key) && !keep(&t, key) {
                        release(store, key, self.holder).await?;
                    }
                }
                Ok(Write::Written(t))
            }
            Write::NotWritten(r) => {
                if self.unwritten == UnwrittenClaims::Release {
                    self.release(store, &taken).await?;
                }
                Ok(Write::NotWritten(r))
            }
        }
    }

    /// Releases `keys`, in order, stopping at the first failure.
    async fn release<S: Store>(&self, store: &S, keys: &[&str]) -> Result<(), DomainError> {
        for key in keys {
            release(store, key, self.holder).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use futures::executor::block_on;

    #[test]
    fn one_winner_then_release_frees_the_key() {
        let s = MemoryStore::from_env();
        block_on(async {
            assert_eq!(try_claim(&s, "c", 1).await.unwrap(), Claim::Won);
            assert_eq!(try_claim(&s, "c", 2).await.unwrap(), Claim::Held(1));
            assert_eq!(try_claim(&s, "c", 1).await.unwrap(), Claim::Won);
            release(&s, "c", 2).await.unwrap();
            assert_eq!(holder(&s, "c").await.unwrap(), Some(1));
            release(&s, "c", 1).await.unwrap();
            assert_eq!(holder(&s, "c").await.unwrap(), None);
            assert_eq!(try_claim(&s, "c", 3).await.unwrap(), Claim::Won);
        });
    }

    #[test]
    fn interleaved_claimers_have_exactly_one_winner() {
        // Two claimers both see 0, then both try to swap: only one swap is real.
        let s = MemoryStore::from_env();
        block_on(async {
            assert_eq!(s.increment("c", 0).await.unwrap(), 0);
            assert_eq!(s.increment("c", 0).await.unwrap(), 0);
            let a = take_over(&s, "c", 0, 7);
            let won_a = a.await.unwrap();
            let won_b = take_over(&s, "c", 0, 8).await.unwrap();
            assert!(won_a && !won_b);
            assert_eq!(holder(&s, "c").await.unwrap(), Some(7));
        });
    }
}
