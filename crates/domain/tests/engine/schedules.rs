//! Scheduled removal natively: a schedule is indexed, warned about once and done when
//! due through the removal engine; cancelled by the route, a re-activation or a soft
//! removal; a held user is reported and stays scheduled; runs are bounded; and a run
//! (or a scheduling) interrupted at every store call ends consistent, with exactly one
//! warning.

use crate::helpers::{self, DAY, NOW, Stepped, consistent, interleave, orders, user};
use futures::executor::block_on;
use roster_domain::holds::{self, NewHold};
use roster_domain::ids::ObjectId;
use roster_domain::model::{Organization, UserStatus};
use roster_domain::outbox::{self, MessageKind};
use roster_domain::schedules::{self, NewSchedule, ScheduleError};
use roster_domain::{MemoryStore, Timestamp, audit, keys, orgs, users};

fn org_with(s: &MemoryStore, retention: Option<i64>) -> Organization {
    helpers::org_with(s, retention, None)
}

fn at(days: i64, warn: Option<i64>) -> NewSchedule {
    NewSchedule::parse(NOW.plus_millis(days * DAY), warn, NOW).unwrap()
}

fn later(days: i64) -> Timestamp {
    NOW.plus_millis(days * DAY)
}

async fn warnings(s: &MemoryStore, o: &Organization, id: &ObjectId) -> usize {
    let (msgs, _) = outbox::pending(s, o, 0, 100).await.unwrap();
    msgs.iter()
        .filter(|m| m.kind == MessageKind::RemovalWarning && m.user_id == *id)
        .count()
}

async fn actions(s: &MemoryStore, o: &Organization) -> Vec<String> {
    let (events, _) = audit::list(s, &o.id, 0, 200, None).await.unwrap();
    events.into_iter().map(|e| e.action).collect()
}

#[test]
fn a_schedule_warns_once_then_removes_the_user_when_due() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    block_on(async {
        let id = user(&s, &o, "kim").await;
        let u = schedules::schedule(&s, &o, &id, at(10, Some(3)), "t1", NOW)
            .await
            .unwrap();
        let sched = u.removal_schedule.clone().unwrap();
        assert_eq!(sched.at, later(10));
        assert_eq!(sched.warn_at, Some(later(7)));
        assert_eq!(sched.scheduled_by, "t1");
        consistent(&s, "scheduled");
        // Before the warning: nothing to do.
        let r = schedules::run_due(&s, &o, 100, "cron", later(6))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (0, 0));
        assert_eq!(warnings(&s, &o, &id).await, 0);
        // The warning day: queued once, whatever the number of runs.
        let r = schedules::run_due(&s, &o, 100, "cron", later(7))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (1, 0), "{r:?}");
        let r = schedules::run_due(&s, &o, 100, "cron", later(8))
            .await
            .unwrap();
        assert_eq!((r.warned, r.removed), (0, 0), "{r:?}");
        assert_eq!(warnings(&s, &o, &id).await, 1);
        let (msgs, _) = outbox::pending(&s, &o, 0, 100).await.unwrap();
        let m = msgs
            .iter()
            .find(|m| m.kind == MessageKind::RemovalWarning)
            .unwrap();
        assert_eq!(m.to, "kim@example.com");
        assert_eq!(m.removal_at, Some(later(10)));
        assert!(
            users::get(&s, &o, &id)
                .await
                .unwrap()
                .removal_schedule
                .unwrap()
                .warned
        );
        consistent(&s, "warned");
        // Due: removed through the engine (its audit event), the warning with it.
        let r = schedules::run_due(&s, &o, 100, "cron", later(10))
            .await
            .unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        assert!(users::get_any(&s, &o, &id).await.is_err());
        assert_eq!(warnings(&s, &o, &id).await, 0);
        let a = actions(&s, &o).await;
        for want in [
            "user.removal_scheduled",
            "user.removal_warning_queued",
            "user.removed",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        consistent(&s, "removed");
        // The head moved past the settled days, never past today.
        let head = roster_domain::records::read_counter(&s, &keys::schedule_head(&o.id))
            .await
            .unwrap();
        assert_eq!(head, schedules::day_of(later(10)) - 1);
        let r = schedules::run_due(&s, &o, 100, "cron", later(11))
            .await
            .unwrap();
        assert_eq!((r.removed, r.scanned), (0, 0));
    });
}

#[test]
fn a_removal_due_later_today_waits_and_a_soft_removal_ends_the_schedule() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(30));
    block_on(async {
        let id = user(&s, &o, "kim").await;
        let due = NOW.plus_millis(60_000);
        let new = NewSchedule::parse(due, None, NOW).unwrap();
        schedules::schedule(&s, &o, &id, new, "t1", NOW)
            .await
            .unwrap();
        let r = schedules::run_due(&s, &o, 100, "cron", NOW).await.unwrap();
        assert_eq!((r.removed, r.scanned), (0, 1), "{r:?}");
        let r = schedules::run_due(&s, &o, 100, "cron", due).await.unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        // Softly removed: restorable, and the restored user has no schedule.
        let u = users::get_any(&s, &o, &id).await.unwrap();
        assert_eq!(u.status, UserStatus::Deleted);
        assert!(u.removal_schedule.is_none());
        consistent(&s, "soft");
        let restored = roster_domain::removal::restore(&s, &o, &id, "t1", due)
            .await
            .unwrap();
        assert!(restored.removal_schedule.is_none());
        let r = schedules::run_due(&s, &o, 100, "cron", later(2))
            .await
            .unwrap();
        assert_eq!(r.removed, 0);
        consistent(&s, "restored");
    });
}

#[test]
fn validation_names_the_field() {
    let e = NewSchedule::parse(NOW, None, NOW).unwrap_err();
    assert_eq!(e.field, "at");
    let e = NewSchedule::parse(later(-1), None, NOW).unwrap_err();
    assert_eq!(e.field, "at");
    let e = NewSchedule::parse(later(schedules::MAX_SCHEDULE_DAYS + 1), None, NOW).unwrap_err();
    assert_eq!(e.field, "at");
    for w in [0, -1, schedules::MAX_WARN_DAYS + 1] {
        let e = NewSchedule::parse(later(5), Some(w), NOW).unwrap_err();
        assert_eq!(e.field, "warnDaysBefore", "{w}");
    }
    assert!(NewSchedule::parse(later(schedules::MAX_SCHEDULE_DAYS), Some(365), NOW).is_ok());
}

#[test]
fn cancelling_or_reactivating_stops_the_removal() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let b = user(&s, &o, "bob").await;
        let c = user(&s, &o, "cy").await;
        // bob is disabled (then re-activated), cy disabled and changed otherwise.
        for id in [&b, &c] {
            let ch = users::UserChanges {
                status: Some(UserStatus::Disabled),
                ..users::UserChanges::default()
            };
            users::update(&s, &o, id, None, ch, NOW).await.unwrap();
        }
        for id in [&a, &b, &c] {
            schedules::schedule(&s, &o, id, at(3, Some(1)), "t1", NOW)
                .await
                .unwrap();
        }
        let gone = schedules::cancel(&s, &o, &a, "t2", NOW).await.unwrap();
        assert_eq!(gone.unwrap().at, later(3));
        assert!(
            schedules::cancel(&s, &o, &a, "t2", NOW)
                .await
                .unwrap()
                .is_none()
        );
        let ch = users::UserChanges {
            status: Some(UserStatus::Active),
            ..users::UserChanges::default()
        };
        let u = users::update(&s, &o, &b, None, ch, NOW).await.unwrap();
        assert!(u.removal_schedule.is_none());
        // A change that is not a re-activation keeps the schedule.
        let ch = users::UserChanges {
            first_name: Some("Cyrus".into()),
            ..users::UserChanges::default()
        };
        let u = users::update(&s, &o, &c, None, ch, NOW).await.unwrap();
        assert!(u.removal_schedule.is_some());
        consistent(&s, "cancelled");
        let (events, _) = audit::list(&s, &o.id, 0, 200, None).await.unwrap();
        let causes: Vec<(String, String)> = events
            .iter()
            .filter(|e| e.action == "user.removal_schedule_cancelled")
            .map(|e| {
                (
                    e.subject.clone(),
                    e.details["cause"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            causes,
            vec![
                (audit::pseudonym(&o, &a), "cancelled".to_owned()),
                (audit::pseudonym(&o, &b), "reactivated".to_owned()),
            ]
        );
        let r = schedules::run_due(&s, &o, 100, "cron", later(3))
            .await
            .unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        // cy's warning was due a day before: queued late, before the removal.
        assert_eq!((r.warned, r.warned_late), (1, 1), "{r:?}");
        assert!(users::get(&s, &o, &a).await.is_ok());
        assert!(users::get(&s, &o, &b).await.is_ok());
        assert!(users::get_any(&s, &o, &c).await.is_err());
        consistent(&s, "ran");
        // Every entry of the cancelled schedules is dropped: nothing left to look at.
        let r = schedules::run_due(&s, &o, 100, "cron", later(4))
            .await
            .unwrap();
        assert_eq!(r.scanned, 0, "{r:?}");
    });
}

#[test]
fn a_held_user_is_reported_and_stays_scheduled_until_the_hold_is_lifted() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    block_on(async {
        let id = user(&s, &o, "kim").await;
        schedules::schedule(&s, &o, &id, at(2, None), "t1", NOW)
            .await
            .unwrap();
        let h = NewHold::parse("matter", None).unwrap();
        holds::place_user_hold(&s, &o, &id, h, true, "t1", NOW)
            .await
            .unwrap();
        for day in [2, 3] {
            let r = schedules::run_due(&s, &o, 100, "cron", later(day))
                .await
                .unwrap();
            assert_eq!((r.held, r.removed), (1, 0), "{r:?}");
            assert_eq!(r.held_user_ids, vec![id.clone()]);
            assert_eq!(r.refusals.len(), 1, "{r:?}");
            assert_eq!(r.refusals[0].mdm_user_id, id);
            assert_eq!(r.refusals[0].code, "legalHold");
            assert!(
                r.refusals[0]
                    .reason
                    .contains("under a user legal hold placed")
                    && !r.refusals[0].reason.contains("matter"),
                "{r:?}"
            );
            let u = users::get(&s, &o, &id).await.unwrap();
            assert_eq!(u.status, UserStatus::Active);
            assert!(u.removal_schedule.is_some());
            consistent(&s, "held");
        }
        holds::lift_user_hold(&s, &o, &id, "t1", later(3))
            .await
            .unwrap();
        let r = schedules::run_due(&s, &o, 100, "cron", later(3))
            .await
            .unwrap();
        assert_eq!((r.held, r.removed), (0, 1), "{r:?}");
        assert!(r.refusals.is_empty(), "{r:?}");
        consistent(&s, "lifted");
    });
}

#[test]
fn runs_are_bounded_and_continue_where_they_stopped() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    block_on(async {
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = user(&s, &o, &format!("u{i}")).await;
            schedules::schedule(&s, &o, &id, at(1 + i % 2, None), "t1", NOW)
                .await
                .unwrap();
            ids.push(id);
        }
        let mut removed = 0;
        let mut calls = 0;
        loop {
            let r = schedules::run_due(&s, &o, 2, "cron", later(5))
                .await
                .unwrap();
            assert!(r.scanned <= 2, "{r:?}");
            removed += r.removed;
            calls += 1;
            consistent(&s, "batch");
            if !r.more {
                break;
            }
        }
        assert_eq!(removed, 5);
        assert!(calls >= 3, "{calls}");
    });
}

#[test]
fn a_user_whose_removal_began_cannot_be_scheduled_and_unknown_users_are_not_found() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    block_on(async {
        let unknown = ObjectId::parse("id", "0123456789abcdef01234567").unwrap();
        let r = schedules::schedule(&s, &o, &unknown, at(2, None), "t1", NOW).await;
        assert!(matches!(r, Err(ScheduleError::NotFound)), "{r:?}");
        // A removal stopped after its mark: the user is pending_deletion.
        let id = user(&s, &o, "kim").await;
        let policy = roster_domain::removal::RemovalPolicy::wso2();
        let mut n = 1;
        loop {
            s.fail_nth(n);
            let r = roster_domain::removal::remove_user(&s, &o, &id, &policy, NOW).await;
            s.clear_faults();
            assert!(r.is_err(), "call {n}");
            let u = users::get(&s, &o, &id).await.unwrap();
            if u.status == UserStatus::PendingDeletion {
                break;
            }
            n += 1;
        }
        let r = schedules::schedule(&s, &o, &id, at(2, None), "t1", NOW).await;
        assert!(
            matches!(r, Err(ScheduleError::RemovalInProgress { .. })),
            "{r:?}"
        );
        consistent(&s, "pending");
    });
}

/// Schedules kim (two devices, a warning), then runs the warning day and the due day,
/// failing store call `n` of the run under test once; each run is then repeated until
/// it ends. Whatever `n`, exactly one warning is queued, kim is removed with her
/// devices' retire notices, and the store is consistent at every stage.
#[test]
fn runs_interrupted_at_every_store_call_end_consistent_with_one_warning() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        for i in 0..2 {
            let d = crate::helpers::device(i, roster_domain::model::DeviceStatus::Active);
            block_on(roster_domain::devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        }
        block_on(schedules::schedule(&s, &o, &id, at(10, Some(3)), "t1", NOW)).unwrap();
        (s, o, id)
    };
    for (stage, day) in [("warning", 8), ("removal", 10)] {
        let calls = {
            let (s, o, _) = setup();
            if stage == "removal" {
                block_on(schedules::run_due(&s, &o, 100, "cron", later(8))).unwrap();
            }
            s.clear_faults();
            block_on(schedules::run_due(&s, &o, 100, "cron", later(day))).unwrap();
            s.calls()
        };
        assert!(calls > 5, "{stage}: {calls}");
        for n in 1..=calls {
            let (s, o, id) = setup();
            if stage == "removal" {
                block_on(schedules::run_due(&s, &o, 100, "cron", later(8))).unwrap();
            }
            s.fail_nth(n);
            // Whether the fault stops the run (a best-effort call of the engine's
            // may not), what follows must end the same way.
            let _ = block_on(schedules::run_due(&s, &o, 100, "cron", later(day)));
            s.clear_faults();
            // A removal stopped half-way is the engine's journaled state (its own
            // tests cover it); a stopped warning leaves nothing inconsistent.
            if stage == "warning" {
                consistent(&s, &format!("{stage} call {n}, stopped"));
            }
            // Past any lease of the stopped attempt.
            let retry = later(day).plus_millis(2_000);
            let mut rounds = 0;
            while block_on(schedules::run_due(&s, &o, 100, "cron", retry))
                .unwrap()
                .more
            {
                rounds += 1;
                assert!(rounds < 10);
            }
            consistent(&s, &format!("{stage} call {n}, repeated"));
            if stage == "warning" {
                assert_eq!(block_on(warnings(&s, &o, &id)), 1, "call {n}");
                let u = block_on(users::get(&s, &o, &id)).unwrap();
                assert!(u.removal_schedule.unwrap().warned, "call {n}");
            } else {
                assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "call {n}");
                let (msgs, _) = block_on(outbox::pending(&s, &o, 0, 100)).unwrap();
                let retire = msgs
                    .iter()
                    .filter(|m| m.kind == MessageKind::DeviceRetire)
                    .count();
                assert_eq!(retire, 2, "call {n}");
                assert_eq!(block_on(warnings(&s, &o, &id)), 0, "call {n}");
            }
        }
    }
}

/// Scheduling whose store call `n` fails leaves the store consistent (the index is
/// written before the record), and repeating it schedules the user.
#[test]
fn scheduling_interrupted_at_every_store_call_ends_consistent() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        (s, o, id)
    };
    let calls = {
        let (s, o, id) = setup();
        s.clear_faults();
        block_on(schedules::schedule(&s, &o, &id, at(5, Some(2)), "t1", NOW)).unwrap();
        s.calls()
    };
    assert!(calls > 3, "{calls}");
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let first = block_on(schedules::schedule(&s, &o, &id, at(5, Some(2)), "t1", NOW));
        s.clear_faults();
        assert!(first.is_err(), "call {n}");
        consistent(&s, &format!("call {n}, stopped"));
        block_on(schedules::schedule(&s, &o, &id, at(5, Some(2)), "t1", NOW)).unwrap();
        consistent(&s, &format!("call {n}, repeated"));
        let r = block_on(schedules::run_due(&s, &o, 100, "cron", later(5))).unwrap();
        // The first run is after `at`: the warning goes out late, then the removal.
        assert_eq!(
            (r.removed, r.warned, r.warned_late),
            (1, 1, 1),
            "call {n}: {r:?}"
        );
        consistent(&s, &format!("call {n}, done"));
    }
}

// ---------------------------------------------------------------------------------
/// Asserts the reports of overlapping runs count a warning `n` times in all: exactly
/// once on Spin's SQLite store; at most once on its Redis store, where a swap never
/// confirms itself (docs/storage.md), so the call that made a write may not know it did
/// — the data is asserted exactly on both. (Removals are counted exactly once on both:
/// the engine tells the marking call by the audit number it reserved.)
fn counted_once(n: u64, at: &str) {
    if roster_domain::store::Flavor::from_env() == roster_domain::store::Flavor::Redis {
        assert!(n <= 1, "{at}: counted {n} times");
    } else {
        assert_eq!(n, 1, "{at}");
    }
}

/// Two due runs overlapping in every order of their store calls, on a user whose
/// warning is due: exactly one `removal_warning` is queued, one audit event says so,
/// and exactly one of the two reports counts it.
#[test]
fn overlapping_runs_queue_a_warning_once_and_count_it_once() {
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        block_on(schedules::schedule(&s, &o, &id, at(10, Some(3)), "t1", NOW)).unwrap();
        let st = Stepped::new(&s);
        let (a, b) = interleave(
            schedules::run_due(&st, &o, 100, "a", later(8)),
            schedules::run_due(&st, &o, 100, "b", later(8)),
            &mut pick,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(block_on(warnings(&s, &o, &id)), 1, "order {i}");
        counted_once(a.warned + b.warned, &format!("order {i}: {a:?} {b:?}"));
        let queued = block_on(actions(&s, &o))
            .iter()
            .filter(|x| *x == "user.removal_warning_queued")
            .count();
        assert_eq!(queued, 1, "order {i}");
        consistent(&s, &format!("order {i}"));
    }
}

/// Two due runs overlapping in every order on a user due for removal: it is removed
/// once (one audit event, its two devices' retire notices once) and exactly one
/// report counts it in `removed`.
#[test]
fn overlapping_runs_remove_a_user_once_and_count_it_once() {
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        for d in 0..2 {
            let d = crate::helpers::device(d, roster_domain::model::DeviceStatus::Active);
            block_on(roster_domain::devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        }
        block_on(schedules::schedule(&s, &o, &id, at(2, None), "t1", NOW)).unwrap();
        let st = Stepped::new(&s);
        let (a, b) = interleave(
            schedules::run_due(&st, &o, 100, "a", later(2)),
            schedules::run_due(&st, &o, 100, "b", later(2)),
            &mut pick,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "order {i}");
        assert_eq!(a.removed + b.removed, 1, "order {i}: {a:?} {b:?}");
        let removed = block_on(actions(&s, &o))
            .iter()
            .filter(|x| *x == "user.removed")
            .count();
        assert_eq!(removed, 1, "order {i}");
        let (msgs, _) = block_on(outbox::pending(&s, &o, 0, 100)).unwrap();
        let retire = msgs
            .iter()
            .filter(|m| m.kind == MessageKind::DeviceRetire)
            .count();
        assert_eq!(retire, 2, "order {i}");
        consistent(&s, &format!("order {i}"));
    }
}

/// A schedule whose warning is due when its removal is (`at` closer than
/// `warnDaysBefore`), run by two overlapping runs in every order: the warning is
/// queued once — its message written before the user is marked for removal — and the
/// user is removed once.
#[test]
fn a_removal_due_with_its_warning_is_warned_first_even_by_overlapping_runs() {
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        block_on(schedules::schedule(&s, &o, &id, at(1, Some(3)), "t1", NOW)).unwrap();
        let st = Stepped::new(&s);
        let (a, b) = interleave(
            schedules::run_due(&st, &o, 100, "a", later(1)),
            schedules::run_due(&st, &o, 100, "b", later(1)),
            &mut pick,
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "order {i}");
        assert_eq!(a.removed + b.removed, 1, "order {i}: {a:?} {b:?}");
        counted_once(a.warned + b.warned, &format!("order {i}: {a:?} {b:?}"));
        let writes = st.writes.borrow();
        let warning = writes
            .iter()
            .position(|(k, v)| k.contains("/outbox/") && v.contains("removal_warning"));
        let marked = writes
            .iter()
            .position(|(_, v)| v.contains("pending_deletion"));
        assert!(
            warning.is_some() && warning < marked,
            "order {i}: warning written at {warning:?}, user marked at {marked:?}"
        );
        consistent(&s, &format!("order {i}"));
    }
}

/// A schedule set closer than `warnDaysBefore` says its warning goes out at once (its
/// `warnAt` is when it was set), and a run that first sees a user after `at` (runs
/// called late, or a schedule that close) queues the missing warning before removing
/// the user, counting it in `warnedLate`.
#[test]
fn a_late_warning_is_queued_before_the_removal() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(30));
    block_on(async {
        let close = user(&s, &o, "ann").await;
        let late = user(&s, &o, "bob").await;
        let silent = user(&s, &o, "cy").await;
        let u = schedules::schedule(&s, &o, &close, at(1, Some(3)), "t1", NOW)
            .await
            .unwrap();
        assert_eq!(u.removal_schedule.unwrap().warn_at, Some(NOW));
        let u = schedules::schedule(&s, &o, &late, at(10, Some(3)), "t1", NOW)
            .await
            .unwrap();
        assert_eq!(u.removal_schedule.unwrap().warn_at, Some(later(7)));
        schedules::schedule(&s, &o, &silent, at(10, None), "t1", NOW)
            .await
            .unwrap();
        consistent(&s, "scheduled");
        // No run until after every `at`.
        let r = schedules::run_due(&s, &o, 100, "cron", later(11))
            .await
            .unwrap();
        assert_eq!(
            (r.removed, r.warned, r.warned_late, r.resumed),
            (3, 2, 2, 0),
            "{r:?}"
        );
        let (events, _) = audit::list(&s, &o.id, 0, 200, None).await.unwrap();
        for id in [&close, &late] {
            let mine: Vec<&str> = events
                .iter()
                .filter(|e| e.subject == audit::pseudonym(&o, id))
                .map(|e| e.action.as_str())
                .collect();
            assert_eq!(
                mine,
                [
                    "user.removal_scheduled",
                    "user.removal_warning_queued",
                    "user.soft_removed"
                ],
                "{mine:?}"
            );
        }
        consistent(&s, "removed");
    });
}

/// The run lists every due user it did not remove, once, with the engine's reason: a
/// held one (by the hold's scope and times) and one without the export the
/// organization requires; the list never outgrows the entries looked at.
#[test]
fn the_run_lists_whom_it_refused_and_why() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(0));
    let o = block_on(async {
        let changes = orgs::OrgChanges {
            policy: orgs::PolicyChanges::parse(Some(0), None, None)
                .unwrap()
                .with_export(Some(true), Some(3600))
                .unwrap(),
            ..orgs::OrgChanges::default()
        };
        orgs::update(&s, &o.id, None, changes, NOW).await.unwrap()
    });
    block_on(async {
        let held = user(&s, &o, "ann").await;
        let unexported = user(&s, &o, "bob").await;
        for id in [&held, &unexported] {
            // Two entries due each (the warning's day and the removal's).
            schedules::schedule(&s, &o, id, at(3, Some(1)), "t1", NOW)
                .await
                .unwrap();
        }
        let h = NewHold::parse("matter 42", None).unwrap();
        holds::place_user_hold(&s, &o, &held, h, true, "t1", NOW)
            .await
            .unwrap();
        let r = schedules::run_due(&s, &o, 100, "cron", later(4))
            .await
            .unwrap();
        assert_eq!((r.held, r.refused, r.removed), (1, 1, 0), "{r:?}");
        let codes: Vec<(&ObjectId, &str)> = r
            .refusals
            .iter()
            .map(|x| (&x.mdm_user_id, x.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [(&held, "legalHold"), (&unexported, "exportRequired")],
            "{r:?}"
        );
        assert!(
            r.refusals[1]
                .reason
                .contains("no export of its data in the last 3600 seconds (last export: never)"),
            "{r:?}"
        );
        assert!(!r.refusals[0].reason.contains("matter"), "{r:?}");
        // Bounded by what was looked at.
        let r = schedules::run_due(&s, &o, 1, "cron", later(4))
            .await
            .unwrap();
        assert!(r.refusals.len() <= 1 && r.scanned == 1, "{r:?}");
        consistent(&s, "refused");
    });
}

/// A due run and a cancellation of the same schedule overlapping in every order of
/// their store calls: a cancellation that answers "cancelled" leaves the user in place
/// (the engine's mark is conditional on the user as the run read it), and otherwise
/// the user is removed and the cancellation says the removal is in progress or the
/// user is gone. Either way the store is consistent.
#[test]
fn a_cancellation_during_a_due_run_is_never_answered_and_removed() {
    for (i, mut pick) in orders().into_iter().enumerate() {
        let s = MemoryStore::from_env();
        let o = org_with(&s, Some(0));
        let id = block_on(user(&s, &o, "kim"));
        block_on(schedules::schedule(&s, &o, &id, at(2, None), "t1", NOW)).unwrap();
        let st = Stepped::new(&s);
        let (run, cancelled) = interleave(
            schedules::run_due(&st, &o, 100, "a", later(2)),
            schedules::cancel(&st, &o, &id, "b", later(2)),
            &mut pick,
        );
        run.unwrap();
        let removed = block_on(users::get(&s, &o, &id)).is_err();
        match cancelled {
            Ok(Some(_)) => assert!(!removed, "order {i}: cancelled, yet removed"),
            Ok(None) => panic!("order {i}: the schedule was there"),
            Err(_) => assert!(removed, "order {i}: refused, yet not removed"),
        }
        consistent(&s, &format!("order {i}"));
    }
}
