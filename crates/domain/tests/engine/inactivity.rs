//! Inactivity removal natively: the policy counts from the later of a user's last
//! change and the policy's start; the sweep is bounded and wraps around; an inactive
//! user is warned, then removed by the due run through the engine; any activity or a
//! change of the policy cancels the schedule instead; a held user is not scheduled; and
//! the sweep, the cancellation and the removal interrupted at every store call end
//! consistent, audited exactly once.

use crate::helpers::{DAY, NOW, consistent, user};
use futures::executor::block_on;
use roster_domain::holds::{self, NewHold};
use roster_domain::ids::ObjectId;
use roster_domain::inactivity;
use roster_domain::model::{Organization, UserStatus};
use roster_domain::outbox::{self, MessageKind};
use roster_domain::schedules;
use roster_domain::{MemoryStore, Timestamp, audit, orgs, users};

fn later(days: i64) -> Timestamp {
    NOW.plus_millis(days * DAY)
}

/// Sets the policy (`None`: off) at `when`; returns the organization as written.
async fn policy(
    s: &MemoryStore,
    o: &Organization,
    days: Option<i64>,
    warn: Option<i64>,
    when: Timestamp,
) -> Organization {
    let changes = orgs::OrgChanges {
        policy: orgs::PolicyChanges::parse(None, None, None)
            .unwrap()
            .with_inactivity(Some(days), Some(warn))
            .unwrap(),
        ..orgs::OrgChanges::default()
    };
    orgs::update(s, &o.id, None, changes, when).await.unwrap()
}

fn org(s: &MemoryStore) -> Organization {
    crate::helpers::org(s)
}

async fn touch(s: &MemoryStore, o: &Organization, id: &ObjectId, when: Timestamp) {
    let ch = users::UserChanges {
        first_name: Some("Changed".into()),
        ..users::UserChanges::default()
    };
    users::update(s, o, id, None, ch, when).await.unwrap();
}

/// The audit events `action` about `id`, oldest first.
async fn events(
    s: &MemoryStore,
    o: &Organization,
    id: &ObjectId,
    action: &str,
) -> Vec<audit::AuditEvent> {
    let (all, _) = audit::list(s, &o.id, 0, 500, None).await.unwrap();
    all.into_iter()
        .filter(|e| e.action == action && e.subject == audit::pseudonym(o, id))
        .collect()
}

async fn warnings(s: &MemoryStore, o: &Organization, id: &ObjectId) -> usize {
    let (msgs, _) = outbox::pending(s, o, 0, 100).await.unwrap();
    msgs.iter()
        .filter(|m| m.kind == MessageKind::RemovalWarning && m.user_id == *id)
        .count()
}

/// Sweeps until the pass is complete; returns the summed scheduled and cancelled.
async fn full_pass(s: &MemoryStore, o: &Organization, now: Timestamp) -> (u64, u64) {
    let (mut sch, mut can) = (0, 0);
    for _ in 0..100 {
        let r = inactivity::sweep(s, o, 100, "cron", now).await.unwrap();
        sch += r.scheduled;
        can += r.cancelled;
        if !r.more {
            return (sch, can);
        }
    }
    panic!("the sweep never completed a pass");
}

#[test]
fn the_policy_counts_from_the_later_of_the_last_change_and_its_start() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let old = user(&s, &o, "old").await;
        let fresh = user(&s, &o, "fresh").await;
        // Off by default: the sweep looks at nothing.
        let r = inactivity::sweep(&s, &o, 100, "cron", later(400))
            .await
            .unwrap();
        assert!(!r.enabled);
        assert_eq!((r.scanned, r.scheduled), (0, 0));
        // Both unchanged for 100 days when the policy (30 days, warn 5) is switched on:
        // nobody is due before 30 days after that.
        let o = policy(&s, &o, Some(30), Some(5), later(100)).await;
        assert_eq!(o.policy.inactivity_days, Some(30));
        assert_eq!(o.policy.inactivity_since, Some(later(100)));
        touch(&s, &o, &fresh, later(110)).await;
        let r = inactivity::sweep(&s, &o, 100, "cron", later(124))
            .await
            .unwrap();
        assert!(r.enabled);
        assert_eq!((r.scanned, r.scheduled), (2, 0), "{r:?}");
        // Its warning day: old is scheduled at since + 30 days, warned 5 days before.
        let r = inactivity::sweep(&s, &o, 100, "cron", later(125))
            .await
            .unwrap();
        assert_eq!((r.scanned, r.scheduled, r.more), (2, 1, false), "{r:?}");
        let u = users::get(&s, &o, &old).await.unwrap();
        let sch = u.removal_schedule.clone().unwrap();
        assert_eq!(sch.at, later(130));
        assert_eq!(sch.warn_at, Some(later(125)));
        assert_eq!(sch.scheduled_by, "cron");
        let b = sch.inactivity.unwrap();
        assert_eq!(
            (b.inactive_since, b.last_change, b.days),
            (later(100), NOW, 30)
        );
        // Scheduling is not activity: updatedAt stays.
        assert_eq!(u.updated_at, NOW);
        assert!(
            users::get(&s, &o, &fresh)
                .await
                .unwrap()
                .removal_schedule
                .is_none()
        );
        let ev = events(&s, &o, &old, "user.removal_scheduled").await;
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].details["reason"], "inactivity");
        assert_eq!(ev[0].details["inactiveSince"], later(100).to_rfc3339());
        assert_eq!(ev[0].details["at"], later(130).to_rfc3339());
        assert_eq!(ev[0].actor, "cron");
        // Repeating the sweep schedules nobody twice.
        assert_eq!(full_pass(&s, &o, later(126)).await, (0, 0));
        assert_eq!(
            events(&s, &o, &old, "user.removal_scheduled").await.len(),
            1
        );
        // fresh counts from its change: due at 140, warned from 135.
        assert_eq!(full_pass(&s, &o, later(135)).await, (1, 0));
        let f = users::get(&s, &o, &fresh).await.unwrap();
        assert_eq!(f.removal_schedule.unwrap().at, later(140));
        consistent(&s, "scheduled");
    });
}

#[test]
fn the_warning_always_gets_its_full_period_and_without_one_the_removal_is_due_at_once() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let s2 = MemoryStore::from_env();
    let o2 = org(&s2);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let o = policy(&s, &o, Some(30), Some(5), NOW).await;
        // First swept long after it became due: the removal is 5 days after the sweep.
        assert_eq!(full_pass(&s, &o, later(200)).await, (1, 0));
        let sch = users::get(&s, &o, &a)
            .await
            .unwrap()
            .removal_schedule
            .unwrap();
        assert_eq!((sch.at, sch.warn_at), (later(205), Some(later(200))));
        consistent(&s, "late");
        let b = user(&s2, &o2, "bob").await;
        let o2 = policy(&s2, &o2, Some(30), None, NOW).await;
        assert_eq!(full_pass(&s2, &o2, later(29)).await, (0, 0));
        assert_eq!(full_pass(&s2, &o2, later(31)).await, (1, 0));
        let sch = users::get(&s2, &o2, &b)
            .await
            .unwrap()
            .removal_schedule
            .unwrap();
        assert_eq!((sch.at, sch.warn_at), (later(31), None));
        let r = schedules::run_due(&s2, &o2, 100, "cron", later(31))
            .await
            .unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        assert!(users::get_any(&s2, &o2, &b).await.is_err());
        consistent(&s2, "removed");
    });
}

#[test]
fn an_inactive_user_is_warned_then_removed_by_the_due_run() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let id = user(&s, &o, "kim").await;
        let o = policy(&s, &o, Some(30), Some(5), NOW).await;
        assert_eq!(full_pass(&s, &o, later(25)).await, (1, 0));
        let r = schedules::run_due(&s, &o, 100, "cron", later(25))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (1, 0), "{r:?}");
        assert_eq!(warnings(&s, &o, &id).await, 1);
        // The warning mark is not activity either.
        assert_eq!(users::get(&s, &o, &id).await.unwrap().updated_at, NOW);
        assert_eq!(full_pass(&s, &o, later(27)).await, (0, 0));
        let r = schedules::run_due(&s, &o, 100, "cron", later(29))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (0, 0), "{r:?}");
        let r = schedules::run_due(&s, &o, 100, "cron", later(30))
            .await
            .unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        assert!(users::get_any(&s, &o, &id).await.is_err());
        let w = events(&s, &o, &id, "user.removal_warning_queued").await;
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].details["reason"], "inactivity");
        assert_eq!(events(&s, &o, &id, "user.removed").await.len(), 1);
        consistent(&s, "removed");
    });
}

#[test]
fn activity_cancels_the_schedule_in_the_due_run_and_in_the_sweep() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let b = user(&s, &o, "bob").await;
        let o = policy(&s, &o, Some(30), Some(5), NOW).await;
        assert_eq!(full_pass(&s, &o, later(25)).await, (2, 0));
        // ann changes before her warning is queued: the due run cancels, warns nobody.
        touch(&s, &o, &a, later(25).plus_millis(1000)).await;
        let r = schedules::run_due(&s, &o, 100, "cron", later(26))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (1, 0), "bob is warned: {r:?}");
        assert_eq!(warnings(&s, &o, &a).await, 0);
        assert!(
            users::get(&s, &o, &a)
                .await
                .unwrap()
                .removal_schedule
                .is_none()
        );
        let c = events(&s, &o, &a, "user.removal_schedule_cancelled").await;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].details["cause"], "activity");
        assert_eq!(c[0].details["reason"], "inactivity");
        // bob changes after his warning: the sweep cancels.
        touch(&s, &o, &b, later(27)).await;
        assert_eq!(full_pass(&s, &o, later(27)).await, (0, 1));
        assert!(
            users::get(&s, &o, &b)
                .await
                .unwrap()
                .removal_schedule
                .is_none()
        );
        let r = schedules::run_due(&s, &o, 100, "cron", later(31))
            .await
            .unwrap();
        assert_eq!(r.removed, 0, "{r:?}");
        assert!(users::get(&s, &o, &a).await.is_ok());
        assert!(users::get(&s, &o, &b).await.is_ok());
        consistent(&s, "cancelled");
        // Counted from the change: ann is scheduled again 25 days after it (her
        // warning day), bob 25 days after his.
        assert_eq!(full_pass(&s, &o, later(50)).await, (0, 0));
        assert_eq!(full_pass(&s, &o, later(50).plus_millis(1000)).await, (1, 0));
        assert_eq!(full_pass(&s, &o, later(52)).await, (1, 0));
        let u = users::get(&s, &o, &a).await.unwrap();
        assert_eq!(u.removal_schedule.unwrap().at, later(55).plus_millis(1000));
        consistent(&s, "rescheduled");
    });
}

#[test]
fn switching_the_policy_off_or_changing_its_days_cancels_and_restarts_the_count() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let id = user(&s, &o, "kim").await;
        let o = policy(&s, &o, Some(30), Some(5), NOW).await;
        assert_eq!(full_pass(&s, &o, later(25)).await, (1, 0));
        let off = policy(&s, &o, None, Some(5), later(26)).await;
        assert_eq!(
            (off.policy.inactivity_days, off.policy.inactivity_since),
            (None, None)
        );
        let r = inactivity::sweep(&s, &off, 100, "cron", later(26))
            .await
            .unwrap();
        assert!(!r.enabled);
        let r = schedules::run_due(&s, &off, 100, "cron", later(30))
            .await
            .unwrap();
        assert_eq!((r.removed, r.warned), (0, 0), "{r:?}");
        let u = users::get(&s, &off, &id).await.unwrap();
        assert!(u.removal_schedule.is_none());
        assert_eq!(u.status, UserStatus::Active);
        let c = events(&s, &off, &id, "user.removal_schedule_cancelled").await;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].details["cause"], "policyChanged");
        // On again, shorter: counted from the change, not from the user's last change.
        let on = policy(&s, &off, Some(10), None, later(40)).await;
        assert_eq!(on.policy.inactivity_since, Some(later(40)));
        assert_eq!(full_pass(&s, &on, later(49)).await, (0, 0));
        assert_eq!(full_pass(&s, &on, later(50)).await, (1, 0));
        // The same days again changes nothing; other days cancel in the sweep.
        let same = policy(&s, &on, Some(10), Some(2), later(50)).await;
        assert_eq!(same.policy.inactivity_since, Some(later(40)));
        assert_eq!(full_pass(&s, &same, later(50)).await, (0, 0));
        let longer = policy(&s, &same, Some(20), None, later(50)).await;
        assert_eq!(full_pass(&s, &longer, later(50)).await, (0, 1));
        assert!(
            users::get(&s, &o, &id)
                .await
                .unwrap()
                .removal_schedule
                .is_none()
        );
        consistent(&s, "policy changed");
    });
}

#[test]
fn a_held_user_is_not_scheduled_until_the_hold_ends_and_route_schedules_are_left_alone() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let held = user(&s, &o, "held").await;
        let manual = user(&s, &o, "manual").await;
        let h = NewHold::parse("matter", None).unwrap();
        holds::place_user_hold(&s, &o, &held, h, true, "t1", NOW)
            .await
            .unwrap();
        let at = schedules::NewSchedule::parse(later(100), None, NOW).unwrap();
        schedules::schedule(&s, &o, &manual, at, "t1", NOW)
            .await
            .unwrap();
        // Both last changed at NOW (the hold and the schedule are changes).
        let o = policy(&s, &o, Some(30), None, NOW).await;
        let r = inactivity::sweep(&s, &o, 100, "cron", later(31))
            .await
            .unwrap();
        assert_eq!((r.scheduled, r.held, r.cancelled), (0, 1, 0), "{r:?}");
        assert_eq!(r.held_user_ids, vec![held.clone()]);
        assert!(
            users::get(&s, &o, &held)
                .await
                .unwrap()
                .removal_schedule
                .is_none()
        );
        let m = users::get(&s, &o, &manual)
            .await
            .unwrap()
            .removal_schedule
            .unwrap();
        assert_eq!((m.at, m.inactivity), (later(100), None));
        holds::lift_user_hold(&s, &o, &held, "t1", later(31))
            .await
            .unwrap();
        // Lifting is a change too: counted from it.
        assert_eq!(full_pass(&s, &o, later(60)).await, (0, 0));
        assert_eq!(full_pass(&s, &o, later(61)).await, (1, 0));
        consistent(&s, "lifted");
    });
}

#[test]
fn the_sweep_is_bounded_and_wraps_around() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    block_on(async {
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(user(&s, &o, &format!("u{i}")).await);
        }
        // A removed user leaves a hole in the index.
        roster_domain::removal::remove_user(
            &s,
            &o,
            &ids[3],
            &roster_domain::removal::RemovalPolicy::canonical(),
            NOW,
        )
        .await
        .unwrap();
        let o = policy(&s, &o, Some(30), None, NOW).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            let before = s.calls();
            let r = inactivity::sweep(&s, &o, 3, "cron", later(10))
                .await
                .unwrap();
            // Nobody due: a read of the counter and the cursor, two batch reads, the
            // cursor's move (a compare-and-swap: two calls, and on Redis a read back to
            // confirm the swap); never a call per user.
            assert!(s.calls() - before <= 7, "{} calls", s.calls() - before);
            seen.push((r.scanned, r.more, r.cursor));
        }
        assert_eq!(seen, vec![(3, true, 3), (2, true, 6), (1, false, 0)]);
        // A new pass starts over, and finds the due users in bounded steps.
        let r = inactivity::sweep(&s, &o, 3, "cron", later(31))
            .await
            .unwrap();
        assert_eq!((r.scanned, r.scheduled, r.cursor), (3, 3, 3), "{r:?}");
        let r = inactivity::sweep(&s, &o, 3, "cron", later(31))
            .await
            .unwrap();
        assert_eq!((r.scanned, r.scheduled, r.cursor), (2, 2, 6), "{r:?}");
        let r = inactivity::sweep(&s, &o, 3, "cron", later(31))
            .await
            .unwrap();
        assert_eq!((r.scanned, r.scheduled, r.more), (1, 1, false), "{r:?}");
        consistent(&s, "swept");
    });
}

/// A sweep whose store call `n` fails, repeated, schedules the user once, with exactly
/// one `user.removal_scheduled` event; the due run then removes it.
#[test]
fn a_sweep_interrupted_at_every_store_call_schedules_once() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let id = block_on(user(&s, &o, "kim"));
        let o = block_on(policy(&s, &o, Some(30), Some(5), NOW));
        (s, o, id)
    };
    let calls = {
        let (s, o, _) = setup();
        s.clear_faults();
        let r = block_on(inactivity::sweep(&s, &o, 100, "cron", later(25))).unwrap();
        assert_eq!(r.scheduled, 1);
        s.calls()
    };
    assert!(calls > 6, "{calls}");
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let first = block_on(inactivity::sweep(&s, &o, 100, "cron", later(25)));
        s.clear_faults();
        assert!(first.is_err(), "call {n}");
        consistent(&s, &format!("call {n}, stopped"));
        block_on(full_pass(&s, &o, later(25)));
        consistent(&s, &format!("call {n}, repeated"));
        let u = block_on(users::get(&s, &o, &id)).unwrap();
        assert_eq!(u.removal_schedule.unwrap().at, later(30), "call {n}");
        let ev = block_on(events(&s, &o, &id, "user.removal_scheduled"));
        assert_eq!(ev.len(), 1, "call {n}");
        block_on(schedules::run_due(&s, &o, 100, "cron", later(25))).unwrap();
        let r = block_on(schedules::run_due(&s, &o, 100, "cron", later(30))).unwrap();
        assert_eq!(r.removed, 1, "call {n}: {r:?}");
        assert_eq!(block_on(warnings(&s, &o, &id)), 0, "call {n}");
        consistent(&s, &format!("call {n}, removed"));
    }
}

/// The due run meeting a stale inactivity schedule (the user changed), or a due one,
/// with store call `n` failing: repeated, it cancels once (one event, `activity`) —
/// or removes once, with its devices' retire notices.
#[test]
fn the_due_run_interrupted_at_every_store_call_cancels_or_removes_once() {
    let setup = |stale: bool| {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let id = block_on(user(&s, &o, "kim"));
        for i in 0..2 {
            let d = crate::helpers::device(i, roster_domain::model::DeviceStatus::Active);
            block_on(roster_domain::devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        }
        let o = block_on(policy(&s, &o, Some(30), None, NOW));
        block_on(full_pass(&s, &o, later(30)));
        if stale {
            block_on(touch(&s, &o, &id, later(30).plus_millis(10)));
        }
        (s, o, id)
    };
    for stale in [true, false] {
        let when = later(30).plus_millis(20);
        let calls = {
            let (s, o, _) = setup(stale);
            s.clear_faults();
            block_on(schedules::run_due(&s, &o, 100, "cron", when)).unwrap();
            s.calls()
        };
        assert!(calls > 4, "{calls}");
        for n in 1..=calls {
            let (s, o, id) = setup(stale);
            s.fail_nth(n);
            let _ = block_on(schedules::run_due(&s, &o, 100, "cron", when));
            s.clear_faults();
            if stale {
                consistent(&s, &format!("stale call {n}, stopped"));
            }
            let retry = when.plus_millis(2_000);
            let mut rounds = 0;
            while block_on(schedules::run_due(&s, &o, 100, "cron", retry))
                .unwrap()
                .more
            {
                rounds += 1;
                assert!(rounds < 10);
            }
            consistent(&s, &format!("stale {stale} call {n}, repeated"));
            if stale {
                let u = block_on(users::get(&s, &o, &id)).unwrap();
                assert!(u.removal_schedule.is_none(), "call {n}");
                let c = block_on(events(&s, &o, &id, "user.removal_schedule_cancelled"));
                assert_eq!(c.len(), 1, "call {n}");
                assert_eq!(c[0].details["cause"], "activity", "call {n}");
            } else {
                assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "call {n}");
                let (msgs, _) = block_on(outbox::pending(&s, &o, 0, 100)).unwrap();
                let retire = msgs
                    .iter()
                    .filter(|m| m.kind == MessageKind::DeviceRetire)
                    .count();
                assert_eq!(retire, 2, "call {n}");
                assert_eq!(block_on(events(&s, &o, &id, "user.removed")).len(), 1);
            }
        }
    }
}

#[test]
fn validation_names_the_field() {
    let p = || orgs::PolicyChanges::parse(None, None, None).unwrap();
    for (days, warn, field) in [
        (Some(Some(0)), None, "policy.inactivityDays"),
        (Some(Some(3651)), None, "policy.inactivityDays"),
        (Some(Some(-1)), None, "policy.inactivityDays"),
        (None, Some(Some(0)), "policy.inactivityWarnDaysBefore"),
        (None, Some(Some(366)), "policy.inactivityWarnDaysBefore"),
    ] {
        let e = p().with_inactivity(days, warn).unwrap_err();
        assert_eq!(e.field, field, "{days:?} {warn:?}");
    }
    let ok = p()
        .with_inactivity(Some(Some(3650)), Some(Some(365)))
        .unwrap();
    assert_eq!(ok.inactivity_days, Some(Some(3650)));
    let off = p().with_inactivity(Some(None), Some(None)).unwrap();
    assert_eq!(off.inactivity_days, Some(None));
}

/// Two sweeps overlapping in every order of their store calls: the cursor ends where
/// one of them left it (when both began at the same cursor, it moves once: adding both
/// moves skipped slots and left the user index's range), and the store stays
/// consistent.
#[test]
fn overlapping_sweeps_move_the_cursor_once() {
    use crate::helpers::{Stepped, interleave, orders};
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org(&s);
        for n in 0..3 {
            block_on(user(&s, &o, &format!("u{n}")));
        }
        let o = block_on(policy(&s, &o, Some(30), None, NOW));
        let st = Stepped::new(&s);
        let (a, b) = interleave(
            inactivity::sweep(&st, &o, 2, "a", later(1)),
            inactivity::sweep(&st, &o, 2, "b", later(1)),
            &mut pick,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let cursor = block_on(roster_domain::Store::get(
            &s,
            &roster_domain::keys::inactivity_cursor(&o.id),
        ))
        .unwrap()
        .and_then(|v| roster_domain::store::decode_counter(&v));
        let cursor = cursor.unwrap();
        assert!(
            cursor == a.cursor || cursor == b.cursor,
            "order {i}: {cursor} after {a:?} {b:?}"
        );
        consistent(&s, &format!("order {i}"));
    }
}

#[test]
fn overlapping_sweeps_count_each_cancellation_once_and_audit_it_once() {
    use crate::helpers::{Stepped, interleave, orders};
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org(&s);
        let mut ids = Vec::new();
        for n in 0..2 {
            ids.push(block_on(user(&s, &o, &format!("u{n}"))));
        }
        let o = block_on(policy(&s, &o, Some(30), None, NOW));
        assert_eq!(block_on(full_pass(&s, &o, later(31))), (2, 0), "order {i}");
        // Both users change: both schedules are stale, and two sweeps overlap.
        for id in &ids {
            block_on(touch(&s, &o, id, later(31).plus_millis(1000)));
        }
        let st = Stepped::new(&s);
        let (a, b) = interleave(
            inactivity::sweep(&st, &o, 10, "a", later(32)),
            inactivity::sweep(&st, &o, 10, "b", later(32)),
            &mut pick,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.cancelled + b.cancelled, 2, "order {i}: {a:?} {b:?}");
        for id in &ids {
            let u = block_on(users::get(&s, &o, id)).unwrap();
            assert!(u.removal_schedule.is_none(), "order {i}");
            let c = block_on(events(&s, &o, id, "user.removal_schedule_cancelled"));
            assert_eq!(c.len(), 1, "order {i}");
        }
        consistent(&s, &format!("order {i}"));
    }
}
