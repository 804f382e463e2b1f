//! The removal engine: one journaled state machine over the key-value store, a policy
//! per surface.
//!
//! 1. **Mark** (`engine.rs`, `begin`). The user record is swapped to `pending_deletion`
//!    with a [`RemovalJournal`](crate::model::RemovalJournal) (a conditional write:
//!    of concurrent removals exactly one marks). The journal holds everything later requests need to finish the removal
//!    as it was asked for: mode (permanent or soft), notify, the reserved audit event
//!    and trash numbers, and a short lease naming the request at work. A request that
//!    finds the user already marked takes the lease over, or (asynchronous surfaces,
//!    lease still held) answers with the operation to poll.
//! 2. **Close** (`engine.rs`, `close_lists`). The user's dependent lists (devices,
//!    enrollment tokens, outbox messages, owned API tokens, subscriptions) are closed,
//!    so nothing can be added any more; the policy's guards are checked again on what
//!    they hold and, if one now blocks, the mark is undone. The [`Operation`] is
//!    recorded and the notices' outbox numbers reserved.
//! 3. **Purge** the dependents in bounded batches (`batches.rs`): retire notices for
//!    devices, then devices, enrollment tokens, subscriptions and messages are deleted
//!    (a soft removal retires devices and revokes tokens instead), owned API tokens are
//!    revoked. A surface that may finish asynchronously stops after the organization's
//!    `removalBatch` and answers with the [`Operation`] that polls continue ([`poll`]).
//! 4. **Finish** (`engine.rs`, `finish`). Group memberships, the account-closed notice, the
//!    audit event, the username / email / external-id claims, the identity index, the
//!    count, the search entry, the lists and the index entry go, and last the user
//!    record (or, for a soft removal, the record becomes `deleted`, restorable until the
//!    retention window ends, with an entry in the trash queue).
//!
//! Every step is idempotent and the user record (in `pending_deletion`) is the journal
//! until the last step, so a removal that stops anywhere is completed by the next
//! attempt: a retry of the request, a poll of the operation, or the purge route.
//!
//! Around the engine, one file each: [`plan`] (`plan.rs`, a dry run: what a removal
//! would take, what blocks it; the guards the engine also checks), [`poll`]
//! (`poll.rs`, the asynchronous continuation), [`restore`] (`restore.rs`, a soft
//! removal undone within its window) and [`purge_if_expired`] / [`purge_expired`]
//! (`purge.rs`, soft removals whose window ended). This file holds the public types:
//! the policies, the answers and the errors.

mod batches;
mod engine;
mod plan;
mod poll;
mod purge;
mod restore;

pub use engine::remove_user;
pub(crate) use engine::{Reached, remove};
pub use plan::{Plan, plan};
pub use poll::poll;
pub use purge::{PurgeReport, purge_expired, purge_if_expired};
pub use restore::{RestoreError, restore};

use crate::error::{DomainError, Entity};
use crate::ids::ObjectId;
use crate::model::{Organization, RemovalMode, User};
use crate::operations::Operation;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How long a request may work on a removal before another request may take it over
/// (a hint for answering "in progress", not a lock: every step is safe to repeat).
pub const LEASE_MS: i64 = 1_000;

/// What a second removal does while another request is working on the same user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInProgress {
    /// Help finish it (every step is idempotent) and answer as if it had done it.
    Help,
    /// Refuse with [`Blocker::PendingDeletion`] (seed 001's 409).
    Refuse,
}

/// What happens to a user's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriptions {
    /// They go with the user.
    Cascade,
    /// The removal is refused while the user has any that are not cancelled (seed
    /// 004 without `deleteSubscriptions=true`).
    RefuseIfAny,
}

/// What a surface asks of a removal: its guards, what goes with the user, and how the
/// removal ends. One constructor per surface (the seeds of `docs/seeds.md`).
#[derive(Debug, Clone)]
pub struct RemovalPolicy {
    /// The surface asking: `mdm`, `cas`, `dynatrace`, `apim`, `wso2`, `scim`, `purge`.
    pub surface: &'static str,
    /// Refuse while the user has ACTIVE devices (otherwise they are retired and removed).
    pub refuse_active_devices: bool,
    /// Refuse while the user has pending, unexpired enrollment tokens.
    pub refuse_pending_tokens: bool,
    /// Refuse unless the user is disabled.
    pub require_disabled: bool,
    /// Refuse users mastered elsewhere (SCIM, directory sync).
    pub refuse_externally_managed: bool,
    /// Refuse unless the user's version equals this (`If-Match`).
    pub expected_version: Option<u64>,
    /// Whether subscriptions go with the user or refuse the removal.
    pub subscriptions: Subscriptions,
    /// Queue an account-closed notice for the user.
    pub notify: bool,
    /// Stop after the organization's `removalBatch` dependents and continue on polls.
    pub asynchronous: bool,
    /// What to do while another request is at work on the user.
    pub on_in_progress: OnInProgress,
    /// Remove permanently whatever the organization's retention (the purge).
    pub permanent: bool,
    /// Remove only a softly removed user whose retention window has ended at the
    /// removal's `now` (the purge of the trash, [`RemovalPolicy::expired_only`]): a user
    /// found live, or softly removed again with a window still open, is `NotFound` —
    /// restored since the caller looked, it is not the purge's to remove. Read where the
    /// removal marks the user, with the read its conditional swap depends on.
    pub expired_only: bool,
    /// Who asks: a token id, or `admin`.
    pub actor: String,
}

impl RemovalPolicy {
    pub(super) fn base(surface: &'static str) -> Self {
        Self {
            surface,
            refuse_active_devices: false,
            refuse_pending_tokens: false,
            require_disabled: false,
            refuse_externally_managed: false,
            expected_version: None,
            subscriptions: Subscriptions::Cascade,
            notify: false,
            asynchronous: false,
            on_in_progress: OnInProgress::Help,
            permanent: false,
            expired_only: false,
            actor: "admin".to_owned(),
        }
    }

    /// Seed 000 (the canonical surface): refuse active devices (5054) and pending
    /// enrollment tokens (5055); help a removal in progress.
    pub fn canonical() -> Self {
        Self {
            refuse_active_devices: true,
            refuse_pending_tokens: true,
            ..Self::base("mdm")
        }
    }

    /// Seed 001 (CAS): only disabled users (409), never SCIM-managed or directory-synced
    /// ones (405), devices and tokens go with the user, a removal in progress is 409.
    pub fn cas() -> Self {
        Self {
            require_disabled: true,
            refuse_externally_managed: true,
            on_in_progress: OnInProgress::Refuse,
            ..Self::base("cas")
        }
    }

    /// Seed 002 (Dynatrace): everything goes with the user.
    pub fn dynatrace() -> Self {
        Self::base("dynatrace")
    }

    /// Seed 003 (WSO2 EMM): everything goes with the user.
    pub fn wso2() -> Self {
        Self::base("wso2")
    }

    /// SCIM (RFC 7644 §3.6): everything goes with the user.
    pub fn scim() -> Self {
        Self::base("scim")
    }

    /// Seed 004 (API Management): subscriptions go only with `deleteSubscriptions`,
    /// `notify` queues an account-closed notice, and the removal may finish
    /// asynchronously.
    pub fn apim(delete_subscriptions: bool, notify: bool) -> Self {
        Self {
            subscriptions: if delete_subscriptions {
                Subscriptions::Cascade
            } else {
                Subscriptions::RefuseIfAny
            },
            notify,
            asynchronous: true,
            ..Self::base("apim")
        }
    }

    /// The purge of a softly removed user (or of any user, permanently).
    pub fn purge() -> Self {
        Self {
            permanent: true,
            ..Self::base("purge")
        }
    }

    /// The scheduled-removal run ([`crate::schedules`]): everything goes with the user
    /// (devices retired, with their notices), soft or permanent as the organization's
    /// retention says; a legal hold refuses it like every removal.
    pub fn scheduled() -> Self {
        Self::base("schedule")
    }

    /// The same policy for softly removed users whose window has ended only (see
    /// [`RemovalPolicy::expired_only`](Self#structfield.expired_only)): what every purge
    /// of the trash uses, so that a restore racing it keeps its user.
    pub fn expired_only(mut self) -> Self {
        self.expired_only = true;
        self
    }

    /// The same policy on behalf of `actor`.
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }
}

/// Why a removal is refused (the surfaces map each to their answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Blocker {
    /// The user has ACTIVE devices.
    ActiveDevices {
        /// How many ACTIVE devices the user has (at least one).
        count: usize,
    },
    /// The user has pending, unexpired enrollment tokens.
    PendingEnrollmentTokens {
        /// How many pending, unexpired tokens the user has (at least one).
        count: usize,
    },
    /// The policy requires a disabled user.
    Enabled,
    /// The user is mastered by an identity provider or directory.
    ExternallyManaged,
    /// The user's version does not match `If-Match`.
    PreconditionFailed,
    /// The user has subscriptions and the request did not ask to delete them.
    HasSubscriptions {
        /// How many of the user's subscriptions are not cancelled (at least one).
        count: usize,
    },
    /// Another request is removing the user right now.
    PendingDeletion,
    /// A legal hold is active on the user or its whole organization (the user's own
    /// is named when both are). Named by its scope, placement time and end, never by
    /// its reason ([`crate::holds`]).
    #[serde(rename_all = "camelCase")]
    LegalHold {
        /// Whose hold: the user's own, or the organization's.
        scope: HoldScope,
        /// When it was placed (serialized as RFC 3339).
        #[serde(serialize_with = "crate::time::serialize_rfc3339")]
        placed_at: Timestamp,
        /// When it ends by itself (`None`: until lifted; serialized as RFC 3339).
        #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
        until: Option<Timestamp>,
    },
    /// The organization requires a fresh export of a user's data before its removal
    /// (`requireExportBeforeRemoval`) and the user has none: never exported, or last
    /// exported longer ago than `exportMaxAgeSeconds` ([`crate::export`]).
    #[serde(rename_all = "camelCase")]
    ExportRequired {
        /// When the user was last exported (`None`: never; serialized as RFC 3339).
        #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
        last_exported_at: Option<Timestamp>,
        /// The organization's freshness window, in seconds.
        max_age_seconds: u32,
    },
}

/// Where a legal hold is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HoldScope {
    /// On one user.
    User,
    /// On every user of the organization.
    Organization,
}

impl HoldScope {
    /// The wire name: `user` or `organization`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldScope::User => "user",
            HoldScope::Organization => "organization",
        }
    }
}

impl Blocker {
    /// The blocker's name: the `reason` member its serialization carries
    /// (`activeDevices`, `legalHold`, …), without serializing it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ActiveDevices { .. } => "activeDevices",
            Self::PendingEnrollmentTokens { .. } => "pendingEnrollmentTokens",
            Self::Enabled => "enabled",
            Self::ExternallyManaged => "externallyManaged",
            Self::PreconditionFailed => "preconditionFailed",
            Self::HasSubscriptions { .. } => "hasSubscriptions",
            Self::PendingDeletion => "pendingDeletion",
            Self::LegalHold { .. } => "legalHold",
            Self::ExportRequired { .. } => "exportRequired",
        }
    }

    /// The active legal hold protecting `user` of `org` at `now`, as a blocker: the
    /// user's own first, then the organization's.
    pub fn legal_hold(org: &Organization, user: &User, now: Timestamp) -> Option<Blocker> {
        let own = user.legal_hold.as_ref().map(|h| (HoldScope::User, h));
        let org_wide = org
            .legal_hold
            .as_ref()
            .map(|h| (HoldScope::Organization, h));
        own.into_iter()
            .chain(org_wide)
            .find(|(_, h)| h.is_active(now))
            .map(|(scope, h)| Blocker::LegalHold {
                scope,
                placed_at: h.placed_at,
                until: h.until,
            })
    }

    /// The missing export of `user` of `org` at `now`, as a blocker: `None` unless the
    /// organization requires a fresh export and the user has none.
    pub fn export_required(org: &Organization, user: &User, now: Timestamp) -> Option<Blocker> {
        let p = &org.policy;
        (p.require_export_before_removal && !p.export_is_fresh(user.last_exported_at, now))
            .then_some(Blocker::ExportRequired {
                last_exported_at: user.last_exported_at,
                max_age_seconds: p.export_max_age_seconds,
            })
    }

    /// A phrase naming a missing export for refusals on every surface: `no export of
    /// its data in the last 86400 seconds (last export: never)`; `None` for other
    /// blockers.
    pub fn export_description(&self) -> Option<String> {
        match self {
            Blocker::ExportRequired {
                last_exported_at,
                max_age_seconds,
            } => Some(format!(
                "no export of its data in the last {max_age_seconds} seconds (last export: {})",
                last_exported_at.map_or_else(|| "never".to_owned(), Timestamp::to_rfc3339)
            )),
            _ => None,
        }
    }

    /// A sentence naming a legal hold blocker for refusals on every surface:
    /// `under a user legal hold placed 2026-12-01T05:00:00.000Z (until lifted)`;
    /// `None` for other blockers.
    pub fn hold_description(&self) -> Option<String> {
        match self {
            Blocker::LegalHold {
                scope,
                placed_at,
                until,
            } => Some(format!(
                "under {} legal hold placed {} ({})",
                match scope {
                    HoldScope::User => "a user",
                    HoldScope::Organization => "an organization-wide",
                },
                placed_at.to_rfc3339(),
                until.map_or_else(
                    || "until lifted".to_owned(),
                    |u| format!("until {}", u.to_rfc3339())
                ),
            )),
            _ => None,
        }
    }
}

/// Why a removal did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RemovalError {
    /// No such user in the organization (or already removed).
    #[error("user not found")]
    NotFound,
    /// A guard of the policy refuses it.
    #[error("removal refused: {0:?}")]
    Refused(Blocker),
    /// The store or a record failed; repeating the request completes the removal.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for RemovalError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Domain(e.into())
    }
}

/// What a removal takes (or took) with the user: the length of each dependent list
/// when the removal closed it, and the user's group memberships. Serialized as the
/// audit event's details and the dry run's `wouldRemove`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Devices (deleted, or retired by a soft removal).
    pub devices: usize,
    /// Enrollment tokens (deleted, or revoked by a soft removal).
    pub enrollment_tokens: usize,
    /// API tokens the user owns (revoked; their records stay).
    pub api_tokens: usize,
    /// Subscriptions (deleted, or cancelled by a soft removal that keeps them).
    pub subscriptions: usize,
    /// Outbox messages addressed to the user (deleted).
    pub messages: usize,
    /// Group memberships (left, or hidden by a soft removal).
    pub groups: usize,
}

impl Counts {
    /// The dependents the purge works through (group memberships are not batched):
    /// an operation's `total`.
    pub(super) fn total(&self) -> usize {
        self.devices + self.enrollment_tokens + self.api_tokens + self.subscriptions + self.messages
    }
}

/// A finished removal.
#[derive(Debug, Clone)]
pub struct Removed {
    /// The user as it was before the removal (kept in memory only, for the answer).
    pub user: User,
    /// Permanent, or soft (restorable until the retention window ends).
    pub mode: RemovalMode,
    /// The removal's operation, `succeeded`.
    pub operation: Operation,
    /// What went with the user.
    pub counts: Counts,
    /// Whether this request started the removal (rather than finishing another's).
    pub performed: bool,
}

/// What [`remove_user`] answers when the removal was not refused.
#[derive(Debug, Clone)]
pub enum RemovalOutcome {
    /// The removal is complete.
    Finished(Removed),
    /// Work remains (asynchronous policies only); polling the operation continues it.
    InProgress {
        /// The user as it was before the removal.
        user: User,
        /// The operation to poll.
        operation: Operation,
    },
}

/// A soft removal waiting for its purge: `o/{org}/trash/{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashEntry {
    /// The softly removed user.
    pub user_id: ObjectId,
    /// When the retention window ends and the user may be purged (the removal's time
    /// plus the organization's `retentionDays`).
    pub purge_after: Timestamp,
    /// The audit number reserved by a restore of the user that got this far (set once):
    /// its `user.restored` event is written there before the record is reinstated, so
    /// a repeat of a restore that stopped writes the same event, never a second one.
    /// An entry with it that names a live user is what a restore stopped just before
    /// deleting the entry left behind; the next purge deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_audit: Option<i64>,
    /// When the latest restore of the user began (written before it claims anything):
    /// for [`crate::users::ABANDONED_CLAIM_MS`] after it, the claims a softly removed
    /// user holds are that restore's and no create or update takes them over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring_since: Option<Timestamp>,
    /// When the soft removal reserved the entry: it is written then, before the user is
    /// marked, so that the purge never walks past the number of a soft removal under
    /// way (an entry that names no removal yet is left alone for
    /// [`TRASH_RESERVE_GRACE_MS`], then deleted as one whose removal did not go through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_at: Option<Timestamp>,
}

/// How long the purge leaves a trash entry that names no removal yet (its soft removal
/// wrote it and has not marked the user): 60 s, far longer than the two store calls
/// between the write and the mark.
pub const TRASH_RESERVE_GRACE_MS: i64 = 60_000;

/// Maps a failed read of the user to the removal's answer: an absent user is
/// [`RemovalError::NotFound`].
fn not_found(e: DomainError) -> RemovalError {
    match e {
        DomainError::NotFound { .. } => RemovalError::NotFound,
        other => RemovalError::Domain(other),
    }
}

/// The entity a removal error is about, for surfaces that name it.
pub fn entity() -> Entity {
    Entity::User
}

#[cfg(test)]
mod tests {
    use super::{Blocker, HoldScope};
    use crate::time::Timestamp;

    #[test]
    fn a_blockers_reason_is_the_reason_it_serializes() {
        let all = [
            Blocker::ActiveDevices { count: 2 },
            Blocker::PendingEnrollmentTokens { count: 1 },
            Blocker::Enabled,
            Blocker::ExternallyManaged,
            Blocker::PreconditionFailed,
            Blocker::HasSubscriptions { count: 3 },
            Blocker::PendingDeletion,
            Blocker::LegalHold {
                scope: HoldScope::Organization,
                placed_at: Timestamp(0),
                until: None,
            },
            Blocker::ExportRequired {
                last_exported_at: None,
                max_age_seconds: 60,
            },
        ];
        for b in all {
            let v = serde_json::to_value(b).unwrap();
            assert_eq!(v["reason"], b.reason(), "{b:?}");
        }
    }
}
