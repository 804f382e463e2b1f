//! Exact, crash-safe user counts in O(1) reads.
//!
//! An organization's user count is the sum of [`COUNT_SHARDS`] shard records. A shard
//! is updated by compare-and-swap and remembers the ids of the last operations applied
//! to it, so a create or removal that is retried after a failure is counted once.
//! Shards are created with the organization, so every swap on them is conditional.

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys::{self, COUNT_SHARDS};
use crate::records::{self, Updated};
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// How many recent operation ids a shard remembers for idempotency.
pub const REMEMBERED_OPS: usize = 32;

/// One shard of a count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountShard {
    /// This shard's part of the count.
    pub n: i64,
    /// Digests of the most recent operations applied here, oldest first.
    pub ops: Vec<String>,
    /// Digests of the operations applied by [`apply_pinned`] and not yet released
    /// ([`unpin`], [`undo_pinned`]): kept however many others follow (unlike `ops`), so
    /// whether such an operation was applied can be read back much later. Empty (and
    /// absent from the record) unless an operation is in flight or was stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<String>,
}

/// Writes the empty shards of a new organization.
pub async fn init<S: Store>(store: &S, org: &ObjectId) -> Result<(), DomainError> {
    for shard in 0..COUNT_SHARDS {
        let key = keys::user_count_shard(org, shard);
        records::write(store, &key, &CountShard::default()).await?;
    }
    Ok(())
}

/// Adds `delta` for operation `op` unless that operation was already applied.
pub async fn apply<S: Store>(
    store: &S,
    org: &ObjectId,
    op: &str,
    delta: i64,
) -> Result<(), DomainError> {
    change_shard(store, org, op, |shard, op| {
        if shard.ops.iter().any(|o| o == op) {
            return false;
        }
        shard.n += delta;
        shard.remember(op);
        true
    })
    .await
}

impl CountShard {
    /// Adds `op` to the recent operations, forgetting the oldest beyond
    /// [`REMEMBERED_OPS`].
    fn remember(&mut self, op: &str) {
        self.ops.push(op.to_owned());
        if self.ops.len() > REMEMBERED_OPS {
            let excess = self.ops.len() - REMEMBERED_OPS;
            self.ops.drain(..excess);
        }
    }
}

/// Adds `delta` for operation `op` unless it was applied already (it is pinned, or
/// among the recent `ops`), and pins it: until
/// [`unpin`] or [`undo_pinned`] releases it, the shard says that `op` was applied, even
/// long after `ops` has forgotten it. For a change a later, unrelated call may have to
/// take back (a restore stopped after counting its user and never repeated: the purge
/// takes the count back). One conditional swap of the shard (a read and a swap).
pub async fn apply_pinned<S: Store>(
    store: &S,
    org: &ObjectId,
    op: &str,
    delta: i64,
) -> Result<(), DomainError> {
    change_shard(store, org, op, |shard, op| {
        // Applied already: pinned still, or released so recently that `ops` remembers it
        // (a second restore that read the user before the first finished).
        if shard.pinned.iter().chain(&shard.ops).any(|o| o == op) {
            return false;
        }
        shard.n += delta;
        shard.pinned.push(op.to_owned());
        shard.remember(op);
        true
    })
    .await
}

/// Releases the pin of `op` ([`apply_pinned`]), keeping its change: the operation it
/// belongs to finished. Nothing to do (no write) when `op` is not pinned.
pub async fn unpin<S: Store>(store: &S, org: &ObjectId, op: &str) -> Result<(), DomainError> {
    change_shard(store, org, op, |shard, op| {
        let before = shard.pinned.len();
        shard.pinned.retain(|o| o != op);
        shard.pinned.len() != before
    })
    .await
}

/// Takes back the `delta` that [`apply_pinned`] added for `op`, and its pin, if `op` is
/// pinned (in the same swap: a repeat takes nothing back twice); nothing when it is not
/// (never applied, or released).
pub async fn undo_pinned<S: Store>(
    store: &S,
    org: &ObjectId,
    op: &str,
    delta: i64,
) -> Result<(), DomainError> {
    change_shard(store, org, op, |shard, op| {
        let before = shard.pinned.len();
        shard.pinned.retain(|o| o != op);
        if shard.pinned.len() == before {
            return false;
        }
        shard.n -= delta;
        true
    })
    .await
}

/// Changes the shard of `op` with `change`, given the operation's digest (shards
/// remember digests, never the ids themselves); `change` returns whether it changed
/// anything (no write when not). A missing shard is `Corrupt`.
async fn change_shard<S: Store>(
    store: &S,
    org: &ObjectId,
    op: &str,
    change: impl Fn(&mut CountShard, &str) -> bool,
) -> Result<(), DomainError> {
    let key = keys::user_count_shard(org, keys::shard_of(op));
    let op = &keys::digest("count", op);
    let updated = records::update(store, &key, |shard: &mut CountShard| {
        Ok::<_, DomainError>(change(shard, op))
    })
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::Corrupt {
            key,
            reason: "count shard missing".into(),
        }),
        _ => Ok(()),
    }
}

/// The organization's user count: one batch read of the shards.
pub async fn total<S: Store>(store: &S, org: &ObjectId) -> Result<i64, DomainError> {
    let keys: Vec<String> = (0..COUNT_SHARDS)
        .map(|s| keys::user_count_shard(org, s))
        .collect();
    let values = store.get_many(&keys).await?;
    let mut sum = 0;
    for (key, value) in keys.iter().zip(values) {
        if let Some(bytes) = value {
            sum += records::decode::<CountShard>(key, &bytes)?.n;
        }
    }
    Ok(sum)
}
