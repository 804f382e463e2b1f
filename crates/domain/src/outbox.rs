//! The outbox: messages (invitations, notices) waiting for an external mailer, which
//! pulls them and acknowledges them. Requests never send mail themselves.
//!
//! Messages are numbered by an atomic counter; a pending message is a key
//! `o/{org}/outbox/{n}`, deleted when acknowledged. Each user's list of message numbers
//! lets a removal purge what was addressed to them.

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Organization, User};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// An invitation to enroll a device (seed 003's email invitation).
    Invitation,
    /// A device must be wiped and unenrolled: its user was removed. Carries no personal
    /// data, only the device's id and hardware identifier.
    DeviceRetire,
    /// The user's account was closed (APIM's `notify`). The one message that keeps the
    /// address of a removed user, until the mailer acknowledges it.
    AccountClosed,
    /// The user is scheduled for removal at `removalAt` (queued once, some days
    /// before, by the scheduled-removal run). Carries the address, the user's id and
    /// the time, nothing else.
    RemovalWarning,
}

/// A pending message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Its number (the acknowledgement handle).
    pub number: i64,
    /// What it is.
    pub kind: MessageKind,
    /// The recipient user.
    pub user_id: ObjectId,
    /// The recipient address.
    pub to: String,
    /// The enrollment token an invitation carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token_id: Option<ObjectId>,
    /// The device a retire notice is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<ObjectId>,
    /// The hardware identifier of that device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
    /// When the user is to be removed (a removal warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_at: Option<Timestamp>,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// The id under which message `n` is kept in a user's list.
fn list_id(n: i64) -> Option<ObjectId> {
    ObjectId::parse("number", &format!("{n:024x}")).ok()
}

/// Queues a message to `user`; returns it. A user without email cannot be sent one:
/// [`DomainError::Invalid`] naming `email` (not deliverable), before anything is
/// written.
pub async fn enqueue<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    kind: MessageKind,
    enrollment_token_id: Option<ObjectId>,
    now: Timestamp,
) -> Result<Message, DomainError> {
    let Some(to) = user.email.clone() else {
        return Err(not_deliverable().into());
    };
    let n = store.increment(&keys::outbox_counter(&org.id), 1).await?;
    let msg = Message {
        number: n,
        kind,
        user_id: user.id.clone(),
        to,
        enrollment_token_id,
        device_id: None,
        device_identifier: None,
        removal_at: None,
        created_at: now,
    };
    // The user's list first: a removal that misses the message in the list would
    // leave the address behind.
    let list = keys::user_outbox(&org.id, &user.id);
    let gone = || DomainError::NotFound {
        entity: crate::error::Entity::User,
    };
    if let Some(id) = list_id(n) {
        let appended = crate::dependents::append(store, &list, &id).await?;
        if appended == crate::dependents::Appended::UserGone {
            return Err(gone());
        }
    }
    let key = keys::outbox_message(&org.id, n);
    records::write(store, &key, &msg).await?;
    // A removal that closed the list after the append may have deleted the messages it
    // lists before this write: the message (and the address in it) goes again.
    if !crate::dependents::is_open(store, &list).await? {
        store.delete(&key).await?;
        return Err(gone());
    }
    Ok(msg)
}

/// Why a message to a user without email is not queued.
pub fn not_deliverable() -> crate::error::ValidationError {
    crate::error::ValidationError::new("email", "the user has no email address: not deliverable")
}

/// Pending messages numbered after `after`, oldest first, at most `limit`; and where
/// the next page starts. Reads windows of the number range, bounded like user lists.
pub async fn pending<S: Store>(
    store: &S,
    org: &Organization,
    after: i64,
    limit: usize,
) -> Result<(Vec<Message>, Option<i64>), DomainError> {
    let top = records::read_counter(store, &keys::outbox_counter(&org.id)).await?;
    let window = i64::try_from(limit.max(25) * 2).unwrap_or(400);
    let mut out = Vec::new();
    let mut cursor = after;
    while cursor < top && cursor - after < crate::users::LIST_SCAN_BUDGET {
        let end = (cursor + window).min(top);
        let keys: Vec<String> = (cursor + 1..=end)
            .map(|n| keys::outbox_message(&org.id, n))
            .collect();
        for (key, value) in keys.iter().zip(store.get_many(&keys).await?) {
            if let Some(bytes) = value {
                let m: Message = records::decode(key, &bytes)?;
                let n = m.number;
                out.push(m);
                if out.len() == limit {
                    return Ok((out, (n < top).then_some(n)));
                }
            }
        }
        cursor = end;
    }
    Ok((out, (cursor < top).then_some(cursor)))
}

/// Acknowledges (deletes) messages by number; unknown numbers are ignored. Returns how
/// many were pending.
pub async fn acknowledge<S: Store>(
    store: &S,
    org: &Organization,
    numbers: &[i64],
) -> Result<usize, DomainError> {
    let mut done = 0;
    for n in numbers {
        let key = keys::outbox_message(&org.id, *n);
        let Some(m) = records::read::<S, Message>(store, &key).await? else {
            continue;
        };
        store.delete(&key).await?;
        if matches!(
            m.kind,
            MessageKind::Invitation | MessageKind::RemovalWarning
        ) && let Some(id) = list_id(*n)
        {
            crate::dependents::remove(store, &keys::user_outbox(&org.id, &m.user_id), &id).await?;
        }
        done += 1;
    }
    Ok(done)
}

/// Writes a removal's notice at a number the removal reserved (idempotent: the same
/// number is written again by a resumed removal).
pub async fn put_notice<S: Store>(
    store: &S,
    org: &ObjectId,
    msg: &Message,
) -> Result<(), DomainError> {
    records::write(store, &keys::outbox_message(org, msg.number), msg).await
}

/// The message keys named by a user's outbox list (for the removal engine).
pub fn message_keys(org: &ObjectId, ids: &[ObjectId]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| i64::from_str_radix(id.as_str(), 16).ok())
        .map(|n| keys::outbox_message(org, n))
        .collect()
}
