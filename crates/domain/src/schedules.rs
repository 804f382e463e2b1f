//! Scheduled removal: a user removed at a given time by a run an external scheduler
//! starts ([`run_due`]), with an optional warning queued to the outbox some days before.
//!
//! A user's schedule lives in its record ([`RemovalSchedule`]), set and cleared by
//! conditional writes of that record, as a legal hold is. Due work is found through a
//! day index, not by scanning users: each day (days since 1970-01-01, UTC) has a
//! counter `o/{org}/schedule/{day}/seq` and entries `o/{org}/schedule/{day}/{n}`
//! naming a user with a removal or a warning due that day
//! ([`keys::schedule_entry`]). An entry is written (an atomic increment, then a blind
//! write of a fresh key) **before** the record names the schedule, so a schedule is
//! never missing from the index; an entry whose user no longer needs it (cancelled,
//! rescheduled, removed) is dropped by the run. The run walks the days from after
//! `o/{org}/schedule/head` up to today, and moves the head past a day once it holds no
//! entry; today is never passed, so a schedule placed later today is still found.
//!
//! Removal goes through the removal engine ([`crate::removal::remove_user`], policy
//! [`RemovalPolicy::scheduled`]): holds, guards, device-retire notices and the audit
//! event are the engine's. A user under a legal hold is not removed when due: it is
//! reported (`held`) and stays scheduled, looked at again by every run until the hold
//! ends or the schedule is cancelled.
//!
//! The warning is queued once, also by overlapping runs: its outbox number is
//! reserved in the user record first (a conditional write that only sets a number
//! when none is set, so every run uses the winner's), then the message is written at
//! that number (idempotent), then the schedule is marked `warned`; only the run whose
//! mark changed it counts it. A user whose schedule asked for a warning is never
//! removed before it is queued: a run finding the removal due first queues a missing
//! warning (`warnedLate`). Removals are counted by the run that began them only
//! (`resumed` counts those another call began). Audited: `user.removal_scheduled`,
//! `user.removal_schedule_cancelled` (by the route, or by a re-activation),
//! `user.removal_warning_queued`. `docs/lifecycle.md` states the rules.

use crate::audit::{self, AuditEvent};
use crate::error::{DomainError, ValidationError};
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{Organization, RemovalSchedule, User, UserStatus};
use crate::outbox::{Message, MessageKind};
use crate::records::{self, Updated};
use crate::removal::{self, Blocker, Reached, RemovalError, RemovalOutcome, RemovalPolicy};
use crate::store::Store;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// Furthest a removal may be scheduled: ten years ahead, in days.
pub const MAX_SCHEDULE_DAYS: i64 = 10 * 366;
/// Most days before the removal a warning may be queued.
pub const MAX_WARN_DAYS: i64 = 365;

/// The day (since 1970-01-01, UTC) that `t` falls on.
pub fn day_of(t: Timestamp) -> i64 {
    t.0.div_euclid(DAY_MS)
}

/// A validated request to schedule a removal.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// When.
    pub at: Timestamp,
    /// How many days before to queue a warning (`None`: no warning).
    pub warn_days_before: Option<i64>,
}

impl NewSchedule {
    /// Validates `at` (after `now`, at most [`MAX_SCHEDULE_DAYS`] ahead) and
    /// `warnDaysBefore` (1 to [`MAX_WARN_DAYS`]); errors name the field.
    pub fn parse(
        at: Timestamp,
        warn_days_before: Option<i64>,
        now: Timestamp,
    ) -> Result<Self, ValidationError> {
        if at <= now {
            return Err(ValidationError::new("at", "must be in the future"));
        }
        if at > now.plus_millis(MAX_SCHEDULE_DAYS * DAY_MS) {
            return Err(ValidationError::new(
                "at",
                format!("must be at most {MAX_SCHEDULE_DAYS} days ahead"),
            ));
        }
        if let Some(d) = warn_days_before
            && !(1..=MAX_WARN_DAYS).contains(&d)
        {
            return Err(ValidationError::new(
                "warnDaysBefore",
                format!("must be an integer from 1 to {MAX_WARN_DAYS} (days)"),
            ));
        }
        Ok(Self {
            at,
            warn_days_before,
        })
    }
}

/// The days whose index holds (or must hold) an entry for `s`: the removal's, and the
/// warning's (not before the day it was scheduled) while it is not queued.
pub fn index_days(s: &RemovalSchedule) -> Vec<i64> {
    let mut days = vec![day_of(s.at)];
    if let Some(w) = s.warn_at
        && !s.warned
    {
        let d = day_of(w).max(day_of(s.scheduled_at));
        if !days.contains(&d) {
            days.push(d);
        }
    }
    days
}

/// Why a schedule was not read, set or cancelled: [`UserStateError`](crate::error::UserStateError).
pub type ScheduleError = crate::error::UserStateError;

/// One entry of the day index: the user it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayEntry {
    /// The user with something due that day.
    pub user_id: ObjectId,
}

/// A live (or being removed) user of `org` and its schedule.
pub async fn user_schedule<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<(User, Option<RemovalSchedule>), ScheduleError> {
    let u = crate::users::get(store, org, user_id)
        .await
        .map_err(ScheduleError::not_found)?;
    let s = u.removal_schedule.clone();
    Ok((u, s))
}

/// Schedules (or reschedules) the removal of a live user of `org`: the day index
/// first, then a conditional write of the record. Refused while the user's removal is
/// in progress. Audited as `user.removal_scheduled`. Returns the user as written.
pub async fn schedule<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    new: NewSchedule,
    actor: &str,
    now: Timestamp,
) -> Result<User, ScheduleError> {
    let (u, _) = user_schedule(store, org, user_id).await?;
    if u.status == UserStatus::PendingDeletion {
        return Err(ScheduleError::in_progress(&u));
    }
    let s = RemovalSchedule {
        at: new.at,
        // A warning whose day is already past goes out at once (the first run): the
        // schedule says so rather than naming a time that has gone by.
        warn_at: new
            .warn_days_before
            .map(|d| new.at.plus_millis(-d * DAY_MS).max(now)),
        scheduled_by: actor.to_owned(),
        scheduled_at: now,
        warning_number: None,
        warned: false,
        inactivity: None,
    };
    for day in index_days(&s) {
        add_entry(store, &org.id, day, user_id).await?;
    }
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(ScheduleError::in_progress(u));
        }
        if !u.is_live() {
            return Err(ScheduleError::NotFound);
        }
        u.removal_schedule = Some(s.clone());
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    let user = match updated {
        Updated::Written(u) | Updated::Unchanged(u) => u,
        Updated::Missing => return Err(ScheduleError::NotFound),
    };
    record(
        store,
        org,
        "user.removal_scheduled",
        user_id,
        actor,
        &s,
        None,
        now,
    )
    .await?;
    Ok(user)
}

/// Cancels the user's schedule; `Ok(None)` when it had none (nothing written, nothing
/// audited). Its index entries stay until a run drops them. Audited as
/// `user.removal_schedule_cancelled` (`cause: "cancelled"`).
pub async fn cancel<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
) -> Result<Option<RemovalSchedule>, ScheduleError> {
    let (u, before) = user_schedule(store, org, user_id).await?;
    let Some(before) = before else {
        return Ok(None);
    };
    if u.status == UserStatus::PendingDeletion {
        return Err(ScheduleError::in_progress(&u));
    }
    let updated = records::update(store, &keys::user(&org.id, user_id), |u: &mut User| {
        if u.status == UserStatus::PendingDeletion {
            return Err(ScheduleError::in_progress(u));
        }
        if u.removal_schedule.is_none() {
            return Ok(false);
        }
        u.removal_schedule = None;
        u.version += 1;
        u.updated_at = now;
        Ok(true)
    })
    .await?;
    match updated {
        Updated::Written(_) => {}
        Updated::Unchanged(_) => return Ok(None),
        Updated::Missing => return Err(ScheduleError::NotFound),
    }
    record_cancelled(store, org, user_id, actor, &before, "cancelled", now).await?;
    Ok(Some(before))
}

/// Audits the cancellation of `before` (`user.removal_schedule_cancelled`) for `cause`:
/// `cancelled` (the route) or `reactivated` (the user's status went from disabled to
/// active, [`crate::users::update`]).
pub async fn record_cancelled<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    actor: &str,
    before: &RemovalSchedule,
    cause: &str,
    now: Timestamp,
) -> Result<(), DomainError> {
    record(
        store,
        org,
        "user.removal_schedule_cancelled",
        user_id,
        actor,
        before,
        Some(cause),
        now,
    )
    .await
}

/// Writes an index entry naming `user_id` under `day` (a fresh number, so concurrent
/// writers never overwrite each other).
pub(crate) async fn add_entry<S: Store>(
    store: &S,
    org: &ObjectId,
    day: i64,
    user_id: &ObjectId,
) -> Result<(), DomainError> {
    let n = store
        .increment(&keys::schedule_counter(org, day), 1)
        .await?;
    records::write(
        store,
        &keys::schedule_entry(org, day, n),
        &DayEntry {
            user_id: user_id.clone(),
        },
    )
    .await
}

/// What one call of [`run_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DueReport {
    /// Users removed by this call (through the removal engine).
    pub removed: u64,
    /// Users removed by this call whose removal another call had begun (one stopped
    /// half-way, or one running at the same time): finished here, counted in `removed`
    /// by none (never twice across reports).
    pub resumed: u64,
    /// Removal warnings queued by this call (each warning by exactly one call, even
    /// when runs overlap).
    pub warned: u64,
    /// Of `warned`: warnings queued late, when the removal was already due (a schedule
    /// set closer than `warnDaysBefore`, or runs called too rarely); the user is then
    /// removed right after its warning was queued.
    pub warned_late: u64,
    /// Warnings due for users without an email address: not queued (marked done).
    pub not_deliverable: u64,
    /// Users due but under a legal hold: not removed, still scheduled (looked at again
    /// by later runs).
    pub held: u64,
    /// The ids of the users counted in `held`.
    pub held_user_ids: Vec<ObjectId>,
    /// Users due whose removal a guard refused (reported, still scheduled).
    pub refused: u64,
    /// Index entries looked at.
    pub scanned: u64,
    /// Whether due work may remain beyond what was looked at (call again).
    pub more: bool,
    /// Every user this call did not remove although due (those counted in `held` and
    /// `refused`), once each, with why; never more entries than were looked at
    /// (`scanned`, at most the run's `limit`).
    pub refusals: Vec<Refusal>,
}

/// A due user the run did not remove, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// The user.
    pub mdm_user_id: ObjectId,
    /// The removal engine's blocker, as its wire name: `legalHold`, `exportRequired`,
    /// `pendingDeletion` (another request is removing the user right now), or another
    /// of [`Blocker`]'s.
    pub code: String,
    /// A sentence saying why (a hold is named by scope and times, never its reason).
    pub reason: String,
}

impl Refusal {
    fn new(user_id: &ObjectId, b: &Blocker) -> Self {
        let code = b.reason().to_owned();
        let reason = if let Some(h) = b.hold_description() {
            format!("the user is {h}")
        } else if let Some(e) = b.export_description() {
            format!("the organization requires an export before removal and the user has {e}")
        } else if *b == Blocker::PendingDeletion {
            "another request is removing the user right now".to_owned()
        } else {
            format!("the removal engine refused it ({code})")
        };
        Self {
            mdm_user_id: user_id.clone(),
            code,
            reason,
        }
    }
}

/// Does the due scheduled work of `org`: walks the day index from after its head to
/// today, at most `limit` entries, queuing due warnings and removing due users through
/// the removal engine. For a scheduler; idempotent, and safe to repeat after a stop
/// anywhere.
pub async fn run_due<S: Store>(
    store: &S,
    org: &Organization,
    limit: usize,
    actor: &str,
    now: Timestamp,
) -> Result<DueReport, RemovalError> {
    let head_key = keys::schedule_head(&org.id);
    let stored = store.increment(&head_key, 0).await?;
    let head = if stored == 0 {
        day_of(org.created_at) - 1
    } else {
        stored
    };
    let today = day_of(now);
    let mut report = DueReport::default();
    let mut budget = limit;
    let mut settled_up_to = head;
    let mut settled = true;
    let mut day = head + 1;
    while day <= today {
        if budget == 0 {
            report.more = true;
            break;
        }
        // Days in windows: one batch read of the counters, then each non-empty day.
        let end = (day + 31).min(today);
        let counter_keys: Vec<String> = (day..=end)
            .map(|d| keys::schedule_counter(&org.id, d))
            .collect();
        let tops = store.get_many(&counter_keys).await?;
        for (d, top) in (day..=end).zip(tops) {
            let top = top
                .as_deref()
                .and_then(crate::store::decode_counter)
                .unwrap_or(0);
            let empty = if top == 0 {
                true
            } else if budget == 0 {
                report.more = true;
                false
            } else {
                settle_day(store, org, d, top, &mut budget, actor, now, &mut report).await?
            };
            if empty && settled && d < today {
                settled_up_to = d;
            } else {
                settled = false;
            }
        }
        day = end + 1;
    }
    if settled_up_to > stored {
        advance_head(store, &head_key, settled_up_to).await?;
    }
    Ok(report)
}

/// Settles the entries `1..=top` of `day`, within `budget`; returns whether the day
/// holds no entry any more.
#[allow(clippy::too_many_arguments)]
async fn settle_day<S: Store>(
    store: &S,
    org: &Organization,
    day: i64,
    top: i64,
    budget: &mut usize,
    actor: &str,
    now: Timestamp,
    report: &mut DueReport,
) -> Result<bool, RemovalError> {
    let entry_keys: Vec<String> = (1..=top)
        .map(|n| keys::schedule_entry(&org.id, day, n))
        .collect();
    let mut empty = true;
    for (key, value) in entry_keys.iter().zip(store.get_many(&entry_keys).await?) {
        let Some(bytes) = value else { continue };
        if *budget == 0 {
            report.more = true;
            return Ok(false);
        }
        *budget -= 1;
        report.scanned += 1;
        let e: DayEntry = records::decode(key, &bytes)?;
        if settle_entry(store, org, day, &e.user_id, actor, now, report).await? {
            store.delete(key).await?;
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

/// Does what is due for `user_id` on `day`; returns whether its entry there is settled
/// (nothing due that day is left undone, or the user no longer needs the entry).
async fn settle_entry<S: Store>(
    store: &S,
    org: &Organization,
    day: i64,
    user_id: &ObjectId,
    actor: &str,
    now: Timestamp,
    report: &mut DueReport,
) -> Result<bool, RemovalError> {
    let u = match crate::users::get(store, org, user_id).await {
        Ok(u) => u,
        Err(DomainError::NotFound { .. }) => return Ok(true),
        Err(e) => return Err(e.into()),
    };
    let Some(s) = u.removal_schedule.clone() else {
        return Ok(true);
    };
    if !index_days(&s).contains(&day) {
        return Ok(true);
    }
    if crate::inactivity::cancel_if_stale(store, org, &u, &s, actor, now)
        .await?
        .is_gone()
    {
        return Ok(true);
    }
    if now >= s.at {
        // A user whose schedule asked for a warning is never removed before it is
        // queued: a missing one is queued now (late), then the user is removed.
        let mut version = u.version;
        if s.warn_at.is_some() && !s.warned && u.status != UserStatus::PendingDeletion {
            if !warn(store, org, &u, &s, actor, now, report).await? {
                // Cancelled, replaced or being removed meanwhile: the next run looks again.
                return Ok(false);
            }
            // The warning's mark wrote the record: what the removal may find is that.
            match crate::users::get(store, org, user_id).await {
                Ok(w) => version = w.version,
                Err(DomainError::NotFound { .. }) => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
        // Removed only as read: a change of the user between this read and the
        // engine's mark (a cancellation, a re-activation, any activity that makes an
        // inactivity schedule stale) refuses the mark, and the next run looks again.
        let mut policy = RemovalPolicy::scheduled().by(actor);
        if u.status != UserStatus::PendingDeletion {
            policy.expected_version = Some(version);
        }
        return match removal::remove(store, org, user_id, &policy, now).await {
            // Counted by the call that began the removal only (the engine's mark is a
            // conditional write: of overlapping runs exactly one performs it), whichever
            // call finished it (on Redis the marking call's read-back may show the
            // other's lease renewal, or the user already gone).
            Ok(Reached::Outcome(RemovalOutcome::Finished(r))) if r.performed => {
                report.removed += 1;
                Ok(true)
            }
            Ok(Reached::Gone { marked: true }) => {
                report.removed += 1;
                Ok(true)
            }
            Ok(Reached::Outcome(_)) => {
                report.resumed += 1;
                Ok(true)
            }
            Ok(Reached::Gone { marked: false }) => Ok(true),
            Err(RemovalError::Refused(Blocker::PreconditionFailed)) => Ok(false),
            Err(RemovalError::Refused(b)) => {
                // A user with two entries due (its warning's day and its removal's) is
                // reported once.
                if !report.refusals.iter().any(|r| r.mdm_user_id == *user_id) {
                    if matches!(b, Blocker::LegalHold { .. }) {
                        report.held += 1;
                        report.held_user_ids.push(user_id.clone());
                    } else {
                        report.refused += 1;
                    }
                    report.refusals.push(Refusal::new(user_id, &b));
                }
                Ok(false)
            }
            Err(e) => Err(e),
        };
    }
    match s.warn_at {
        Some(w) if now >= w && !s.warned && u.status != UserStatus::PendingDeletion => {
            warn(store, org, &u, &s, actor, now, report).await?;
            Ok(day != day_of(s.at))
        }
        // Not yet due (later today, or the removal's entry while only the warning is).
        _ => Ok(false),
    }
}

/// Queues the removal warning of `u` exactly once, whatever the number of runs at
/// it: reserves its outbox number in the record (a conditional write: of overlapping
/// runs one reservation wins, and a loser re-reads and uses the winner's number, or
/// stops if the warning is queued already), writes the message at that number
/// (idempotent), marks the schedule `warned`. Only the call whose mark flips `warned`
/// counts the warning and audits it. Returns whether the schedule is warned now (false:
/// cancelled, replaced, or the user's removal began meanwhile).
async fn warn<S: Store>(
    store: &S,
    org: &Organization,
    u: &User,
    s: &RemovalSchedule,
    actor: &str,
    now: Timestamp,
    report: &mut DueReport,
) -> Result<bool, DomainError> {
    let key = keys::user(&org.id, &u.id);
    let Some(to) = u.email.clone() else {
        let (cur, flipped) = mark(store, &key, s, &|x| x.warned = true).await?;
        if flipped {
            report.not_deliverable += 1;
        }
        return Ok(cur.is_some_and(|c| c.warned));
    };
    let fresh = match s.warning_number {
        Some(_) => None,
        None => Some(store.increment(&keys::outbox_counter(&org.id), 1).await?),
    };
    let (cur, _) = mark(store, &key, s, &|x| {
        if x.warning_number.is_none() {
            x.warning_number = fresh;
        }
    })
    .await?;
    let Some(cur) = cur else {
        return Ok(false);
    };
    if cur.warned {
        return Ok(true);
    }
    let Some(number) = cur.warning_number else {
        return Ok(false);
    };
    // The user's outbox list first (a stop never leaves an unlisted message), then the
    // message; a removal that closed the list in between missed the message, so this
    // call takes it back: no warning outlives its user.
    let list_key = keys::user_outbox(&org.id, &u.id);
    let Ok(list_id) = ObjectId::parse("number", &format!("{number:024x}")) else {
        return Ok(false);
    };
    if crate::dependents::append(store, &list_key, &list_id).await?
        == crate::dependents::Appended::UserGone
    {
        return Ok(false);
    }
    let message = Message {
        number,
        kind: MessageKind::RemovalWarning,
        user_id: u.id.clone(),
        to,
        enrollment_token_id: None,
        device_id: None,
        device_identifier: None,
        removal_at: Some(s.at),
        created_at: now,
    };
    crate::outbox::put_notice(store, &org.id, &message).await?;
    let open = match store.get(&list_key).await? {
        Some(bytes) => {
            !records::decode::<crate::dependents::DependentList>(&list_key, &bytes)?.closed
        }
        None => false,
    };
    if !open {
        store.delete(&keys::outbox_message(&org.id, number)).await?;
        return Ok(false);
    }
    let (cur, flipped) = mark(store, &key, s, &|x| x.warned = true).await?;
    if flipped {
        report.warned += 1;
        if now >= s.at {
            report.warned_late += 1;
        }
        record(
            store,
            org,
            "user.removal_warning_queued",
            &u.id,
            actor,
            s,
            None,
            now,
        )
        .await?;
    }
    Ok(cur.is_some_and(|c| c.warned))
}

/// Changes the user's schedule with `f` if it is still `s` (same `at` and
/// `scheduled_at`: not cancelled nor replaced): the schedule as it is now (`None` once
/// cancelled or replaced), and whether this call wrote the change. `f` is a `dyn` so
/// that the read-change-swap is compiled once, not once per change (issue 16: size).
async fn mark<S: Store>(
    store: &S,
    key: &str,
    s: &RemovalSchedule,
    f: &(dyn Fn(&mut RemovalSchedule) + Sync),
) -> Result<(Option<RemovalSchedule>, bool), DomainError> {
    let updated = records::update(store, key, |u: &mut User| {
        let live = u.is_live();
        let Some(cur) = u.removal_schedule.as_mut() else {
            return Ok::<_, DomainError>(false);
        };
        if cur.at != s.at || cur.scheduled_at != s.scheduled_at || !live {
            return Ok(false);
        }
        let before = cur.clone();
        f(cur);
        if *cur == before {
            return Ok(false);
        }
        u.version += 1;
        Ok(true)
    })
    .await?;
    Ok(match updated {
        Updated::Written(u) => (u.removal_schedule, true),
        Updated::Unchanged(u) => (
            u.removal_schedule
                .filter(|c| c.at == s.at && c.scheduled_at == s.scheduled_at),
            false,
        ),
        Updated::Missing => (None, false),
    })
}

/// Moves the head to `day` (a conditional swap: concurrent runs never move it back).
async fn advance_head<S: Store>(store: &S, head_key: &str, day: i64) -> Result<(), RemovalError> {
    let (cas, raw) = store.cas(head_key).await?;
    let seen = raw
        .as_deref()
        .and_then(crate::store::decode_counter)
        .unwrap_or(0);
    if seen < day {
        let value = crate::store::encode_counter_like(raw.as_deref(), day);
        let _ = store.swap(cas, &value).await?;
    }
    Ok(())
}

/// The audit details of a schedule: `{at, warnAt}`, `reason: "inactivity"` and
/// `inactiveSince` for an inactivity schedule, and, for a cancellation, `cause`.
pub(crate) fn details(
    s: &RemovalSchedule,
    cause: Option<&str>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut d = serde_json::Map::new();
    d.insert("at".into(), s.at.to_rfc3339().into());
    d.insert(
        "warnAt".into(),
        s.warn_at
            .map_or(serde_json::Value::Null, |w| w.to_rfc3339().into()),
    );
    if let Some(b) = &s.inactivity {
        crate::inactivity::add_details(&mut d, b);
    }
    if let Some(c) = cause {
        d.insert("cause".into(), c.into());
    }
    d
}

#[allow(clippy::too_many_arguments)]
async fn record<S: Store>(
    store: &S,
    org: &Organization,
    action: &str,
    user_id: &ObjectId,
    actor: &str,
    s: &RemovalSchedule,
    cause: Option<&str>,
    now: Timestamp,
) -> Result<(), DomainError> {
    crate::events::record(
        store,
        org,
        AuditEvent {
            number: 0,
            at: now,
            action: action.to_owned(),
            surface: "mdm".into(),
            actor: actor.to_owned(),
            subject: audit::pseudonym(org, user_id),
            operation_id: None,
            details: details(s, cause),
        },
        Some(crate::events::Personal::id_only(user_id)),
    )
    .await?;
    Ok(())
}
