//! The purge of soft removals whose retention window ended: on touch
//! ([`purge_if_expired`]) and by walking the trash queue ([`purge_expired`], for a
//! scheduler).

use super::engine::{Reached, remove_user};
use super::{Blocker, RemovalError, RemovalOutcome, RemovalPolicy, TrashEntry};
use crate::count;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Organization, UserStatus};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::Serialize;

/// Purges `user_id` if it is softly removed, its window has ended and no legal hold
/// protects it; returns whether it did. Called when a request touches a user that
/// reads as removed.
pub async fn purge_if_expired<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    now: Timestamp,
) -> Result<bool, RemovalError> {
    let u = match crate::users::get_any(store, org, user_id).await {
        Ok(u) => u,
        Err(DomainError::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let expired = u.status == UserStatus::Deleted
        && u.deletion.as_ref().is_some_and(|d| now >= d.purge_after);
    if expired {
        let policy = RemovalPolicy::purge().expired_only();
        match remove_user(store, org, user_id, &policy, now).await {
            Ok(_) => {}
            // Held, or restored since it was read: not purged.
            Err(RemovalError::Refused(Blocker::LegalHold { .. }) | RemovalError::NotFound) => {
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// What one call of [`purge_expired`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Softly removed users whose window had ended, purged by this call (each purge
    /// counted by the one call that began it: overlapping calls that help finish it, or
    /// finish one a stopped call began, do not count it).
    pub purged: u64,
    /// Softly removed users looked at whose window has not ended.
    pub waiting: u64,
    /// Softly removed users whose window ended but who are under a legal hold (their
    /// own or the organization's): skipped, not purged; looked at again by later
    /// purges.
    pub held: u64,
    /// The ids of the users counted in `held`, in trash order.
    pub held_user_ids: Vec<ObjectId>,
    /// Trash entries looked at.
    pub scanned: u64,
    /// Whether entries remain beyond those looked at (call again).
    pub more: bool,
}

/// Purges softly removed users whose window ended, walking the trash queue from where
/// the last purge stopped, at most `limit` entries. For a scheduler; idempotent.
pub async fn purge_expired<S: Store>(
    store: &S,
    org: &Organization,
    limit: usize,
    actor: &str,
    now: Timestamp,
) -> Result<PurgeReport, RemovalError> {
    let head_key = keys::trash_head(&org.id);
    let head = store.increment(&head_key, 0).await?;
    let top = records::read_counter(store, &keys::trash_counter(&org.id)).await?;
    let end = (head + i64::try_from(limit).unwrap_or(1000)).min(top);
    let entry_keys: Vec<String> = (head + 1..=end)
        .map(|n| keys::trash_entry(&org.id, n))
        .collect();
    let mut report = PurgeReport {
        more: end < top,
        ..PurgeReport::default()
    };
    let mut settled_prefix = head;
    let mut settled = true;
    for ((n, key), value) in (head + 1..=end)
        .zip(&entry_keys)
        .zip(store.get_many(&entry_keys).await?)
    {
        report.scanned += 1;
        let done = match value {
            Some(bytes) => {
                settle_entry(store, org, n, key, &bytes, actor, now, &mut report).await?
            }
            None => true,
        };
        if done && settled {
            settled_prefix = n;
        } else {
            settled = false;
        }
    }
    if settled_prefix > head {
        advance_head(store, &head_key, settled_prefix).await?;
    }
    Ok(report)
}

/// Settles trash entry `n` (at `key`): purges its user if the window ended, deletes an
/// entry no softly removed user names any more (restored, purged, or replaced), and
/// leaves one whose window has not ended or whose user is under a legal hold. Returns whether the entry is settled (the
/// queue's head may move past it).
#[allow(clippy::too_many_arguments)]
async fn settle_entry<S: Store>(
    store: &S,
    org: &Organization,
    n: i64,
    key: &str,
    bytes: &[u8],
    actor: &str,
    now: Timestamp,
    report: &mut PurgeReport,
) -> Result<bool, RemovalError> {
    let e: TrashEntry = records::decode(key, bytes)?;
    let user = match crate::users::get_any(store, org, &e.user_id).await {
        Ok(u) => Some(u),
        Err(DomainError::NotFound { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let policy = RemovalPolicy::purge().expired_only().by(actor);
    // A removal naming this entry is under way, or stopped for good: a purge of the
    // user, or a soft removal that got as far as writing the entry. It is finished here
    // (every step is idempotent); deleting its entry instead would leave a user being
    // removed where no purge finds it. The entry is settled once gone.
    let under_way = user
        .as_ref()
        .and_then(|u| u.removal.as_ref())
        .is_some_and(|j| j.trash_seq == Some(n));
    if under_way {
        match remove_user(store, org, &e.user_id, &policy, now).await {
            Ok(_) | Err(RemovalError::NotFound) => {}
            Err(RemovalError::Refused(_)) => return Ok(false),
            Err(err) => return Err(err),
        }
        return Ok(!store.exists(key).await?);
    }
    let ours = user.as_ref().is_some_and(|u| {
        u.status == UserStatus::Deleted && u.deletion.as_ref().is_some_and(|d| d.trash_seq == n)
    });
    // Written by a soft removal that has not marked the user yet: left alone for a while.
    let reserved_now = e
        .reserved_at
        .is_some_and(|t| now.0 - t.0 <= super::TRASH_RESERVE_GRACE_MS);
    if !ours && reserved_now {
        return Ok(false);
    }
    if !ours {
        // A restore that stopped after reinstating its user (which is live and
        // counted, or removed again since) leaves its count pinned: released with the
        // entry. (A user purged since had it taken back by that purge.)
        if e.restoring_since.is_some() {
            count::unpin(store, &org.id, &super::restore::count_op(&e.user_id, n)).await?;
        }
        store.delete(key).await?;
        return Ok(true);
    }
    // The record's window, which a restore under way holds open (the entry keeps the
    // one the removal set).
    let purge_after = user
        .as_ref()
        .and_then(|u| u.deletion.as_ref())
        .map_or(e.purge_after, |d| d.purge_after.max(e.purge_after));
    if now < purge_after {
        report.waiting += 1;
        return Ok(false);
    }
    match super::engine::remove(store, org, &e.user_id, &policy, now).await {
        Ok(removed) => {
            // Counted by the purge that marked the user, whichever finished it.
            if matches!(
                removed,
                Reached::Outcome(RemovalOutcome::Finished(ref r)) if r.performed
            ) || matches!(removed, Reached::Gone { marked: true })
            {
                report.purged += 1;
            }
            // Gone: another purge finished the user (and deleted the entry) since it
            // was read.
            Ok(true)
        }
        // Restored (or removed softly again) since it was read: not this purge's user.
        // Settled once the restore has deleted the entry; until then a later purge
        // looks again (and deletes it, should the restore have stopped).
        Err(RemovalError::NotFound) => Ok(!store.exists(key).await?),
        // Held: skipped, and the entry stays for a later purge.
        Err(RemovalError::Refused(Blocker::LegalHold { .. })) => {
            report.held += 1;
            report.held_user_ids.push(e.user_id.clone());
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Moves the trash queue's head to `settled` (a conditional swap: concurrent purges
/// never move it back). Written in the key's own integer encoding, so
/// `increment(head, 0)` keeps working on every backend; what the swap reports does not
/// matter.
async fn advance_head<S: Store>(
    store: &S,
    head_key: &str,
    settled: i64,
) -> Result<(), RemovalError> {
    let (cas, raw) = store.cas(head_key).await?;
    let seen = raw
        .as_deref()
        .and_then(crate::store::decode_counter)
        .unwrap_or(0);
    if seen < settled {
        let value = crate::store::encode_counter_like(raw.as_deref(), settled);
        let _ = store.swap(cas, &value).await?;
    }
    Ok(())
}
