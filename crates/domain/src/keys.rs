//! The key layout: every key Roster writes is built here and nowhere else.
//! `docs/storage.md` documents each pattern, its value and its invariants.
//!
//! Keys never contain personal data: usernames and emails appear only as salted
//! SHA-256 digests (the salt is per organization), so a removed user's name cannot be
//! found by scanning keys.

use crate::ids::ObjectId;
use sha2::{Digest, Sha256};

/// Number of shards of each organization's user counter.
pub const COUNT_SHARDS: u64 = 8;

/// `org/{orgId}` → the organization record (JSON).
pub fn org(id: &ObjectId) -> String {
    format!("org/{id}")
}

/// `orgs/seq` → 8-byte counter allocating organization sequence numbers.
pub const ORG_SEQ: &str = "orgs/seq";

/// `orgs/seq/{n}` → the organization id holding sequence number `n`.
pub fn org_seq(n: i64) -> String {
    format!("orgs/seq/{n}")
}

/// `orgs/slug/{slug}` → 8-byte claim: the sequence number of the organization owning
/// the slug, or 0 when free. Never deleted (see `claims`).
pub fn org_slug_claim(slug: &str) -> String {
    format!("orgs/slug/{slug}")
}

/// `o/{orgId}/users/seq` → 8-byte counter allocating user sequence numbers.
pub fn user_seq_counter(org: &ObjectId) -> String {
    format!("o/{org}/users/seq")
}

/// `o/{orgId}/users/seq/{n}` → the user index entry (JSON `{id, at}`) for sequence `n`.
pub fn user_seq(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/users/seq/{n}")
}

/// `o/{orgId}/users/name/{digest}` → 8-byte claim on a folded username.
pub fn username_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/users/name/{digest}")
}

/// `o/{orgId}/users/email/{digest}` → 8-byte claim on a folded email.
pub fn email_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/users/email/{digest}")
}

/// `o/{orgId}/users/count/{shard}` → a user-count shard (JSON `{n, ops}`).
pub fn user_count_shard(org: &ObjectId, shard: u64) -> String {
    format!("o/{org}/users/count/{shard}")
}

/// `o/{orgId}/user/{userId}` → the user record (JSON).
pub fn user(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}")
}

/// `o/{orgId}/user/{userId}/devices` → JSON array of the user's device ids.
pub fn user_devices(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}/devices")
}

/// `o/{orgId}/user/{userId}/enrollment-tokens` → JSON array of the user's token ids.
pub fn user_tokens(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}/enrollment-tokens")
}

/// `o/{orgId}/device/{deviceId}` → the device record (JSON).
pub fn device(org: &ObjectId, device: &ObjectId) -> String {
    format!("o/{org}/device/{device}")
}

/// `o/{orgId}/enrollment-token/{tokenId}` → the enrollment token record (JSON).
pub fn enrollment_token(org: &ObjectId, token: &ObjectId) -> String {
    format!("o/{org}/enrollment-token/{token}")
}

/// The salted digest under which a folded unique value (username, email) is keyed.
pub fn digest(salt: &str, folded: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(folded.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The count shard that operation `op` lands in (stable, so a retried operation meets
/// its own idempotency record).
pub fn shard_of(op: &str) -> u64 {
    let d = Sha256::digest(op.as_bytes());
    u64::from(d[0]) % COUNT_SHARDS
}

/// `o/{orgId}/groups/seq` → 8-byte counter of group sequence numbers.
pub fn group_seq_counter(org: &ObjectId) -> String {
    format!("o/{org}/groups/seq")
}

/// `o/{orgId}/groups/seq/{n}` → group index entry (JSON `{id, at}`).
pub fn group_seq(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/groups/seq/{n}")
}

/// `o/{orgId}/groups/name/{digest}` → 8-byte claim on a folded group name.
pub fn group_name_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/groups/name/{digest}")
}

/// `o/{orgId}/group/{groupId}` → the group record (JSON).
pub fn group(org: &ObjectId, group: &ObjectId) -> String {
    format!("o/{org}/group/{group}")
}

/// `o/{orgId}/group/{groupId}/members` → JSON `{closed, ids}` of member user ids.
pub fn group_members(org: &ObjectId, group: &ObjectId) -> String {
    format!("o/{org}/group/{group}/members")
}

/// `o/{orgId}/outbox/seq` → 8-byte counter of outbox message numbers.
pub fn outbox_counter(org: &ObjectId) -> String {
    format!("o/{org}/outbox/seq")
}

/// `o/{orgId}/outbox/{n}` → a pending outbox message (JSON).
pub fn outbox_message(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/outbox/{n}")
}

/// `o/{orgId}/user/{userId}/outbox` → JSON `{closed, ids}` of the numbers (as ids) of
/// messages addressed to the user, so a removal can purge them.
pub fn user_outbox(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}/outbox")
}

/// `o/{orgId}/users/search/{n}` → the search text of user `n`: lowercased username,
/// email and names separated by U+001F. One writer per key (the user's own writes), so
/// no compare-and-swap is needed; removal deletes it.
pub fn user_search(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/users/search/{n}")
}
