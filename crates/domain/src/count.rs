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
    let key = keys::user_count_shard(org, keys::shard_of(op));
    // Shards remember a digest of each operation id, never the id itself.
    let op = &keys::digest("count", op);
    let updated = records::update(store, &key, |shard: &mut CountShard| {
        if shard.ops.iter().any(|o| o == op) {
            return Ok::<_, DomainError>(false);
        }
        shard.n += delta;
        shard.ops.push(op.to_owned());
        if shard.ops.len() > REMEMBERED_OPS {
            let excess = shard.ops.len() - REMEMBERED_OPS;
            shard.ops.drain(..excess);
        }
        Ok(true)
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
