//! The engine proper: a removal begun (step 1, the mark) and run (steps 2 to 4), each
//! step a function named for what it does. The store calls and their order are the
//! removal's contract with crash recovery (every step idempotent, the user record the
//! journal until the last one), so a step never reorders what it writes.

use super::batches::Work;
use super::plan::{DependentIds, blockers, guards_read_lists, mode_for, read_lists};
use super::{
    Blocker, Counts, LEASE_MS, OnInProgress, RemovalError, RemovalOutcome, RemovalPolicy, Removed,
    Subscriptions, TrashEntry,
};
use crate::audit::{self, AuditEvent};
use crate::claims;
use crate::count;
use crate::dependents::DependentList;
use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{
    Organization, Recheck, RemovalJournal, RemovalMode, SoftDeletion, User, UserStatus,
};
use crate::operations::{self, Operation, OperationStatus};
use crate::outbox::{self, Message, MessageKind};
use crate::records::{self, Updated};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// Where [`begin`] leaves a removal this request may work on.
pub(super) struct Begun {
    journal: RemovalJournal,
    /// The user before the removal (for a resumed removal: the pending record).
    before: User,
    /// Whether this request marked the user (rather than resuming a removal).
    performed: bool,
}

/// What [`begin`] found.
pub(super) enum Start {
    /// This request holds the lease: run the removal.
    Go(Begun),
    /// Another request holds the lease; nothing was done (polls answer the operation).
    Busy(RemovalJournal, User),
    /// The user record is gone (never there, or removed). `marked`: this request's own
    /// mark had written (the audit event at the number it reserved exists), and another
    /// request finished that removal before this one read the record again — on Redis
    /// a swap that wrote can read back as another request's lease renewal.
    Gone {
        /// Whether the removal that took the user was the one this request began.
        marked: bool,
    },
}

/// Removes a user of `org` under `policy`, or continues a removal in progress.
///
/// Returns [`RemovalOutcome::Finished`] when the user is gone (or softly removed), or,
/// for asynchronous policies, [`RemovalOutcome::InProgress`] with the operation to
/// poll. A failure of the store leaves a state the next call (or a poll) completes.
pub async fn remove_user<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<RemovalOutcome, RemovalError> {
    match remove(store, org, user_id, policy, now).await? {
        Reached::Outcome(outcome) => Ok(outcome),
        Reached::Gone { .. } => Err(RemovalError::NotFound),
    }
}

/// What [`remove`] found or did. Returned once and matched at once, as
/// [`remove_user`]'s answer is (boxing the outcome would only add an allocation).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reached {
    /// As [`remove_user`] answers.
    Outcome(RemovalOutcome),
    /// The user is gone ([`remove_user`]'s `NotFound`); `marked` as [`Start::Gone`].
    Gone {
        /// Whether the removal that took the user was the one this request began.
        marked: bool,
    },
}

/// [`remove_user`], telling a user gone after this request's own mark (the purge counts
/// it) from one that was gone or taken by another request.
pub(crate) async fn remove<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<Reached, RemovalError> {
    // A removal another request undid (its re-check refused) starts over: the user is
    // live again, and this request's own guards decide.
    for _ in 0..UNDONE_ATTEMPTS {
        let outcome = match Box::pin(begin(store, org, user_id, policy, None, now)).await? {
            Start::Busy(journal, user) => RemovalOutcome::InProgress {
                operation: operation_of(store, org, &journal, &user, now).await?,
                user,
            },
            Start::Go(begun) => match drive(store, org, user_id, policy, begun, now).await? {
                Some(outcome) => outcome,
                None => continue,
            },
            Start::Gone { marked } => return Ok(Reached::Gone { marked }),
        };
        return Ok(Reached::Outcome(outcome));
    }
    Err(DomainError::Store(StoreError::new("the removal was undone again and again")).into())
}

/// How many times [`remove`] starts over after another request undid the removal.
const UNDONE_ATTEMPTS: usize = 4;

// ---------------------------------------------------------------------------------
// Step 1: mark.

/// The audit event and trash numbers a removal reserves while marking the user, kept
/// across the attempts of one [`begin`] so that a lost swap does not reserve twice.
#[derive(Default)]
struct Reserved {
    audit_seq: Option<i64>,
    trash_seq: Option<i64>,
}

/// Step 1: marks the user `pending_deletion` with a fresh journal, or takes the lease
/// of a removal in progress. With `expect_operation` (a poll), only the removal of that
/// operation is taken up; any other state of the user is `NotFound`.
///
/// Guarantees: of concurrent marks exactly one writes (a conditional swap of the user
/// record); nothing but the audit and trash reservations is written before the mark.
pub(super) async fn begin<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    expect_operation: Option<&ObjectId>,
    now: Timestamp,
) -> Result<Start, RemovalError> {
    let user_key = keys::user(&org.id, user_id);
    let mut reserved = Reserved::default();
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&user_key).await?;
        if current.is_none() && expect_operation.is_none() {
            let marked = match reserved.audit_seq {
                Some(n) => store.exists(&keys::audit_event(&org.id, n)).await?,
                None => false,
            };
            return Ok(Start::Gone { marked });
        }
        let u = read_user_for(&user_key, current, expect_operation)?;
        let started = match u.status {
            UserStatus::PendingDeletion => {
                let lease = Lease {
                    expect_operation,
                    marked: reserved.audit_seq,
                };
                take_lease(store, org, policy, lease, &user_key, cas, u, now).await?
            }
            UserStatus::Deleted if !policy.permanent => {
                purge_if_window_ended(store, org, user_id, &u, now).await?;
                return Err(RemovalError::NotFound);
            }
            // Restored (or removed softly again) since the purge looked: not its user.
            UserStatus::Active | UserStatus::Disabled if policy.expired_only => {
                return Err(RemovalError::NotFound);
            }
            UserStatus::Deleted if policy.expired_only && !window_ended(&u, now) => {
                return Err(RemovalError::NotFound);
            }
            UserStatus::Active | UserStatus::Disabled | UserStatus::Deleted => {
                mark(
                    store,
                    org,
                    policy,
                    (user_id, &user_key),
                    cas,
                    u,
                    &mut reserved,
                    now,
                )
                .await?
            }
        };
        if let Some(start) = started {
            return Ok(start);
        }
    }
    Err(DomainError::Store(StoreError::new("too much contention marking the user")).into())
}

/// Decodes the user record read by [`begin`]: absent, or (for a poll) carrying another
/// removal than `expect_operation`'s, is `NotFound`.
fn read_user_for(
    user_key: &str,
    current: Option<Vec<u8>>,
    expect_operation: Option<&ObjectId>,
) -> Result<User, RemovalError> {
    let Some(bytes) = current else {
        return Err(RemovalError::NotFound);
    };
    let u: User = records::decode(user_key, &bytes)?;
    if let Some(op) = expect_operation
        && u.removal.as_ref().map(|j| &j.operation_id) != Some(op)
    {
        // The operation being polled is over (or was never this user's).
        return Err(RemovalError::NotFound);
    }
    Ok(u)
}

/// Whether `u` is softly removed and its retention window has ended at `now`.
fn window_ended(u: &User, now: Timestamp) -> bool {
    u.deletion.as_ref().is_some_and(|d| now >= d.purge_after)
}

/// A softly removed user touched by a removal that is not the purge: purged if its
/// retention window has ended and no legal hold protects it (either way the removal
/// answers `NotFound`).
async fn purge_if_window_ended<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    u: &User,
    now: Timestamp,
) -> Result<(), RemovalError> {
    if window_ended(u, now) {
        let policy = RemovalPolicy::purge().expired_only();
        match remove_user(store, org, user_id, &policy, now).await {
            Ok(_)
            | Err(RemovalError::Refused(Blocker::LegalHold { .. }) | RemovalError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What [`take_lease`] knows of the request taking the lease.
struct Lease<'a> {
    /// A poll's operation: only its removal is taken up.
    expect_operation: Option<&'a ObjectId>,
    /// The audit event number this request reserved for its own mark, if it tried one:
    /// a journal carrying it is this request's (the mark's swap wrote, though on Redis
    /// its read-back may have shown another request's lease renewal since).
    marked: Option<i64>,
}

/// A user already `pending_deletion`: refuses (policies that refuse a removal in
/// progress), answers [`Start::Busy`] (asynchronous policies while another request
/// holds the lease and its operation is recorded), or takes the lease over.
///
/// Guarantees: "in progress" always names an operation a poll can find; otherwise
/// this request renews the lease with a conditional swap (`None`: it lost the swap and
/// [`begin`] reads again). The removal counts as this request's (`performed`) when
/// the journal carries the audit number it reserved for its mark.
#[allow(clippy::too_many_arguments)]
async fn take_lease<S: Store>(
    store: &S,
    org: &Organization,
    policy: &RemovalPolicy,
    Lease {
        expect_operation,
        marked,
    }: Lease<'_>,
    user_key: &str,
    cas: S::Cas,
    u: User,
    now: Timestamp,
) -> Result<Option<Start>, RemovalError> {
    let Some(mut journal) = u.removal.clone() else {
        return Err(DomainError::Corrupt {
            key: user_key.to_owned(),
            reason: "pending_deletion without a removal journal".into(),
        }
        .into());
    };
    let ours = marked == Some(journal.audit_seq);
    if journal.lease_until > now && !ours {
        if policy.on_in_progress == OnInProgress::Refuse {
            return Err(RemovalError::Refused(Blocker::PendingDeletion));
        }
        // "In progress" names the operation to poll, so it is answered only once that
        // operation is recorded: a request that stopped between the mark and the
        // operation's first write left nothing a poll could find, and this one takes
        // the removal over instead (every step is idempotent). A poll already read the
        // operation.
        if policy.asynchronous
            && (expect_operation.is_some()
                || operation_recorded(store, org, &journal.operation_id).await?)
        {
            return Ok(Some(Start::Busy(journal, u)));
        }
    }
    journal.lease_until = now.plus_millis(LEASE_MS);
    let mut next = u.clone();
    next.removal = Some(journal.clone());
    if records::swap(store, user_key, cas, &next).await? {
        return Ok(Some(Start::Go(Begun {
            journal,
            before: u,
            performed: ours,
        })));
    }
    Ok(None)
}

/// A user not yet being removed (or a softly removed one, for the purge): checks the
/// policy's guards, reserves the audit event and trash numbers, and swaps the record to
/// `pending_deletion` with a new journal holding the lease.
///
/// Guarantees: a refused removal writes nothing but reads; the mark is conditional on
/// the record read (`None`: lost the swap, [`begin`] reads again and reuses the
/// reservations).
#[allow(clippy::too_many_arguments)]
async fn mark<S: Store>(
    store: &S,
    org: &Organization,
    policy: &RemovalPolicy,
    (user_id, user_key): (&ObjectId, &str),
    cas: S::Cas,
    u: User,
    reserved: &mut Reserved,
    now: Timestamp,
) -> Result<Option<Start>, RemovalError> {
    if u.is_live() {
        refuse_if_guarded(store, org, user_id, &u, policy, now).await?;
    } else if let Some(hold) = Blocker::legal_hold(org, &u, now) {
        // A softly removed user under a legal hold is not purged.
        return Err(RemovalError::Refused(hold));
    }
    let journal = new_journal(store, org, policy, &u, reserved, now).await?;
    let mut next = u.clone();
    next.status = UserStatus::PendingDeletion;
    next.version += 1;
    next.updated_at = now;
    next.removal = Some(journal.clone());
    if records::swap(store, user_key, cas, &next).await? {
        return Ok(Some(Start::Go(Begun {
            journal,
            before: u,
            performed: true,
        })));
    }
    Ok(None)
}

/// The policy's guards on a live user before it is marked: the first blocker refuses
/// the removal. Reads the dependent lists only for guards that need them.
async fn refuse_if_guarded<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    u: &User,
    policy: &RemovalPolicy,
    now: Timestamp,
) -> Result<(), RemovalError> {
    let deps = if guards_read_lists(policy) {
        read_lists(store, &org.id, user_id, false).await?
    } else {
        DependentIds::none()
    };
    match blockers(store, org, u, &deps, policy, now)
        .await?
        .into_iter()
        .next()
    {
        Some(b) => Err(RemovalError::Refused(b)),
        None => Ok(()),
    }
}

/// The journal of a removal about to be marked: a new operation id, the mode, and the
/// audit event number (reserved once) and trash number (reserved once for a soft
/// removal; a purge names the trash entry of the soft removal it finishes).
async fn new_journal<S: Store>(
    store: &S,
    org: &Organization,
    policy: &RemovalPolicy,
    u: &User,
    reserved: &mut Reserved,
    now: Timestamp,
) -> Result<RemovalJournal, DomainError> {
    let mode = mode_for(org, policy);
    let audit_seq = match reserved.audit_seq {
        Some(n) => n,
        None => *reserved
            .audit_seq
            .insert(audit::reserve(store, &org.id).await?),
    };
    let trash_seq = if mode == RemovalMode::Soft {
        Some(match reserved.trash_seq {
            Some(n) => n,
            None => {
                // The entry is written as soon as its number is reserved, before the
                // mark: a purge walking the queue meanwhile finds it (and waits) instead
                // of a gap it would step over, never to come back to.
                let n = store.increment(&keys::trash_counter(&org.id), 1).await?;
                records::write(
                    store,
                    &keys::trash_entry(&org.id, n),
                    &TrashEntry {
                        user_id: u.id.clone(),
                        purge_after: now.plus_millis(retention_ms(org)),
                        restore_audit: None,
                        restoring_since: None,
                        reserved_at: Some(now),
                    },
                )
                .await?;
                *reserved.trash_seq.insert(n)
            }
        })
    } else {
        u.deletion.as_ref().map(|d| d.trash_seq)
    };
    Ok(RemovalJournal {
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
        counted: u.is_live(),
        trash_seq,
        delete_subscriptions: policy.subscriptions == Subscriptions::Cascade,
        recheck: Some(Recheck::Pending),
    })
}

/// Whether the operation `id` has been written (polls can find it).
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

// ---------------------------------------------------------------------------------
// Steps 2 to 4.

/// Runs a begun removal; on a store failure, gives the lease back (best effort) so the
/// next request does not wait for it.
pub(super) async fn drive<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    begun: Begun,
    now: Timestamp,
) -> Result<Option<RemovalOutcome>, RemovalError> {
    let op_id = begun.journal.operation_id.clone();
    let result = run(store, org, user_id, policy, begun, now).await;
    if let Err(RemovalError::Domain(_)) = &result {
        let _ = set_lease(store, org, user_id, &op_id, Timestamp(0)).await;
    }
    result
}

/// Steps 2 to 4 of a begun removal: close the lists, record the operation, reserve the
/// notices, purge the dependents (as far as the budget goes), finish. `None`: the
/// removal was undone (its re-check refused, in another request driving it).
async fn run<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    begun: Begun,
    now: Timestamp,
) -> Result<Option<RemovalOutcome>, RemovalError> {
    let Begun {
        mut journal,
        before,
        performed,
    } = begun;
    let check = match (performed, journal.recheck) {
        // Settled, or written before verdicts existed (past its re-check).
        (_, Some(Recheck::Passed) | None) => Check::Nothing,
        (_, Some(Recheck::Refused)) => Check::Undo,
        (true, Some(Recheck::Pending)) if before.is_live() => Check::Guards,
        (_, Some(Recheck::Pending)) => Check::Hold,
    };
    let Some(deps) =
        close_lists(store, org, user_id, policy, &before, &journal, check, now).await?
    else {
        return Ok(None);
    };
    let counts = deps.counts(before.groups.len());
    let op = record_operation(store, org, &journal, &before, &counts, now).await?;
    let notices = deps.devices.len() + usize::from(sends_account_closed(&journal, &before));
    reserve_notice_numbers(store, org, user_id, &mut journal, notices).await?;
    let purged = purge_dependents(store, org, policy, &journal, &deps, now).await?;
    if let Some(done) = purged.unfinished {
        let op = pause(store, org, user_id, &journal, op, done, now).await?;
        return Ok(Some(RemovalOutcome::InProgress {
            user: before,
            operation: op,
        }));
    }
    finish(
        store, org, user_id, journal, before, &deps, counts, op, performed, now,
    )
    .await
    .map(Some)
}

/// What step 2 checks again after the mark ([`close_lists`]).
#[derive(Clone, Copy)]
enum Check {
    /// This request marked a live user: every guard, on the organization read again.
    Guards,
    /// The organization's legal hold, read again: a purge this request marked (a softly
    /// removed user's guards are the hold only), or a removal resumed before any request
    /// settled its re-check (nothing of the user is gone yet: the operation is written
    /// after the verdict, before any dependent goes; the other guards were the marking
    /// request's, whose policy is not this one's).
    Hold,
    /// The verdict is `refused`: finish undoing the mark.
    Undo,
    /// The verdict is `passed` (or the removal predates verdicts and is past its
    /// re-check): it finishes.
    Nothing,
}

/// Step 2: closes the user's dependent lists (nothing can be added to them any more)
/// and checks again what [`Check`] says — an organization-wide legal hold written
/// before the mark refuses the removal even when the request read the organization
/// before the hold. The verdict is settled once in the journal ([`Recheck`]) by a
/// conditional write; a `refused` one is then undone ([`unmark`]) and answered with
/// the blocker (or `None`, the removal undone, when another request's re-check refused
/// and this one's did not); a `passed` one goes on even if this request's own re-check
/// refused (another request let it pass first).
#[allow(clippy::too_many_arguments)]
async fn close_lists<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    policy: &RemovalPolicy,
    before: &User,
    journal: &RemovalJournal,
    check: Check,
    now: Timestamp,
) -> Result<Option<DependentIds>, RemovalError> {
    let deps = read_lists(store, &org.id, user_id, true).await?;
    let blocker = match check {
        Check::Nothing => return Ok(Some(deps)),
        Check::Undo => None,
        Check::Guards => {
            let current = crate::orgs::get(store, &org.id).await?;
            blockers(store, &current, before, &deps, policy, now)
                .await?
                .into_iter()
                .next()
        }
        Check::Hold => {
            let current = crate::orgs::get(store, &org.id).await?;
            Blocker::legal_hold(&current, before, now)
        }
    };
    let verdict = match check {
        Check::Undo => Some(Recheck::Refused),
        _ => {
            let wanted = if blocker.is_some() {
                Recheck::Refused
            } else {
                Recheck::Passed
            };
            settle_recheck(store, org, user_id, &journal.operation_id, wanted).await?
        }
    };
    match verdict {
        Some(Recheck::Passed) => Ok(Some(deps)),
        Some(Recheck::Refused) => {
            unmark(store, org, user_id, journal, now).await?;
            match blocker {
                Some(b) => Err(RemovalError::Refused(b)),
                None => Ok(None),
            }
        }
        // No longer this removal: another request undid it.
        Some(Recheck::Pending) | None => Ok(None),
    }
}

/// Settles the re-check verdict of the removal `op` as `wanted` unless one is settled
/// already: the verdict that stands; `passed` when the user is gone (another request
/// finished the removal: this one goes on through its idempotent steps, as it did
/// before verdicts existed); `None` when the user carries no longer `op` (undone).
async fn settle_recheck<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    op: &ObjectId,
    wanted: Recheck,
) -> Result<Option<Recheck>, DomainError> {
    let updated = update_journal(store, org, user_id, op, &mut |j| {
        let unsettled = j.recheck == Some(Recheck::Pending);
        if unsettled {
            j.recheck = Some(wanted);
        }
        unsettled
    })
    .await?;
    Ok(match updated {
        Updated::Written(u) | Updated::Unchanged(u) => u
            .removal
            .filter(|j| &j.operation_id == op)
            .and_then(|j| j.recheck),
        Updated::Missing => Some(Recheck::Passed),
    })
}

/// Reads (or makes) the removal's operation and, the first time, writes it with the
/// total of dependents to purge: from here on polls can find it.
async fn record_operation<S: Store>(
    store: &S,
    org: &Organization,
    journal: &RemovalJournal,
    before: &User,
    counts: &Counts,
    now: Timestamp,
) -> Result<Operation, DomainError> {
    let mut op = operation_of(store, org, journal, before, now).await?;
    if op.total == 0 {
        op.total = u64::try_from(counts.total()).unwrap_or(u64::MAX);
        operations::put(store, &op).await?;
    }
    Ok(op)
}

/// Whether the removal queues an account-closed notice: asked for (`notify`) and the
/// user has an address to send it to. For a user without email the notice is not
/// deliverable: nothing is queued or reserved, and the audit event says so.
fn sends_account_closed(journal: &RemovalJournal, user: &User) -> bool {
    journal.notify && user.email.is_some()
}

/// Reserves the notices' outbox numbers once per removal (`notices` of them: one per
/// device for its retire notice, one for the account-closed notice when it is sent).
/// The first request to record a reservation in the journal wins; a concurrent helper
/// uses it instead of its own.
async fn reserve_notice_numbers<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &mut RemovalJournal,
    notices: usize,
) -> Result<(), DomainError> {
    if journal.notice_base.is_none() && notices > 0 {
        let n = i64::try_from(notices).unwrap_or(i64::MAX);
        let end = store.increment(&keys::outbox_counter(&org.id), n).await?;
        journal.notice_base =
            Some(record_notice_base(store, org, user_id, journal, end - n + 1).await?);
    }
    Ok(())
}

/// Records the reserved notice numbers in the journal (first writer wins; a concurrent
/// helper's reservation is used instead of ours).
async fn record_notice_base<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    base: i64,
) -> Result<i64, DomainError> {
    let op = &journal.operation_id;
    let updated = update_journal(store, org, user_id, op, &mut |j| {
        let first = j.notice_base.is_none();
        if first {
            j.notice_base = Some(base);
        }
        first
    })
    .await?;
    Ok(match updated {
        Updated::Unchanged(u) | Updated::Written(u) => {
            u.removal.and_then(|j| j.notice_base).unwrap_or(base)
        }
        Updated::Missing => base,
    })
}

/// What [`purge_dependents`] got through.
struct Purged {
    /// `Some(n)`: the budget ran out after `n` dependents, work remains.
    unfinished: Option<usize>,
}

/// Step 3: purges the dependents in the order devices, enrollment tokens, API tokens,
/// subscriptions, messages, within the organization's `removalBatch` for asynchronous
/// policies (unbounded otherwise).
async fn purge_dependents<S: Store>(
    store: &S,
    org: &Organization,
    policy: &RemovalPolicy,
    journal: &RemovalJournal,
    deps: &DependentIds,
    now: Timestamp,
) -> Result<Purged, DomainError> {
    let budget = if policy.asynchronous {
        usize::try_from(org.policy.removal_batch).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    let mut work = Work {
        store,
        org,
        journal,
        budget,
        done: 0,
        now,
    };
    let complete = work.devices(&deps.devices).await?
        && work.tokens(&deps.tokens).await?
        && work.api_tokens(&deps.api_tokens).await?
        && work.subscriptions(&deps.subscriptions).await?
        && work.messages(&deps.messages).await?;
    Ok(Purged {
        unfinished: (!complete).then_some(work.done),
    })
}

/// Stops an unfinished removal for a poll to continue: the operation records the
/// progress (`done` more dependents), and the lease is given back at once.
async fn pause<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    mut op: Operation,
    done: usize,
    now: Timestamp,
) -> Result<Operation, DomainError> {
    op.processed = op
        .processed
        .saturating_add(u64::try_from(done).unwrap_or(0))
        .min(op.total);
    op.updated_at = now;
    operations::put(store, &op).await?;
    set_lease(store, org, user_id, &journal.operation_id, Timestamp(0)).await?;
    Ok(op)
}

/// Step 4: with every dependent purged, the user's remaining traces go (group
/// memberships, the account-closed notice, the audit event, claims and indexes), the
/// operation is recorded as succeeded, and last the user record is deleted (permanent)
/// or becomes `deleted` with its trash entry (soft).
///
/// Guarantees: until the record's last write, the user stays `pending_deletion` with
/// its journal, so a stop anywhere here is finished by the next attempt.
#[allow(clippy::too_many_arguments)]
async fn finish<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: RemovalJournal,
    before: User,
    deps: &DependentIds,
    counts: Counts,
    mut op: Operation,
    performed: bool,
    now: Timestamp,
) -> Result<RemovalOutcome, RemovalError> {
    // The user as the journal's record has it (`pending_deletion`), whichever record
    // the removal began from; moved, not cloned (the status is put back below).
    let status_read = before.status;
    let mut user = before;
    user.status = UserStatus::PendingDeletion;
    leave_groups(store, org, user_id, &journal, &user, now).await?;
    let devices = deps.devices.len();
    queue_account_closed_notice(store, org, user_id, &journal, &user, devices, now).await?;
    write_audit_event(store, org, &journal, user_id, &user, counts).await?;
    release_claims_and_indexes(store, org, user_id, &journal, &user).await?;
    // The operation is recorded as finished (still naming the user, so a poll that
    // comes before the last write below finishes it), then the user record goes, then
    // the operation forgets the user.
    op.status = OperationStatus::Succeeded;
    op.processed = op.total;
    op.updated_at = now;
    operations::put(store, &op).await?;
    match journal.mode {
        RemovalMode::Permanent => delete_user_record(store, org, user_id, &journal, &user).await?,
        RemovalMode::Soft => keep_soft_removed(store, org, user_id, &journal, now).await?,
    }
    // Best effort: the removal is complete; should this write fail, the operation keeps
    // naming the user's id until the next poll clears it.
    op.user_id = None;
    let _ = operations::put(store, &op).await;
    let mut shown = user;
    shown.status = match status_read {
        UserStatus::PendingDeletion => journal.status_before,
        other => other,
    };
    Ok(RemovalOutcome::Finished(Removed {
        user: shown,
        mode: journal.mode,
        operation: op,
        counts,
        performed,
    }))
}

/// A permanent removal leaves every group; a softly removed user keeps its memberships
/// (for a restore) but is no longer shown among the members: the groups'
/// representations change.
async fn leave_groups<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    user: &User,
    now: Timestamp,
) -> Result<(), DomainError> {
    if journal.mode == RemovalMode::Permanent {
        crate::groups::leave_all(store, org, user_id, &user.groups, now).await
    } else {
        crate::groups::touch_named(store, org, &user.groups, now).await
    }
}

/// With `notify` and an address to send it to, queues the account-closed notice under
/// the number reserved for it (the one after the devices' retire notices); written
/// idempotently.
async fn queue_account_closed_notice<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    user: &User,
    devices: usize,
    now: Timestamp,
) -> Result<(), DomainError> {
    if sends_account_closed(journal, user)
        && let Some(email) = &user.email
        && let Some(base) = journal.notice_base
    {
        let n = base + i64::try_from(devices).unwrap_or(0);
        outbox::put_notice(
            store,
            &org.id,
            &Message {
                number: n,
                kind: MessageKind::AccountClosed,
                user_id: user_id.clone(),
                to: email.clone(),
                enrollment_token_id: None,
                device_id: None,
                device_identifier: None,
                removal_at: None,
                created_at: now,
            },
        )
        .await?;
    }
    Ok(())
}

/// Writes the removal's audit event under its reserved number (so a repeat writes the
/// same event): the action by mode and surface, the counts as details (with
/// `"accountClosedNotice": "not_deliverable"` when `notify` was asked for a user
/// without email), the user only as its pseudonym.
async fn write_audit_event<S: Store>(
    store: &S,
    org: &Organization,
    journal: &RemovalJournal,
    user_id: &ObjectId,
    user: &User,
    counts: Counts,
) -> Result<(), DomainError> {
    let action = match (journal.mode, journal.surface.as_str()) {
        (RemovalMode::Soft, _) => "user.soft_removed",
        (RemovalMode::Permanent, "purge") => "user.purged",
        (RemovalMode::Permanent, _) => "user.removed",
    };
    let mut details = count_details(counts);
    if journal.notify && !sends_account_closed(journal, user) {
        details.insert(
            "accountClosedNotice".into(),
            serde_json::Value::String("not_deliverable".into()),
        );
    }
    let event = AuditEvent {
        number: journal.audit_seq,
        at: journal.started_at,
        action: action.to_owned(),
        surface: journal.surface.clone(),
        actor: journal.actor.clone(),
        subject: audit::pseudonym(org, user_id),
        operation_id: Some(journal.operation_id.clone()),
        details,
    };
    // Pushed events first (written once, under the reserved number): an audit event
    // that exists always has its queue entry.
    crate::events::queue(store, org, &event, Some(crate::events::Personal::of(user))).await?;
    audit::write(store, &org.id, &event).await
}

/// The counts as an audit event's details: what `serde_json::to_value(counts)` gives
/// (each field under its serialized name), built directly, so that no component links a
/// `serde_json::Value` serializer for this one struct.
fn count_details(counts: Counts) -> serde_json::Map<String, serde_json::Value> {
    let mut details = serde_json::Map::new();
    for (name, n) in [
        ("devices", counts.devices),
        ("enrollmentTokens", counts.enrollment_tokens),
        ("apiTokens", counts.api_tokens),
        ("subscriptions", counts.subscriptions),
        ("messages", counts.messages),
        ("groups", counts.groups),
    ] {
        details.insert(name.into(), n.into());
    }
    details
}

/// Frees what makes the user findable: its unique claims, its identity membership, its
/// place in the count (once, keyed by the operation) and its search entry.
async fn release_claims_and_indexes<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    user: &User,
) -> Result<(), DomainError> {
    free_values(store, org, user_id, user).await?;
    if journal.counted {
        count::apply(store, &org.id, &format!("-{}", journal.operation_id), -1).await?;
    } else if let Some(trash_seq) = journal.trash_seq {
        // The purge of a soft removal: uncounted then, unless a restore of it counted
        // the user again and stopped before reinstating it (its count is pinned).
        let op = super::restore::count_op(user_id, trash_seq);
        count::undo_pinned(store, &org.id, &op, 1).await?;
    }
    Ok(())
}

/// Frees the values that find `user`: its unique claims (those still its own), its
/// identity membership and its search entry. Idempotent.
pub(super) async fn free_values<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    user: &User,
) -> Result<(), DomainError> {
    for (_, key) in crate::users::user_claims(org, user) {
        claims::release(store, &key, user.seq).await?;
    }
    if let Some(email) = &user.email {
        crate::identity::leave(store, email, &org.id, user_id).await?;
    }
    store.delete(&keys::user_search(&org.id, user.seq)).await?;
    Ok(())
}

/// The last write of a permanent removal, one `delete-many`: the lists (and the trash
/// entry of a soft removal being purged), the index entry, and last the user record
/// (the journal). One call is one statement on Spin's SQLite store and one `DEL` on its
/// Redis store (docs/storage.md), so no stop leaves the record without its index entry
/// (a `pending_deletion` user that `?status=pending_deletion` would not list); a store
/// that deletes key by key deletes them in this order, the journal last, and a retry
/// finishes what it left.
async fn delete_user_record<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    user: &User,
) -> Result<(), DomainError> {
    let mut last: Vec<String> = crate::users::dependent_lists(&org.id, user_id).to_vec();
    if let Some(t) = journal.trash_seq {
        last.push(keys::trash_entry(&org.id, t));
    }
    for (_, claim) in crate::users::user_claims(org, user) {
        last.push(keys::user_claiming(&org.id, user.seq, &claim));
    }
    last.push(keys::user_claiming_v1(&org.id, user.seq));
    last.push(keys::user_seq(&org.id, user.seq));
    last.push(keys::user(&org.id, user_id));
    store.delete_many(&last).await?;
    Ok(())
}

/// The organization's retention window in milliseconds.
fn retention_ms(org: &Organization) -> i64 {
    i64::from(org.policy.retention_days) * 24 * 3600 * 1000
}

/// The last writes of a soft removal: the trash entry, then the record becomes
/// `deleted` (restorable until `purge_after`), if it still carries this removal.
async fn keep_soft_removed<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    now: Timestamp,
) -> Result<(), DomainError> {
    let trash_seq = journal.trash_seq.unwrap_or(0);
    let purge_after = now.plus_millis(retention_ms(org));
    records::write(
        store,
        &keys::trash_entry(&org.id, trash_seq),
        &TrashEntry {
            user_id: user_id.clone(),
            purge_after,
            restore_audit: None,
            restoring_since: None,
            reserved_at: Some(journal.started_at),
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
        // A soft removal ends any removal schedule (a restore does not bring it back).
        u.removal_schedule = None;
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
    Ok(())
}

// ---------------------------------------------------------------------------------
// Shared by the steps.

/// Sets the lease of the removal `op` to `until` (`Timestamp(0)`: gives it back), if
/// the user still carries that removal and the lease differs.
async fn set_lease<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    op: &ObjectId,
    until: Timestamp,
) -> Result<(), DomainError> {
    update_journal(store, org, user_id, op, &mut |j| {
        let changes = j.lease_until != until;
        j.lease_until = until;
        changes
    })
    .await?;
    Ok(())
}

/// Changes the journal of the removal `op` on the user's record with `change` (which
/// answers whether it changed anything: only then is the record written), provided
/// the user still carries that removal. `change` is a `dyn` so that the update is
/// compiled once for both its callers (issue 16: size).
async fn update_journal<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    op: &ObjectId,
    change: &mut (dyn FnMut(&mut RemovalJournal) -> bool + Send),
) -> Result<Updated<User>, DomainError> {
    records::update(
        store,
        &keys::user(&org.id, user_id),
        |u: &mut User| match u.removal.as_mut() {
            Some(j) if &j.operation_id == op => Ok::<_, DomainError>(change(j)),
            _ => Ok(false),
        },
    )
    .await
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
        Err(DomainError::NotFound { .. }) => Ok(new_operation(org, journal, user, now)),
        Err(e) => Err(e),
    }
}

/// The operation record of a removal not recorded yet.
fn new_operation(
    org: &Organization,
    journal: &RemovalJournal,
    user: &User,
    now: Timestamp,
) -> Operation {
    Operation {
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
    }
}

/// Undoes a mark whose re-check was settled `refused`: reopens the lists of a user that
/// was live (a softly removed one's stay closed: a purge's undo), then restores the
/// status. Lists first: a stop in between leaves the user marked with the verdict, and
/// whichever request resumes the removal finishes undoing it.
async fn unmark<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    journal: &RemovalJournal,
    now: Timestamp,
) -> Result<(), DomainError> {
    if matches!(
        journal.status_before,
        UserStatus::Active | UserStatus::Disabled
    ) {
        reopen_lists(store, &org.id, user_id).await?;
    }
    records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        let ours = u.removal.as_ref().is_some_and(|j| {
            j.operation_id == journal.operation_id && j.recheck == Some(Recheck::Refused)
        });
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

/// Reopens the user's dependent lists (an unmarked removal, a restore).
pub(super) async fn reopen_lists<S: Store>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_details_are_the_serialized_counts() {
        let counts = Counts {
            devices: 1,
            enrollment_tokens: 2,
            api_tokens: 3,
            subscriptions: 4,
            messages: 5,
            groups: usize::MAX,
        };
        let serialized = serde_json::to_value(counts).unwrap();
        assert_eq!(serde_json::Value::Object(count_details(counts)), serialized);
        assert_eq!(
            serde_json::to_string(&count_details(counts)).unwrap(),
            serde_json::to_string(&serialized).unwrap()
        );
    }
}
