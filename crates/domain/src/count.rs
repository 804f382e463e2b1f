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
pub fn apply<'a, S: Store>(
    store: &'a S,
    org: &'a ObjectId,
    op: &'a str,
    delta: i64,
) -> impl Future<Output = Result<(), DomainError>> + 'a {
    change_shard(store, org, op, Change::Apply(delta))
}

/// Adds `delta` for operation `op` unless it was applied already (it is pinned, or
/// among the recent `ops`), and pins it: until [`unpin`] or [`undo_pinned`] releases it,
/// the shard says that `op` was applied, even long after `ops` has forgotten it. For a
/// change a later, unrelated call may have to take back (a restore stopped after
/// counting its user and never repeated: the purge takes the count back). One
/// conditional swap of the shard (a read and a swap).
pub fn apply_pinned<'a, S: Store>(
    store: &'a S,
    org: &'a ObjectId,
    op: &'a str,
    delta: i64,
) -> impl Future<Output = Result<(), DomainError>> + 'a {
    change_shard(store, org, op, Change::ApplyPinned(delta))
}

/// Releases the pin of `op` ([`apply_pinned`]), keeping its change: the operation it
/// belongs to finished. Nothing to do (no write) when `op` is not pinned.
pub fn unpin<'a, S: Store>(
    store: &'a S,
    org: &'a ObjectId,
    op: &'a str,
) -> impl Future<Output = Result<(), DomainError>> + 'a {
    change_shard(store, org, op, Change::Unpin)
}

/// Takes back the `delta` that [`apply_pinned`] added for `op`, and its pin, if `op` is
/// pinned (in the same swap: a repeat takes nothing back twice); nothing when it is not
/// (never applied, or released).
pub fn undo_pinned<'a, S: Store>(
    store: &'a S,
    org: &'a ObjectId,
    op: &'a str,
    delta: i64,
) -> impl Future<Output = Result<(), DomainError>> + 'a {
    change_shard(store, org, op, Change::UndoPinned(delta))
}

/// What a count operation does to its shard (the functions above).
#[derive(Clone, Copy)]
enum Change {
    Apply(i64),
    ApplyPinned(i64),
    Unpin,
    UndoPinned(i64),
}

impl CountShard {
    /// Applies `change` for the operation whose digest is `op`; returns whether the
    /// shard changed.
    fn change(&mut self, change: Change, op: &str) -> bool {
        let pinned = self.pinned.iter().any(|o| o == op);
        let recent = self.ops.iter().any(|o| o == op);
        match change {
            Change::Apply(_) if recent => return false,
            // Applied already: pinned still, or released so recently that `ops`
            // remembers it (a second restore that read the user before the first
            // finished).
            Change::ApplyPinned(_) if pinned || recent => return false,
            Change::Unpin | Change::UndoPinned(_) if !pinned => return false,
            Change::Apply(delta) => self.n += delta,
            Change::ApplyPinned(delta) => {
                self.n += delta;
                self.pinned.push(op.to_owned());
            }
            Change::Unpin => self.pinned.retain(|o| o != op),
            Change::UndoPinned(delta) => {
                self.n -= delta;
                self.pinned.retain(|o| o != op);
            }
        }
        if matches!(change, Change::Apply(_) | Change::ApplyPinned(_)) {
            // Recent operations, the oldest forgotten beyond [`REMEMBERED_OPS`].
            self.ops.push(op.to_owned());
            if self.ops.len() > REMEMBERED_OPS {
                let excess = self.ops.len() - REMEMBERED_OPS;
                self.ops.drain(..excess);
            }
        }
        true
    }
}

/// Changes the shard of `op` as `change` says, given the operation's digest (shards
/// remember digests, never the ids themselves): one conditional swap, no write when
/// nothing changes. A missing shard is `Corrupt`. One compiled read-change-swap of a
/// shard for every kind of count operation.
async fn change_shard<S: Store>(
    store: &S,
    org: &ObjectId,
    op: &str,
    change: Change,
) -> Result<(), DomainError> {
    let key = keys::user_count_shard(org, keys::shard_of(op));
    let op = &keys::digest("count", op);
    let updated = records::update(store, &key, |shard: &mut CountShard| {
        Ok::<_, DomainError>(shard.change(change, op))
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
