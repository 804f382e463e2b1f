//! The removal engine: one journaled state machine over the key-value store, a policy
//! per surface.
//!
//! 1. **Mark.** The user record is swapped to `pending_deletion` with a
//!    [`RemovalJournal`] (a conditional write: of concurrent removals exactly one
//!    marks). The journal holds everything later requests need to finish the removal
//!    as it was asked for: mode (permanent or soft), notify, the reserved audit event
//!    and trash numbers, and a short lease naming the request at work.
//! 2. **Close.** The user's dependent lists (devices, enrollment tokens, outbox
//!    messages, owned API tokens, subscriptions) are closed, so nothing can be added
//!    any more; the policy's guards are checked again on what they hold and, if one now
//!    blocks, the mark is undone.
//! 3. **Purge** the dependents in bounded batches: retire notices for devices, then
//!    devices, enrollment tokens, subscriptions and messages are deleted (a soft removal
//!    retires devices and revokes tokens instead), owned API tokens are revoked. A
//!    surface that may finish asynchronously stops after the organization's
//!    `removalBatch` and answers with the [`Operation`] that polls continue.
//! 4. **Finish.** Group memberships, the account-closed notice, the audit event, the
//!    username / email / external-id claims, the identity index, the count, the search
//!    entry, the lists and the index entry go, and last the user record (or, for a soft
//!    removal, the record becomes `deleted`, restorable until the retention window
//!    ends, with an entry in the trash queue).
//!
//! Every step is idempotent and the user record (in `pending_deletion`) is the journal
//! until the last step, so a removal that stops anywhere is completed by the next
//! attempt: a retry of the request, a poll of the operation, or the purge route.

use crate::audit::{self, AuditEvent};
use crate::claims;
use crate::count;
use crate::dependents::{self, DependentList};
use crate::error::{DomainError, Entity};
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{
    Device, DeviceStatus, EnrollmentToken, IdentitySource, Organization, RemovalJournal,
    RemovalMode, SoftDeletion, Subscription, SubscriptionState, TokenStatus, User, UserStatus,
};
use crate::operations::{self, Operation, OperationStatus};
use crate::outbox::{self, Message, MessageKind};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How long a request may work on a removal before another request may take it over
/// (a hint for answering "in progress", not a lock: every step is safe to repeat).
pub const LEASE_MS: i64 = 1_000;

/// How many keys one batch call reads or deletes.
const CHUNK: usize = 100;

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

/// What a surface asks of a removal (DESIGN.md §5).
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
    /// What happens to subscriptions.
    pub subscriptions: Subscriptions,
    /// Queue an account-closed notice for the user.
    pub notify: bool,
    /// Stop after the organization's `removalBatch` dependents and continue on polls.
    pub asynchronous: bool,
    /// What to do while another request is at work on the user.
    pub on_in_progress: OnInProgress,
    /// Remove permanently whatever the organization's retention (the purge).
    pub permanent: bool,
    /// Who asks: a token id, or `admin`.
    pub actor: String,
}

impl RemovalPolicy {
    fn base(surface: &'static str) -> Self {
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
        /// How many.
        count: usize,
    },
    /// The user has pending, unexpired enrollment tokens.
    PendingEnrollmentTokens {
        /// How many.
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
        /// How many.
        count: usize,
    },
    /// Another request is removing the user right now.
    PendingDeletion,
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

/// What a removal takes (or took) with the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Devices.
    pub devices: usize,
    /// Enrollment tokens.
    pub enrollment_tokens: usize,
    /// API tokens the user owns (revoked).
    pub api_tokens: usize,
    /// Subscriptions.
    pub subscriptions: usize,
    /// Outbox messages addressed to the user.
    pub messages: usize,
    /// Group memberships.
    pub groups: usize,
}

impl Counts {
    fn total(&self) -> usize {
        self.devices + self.enrollment_tokens + self.api_tokens + self.subscriptions + self.messages
    }
}

/// A finished removal.
#[derive(Debug, Clone)]
pub struct Removed {
    /// The user as it was before the removal (kept in memory only, for the answer).
    pub user: User,
    /// Permanent or soft.
    pub mode: RemovalMode,
    /// The operation (finished).
    pub operation: Operation,
    /// What went with the user.
    pub counts: Counts,
    /// Whether this request started the removal (rather than finishing another's).
    pub performed: bool,
}

/// The result of [`remove_user`].
#[derive(Debug, Clone)]
pub enum Outcome {
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

/// The user's dependents as read from its lists.
struct Dependents {
    devices: Vec<ObjectId>,
    tokens: Vec<ObjectId>,
    messages: Vec<ObjectId>,
    api_tokens: Vec<ObjectId>,
    subscriptions: Vec<ObjectId>,
}

impl Dependents {
    fn counts(&self, groups: usize) -> Counts {
        Counts {
            devices: self.devices.len(),
            enrollment_tokens: self.tokens.len(),
            api_tokens: self.api_tokens.len(),
            subscriptions: self.subscriptions.len(),
            messages: self.messages.len(),
            groups,
        }
    }
}

async fn read_lists<S: Store>(
    store: &S,
    org: &ObjectId,
    user: &ObjectId,
    close: bool,
) -> Result<Dependents, DomainError> {
    let [d, t, m, a, s] = crate::users::dependent_lists(org, user);
    let get = async |key: &str| {
        if close {
            dependents::close(store, key).await
        } else {
            dependents::read(store, key).await
        }
    };
    Ok(Dependents {
        devices: get(&d).await?,
        tokens: get(&t).await?,
        messages: get(&m).await?,
        api_tokens: get(&a).await?,
        subscriptions: get(&s).await?,
    })
}

/// What guards look at: active devices, pending tokens, live subscriptions.
async fn blockers<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    deps: &Dependents,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Vec<Blocker>, DomainError> {
    let mut out = Vec::new();
    if policy.expected_version.is_some_and(|v| v != user.version) {
        out.push(Blocker::PreconditionFailed);
    }
    if policy.refuse_externally_managed && user.source != IdentitySource::Local {
        out.push(Blocker::ExternallyManaged);
    }
    if policy.require_disabled && user.status != UserStatus::Disabled {
        out.push(Blocker::Enabled);
    }
    if policy.refuse_active_devices {
        let devices: Vec<Device> =
            dependents::load(store, &deps.devices, |id| keys::device(&org.id, id)).await?;
        let count = devices
            .iter()
            .filter(|d| d.enrolment_info.status == DeviceStatus::Active)
            .count();
        if count > 0 {
            out.push(Blocker::ActiveDevices { count });
        }
    }
    if policy.refuse_pending_tokens {
        let tokens: Vec<EnrollmentToken> = dependents::load(store, &deps.tokens, |id| {
            keys::enrollment_token(&org.id, id)
        })
        .await?;
        let count = tokens.iter().filter(|t| t.is_pending(now)).count();
        if count > 0 {
            out.push(Blocker::PendingEnrollmentTokens { count });
        }
    }
    if policy.subscriptions == Subscriptions::RefuseIfAny {
        let subs: Vec<Subscription> = dependents::load(store, &deps.subscriptions, |id| {
            keys::subscription(&org.id, id)
        })
        .await?;
        let count = subs
            .iter()
            .filter(|s| s.state != SubscriptionState::Cancelled)
            .count();
        if count > 0 {
            out.push(Blocker::HasSubscriptions { count });
        }
    }
    Ok(out)
}

/// What a dry run reports: what the removal would take, or what blocks it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The user.
    pub user: User,
    /// How the removal would end.
    pub mode: RemovalMode,
    /// What would go with the user.
    pub would_remove: Counts,
    /// What refuses the removal now (empty: it would proceed).
    pub blockers: Vec<Blocker>,
}

fn mode_for(org: &Organization, policy: &RemovalPolicy) -> RemovalMode {
    if policy.permanent || org.policy.retention_days == 0 {
        RemovalMode::Permanent
    } else {
        RemovalMode::Soft
    }
}

/// A dry run: reads what a removal under `policy` would remove or what blocks it,
/// changing nothing.
pub async fn plan<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Plan, RemovalError> {
    let user = crate::users::get(store, org, user_id)
        .await
        .map_err(not_found)?;
    let deps = read_lists(store, &org.id, user_id, false).await?;
    let mut blockers = if user.status == UserStatus::PendingDeletion {
        vec![Blocker::PendingDeletion]
    } else {
        Vec::new()
    };
    blockers.extend(blockers_for(store, org, &user, &deps, policy, now).await?);
    Ok(Plan {
        would_remove: deps.counts(user.groups.len()),
        mode: mode_for(org, policy),
        user,
        blockers,
    })
}

async fn blockers_for<S: Store>(
    store: &S,
    org: &Organization,
    user: &User,
    deps: &Dependents,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Vec<Blocker>, DomainError> {
    if user.status == UserStatus::PendingDeletion {
        return Ok(Vec::new());
    }
    blockers(store, org, user, deps, policy, now).await
}

fn not_found(e: DomainError) -> RemovalError {
    match e {
        DomainError::NotFound { .. } => RemovalError::NotFound,
        other => RemovalError::Domain(other),
    }
}

/// Where [`begin`] leaves a removal.
struct Begun {
    journal: RemovalJournal,
    /// The user before the removal (for a resumed removal: the pending record).
    before: User,
    performed: bool,
}

enum Start {
    Go(Begun),
    /// Another request holds the lease; nothing was done (polls answer the operation).
    Busy(RemovalJournal, User),
}

/// Marks the user (or takes the lease of a removal in progress).
async fn begin<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    expect_operation: Option<&ObjectId>,
    now: Timestamp,
) -> Result<Start, RemovalError> {
    let user_key = keys::user(&org.id, user_id);
    let mut audit_seq = None;
    let mut trash_seq = None;
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&user_key).await?;
        let Some(bytes) = current else {
            return Err(RemovalError::NotFound);
        };
        let u: User = records::decode(&user_key, &bytes)?;
        if let Some(op) = expect_operation
            && u.removal.as_ref().map(|j| &j.operation_id) != Some(op)
        {
            // The operation being polled is over (or was never this user's).
            return Err(RemovalError::NotFound);
        }
        match u.status {
            UserStatus::PendingDeletion => {
                let Some(mut journal) = u.removal.clone() else {
                    return Err(DomainError::Corrupt {
                        key: user_key,
                        reason: "pending_deletion without a removal journal".into(),
                    }
                    .into());
                };
                if journal.lease_until > now {
                    if policy.on_in_progress == OnInProgress::Refuse {
                        return Err(RemovalError::Refused(Blocker::PendingDeletion));
                    }
                    // "In progress" names the operation to poll, so it is answered only
                    // once that operation is recorded: a request that stopped between
                    // the mark and the operation's first write left nothing a poll could
                    // find, and this one takes the removal over instead (every step is
                    // idempotent). A poll already read the operation.
                    if policy.asynchronous
                        && (expect_operation.is_some()
                            || operation_recorded(store, org, &journal.operation_id).await?)
                    {
                        return Ok(Start::Busy(journal, u));
                    }
                }
                journal.lease_until = now.plus_millis(LEASE_MS);
                let mut next = u.clone();
                next.removal = Some(journal.clone());
                if records::swap(store, &user_key, cas, &next).await? {
                    return Ok(Start::Go(Begun {
                        journal,
                        before: u,
                        performed: false,
                    }));
                }
            }
            UserStatus::Deleted if !policy.permanent => {
                if u.deletion.as_ref().is_some_and(|d| now >= d.purge_after) {
                    remove_user(store, org, user_id, &RemovalPolicy::purge(), now).await?;
                }
                return Err(RemovalError::NotFound);
            }
            UserStatus::Active | UserStatus::Disabled | UserStatus::Deleted => {
                let mode = mode_for(org, policy);
                let live = u.is_live();
                if live {
                    let needs_lists = policy.refuse_active_devices
                        || policy.refuse_pending_tokens
                        || policy.subscriptions == Subscriptions::RefuseIfAny;
                    let deps = if needs_lists {
                        read_lists(store, &org.id, user_id, false).await?
                    } else {
                        Dependents {
                            devices: Vec::new(),
                            tokens: Vec::new(),
                            messages: Vec::new(),
                            api_tokens: Vec::new(),
                            subscriptions: Vec::new(),
                        }
                    };
                    if let Some(b) = blockers(store, org, &u, &deps, policy, now)
                        .await?
                        .into_iter()
                        .next()
                    {
                        return Err(RemovalError::Refused(b));
                    }
                }
                let audit_seq = match audit_seq {
                    Some(n) => n,
                    None => *audit_seq.insert(audit::reserve(store, &org.id).await?),
                };
                let trash = if mode == RemovalMode::Soft {
                    Some(match trash_seq {
                        Some(n) => n,
                        None => *trash_seq
                            .insert(store.increment(&keys::trash_counter(&org.id), 1).await?),
                    })
                } else {
                    // A purge deletes the trash entry of the soft removal it finishes.
                    u.deletion.as_ref().map(|d| d.trash_seq)
                };
                let journal = RemovalJournal {
                    operation_id: ObjectId::generate(now),
                    started_at: now,
                    surface: policy.surface.to_owned(),
                    mode,
                    notify: policy.notify,
                    status_before: u.status,
                    audit_seq,
                    actor: policy.actor.clone(),
                    lease_until: now.plus_millis(LEASE_MS),
                    notice_base: None,
                    counted: live,
                    trash_seq: trash,
                    delete_subscriptions: policy.subscriptions == Subscriptions::Cascade,
                };
                let mut next = u.clone();
                next.status = UserStatus::PendingDeletion;
                next.version += 1;
                next.updated_at = now;
                next.removal = Some(journal.clone());
                if records::swap(store, &user_key, cas, &next).await? {
                    return Ok(Start::Go(Begun {
                        journal,
                        before: u,
                        performed: true,
                    }));
                }
            }
        }
    }
    Err(DomainError::Store(crate::store::StoreError::new(
        "too much contention marking the user",
    ))
    .into())
}

async fn operation_recorded<S: Store>(
    store: &S,
    org: &Organization,
    id: &ObjectId,
) -> Result<bool, DomainError> {
    match operations::get(store, &org.id, id).await {
        Ok(_) => Ok(true),
        Err(DomainError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a user of `org` under `policy`, or continues a removal in progress.
///
/// Returns [`Outcome::Finished`] when the user is gone (or softly removed), or, for
/// asynchronous policies, [`Outcome::InProgress`] with the operation to poll. A
/// failure of the store leaves a state the next call (or a poll) completes.
pub async fn remove_user<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Outcome, RemovalError> {
    match Box::pin(begin(store, org, user_id, policy, None, now)).await? {
        Start::Busy(journal, user) => Ok(Outcome::InProgress {
            operation: operation_of(store, org, &journal, &user, now).await?,
            user,
        }),
        Start::Go(begun) => drive(store, org, user_id, policy, begun, now).await,
    }
}

/// Runs a begun removal; on a store failure, gives the lease back (best effort) so the
/// next request does not wait for it.
async fn drive<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    begun: Begun,
    now: Timestamp,
) -> Result<Outcome, RemovalError> {
    let op_id = begun.journal.operation_id.clone();
    let result = run(store, org, user_id, policy, begun, now).await;
    if let Err(RemovalError::Domain(_)) = &result {
        let _ = set_lease(store, org, user_id, &op_id, Timestamp(0)).await;
    }
    result
}

async fn set_lease<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    op: &ObjectId,
    until: Timestamp,
) -> Result<(), DomainError> {
    records::update(
        store,
        &keys::user(&org.id, user_id),
        |u: &mut User| match u.removal.as_mut() {
            Some(j) if &j.operation_id == op && j.lease_until != until => {
                j.lease_until = until;
                Ok::<_, DomainError>(true)
            }
            _ => Ok(false),
        },
    )
    .await?;
    Ok(())
}

/// The operation record of a removal, written when first needed.
async fn operation_of<S: Store>(
    store: &S,
    org: &Organization,
    journal: &RemovalJournal,
    user: &User,
    now: Timestamp,
) -> Result<Operation, DomainError> {
    match operations::get(store, &org.id, &journal.operation_id).await {
        Ok(op) => Ok(op),
        Err(DomainError::NotFound { .. }) => Ok(Operation {
            id: journal.operation_id.clone(),
            org_id: org.id.clone(),
            user_id: Some(user.id.clone()),
            subject: audit::pseudonym(org, &user.id),
            surface: journal.surface.clone(),
            mode: journal.mode,
            status: OperationStatus::InProgress,
            total: 0,
            processed: 0,
            created_at: journal.started_at,
            updated_at: now,
        }),
        Err(e) => Err(e),
    }
}

async fn run<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    begun: Begun,
    now: Timestamp,
) -> Result<Outcome, RemovalError> {
    let Begun {
        mut journal,
        before,
        performed,
    } = begun;
    // Step 2: close the lists; re-check the guards on what they hold if we just marked.
    let deps = read_lists(store, &org.id, user_id, true).await?;
    if performed && before.is_live() {
        let refused = blockers(store, org, &before, &deps, policy, now).await?;
        if let Some(b) = refused.into_iter().next() {
            unmark(store, org, &before, &journal, now).await?;
            return Err(RemovalError::Refused(b));
        }
    }
    let counts = deps.counts(before.groups.len());
    let mut op = operation_of(store, org, &journal, &before, now).await?;
    if op.total == 0 {
        op.total = u64::try_from(counts.total()).unwrap_or(u64::MAX);
        operations::put(store, &op).await?;
    }

    // Reserve the notices' outbox numbers once: one per device, one for `notify`.
    let notices = deps.devices.len() + usize::from(journal.notify);
    if journal.notice_base.is_none() && notices > 0 {
        let n = i64::try_from(notices).unwrap_or(i64::MAX);
        let end = store.increment(&keys::outbox_counter(&org.id), n).await?;
        journal.notice_base =
            Some(reserve_notices(store, org, user_id, &journal, end - n + 1).await?);
    }

    // Step 3: purge in batches.
    let budget = if policy.asynchronous {
        usize::try_from(org.policy.removal_batch).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    let mut work = Work {
        store,
        org,
        journal: &journal,
        budget,
        done: 0,
        now,
    };
    let complete = work.devices(&deps.devices).await?
        && work.tokens(&deps.tokens).await?
        && work.api_tokens(&deps.api_tokens).await?
        && work.subscriptions(&deps.subscriptions).await?
        && work.messages(&deps.messages).await?;
    let done = work.done;
    if !complete {
        op.processed = op
            .processed
            .saturating_add(u64::try_from(done).unwrap_or(0))
            .min(op.total);
        op.updated_at = now;
        operations::put(store, &op).await?;
        set_lease(store, org, user_id, &journal.operation_id, Timestamp(0)).await?;
        return Ok(Outcome::InProgress {
            user: before,
            operation: op,
        });
    }

    // Step 4: finish.
    let user = match before.status {
        UserStatus::PendingDeletion => before.clone(),
        _ => {
            let mut u = before.clone();
            u.status = UserStatus::PendingDeletion;
            u
        }
    };
    if journal.mode == RemovalMode::Permanent {
        crate::groups::leave_all(store, org, user_id, &user.groups, now).await?;
    } else {
        // A softly removed user keeps its memberships (for a restore) but is no longer
        // shown among the members: the groups' representations change.
        crate::groups::touch_named(store, org, &user.groups, now).await?;
    }
    if journal.notify
        && let Some(base) = journal.notice_base
    {
        let n = base + i64::try_from(deps.devices.len()).unwrap_or(0);
        outbox::put_notice(
            store,
            &org.id,
            &Message {
                number: n,
                kind: MessageKind::AccountClosed,
                user_id: user_id.clone(),
                to: user.email.clone(),
                enrollment_token_id: None,
                device_id: None,
                device_identifier: None,
                created_at: now,
            },
        )
        .await?;
    }
    let action = match (journal.mode, journal.surface.as_str()) {
        (RemovalMode::Soft, _) => "user.soft_removed",
        (RemovalMode::Permanent, "purge") => "user.purged",
        (RemovalMode::Permanent, _) => "user.removed",
    };
    let details = serde_json::to_value(counts)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    audit::write(
        store,
        &org.id,
        &AuditEvent {
            number: journal.audit_seq,
            at: journal.started_at,
            action: action.to_owned(),
            surface: journal.surface.clone(),
            actor: journal.actor.clone(),
            subject: audit::pseudonym(org, user_id),
            operation_id: Some(journal.operation_id.clone()),
            details,
        },
    )
    .await?;
    for (_, key) in crate::users::user_claims(org, &user) {
        claims::release(store, &key, user.seq).await?;
    }
    crate::identity::leave(store, &user.email, &org.id, user_id).await?;
    if journal.counted {
        count::apply(store, &org.id, &format!("-{}", journal.operation_id), -1).await?;
    }
    store.delete(&keys::user_search(&org.id, user.seq)).await?;
    // The operation is recorded as finished (still naming the user, so a poll that
    // comes before the last write below finishes it), then the user record goes, then
    // the operation forgets the user.
    op.status = OperationStatus::Succeeded;
    op.processed = op.total;
    op.updated_at = now;
    operations::put(store, &op).await?;
    match journal.mode {
        RemovalMode::Permanent => {
            let mut last: Vec<String> = crate::users::dependent_lists(&org.id, user_id).to_vec();
            if let Some(t) = journal.trash_seq {
                last.push(keys::trash_entry(&org.id, t));
            }
            store.delete_many(&last).await?;
            store.delete(&keys::user_seq(&org.id, user.seq)).await?;
            store.delete(&keys::user(&org.id, user_id)).await?;
        }
        RemovalMode::Soft => {
            let trash_seq = journal.trash_seq.unwrap_or(0);
            let purge_after =
                now.plus_millis(i64::from(org.policy.retention_days) * 24 * 3600 * 1000);
            records::write(
                store,
                &keys::trash_entry(&org.id, trash_seq),
                &TrashEntry {
                    user_id: user_id.clone(),
                    purge_after,
                },
            )
            .await?;
            records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
                let ours = u
                    .removal
                    .as_ref()
                    .is_some_and(|j| j.operation_id == journal.operation_id);
                if !ours {
                    return Ok::<_, DomainError>(false);
                }
                u.status = UserStatus::Deleted;
                u.removal = None;
                u.deletion = Some(SoftDeletion {
                    deleted_at: now,
                    purge_after,
                    status_before: journal.status_before,
                    trash_seq,
                });
                u.version += 1;
                u.updated_at = now;
                Ok(true)
            })
            .await?;
        }
    }
    // Best effort: the removal is complete; should this write fail, the operation keeps
    // naming the user's id until the next poll clears it.
    op.user_id = None;
    let _ = operations::put(store, &op).await;
    let mut shown = before;
    if let UserStatus::PendingDeletion = shown.status {
        shown.status = journal.status_before;
    }
    Ok(Outcome::Finished(Removed {
        user: shown,
        mode: journal.mode,
        operation: op,
        counts,
        performed,
    }))
}

/// Records the reserved notice numbers in the journal (first writer wins; a concurrent
/// helper's reservation is used instead of ours).
async fn reserve_notices<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    base: i64,
) -> Result<i64, DomainError> {
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| match u
        .removal
        .as_mut()
    {
        Some(j) if j.operation_id == journal.operation_id && j.notice_base.is_none() => {
            j.notice_base = Some(base);
            Ok::<_, DomainError>(true)
        }
        _ => Ok(false),
    })
    .await?;
    Ok(match updated {
        Updated::Unchanged(u) | Updated::Written(u) => {
            u.removal.and_then(|j| j.notice_base).unwrap_or(base)
        }
        Updated::Missing => base,
    })
}

/// A soft removal waiting for its purge: `o/{org}/trash/{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashEntry {
    /// The softly removed user.
    pub user_id: ObjectId,
    /// When it may be purged.
    pub purge_after: Timestamp,
}

/// The purge work of one request, bounded by `budget` dependents.
struct Work<'a, S: Store> {
    store: &'a S,
    org: &'a Organization,
    journal: &'a RemovalJournal,
    budget: usize,
    done: usize,
    now: Timestamp,
}

impl<S: Store> Work<'_, S> {
    fn permanent(&self) -> bool {
        self.journal.mode == RemovalMode::Permanent
    }

    /// Room left in the budget for `n` more (at least one when any is left).
    fn room(&self, n: usize) -> usize {
        n.min(self.budget.saturating_sub(self.done))
    }

    /// Devices: a retire notice for each not yet REMOVED, then deleted (permanent) or
    /// set to REMOVED (soft). Returns whether all are done.
    async fn devices(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = &self.org.id;
        for (chunk_no, chunk) in ids.chunks(CHUNK).enumerate() {
            let keys: Vec<String> = chunk.iter().map(|id| keys::device(org, id)).collect();
            let values = self.store.get_many(&keys).await?;
            let mut pending: Vec<(usize, Device)> = Vec::new();
            for (i, (key, value)) in keys.iter().zip(values).enumerate() {
                let Some(bytes) = value else { continue };
                let d: Device = records::decode(key, &bytes)?;
                if self.permanent() || d.enrolment_info.status != DeviceStatus::Removed {
                    pending.push((chunk_no * CHUNK + i, d));
                }
            }
            let take = self.room(pending.len());
            for (i, d) in &pending[..take] {
                if d.enrolment_info.status != DeviceStatus::Removed
                    && let Some(base) = self.journal.notice_base
                {
                    outbox::put_notice(
                        self.store,
                        org,
                        &Message {
                            number: base + i64::try_from(*i).unwrap_or(0),
                            kind: MessageKind::DeviceRetire,
                            user_id: d.user_id.clone(),
                            to: String::new(),
                            enrollment_token_id: None,
                            device_id: Some(d.id.clone()),
                            device_identifier: Some(d.device_identifier.clone()),
                            created_at: self.now,
                        },
                    )
                    .await?;
                }
            }
            if self.permanent() {
                let gone: Vec<String> = pending[..take]
                    .iter()
                    .map(|(_, d)| keys::device(org, &d.id))
                    .collect();
                self.store.delete_many(&gone).await?;
            } else {
                for (_, d) in &pending[..take] {
                    let now = self.now;
                    records::update(self.store, &keys::device(org, &d.id), |d: &mut Device| {
                        if d.enrolment_info.status == DeviceStatus::Removed {
                            return Ok::<_, DomainError>(false);
                        }
                        d.enrolment_info.status = DeviceStatus::Removed;
                        d.enrolment_info.date_of_last_update = now;
                        d.version += 1;
                        Ok(true)
                    })
                    .await?;
                }
            }
            self.done += take;
            if take < pending.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Enrollment tokens: deleted (permanent) or revoked (soft).
    async fn tokens(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = self.org.id.clone();
        if self.permanent() {
            return self
                .delete_present(ids, |id| keys::enrollment_token(&org, id))
                .await;
        }
        self.soften(
            ids,
            |id| keys::enrollment_token(&org, id),
            |t: &EnrollmentToken| t.status == TokenStatus::Pending,
            |t: &mut EnrollmentToken| t.status = TokenStatus::Revoked,
        )
        .await
    }

    /// Subscriptions: deleted (permanent, or asked to), otherwise cancelled.
    async fn subscriptions(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = self.org.id.clone();
        if self.permanent() || self.journal.delete_subscriptions {
            return self
                .delete_present(ids, |id| keys::subscription(&org, id))
                .await;
        }
        self.soften(
            ids,
            |id| keys::subscription(&org, id),
            |s: &Subscription| s.state != SubscriptionState::Cancelled,
            |s: &mut Subscription| s.state = SubscriptionState::Cancelled,
        )
        .await
    }

    /// Outbox messages addressed to the user: deleted.
    async fn messages(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let keys = outbox::message_keys(&self.org.id, ids);
        self.delete_keys(&keys).await
    }

    /// API tokens the user owns: revoked (their records stay, for the token listing).
    async fn api_tokens(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        for id in ids {
            if self.room(1) == 0 {
                return Ok(false);
            }
            if let Some(digest) = self.store.get(&keys::token_id(id)).await? {
                let digest = String::from_utf8_lossy(&digest).into_owned();
                let key = keys::token_by_digest(&digest);
                if let Some(t) =
                    records::read::<S, crate::tokens::ApiToken>(self.store, &key).await?
                    && t.revoked_at.is_none()
                {
                    crate::tokens::revoke_record(self.store, &digest, self.now).await?;
                    self.done += 1;
                }
            }
        }
        Ok(true)
    }

    /// Deletes the records of `ids` that still exist.
    async fn delete_present(
        &mut self,
        ids: &[ObjectId],
        key_of: impl Fn(&ObjectId) -> String,
    ) -> Result<bool, DomainError> {
        let keys: Vec<String> = ids.iter().map(key_of).collect();
        self.delete_keys(&keys).await
    }

    async fn delete_keys(&mut self, keys: &[String]) -> Result<bool, DomainError> {
        for chunk in keys.chunks(CHUNK) {
            let values = self.store.get_many(chunk).await?;
            let present: Vec<String> = chunk
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            let take = self.room(present.len());
            if take > 0 {
                self.store.delete_many(&present[..take]).await?;
            }
            self.done += take;
            if take < present.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Changes (with `soften`, a conditional write each) the records of `ids` that
    /// `needs` says are not done yet.
    async fn soften<T: serde::de::DeserializeOwned + Serialize>(
        &mut self,
        ids: &[ObjectId],
        key_of: impl Fn(&ObjectId) -> String,
        needs: impl Fn(&T) -> bool,
        soften: impl Fn(&mut T),
    ) -> Result<bool, DomainError> {
        for chunk in ids.chunks(CHUNK) {
            let keys: Vec<String> = chunk.iter().map(&key_of).collect();
            let values = self.store.get_many(&keys).await?;
            let mut todo = Vec::new();
            for (key, value) in keys.iter().zip(values) {
                let Some(bytes) = value else { continue };
                let t: T = records::decode(key, &bytes)?;
                if needs(&t) {
                    todo.push(key.clone());
                }
            }
            let take = self.room(todo.len());
            for key in &todo[..take] {
                records::update(self.store, key, |t: &mut T| {
                    if !needs(t) {
                        return Ok::<_, DomainError>(false);
                    }
                    soften(t);
                    Ok(true)
                })
                .await?;
            }
            self.done += take;
            if take < todo.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Undoes a mark whose re-check refused: reopens the lists, restores the status.
async fn unmark<S: Store>(
    store: &S,
    org: &Organization,
    before: &User,
    journal: &RemovalJournal,
    now: Timestamp,
) -> Result<(), DomainError> {
    reopen_lists(store, &org.id, &before.id).await?;
    records::update(store, &keys::user(&org.id, &before.id), |u: &mut User| {
        let ours = u
            .removal
            .as_ref()
            .is_some_and(|j| j.operation_id == journal.operation_id);
        if u.status != UserStatus::PendingDeletion || !ours {
            return Ok::<_, DomainError>(false);
        }
        u.status = journal.status_before;
        u.removal = None;
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    Ok(())
}

async fn reopen_lists<S: Store>(
    store: &S,
    org: &ObjectId,
    user: &ObjectId,
) -> Result<(), DomainError> {
    for key in crate::users::dependent_lists(org, user) {
        records::update(store, &key, |l: &mut DependentList| {
            let changed = l.closed;
            l.closed = false;
            Ok::<_, DomainError>(changed)
        })
        .await?;
    }
    Ok(())
}

/// Advances an operation: continues its removal by one batch (unless another request
/// holds the lease) and returns where it stands.
pub async fn poll<S: Store>(
    store: &S,
    org: &Organization,
    operation_id: &ObjectId,
    now: Timestamp,
) -> Result<Operation, RemovalError> {
    let op = operations::get(store, &org.id, operation_id)
        .await
        .map_err(not_found)?;
    // A finished operation that still names its user may have stopped before its last
    // writes: `begin` finishes them (or finds the user gone and the operation done).
    let Some(user_id) = op.user_id.clone() else {
        return Ok(op);
    };
    let policy = RemovalPolicy {
        asynchronous: true,
        ..RemovalPolicy::base("apim")
    };
    let started = Box::pin(begin(
        store,
        org,
        &user_id,
        &policy,
        Some(operation_id),
        now,
    ))
    .await;
    match started {
        // The user still carries the removal: it is not over, whatever the record says.
        Ok(Start::Busy(..)) => Ok(Operation {
            status: OperationStatus::InProgress,
            ..op
        }),
        Ok(Start::Go(begun)) => match drive(store, org, &user_id, &policy, begun, now).await? {
            Outcome::Finished(r) => Ok(r.operation),
            Outcome::InProgress { operation, .. } => Ok(operation),
        },
        // The user no longer carries this operation: it finished (possibly through
        // another request that did not get to record it).
        Err(RemovalError::NotFound) => {
            let mut done = op;
            done.status = OperationStatus::Succeeded;
            done.user_id = None;
            done.processed = done.total;
            done.updated_at = now;
            operations::put(store, &done).await?;
            Ok(done)
        }
        Err(e) => Err(e),
    }
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// No softly removed user with this id (never was, already purged, or expired).
    #[error("no restorable user")]
    NotFound,
    /// Another user took the username, email or external id meanwhile.
    #[error("{field} is already in use")]
    Conflict {
        /// The field.
        field: &'static str,
    },
    /// The store failed; repeating the request completes the restore.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for RestoreError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Domain(e.into())
    }
}

impl From<RemovalError> for RestoreError {
    fn from(e: RemovalError) -> Self {
        match e {
            RemovalError::Domain(d) => Self::Domain(d),
            _ => Self::NotFound,
        }
    }
}

/// Restores a softly removed user within the retention window: its claims, identity,
/// count and search entry come back, its lists reopen, its status is what it was.
/// Devices stay retired and enrollment tokens revoked. An expired user is purged
/// instead (`NotFound`).
pub async fn restore<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<User, RestoreError> {
    let u = crate::users::get_any(store, org, user_id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound { .. } => RestoreError::NotFound,
            other => RestoreError::Domain(other),
        })?;
    let Some(deletion) = u
        .deletion
        .clone()
        .filter(|_| u.status == UserStatus::Deleted)
    else {
        return Err(RestoreError::NotFound);
    };
    if now >= deletion.purge_after {
        remove_user(store, org, user_id, &RemovalPolicy::purge().by(actor), now).await?;
        return Err(RestoreError::NotFound);
    }
    let mut won = Vec::new();
    for (field, key) in crate::users::user_claims(org, &u) {
        if crate::users::claim_for(store, org, &key, u.seq, now).await? {
            won.push(key);
        } else {
            for k in &won {
                claims::release(store, k, u.seq).await?;
            }
            return Err(RestoreError::Conflict { field });
        }
    }
    crate::identity::join(store, &u.email, &org.id, user_id, now).await?;
    store
        .set(
            &keys::user_search(&org.id, u.seq),
            crate::users::search_text(&u).as_bytes(),
        )
        .await?;
    count::apply(
        store,
        &org.id,
        &format!("+restore/{user_id}/{}", deletion.trash_seq),
        1,
    )
    .await?;
    reopen_lists(store, &org.id, user_id).await?;
    let updated = records::update(store, &keys::user(&org.id, user_id), |x: &mut User| {
        if x.status != UserStatus::Deleted {
            return Ok::<_, DomainError>(false);
        }
        x.status = deletion.status_before;
        x.deletion = None;
        x.version += 1;
        x.updated_at = now;
        Ok(true)
    })
    .await?;
    let restored = match updated {
        Updated::Written(x) | Updated::Unchanged(x) => x,
        Updated::Missing => return Err(RestoreError::NotFound),
    };
    store
        .delete(&keys::trash_entry(&org.id, deletion.trash_seq))
        .await?;
    crate::groups::touch_named(store, org, &restored.groups, now).await?;
    audit::record(
        store,
        &org.id,
        AuditEvent {
            number: 0,
            at: now,
            action: "user.restored".into(),
            surface: "mdm".into(),
            actor: actor.to_owned(),
            subject: audit::pseudonym(org, user_id),
            operation_id: None,
            details: serde_json::Map::new(),
        },
    )
    .await?;
    Ok(restored)
}

/// Purges `user_id` if it is softly removed and its window has ended; returns whether
/// it did. Called when a request touches a user that reads as removed.
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
        remove_user(store, org, user_id, &RemovalPolicy::purge(), now).await?;
    }
    Ok(expired)
}

/// What one call of [`purge_expired`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Users purged.
    pub purged: u64,
    /// Softly removed users looked at whose window has not ended.
    pub waiting: u64,
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
        let mut done = true;
        if let Some(bytes) = value {
            let e: TrashEntry = records::decode(key, &bytes)?;
            let user = match crate::users::get_any(store, org, &e.user_id).await {
                Ok(u) => Some(u),
                Err(DomainError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            };
            let ours = user.as_ref().is_some_and(|u| {
                u.status == UserStatus::Deleted
                    && u.deletion.as_ref().is_some_and(|d| d.trash_seq == n)
            });
            if ours {
                if now >= e.purge_after {
                    remove_user(
                        store,
                        org,
                        &e.user_id,
                        &RemovalPolicy::purge().by(actor),
                        now,
                    )
                    .await?;
                    report.purged += 1;
                } else {
                    report.waiting += 1;
                    done = false;
                }
            } else {
                store.delete(key).await?;
            }
        }
        if done && settled {
            settled_prefix = n;
        } else {
            settled = false;
        }
    }
    if settled_prefix > head {
        // Advance the head (a conditional swap: concurrent purges never move it back).
        // Written in the key's own integer encoding, so `increment(head, 0)` keeps
        // working on every backend; what the swap reports does not matter.
        let (cas, raw) = store.cas(&head_key).await?;
        let seen = raw
            .as_deref()
            .and_then(crate::store::decode_counter)
            .unwrap_or(0);
        if seen < settled_prefix {
            let value = crate::store::encode_counter_like(raw.as_deref(), settled_prefix);
            let _ = store.swap(cas, &value).await?;
        }
    }
    Ok(report)
}

/// The entity a removal error is about, for surfaces that name it.
pub fn entity() -> Entity {
    Entity::User
}
