//! Legal holds natively: every policy refuses a held user (its own hold or the
//! organization's) and the dry run names the hold; lifting or expiry lets the removal
//! through; the purge skips held soft removals and reports them; a hold is refused
//! once a removal has begun; placing and lifting are audited without the reason; and
//! a removal interrupted at every store call with a hold placed before the retry ends
//! consistent.

use crate::helpers::{DAY, NOW, consistent, disable, org_with, user};
use futures::executor::block_on;
use roster_domain::error::UserStateError;
use roster_domain::holds::{self, HoldError, NewHold};
use roster_domain::model::UserStatus;
use roster_domain::removal::{
    self, Blocker, HoldScope, RemovalError, RemovalOutcome, RemovalPolicy, remove_user,
};
use roster_domain::{MemoryStore, audit, orgs, users};

fn hold(reason: &str, expires_in: Option<i64>) -> NewHold {
    NewHold::parse(reason, expires_in).unwrap()
}

/// Every surface's policy (the purge's included).
fn policies() -> Vec<RemovalPolicy> {
    vec![
        RemovalPolicy::canonical(),
        RemovalPolicy::cas(),
        RemovalPolicy::dynatrace(),
        RemovalPolicy::wso2(),
        RemovalPolicy::scim(),
        RemovalPolicy::apim(true, true),
        RemovalPolicy::purge(),
    ]
}

fn held_by(r: Result<RemovalOutcome, RemovalError>, scope: HoldScope) -> bool {
    matches!(r, Err(RemovalError::Refused(Blocker::LegalHold { scope: s, .. })) if s == scope)
}

#[test]
fn every_policy_refuses_a_held_user_until_the_hold_is_lifted() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None);
    block_on(async {
        for (i, policy) in policies().into_iter().enumerate() {
            let id = user(&s, &o, &format!("held{i}")).await;
            let placed =
                holds::place_user_hold(&s, &o, &id, hold("matter 7", None), true, "t1", NOW)
                    .await
                    .unwrap();
            assert_eq!(placed.legal_hold.as_ref().unwrap().placed_by, "t1");
            let r = remove_user(&s, &o, &id, &policy, NOW).await;
            assert!(held_by(r, HoldScope::User), "{}", policy.surface);
            // Nothing changed: the user is as it was, the dry run names the hold.
            let u = users::get(&s, &o, &id).await.unwrap();
            assert_eq!(u.status, UserStatus::Active, "{}", policy.surface);
            let plan = removal::plan(&s, &o, &id, &policy, NOW).await.unwrap();
            assert_eq!(
                plan.blockers.first(),
                Some(&Blocker::LegalHold {
                    scope: HoldScope::User,
                    placed_at: NOW,
                    until: None
                }),
                "{}",
                policy.surface
            );
            consistent(&s, policy.surface);
            let lifted = holds::lift_user_hold(&s, &o, &id, "t2", NOW).await.unwrap();
            assert_eq!(lifted.unwrap().reason, "matter 7");
            // Lifting again changes nothing.
            assert!(
                holds::lift_user_hold(&s, &o, &id, "t2", NOW)
                    .await
                    .unwrap()
                    .is_none()
            );
            if policy.surface == "cas" {
                disable(&s, &o, &id).await;
            }
            let r = remove_user(&s, &o, &id, &policy, NOW).await.unwrap();
            if let RemovalOutcome::InProgress { operation, .. } = r {
                removal::poll(&s, &o, &operation.id, NOW).await.unwrap();
            }
            assert!(
                users::get_any(&s, &o, &id).await.is_err(),
                "{}",
                policy.surface
            );
            consistent(&s, policy.surface);
        }
    });
}

#[test]
fn a_hold_ends_by_itself_and_the_organization_wide_one_refuses_everyone() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let b = user(&s, &o, "bex").await;
        holds::place_user_hold(&s, &o, &a, hold("short", Some(60)), true, "t1", NOW)
            .await
            .unwrap();
        let policy = RemovalPolicy::wso2();
        assert!(held_by(
            remove_user(&s, &o, &a, &policy, NOW.plus_millis(59_999)).await,
            HoldScope::User
        ));
        // The organization-wide hold: everyone is refused, and a user's own hold is
        // named first while it is active.
        let o2 = holds::place_org_hold(&s, &o, hold("audit 2026", None), true, "t1", NOW)
            .await
            .unwrap();
        assert!(o2.legal_hold.is_some());
        assert!(held_by(
            remove_user(&s, &o2, &b, &policy, NOW).await,
            HoldScope::Organization
        ));
        assert!(held_by(
            remove_user(&s, &o2, &a, &policy, NOW).await,
            HoldScope::User
        ));
        let after = NOW.plus_millis(60_000);
        assert!(held_by(
            remove_user(&s, &o2, &a, &policy, after).await,
            HoldScope::Organization
        ));
        assert!(
            holds::lift_org_hold(&s, &o2, "t2", NOW)
                .await
                .unwrap()
                .is_some()
        );
        let o3 = orgs::get(&s, &o.id).await.unwrap();
        assert!(o3.legal_hold.is_none());
        // The user's hold expired: the removal goes through.
        remove_user(&s, &o3, &a, &policy, after).await.unwrap();
        remove_user(&s, &o3, &b, &policy, after).await.unwrap();
        consistent(&s, "after");
        // Audited, the reason nowhere in the log.
        let (events, _) = audit::list(&s, &o.id, 0, 100, None).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "user.hold_placed",
                "organization.hold_placed",
                "organization.hold_lifted",
                "user.removed",
                "user.removed"
            ]
        );
        assert_eq!(events[0].subject, audit::pseudonym(&o, &a));
        assert_eq!(events[0].actor, "t1");
        assert_eq!(events[0].details["scope"], "user");
        assert!(events[0].details["until"].is_string());
        assert_eq!(events[2].actor, "t2");
        let log = serde_json::to_string(&events).unwrap();
        assert!(
            !log.contains("short") && !log.contains("audit 2026"),
            "{log}"
        );
    });
}

/// An organization-wide hold written after a removal request read the organization but
/// before its mark: the mark's re-check reads the organization again and refuses, for
/// every policy and for the purge of an expired soft removal; the user is as it was.
#[test]
fn an_organization_hold_placed_after_a_removal_read_the_organization_refuses_it() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(1), None);
    block_on(async {
        let soft = user(&s, &o, "soft").await;
        remove_user(&s, &o, &soft, &RemovalPolicy::wso2(), NOW)
            .await
            .unwrap();
        let mut live = Vec::new();
        for policy in policies().iter().filter(|p| p.surface != "purge") {
            let id = user(&s, &o, &format!("live-{}", policy.surface)).await;
            if policy.require_disabled {
                disable(&s, &o, &id).await;
            }
            live.push(id);
        }
        // `o` is what each request read before the hold was written.
        holds::place_org_hold(&s, &o, hold("audit 2026", None), true, "t1", NOW)
            .await
            .unwrap();
        for (policy, id) in policies().iter().zip(&live) {
            let r = remove_user(&s, &o, id, policy, NOW).await;
            assert!(held_by(r, HoldScope::Organization), "{}", policy.surface);
            let u = users::get(&s, &o, id).await.unwrap();
            assert!(u.is_live() && u.removal.is_none(), "{}", policy.surface);
        }
        let later = NOW.plus_millis(2 * DAY);
        assert!(
            !removal::purge_if_expired(&s, &o, &soft, later)
                .await
                .unwrap()
        );
        let r = removal::purge_expired(&s, &o, 10, "cron", later)
            .await
            .unwrap();
        assert_eq!((r.purged, r.held), (0, 1));
        let u = users::get_any(&s, &o, &soft).await.unwrap();
        assert_eq!((u.status, u.removal.is_none()), (UserStatus::Deleted, true));
        consistent(&s, "removals refused after the mark");
        // Lifted: the same stale reads go through.
        holds::lift_org_hold(&s, &o, "t1", later).await.unwrap();
        for (policy, id) in policies().iter().zip(&live) {
            let r = remove_user(&s, &o, id, policy, later).await.unwrap();
            if let RemovalOutcome::InProgress { operation, .. } = r {
                removal::poll(&s, &o, &operation.id, later).await.unwrap();
            }
            assert!(users::get(&s, &o, id).await.is_err(), "{}", policy.surface);
        }
        let r = removal::purge_expired(&s, &o, 10, "cron", later)
            .await
            .unwrap();
        assert_eq!(r.purged, 1);
        consistent(&s, "after the lift");
    });
}

/// The same race, with the removal stopped at every store call: it had read the
/// organization before the hold; a retry (reading the organization with the hold) never
/// removes the user unless the stopped attempt had taken something already — its mark
/// came after the hold, and nothing of the user may go.
#[test]
fn a_removal_marked_after_an_organization_hold_and_stopped_is_refused_on_retry() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, None, None);
        let id = block_on(user(&s, &o, "kim"));
        let d = crate::helpers::device(1, roster_domain::model::DeviceStatus::Inactive);
        block_on(roster_domain::devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        block_on(holds::place_org_hold(
            &s,
            &o,
            hold("m", None),
            true,
            "t1",
            NOW,
        ))
        .unwrap();
        (s, o, id)
    };
    let policy = RemovalPolicy::wso2();
    // The calls of the refused attempt on the stale organization, to its refusal.
    let calls = {
        let (s, o, id) = setup();
        s.clear_faults();
        assert!(held_by(
            block_on(remove_user(&s, &o, &id, &policy, NOW)),
            HoldScope::Organization
        ));
        s.calls()
    };
    assert!(calls > 5, "{calls}");
    for n in 1..=calls {
        let (s, stale, id) = setup();
        s.stop_at(n);
        let first = block_on(remove_user(&s, &stale, &id, &policy, NOW));
        assert!(first.is_err(), "call {n}: {first:?}");
        s.clear_faults();
        let later = NOW.plus_millis(2_000);
        let o = block_on(orgs::get(&s, &stale.id)).unwrap();
        let retry = block_on(remove_user(&s, &o, &id, &policy, later));
        assert!(held_by(retry, HoldScope::Organization), "call {n}");
        let u = block_on(users::get(&s, &o, &id)).unwrap();
        assert!(u.is_live() && u.removal.is_none(), "call {n}");
        consistent(&s, &format!("call {n}"));
    }
}

/// Two removals of one user (both on the organization as read before the hold, soft
/// and permanent) and an organization-wide hold placed at once, in the interleavings
/// of `helpers::orders3()`: the two removals agree — the user is removed (its event
/// numbered before the hold's) or is live and untouched — and the store is consistent.
/// Stop 32's break test found the request that marked undoing the removal while the
/// other finished it: a live user without its claims, and an event after the hold.
#[test]
fn two_removals_of_one_user_racing_an_organization_hold_agree() {
    for retention in [Some(30), None] {
        for (n, order) in crate::helpers::orders3().into_iter().enumerate() {
            let s = MemoryStore::from_env();
            let o = org_with(&s, retention, None);
            let id = block_on(user(&s, &o, "kim"));
            let stepped = crate::helpers::Stepped::new(&s);
            let (stepped, o, id) = (&stepped, &o, &id);
            let policy = &RemovalPolicy::wso2();
            // `Ok(Some(true))` removed, `Ok(Some(false))` refused by the hold, `Ok(None)`
            // already removed by the other.
            let remove = || -> crate::helpers::Run<'_, Result<Option<bool>, String>> {
                Box::pin(async move {
                    match remove_user(stepped, o, id, policy, NOW).await {
                        Ok(_) => Ok(Some(true)),
                        Err(RemovalError::Refused(Blocker::LegalHold { .. })) => Ok(Some(false)),
                        Err(RemovalError::NotFound) => Ok(None),
                        Err(e) => Err(e.to_string()),
                    }
                })
            };
            let runs = vec![
                remove(),
                remove(),
                Box::pin(async move {
                    holds::place_org_hold(stepped, o, hold("m", None), true, "t1", NOW)
                        .await
                        .map(|_| None)
                        .map_err(|e| e.to_string())
                }) as crate::helpers::Run<'_, Result<Option<bool>, String>>,
            ];
            let out = crate::helpers::interleave_all(runs, order);
            let at = format!("{retention:?} order {n}: {out:?}");
            assert!(out.iter().all(Result::is_ok), "{at}");
            let live = block_on(users::get(&s, o, id)).is_ok();
            let (events, _) = block_on(audit::list(&s, &o.id, 0, 100, None)).unwrap();
            let number = |action: &str| {
                events
                    .iter()
                    .find(|e| e.action.starts_with(action))
                    .map(|e| e.number)
            };
            match (live, number("user."), number("organization.hold_placed")) {
                (true, None, Some(_)) => {
                    let u = block_on(users::get(&s, o, id)).unwrap();
                    assert!(u.removal.is_none(), "{at}");
                    assert_eq!(out[..2], [Ok(Some(false)), Ok(Some(false))], "{at}");
                }
                (false, Some(removed), Some(held)) => {
                    assert!(removed < held, "{at}: removed {removed}, held {held}");
                    assert!(out[..2].contains(&Ok(Some(true))), "{at}");
                    assert!(!out[..2].contains(&Ok(Some(false))), "{at}");
                }
                other => panic!("{at}: {other:?}"),
            }
            consistent(&s, &at);
        }
    }
}

#[test]
fn the_purge_skips_held_soft_removals_and_reports_them() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(1), None);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let b = user(&s, &o, "bex").await;
        for id in [&a, &b] {
            remove_user(&s, &o, id, &RemovalPolicy::wso2(), NOW)
                .await
                .unwrap();
        }
        // A softly removed user can be held: its purge stops.
        holds::place_user_hold(&s, &o, &a, hold("matter 7", None), true, "t1", NOW)
            .await
            .unwrap();
        let later = NOW.plus_millis(2 * DAY);
        assert!(!removal::purge_if_expired(&s, &o, &a, later).await.unwrap());
        let r = removal::purge_expired(&s, &o, 10, "cron", later)
            .await
            .unwrap();
        assert_eq!((r.purged, r.held, r.waiting), (1, 1, 0));
        assert_eq!(r.held_user_ids, vec![a.clone()]);
        assert_eq!(
            users::get_any(&s, &o, &a).await.unwrap().status,
            UserStatus::Deleted
        );
        assert!(users::get_any(&s, &o, &b).await.is_err());
        consistent(&s, "held purge");
        // Lifted: the next purge takes it.
        holds::lift_user_hold(&s, &o, &a, "t1", later)
            .await
            .unwrap();
        let r = removal::purge_expired(&s, &o, 10, "cron", later)
            .await
            .unwrap();
        assert_eq!((r.purged, r.held), (1, 0));
        assert!(users::get_any(&s, &o, &a).await.is_err());
        consistent(&s, "after lift");
    });
}

#[test]
fn a_hold_is_refused_once_a_removal_has_begun_and_that_removal_finishes() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, Some(1));
    block_on(async {
        let id = user(&s, &o, "kim").await;
        for i in 0..3 {
            let d = crate::helpers::device(i, roster_domain::model::DeviceStatus::Inactive);
            roster_domain::devices::enroll(&s, &o, &id, d, NOW)
                .await
                .unwrap();
        }
        let RemovalOutcome::InProgress { operation, .. } =
            remove_user(&s, &o, &id, &RemovalPolicy::apim(true, false), NOW)
                .await
                .unwrap()
        else {
            panic!("expected an asynchronous removal");
        };
        let r = holds::place_user_hold(&s, &o, &id, hold("late", None), true, "t1", NOW).await;
        assert!(
            matches!(r, Err(HoldError::State(UserStateError::RemovalInProgress { ref operation_id }) ) if *operation_id == operation.id),
            "{r:?}"
        );
        // An organization-wide hold placed now does not stop it either.
        let o2 = holds::place_org_hold(&s, &o, hold("late", None), true, "t1", NOW)
            .await
            .unwrap();
        for _ in 0..10 {
            removal::poll(&s, &o2, &operation.id, NOW).await.unwrap();
        }
        assert!(users::get_any(&s, &o, &id).await.is_err());
        consistent(&s, "finished");
        assert!(matches!(
            holds::place_user_hold(&s, &o, &id, hold("late", None), true, "t1", NOW).await,
            Err(HoldError::State(UserStateError::NotFound))
        ));
    });
}

#[test]
fn hold_requests_are_validated() {
    assert_eq!(NewHold::parse("", None).unwrap_err().field, "reason");
    assert_eq!(NewHold::parse("  ", None).unwrap_err().field, "reason");
    assert_eq!(
        NewHold::parse(&"x".repeat(257), None).unwrap_err().field,
        "reason"
    );
    assert_eq!(
        NewHold::parse("ok", Some(0)).unwrap_err().field,
        "expiresIn"
    );
    assert_eq!(
        NewHold::parse("ok", Some(holds::MAX_HOLD_SECONDS + 1))
            .unwrap_err()
            .field,
        "expiresIn"
    );
    assert!(NewHold::parse("ok", Some(holds::MAX_HOLD_SECONDS)).is_ok());
}

/// A removal whose store call `n` fails, then a hold placed, then the removal retried
/// until it ends: if the failed attempt had marked the user, the hold is refused and
/// the retry finishes the removal; otherwise the hold is placed, the retry is refused
/// naming it, and after the lift the removal completes. Either way the store is
/// consistent at every stage.
#[test]
fn a_removal_interrupted_at_every_call_with_a_hold_placed_before_the_retry() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, None, None);
        let id = block_on(user(&s, &o, "kim"));
        for i in 0..2 {
            let d = crate::helpers::device(i, roster_domain::model::DeviceStatus::Inactive);
            block_on(roster_domain::devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        }
        (s, o, id)
    };
    let policy = RemovalPolicy::wso2();
    let calls = {
        let (s, o, id) = setup();
        s.clear_faults();
        block_on(remove_user(&s, &o, &id, &policy, NOW)).unwrap();
        s.calls()
    };
    assert!(calls > 10, "{calls}");
    let (mut placed, mut refused) = (0, 0);
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let first = block_on(remove_user(&s, &o, &id, &policy, NOW));
        s.clear_faults();
        if first.is_ok() {
            // The last call is best effort (the operation forgetting the user's id):
            // the removal had finished, so there is no one to hold.
            assert_eq!(n, calls, "call {n}: the fault did not stop it");
            let h = block_on(holds::place_user_hold(
                &s,
                &o,
                &id,
                hold("m", None),
                true,
                "t1",
                NOW,
            ));
            assert!(
                matches!(h, Err(HoldError::State(UserStateError::NotFound))),
                "{h:?}"
            );
            consistent(&s, "last call");
            continue;
        }
        // Past the failed attempt's lease.
        let later = NOW.plus_millis(2_000);
        let h = block_on(holds::place_user_hold(
            &s,
            &o,
            &id,
            hold("matter", None),
            true,
            "t1",
            later,
        ));
        match h {
            Ok(_) => {
                placed += 1;
                assert!(
                    held_by(
                        block_on(remove_user(&s, &o, &id, &policy, later)),
                        HoldScope::User
                    ),
                    "call {n}"
                );
                consistent(&s, &format!("call {n}, held"));
                block_on(holds::lift_user_hold(&s, &o, &id, "t1", later)).unwrap();
            }
            Err(HoldError::State(UserStateError::RemovalInProgress { .. })) => refused += 1,
            Err(e) => panic!("call {n}: {e}"),
        }
        block_on(remove_user(&s, &o, &id, &policy, later)).unwrap();
        assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "call {n}");
        consistent(&s, &format!("call {n}, finished"));
    }
    // Both orders happen: faults before the mark and after it.
    assert!(
        placed > 0 && refused > 0,
        "{placed} placed, {refused} refused"
    );
}

#[test]
fn shortening_an_active_hold_needs_the_lift_permission() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        holds::place_user_hold(&s, &o, &a, hold("matter", Some(3600)), false, "t1", NOW)
            .await
            .unwrap();
        // Ending sooner, or giving an end-less hold an end, is a partial lift.
        for (shorter, label) in [(Some(1), "1 s"), (Some(3599), "3599 s")] {
            let r = holds::place_user_hold(&s, &o, &a, hold("x", shorter), false, "t2", NOW).await;
            assert!(
                matches!(r, Err(HoldError::ShortensActiveHold)),
                "{label}: {r:?}"
            );
        }
        // Extending (or making it open-ended) needs only create.
        holds::place_user_hold(&s, &o, &a, hold("matter", Some(7200)), false, "t2", NOW)
            .await
            .unwrap();
        holds::place_user_hold(&s, &o, &a, hold("matter", None), false, "t2", NOW)
            .await
            .unwrap();
        let r = holds::place_user_hold(&s, &o, &a, hold("x", Some(99_999)), false, "t3", NOW).await;
        assert!(matches!(r, Err(HoldError::ShortensActiveHold)), "{r:?}");
        // The refused attempts wrote nothing: the open-ended hold stands.
        let (_, h) = holds::user_hold(&s, &o, &a).await.unwrap();
        assert_eq!(h.as_ref().map(|h| h.until), Some(None));
        assert_eq!(h.unwrap().placed_by, "t2");
        // With the lift permission it may end it sooner.
        let u = holds::place_user_hold(&s, &o, &a, hold("x", Some(1)), true, "t4", NOW)
            .await
            .unwrap();
        assert!(u.legal_hold.unwrap().until.is_some());
        // Once ended, anyone with create places a new one of any length.
        let later = NOW.plus_millis(2_000);
        holds::place_user_hold(&s, &o, &a, hold("y", Some(1)), false, "t5", later)
            .await
            .unwrap();
        // The same rule for the organization's hold.
        let o2 = holds::place_org_hold(&s, &o, hold("org", None), false, "t1", NOW)
            .await
            .unwrap();
        let r = holds::place_org_hold(&s, &o2, hold("org", Some(1)), false, "t2", NOW).await;
        assert!(matches!(r, Err(HoldError::ShortensActiveHold)), "{r:?}");
        assert!(
            orgs::get(&s, &o.id)
                .await
                .unwrap()
                .legal_hold
                .unwrap()
                .until
                .is_none()
        );
        // Replacements of an active hold say so in the audit.
        let (events, _) = audit::list(&s, &o.id, 0, 100, None).await.unwrap();
        let replaced = events
            .iter()
            .filter(|e| e.details.get("replaced") == Some(&serde_json::Value::Bool(true)))
            .count();
        assert_eq!(replaced, 3, "7200 s, open-ended, and the 1 s by t4");
        consistent(&s, "after");
    });
}
