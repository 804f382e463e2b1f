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

/// `orgs/seq` → integer counter (written by `increment`) allocating organization sequence numbers.
pub const ORG_SEQ: &str = "orgs/seq";

/// `orgs/seq/{n}` → the organization id holding sequence number `n`.
pub fn org_seq(n: i64) -> String {
    format!("orgs/seq/{n}")
}

/// `orgs/slug/{slug}` → integer claim: the sequence number of the organization owning
/// the slug, or 0 when free. Never deleted (see `claims`).
pub fn org_slug_claim(slug: &str) -> String {
    format!("orgs/slug/{slug}")
}

/// `o/{orgId}/users/seq` → integer counter (written by `increment`) allocating user sequence numbers.
pub fn user_seq_counter(org: &ObjectId) -> String {
    format!("o/{org}/users/seq")
}

/// `o/{orgId}/users/seq/{n}` → the user index entry (JSON `{id, at}`) for sequence `n`.
pub fn user_seq(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/users/seq/{n}")
}

/// `o/{orgId}/users/name/{digest}` → integer claim on a folded username.
pub fn username_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/users/name/{digest}")
}

/// `o/{orgId}/users/email/{digest}` → integer claim on a folded email.
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

/// `o/{orgId}/groups/seq` → integer counter (written by `increment`) of group sequence numbers.
pub fn group_seq_counter(org: &ObjectId) -> String {
    format!("o/{org}/groups/seq")
}

/// `o/{orgId}/groups/seq/{n}` → group index entry (JSON `{id, at}`).
pub fn group_seq(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/groups/seq/{n}")
}

/// `o/{orgId}/groups/name/{digest}` → integer claim on a folded group name.
pub fn group_name_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/groups/name/{digest}")
}

/// `o/{orgId}/groups/external/{digest}` → integer claim on a group's SCIM `externalId`
/// (case-exact; the digest of the id as given): the group's sequence number, 0 when free.
pub fn group_external_id_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/groups/external/{digest}")
}

/// `o/{orgId}/group/{groupId}` → the group record (JSON).
pub fn group(org: &ObjectId, group: &ObjectId) -> String {
    format!("o/{org}/group/{group}")
}

/// `o/{orgId}/group/{groupId}/members` → JSON `{closed, ids}` of member user ids.
pub fn group_members(org: &ObjectId, group: &ObjectId) -> String {
    format!("o/{org}/group/{group}/members")
}

/// `o/{orgId}/outbox/seq` → integer counter (written by `increment`) of outbox message numbers.
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

/// `o/{orgId}/users/claiming/{n}/{kind}/{digest}` → JSON `{at}`: an update of user `n`
/// is taking the claim `claim` (`o/{orgId}/users/{kind}/{digest}`, a username, email or
/// external-id claim) before its record names it, since `at` (the update's intent: for
/// [`crate::users::ABANDONED_CLAIM_MS`] after `at` the claim is not abandoned). One key
/// per user and claim, so that two updates of one user at once never overwrite or
/// delete each other's. Deleted after the update's write; a permanent removal deletes
/// those of the claims its record names.
pub fn user_claiming(org: &ObjectId, n: i64, claim: &str) -> String {
    let users = format!("o/{org}/users/");
    let tail = claim.strip_prefix(&users).unwrap_or(claim);
    format!("{users}claiming/{n}/{tail}")
}

/// `o/{orgId}/users/claiming/{n}`: where stop 29's updates kept their intent, one key
/// per user (JSON `{keys, at}`). No longer written or read; a permanent removal deletes
/// one a store still holds.
pub fn user_claiming_v1(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/users/claiming/{n}")
}

/// `orgs/account/{uuid}` → integer claim on a Dynatrace account UUID (organization
/// sequence number, 0 when free).
pub fn org_account_claim(uuid: &str) -> String {
    format!("orgs/account/{uuid}")
}

/// `orgs/apim/{digest}` → integer claim on an API Management binding (the digest of the
/// lowercased `subscriptionId/resourceGroupName/serviceName`).
pub fn org_apim_claim(digest: &str) -> String {
    format!("orgs/apim/{digest}")
}

/// `tokens/seq` → integer counter (written by `increment`) of global token sequence numbers.
pub const GLOBAL_TOKEN_COUNTER: &str = "tokens/seq";

/// `tokens/seq/{n}` → the id of global token `n` (text).
pub fn global_token_seq(n: i64) -> String {
    format!("tokens/seq/{n}")
}

/// `o/{orgId}/tokens/seq` → integer counter (written by `increment`) of the organization's token numbers.
pub fn org_token_counter(org: &ObjectId) -> String {
    format!("o/{org}/tokens/seq")
}

/// `o/{orgId}/tokens/seq/{n}` → the id of the organization's token `n` (text).
pub fn org_token_seq(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/tokens/seq/{n}")
}

/// `tokens/id/{tokenId}` → the hex SHA-256 digest of the token's secret (text).
pub fn token_id(id: &ObjectId) -> String {
    format!("tokens/id/{id}")
}

/// `tokens/digest/{digest}` → the token record (JSON), keyed by its secret's digest.
pub fn token_by_digest(digest: &str) -> String {
    format!("tokens/digest/{digest}")
}

/// `o/{orgId}/user/{userId}/api-tokens` → `{closed, ids}` of API tokens the user owns.
pub fn user_api_tokens(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}/api-tokens")
}

/// `ratelimit/{subject}/{window}` → the count of a token's requests in one minute
/// (`window` = Unix milliseconds / 60 000), written by `increment` only.
pub fn rate_limit(subject: &str, window: i64) -> String {
    format!("ratelimit/{subject}/{window}")
}

/// `o/{orgId}/users/external/{digest}` → integer claim on a SCIM `externalId`
/// (case-exact; the digest of the id as given).
pub fn external_id_claim(org: &ObjectId, digest: &str) -> String {
    format!("o/{org}/users/external/{digest}")
}

/// `o/{orgId}/user/{userId}/subscriptions` → `{closed, ids}` of the user's
/// subscriptions.
pub fn user_subscriptions(org: &ObjectId, user: &ObjectId) -> String {
    format!("o/{org}/user/{user}/subscriptions")
}

/// `o/{orgId}/subscription/{id}` → the subscription record (JSON).
pub fn subscription(org: &ObjectId, id: &ObjectId) -> String {
    format!("o/{org}/subscription/{id}")
}

/// `o/{orgId}/operation/{id}` → an operation record (JSON): a removal's progress.
pub fn operation(org: &ObjectId, id: &ObjectId) -> String {
    format!("o/{org}/operation/{id}")
}

/// `o/{orgId}/audit/seq` → integer counter (written by `increment`) of audit event numbers.
pub fn audit_counter(org: &ObjectId) -> String {
    format!("o/{org}/audit/seq")
}

/// `o/{orgId}/audit/{n}` → audit event `n` (JSON; no personal data).
pub fn audit_event(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/audit/{n}")
}

/// `o/{orgId}/trash/seq` → integer counter (written by `increment`) of the soft-removal queue.
pub fn trash_counter(org: &ObjectId) -> String {
    format!("o/{org}/trash/seq")
}

/// `o/{orgId}/trash/{n}` → `{userId, purgeAfter}`: the n-th soft removal, in order.
pub fn trash_entry(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/trash/{n}")
}

/// `o/{orgId}/trash/head` → integer position up to which the trash queue was purged.
pub fn trash_head(org: &ObjectId) -> String {
    format!("o/{org}/trash/head")
}

/// `identity/email/{digest}` → `{memberships: [{org, user}]}`: every organization
/// (Dynatrace account) a person's email is a user of. The digest is of the folded email
/// under the application-wide [`IDENTITY_SALT`].
pub fn identity(digest: &str) -> String {
    format!("identity/email/{digest}")
}

/// The salt of identity digests. Per-organization salts cannot be used for a
/// cross-organization index; like those salts (which sit in the organization record)
/// it keeps addresses out of key names, not away from someone holding the store.
pub const IDENTITY_SALT: &str = "roster-identity-v1";

/// `o/{orgId}/users/uuid/{uuid}` → integer claim on a user's UUID (random, so never
/// contended; a claim so that removal and restore treat it like the other unique values).
pub fn user_uuid_claim(org: &ObjectId, uuid: &str) -> String {
    format!("o/{org}/users/uuid/{uuid}")
}

/// `o/{orgId}/users/ng/{digest}/{batch}` → `1`: some search entry in search batch
/// `batch` (sequence numbers `batch × 1000 + 1 ..= (batch + 1) × 1000`) holds the n-gram
/// whose salted digest is `digest` (see [`crate::search_index`]). Written blind before
/// the entry, never deleted; the digest keeps the text out of key names.
pub fn user_ngram(org: &ObjectId, digest: &str, batch: i64) -> String {
    format!("o/{org}/users/ng/{digest}/{batch}")
}

/// The salted digest naming an n-gram in [`user_ngram`]: 6 bytes of SHA-256 (12 hex
/// digits). Two n-grams sharing one only make a search read a batch it did not need.
pub fn ngram_digest(salt: &str, gram: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(gram.as_bytes());
    hex::encode(&h.finalize()[..6])
}

/// `o/{orgId}/schedule/{day}/seq` → integer counter (written by `increment`) of the
/// entries of day `day` (days since 1970-01-01, UTC) in the scheduled-removal index.
pub fn schedule_counter(org: &ObjectId, day: i64) -> String {
    format!("o/{org}/schedule/{day}/seq")
}

/// `o/{orgId}/schedule/{day}/{n}` → JSON `{userId}`: a user with a scheduled removal or
/// removal warning due on day `day` ([`crate::schedules`]). Written before the user
/// record names the schedule; deleted by the run once the user no longer needs it.
pub fn schedule_entry(org: &ObjectId, day: i64, n: i64) -> String {
    format!("o/{org}/schedule/{day}/{n}")
}

/// `o/{orgId}/schedule/head` → integer: the last day whose index entries the
/// scheduled-removal run settled (no day up to it holds an entry).
pub fn schedule_head(org: &ObjectId) -> String {
    format!("o/{org}/schedule/head")
}

/// `o/{orgId}/inactivity/cursor` → integer counter: the last user index slot
/// (`users/seq/{n}`) the inactivity sweep looked at; 0 when a pass is complete
/// ([`crate::inactivity`]).
pub fn inactivity_cursor(org: &ObjectId) -> String {
    format!("o/{org}/inactivity/cursor")
}

/// `o/{orgId}/event-subscriptions` → JSON `{subscriptions: […]}`: the organization's
/// pushed-event subscribers, their signing secrets included (`crate::events`).
pub fn event_subscriptions(org: &ObjectId) -> String {
    format!("o/{org}/event-subscriptions")
}

/// `o/{orgId}/events/{n}` → the queue entry (JSON) of audit event `n`: the event, its
/// personal data until delivered, one delivery per subscriber (`crate::events`).
pub fn queued_event(org: &ObjectId, n: i64) -> String {
    format!("o/{org}/events/{n}")
}

/// `o/{orgId}/events/pending` → JSON `{numbers: [[n, addedAt], …]}`: the queue entries
/// with a delivery pending or dead.
pub fn events_pending(org: &ObjectId) -> String {
    format!("o/{org}/events/pending")
}
