//! Export before erase natively: the document holds the user's data and no secret, and
//! nothing of it is kept (the store changes by the audit event and the export time
//! only); with `requireExportBeforeRemoval` every policy refuses a user without a fresh
//! export and the dry run names it; the window's edges; the purge of a soft removal
//! needs no new export, a restored user does; an export is refused once a removal has
//! begun; the policy is validated; and a removal (and an export) interrupted at every
//! store call ends consistent, never with an export time but no audit event.

use crate::helpers::{self, DAY, NOW, consistent, disable, user};
use futures::executor::block_on;
use roster_domain::export::{self, ExportError, FORMAT_VERSION};
use roster_domain::ids::ObjectId;
use roster_domain::model::{DeviceStatus, Organization, User, UserStatus};
use roster_domain::removal::{
    self, Blocker, RemovalError, RemovalOutcome, RemovalPolicy, remove_user,
};
use roster_domain::{
    MemoryStore, Timestamp, audit, devices, enrollment, groups, orgs, subscriptions, tokens, users,
};

/// One hour, the freshness window of these tests' organizations.
const WINDOW_S: i64 = 3600;

fn org_with(
    s: &MemoryStore,
    retention: Option<i64>,
    batch: Option<i64>,
    require: bool,
) -> Organization {
    helpers::org_with_policy(
        s,
        orgs::PolicyChanges::parse(retention, None, batch)
            .unwrap()
            .with_export(Some(require), Some(WINDOW_S))
            .unwrap(),
    )
}

fn needs_export(r: &Result<RemovalOutcome, RemovalError>, last: Option<Timestamp>) -> bool {
    matches!(r, Err(RemovalError::Refused(Blocker::ExportRequired { last_exported_at, max_age_seconds: 3600 })) if *last_exported_at == last)
}

/// Every surface's policy (the purge's included: on a live user it is a removal too).
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

async fn record(s: &MemoryStore, o: &Organization, id: &ObjectId) -> User {
    users::get_any(s, o, id).await.unwrap()
}

#[test]
fn the_export_holds_the_users_data_no_secret_and_nothing_of_it_is_kept() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None, false);
    block_on(async {
        let new = users::NewUser::parse("kim", Some("kim@example.com"), Some("Kim"), Some("Lee"))
            .unwrap()
            .with_password("password", "correct horse battery")
            .unwrap();
        let id = users::create(&s, &o, new, NOW).await.unwrap().id;
        let other = user(&s, &o, "bex").await;
        devices::enroll(
            &s,
            &o,
            &id,
            crate::helpers::device(1, DeviceStatus::Active),
            NOW,
        )
        .await
        .unwrap();
        devices::enroll(
            &s,
            &o,
            &other,
            crate::helpers::device(2, DeviceStatus::Active),
            NOW,
        )
        .await
        .unwrap();
        let et = enrollment::issue(&s, &o, &id, 600, NOW).await.unwrap();
        let (scope, name) = subscriptions::parse("/products/starter", Some("Starter")).unwrap();
        subscriptions::create(&s, &o, &id, scope, name, NOW)
            .await
            .unwrap();
        let g = groups::create(&s, &o, "staff".into(), String::new(), NOW)
            .await
            .unwrap();
        groups::add_member(&s, &o, &g.id, &id, NOW).await.unwrap();
        let t = tokens::NewToken::parse(
            "kim's ci",
            &["mdm.global.device.read".into()],
            None,
            Some(&id.to_string()),
            None,
        )
        .unwrap();
        let created = tokens::create(&s, Some(&o), t, None, NOW).await.unwrap();
        // An audit event about kim (a hold) and one about bex.
        let hold = roster_domain::holds::NewHold::parse("matter", None).unwrap();
        roster_domain::holds::place_user_hold(&s, &o, &id, hold.clone(), true, "t1", NOW)
            .await
            .unwrap();
        roster_domain::holds::place_user_hold(&s, &o, &other, hold, true, "t1", NOW)
            .await
            .unwrap();
        let before_user = record(&s, &o, &id).await;
        let before = s.snapshot();
        let later = NOW.plus_millis(5_000);
        let made = export::export_user(&s, &o, &id, "t9", later).await.unwrap();
        let d = &made.document;
        assert_eq!(d["formatVersion"], FORMAT_VERSION);
        assert_eq!(d["exportedAt"], later.to_rfc3339());
        assert_eq!(d["profile"]["id"], id.to_string());
        assert_eq!(d["profile"]["username"], "kim");
        assert_eq!(d["profile"]["email"], "kim@example.com");
        assert_eq!(d["profile"]["hasPassword"], true);
        assert_eq!(d["groups"], serde_json::json!(["staff"]));
        assert_eq!(d["devices"].as_array().unwrap().len(), 1);
        assert_eq!(d["devices"][0]["deviceIdentifier"], "imei-1");
        assert_eq!(d["enrollmentTokens"][0]["id"], et.id.to_string());
        assert_eq!(d["enrollmentTokens"][0]["status"], "pending");
        assert_eq!(d["subscriptions"][0]["scope"], "/products/starter");
        assert_eq!(d["apiTokens"][0]["id"], created.token.id.to_string());
        assert_eq!(d["apiTokens"][0]["name"], "kim's ci");
        assert_eq!(d["apiTokens"][0]["state"], "active");
        let events = d["auditEvents"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["action"], "user.hold_placed");
        assert_eq!(events[0]["subject"], audit::pseudonym(&o, &id));
        // No secret, digest, hash or hold reason.
        let text = d.to_string();
        for secret in [
            created.secret.as_str(),
            &created.secret[4..],
            created.token.digest.as_str(),
            before_user.password_hash.as_deref().unwrap(),
            "matter",
            "imei-2",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // The store changed by the audit event, its counter and the export time only.
        let after = s.snapshot();
        let changed: Vec<&String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(changed.len(), 3, "{changed:?}");
        assert!(before.keys().all(|k| after.contains_key(k)));
        let u = record(&s, &o, &id).await;
        assert_eq!(u.last_exported_at, Some(later));
        assert_eq!(made.user.last_exported_at, Some(later));
        // Not a change of the person: version and updatedAt stay (an If-Match holds).
        assert_eq!(
            (u.version, u.updated_at),
            (before_user.version, before_user.updated_at)
        );
        let mut back = u.clone();
        back.last_exported_at = None;
        assert_eq!(back, before_user);
        let (log, _) = audit::list(&s, &o.id, 0, 100, Some(&audit::pseudonym(&o, &id)))
            .await
            .unwrap();
        let e = log.last().unwrap();
        assert_eq!(
            (e.action.as_str(), e.actor.as_str(), e.at),
            ("user.exported", "t9", later)
        );
        assert_eq!(
            e.details,
            [("formatVersion".to_owned(), serde_json::json!(1))]
                .into_iter()
                .collect()
        );
        // A second export lists the first one among the events.
        let again = export::export_user(&s, &o, &id, "t9", later).await.unwrap();
        let actions: Vec<&str> = again.document["auditEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["user.hold_placed", "user.exported"]);
        consistent(&s, "exported");
        let missing = ObjectId::generate(NOW);
        assert!(matches!(
            export::export_user(&s, &o, &missing, "t9", later).await,
            Err(ExportError::NotFound)
        ));
    });
}

#[test]
fn every_policy_refuses_without_a_fresh_export_and_the_dry_run_names_it() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None, true);
    block_on(async {
        for (i, policy) in policies().into_iter().enumerate() {
            let id = user(&s, &o, &format!("u{i}")).await;
            if policy.surface == "cas" {
                disable(&s, &o, &id).await;
            }
            let r = remove_user(&s, &o, &id, &policy, NOW).await;
            assert!(needs_export(&r, None), "{}: {r:?}", policy.surface);
            let plan = removal::plan(&s, &o, &id, &policy, NOW).await.unwrap();
            assert_eq!(
                plan.blockers,
                vec![Blocker::ExportRequired {
                    last_exported_at: None,
                    max_age_seconds: 3600
                }],
                "{}",
                policy.surface
            );
            assert_eq!(record(&s, &o, &id).await.status, plan.user.status);
            consistent(&s, policy.surface);
            export::export_user(&s, &o, &id, "t1", NOW).await.unwrap();
            // One millisecond past the window: stale again, and named by its time.
            let stale = NOW.plus_millis(WINDOW_S * 1000 + 1);
            let r = remove_user(&s, &o, &id, &policy, stale).await;
            assert!(needs_export(&r, Some(NOW)), "{}: {r:?}", policy.surface);
            // At the window's end it is still fresh.
            let edge = NOW.plus_millis(WINDOW_S * 1000);
            assert!(
                removal::plan(&s, &o, &id, &policy, edge)
                    .await
                    .unwrap()
                    .blockers
                    .is_empty()
            );
            let r = remove_user(&s, &o, &id, &policy, edge).await.unwrap();
            if let RemovalOutcome::InProgress { operation, .. } = r {
                removal::poll(&s, &o, &operation.id, edge).await.unwrap();
            }
            assert!(
                users::get_any(&s, &o, &id).await.is_err(),
                "{}",
                policy.surface
            );
            consistent(&s, policy.surface);
        }
        // An export dated after `now` (a clock that went back) is not fresh.
        let id = user(&s, &o, "future").await;
        export::export_user(&s, &o, &id, "t1", NOW.plus_millis(10))
            .await
            .unwrap();
        let r = remove_user(&s, &o, &id, &RemovalPolicy::wso2(), NOW).await;
        assert!(needs_export(&r, Some(NOW.plus_millis(10))), "{r:?}");
    });
}

#[test]
fn without_the_policy_nothing_changes_and_a_hold_comes_first() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, None, false);
    block_on(async {
        let id = user(&s, &o, "kim").await;
        assert!(
            removal::plan(&s, &o, &id, &RemovalPolicy::wso2(), NOW)
                .await
                .unwrap()
                .blockers
                .is_empty()
        );
        let o = org_with_policy_on(&s, &o).await;
        let hold = roster_domain::holds::NewHold::parse("matter", None).unwrap();
        roster_domain::holds::place_user_hold(&s, &o, &id, hold, true, "t1", NOW)
            .await
            .unwrap();
        let plan = removal::plan(&s, &o, &id, &RemovalPolicy::wso2(), NOW)
            .await
            .unwrap();
        assert!(
            matches!(
                plan.blockers[..],
                [Blocker::LegalHold { .. }, Blocker::ExportRequired { .. }]
            ),
            "{:?}",
            plan.blockers
        );
        let r = remove_user(&s, &o, &id, &RemovalPolicy::wso2(), NOW).await;
        assert!(
            matches!(r, Err(RemovalError::Refused(Blocker::LegalHold { .. }))),
            "{r:?}"
        );
        consistent(&s, "held");
    });
}

async fn org_with_policy_on(s: &MemoryStore, o: &Organization) -> Organization {
    let changes = orgs::OrgChanges {
        policy: orgs::PolicyChanges::default()
            .with_export(Some(true), None)
            .unwrap(),
        ..orgs::OrgChanges::default()
    };
    let o = orgs::update(s, &o.id, None, changes, NOW).await.unwrap();
    assert!(o.policy.require_export_before_removal);
    // The window was set before and stays.
    assert_eq!(o.policy.export_max_age_seconds, 3600);
    o
}

#[test]
fn the_purge_of_a_soft_removal_needs_no_new_export_but_a_restored_user_does() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, Some(1), None, true);
    block_on(async {
        let a = user(&s, &o, "ann").await;
        let b = user(&s, &o, "bex").await;
        for id in [&a, &b] {
            export::export_user(&s, &o, id, "t1", NOW).await.unwrap();
            remove_user(&s, &o, id, &RemovalPolicy::wso2(), NOW)
                .await
                .unwrap();
            assert_eq!(record(&s, &o, id).await.status, UserStatus::Deleted);
        }
        // Two days later both exports are stale: the purge takes ann all the same.
        let later = NOW.plus_millis(2 * DAY);
        let r = removal::purge_expired(&s, &o, 10, "cron", later)
            .await
            .unwrap();
        assert_eq!((r.purged, r.held), (2, 0));
        assert!(users::get_any(&s, &o, &a).await.is_err());
        consistent(&s, "purged");
        // A restored user is live again: its removal needs a fresh export.
        let c = user(&s, &o, "cat").await;
        export::export_user(&s, &o, &c, "t1", NOW).await.unwrap();
        remove_user(&s, &o, &c, &RemovalPolicy::wso2(), NOW)
            .await
            .unwrap();
        let soon = NOW.plus_millis(2 * WINDOW_S * 1000);
        removal::restore(&s, &o, &c, "t1", soon).await.unwrap();
        let r = remove_user(&s, &o, &c, &RemovalPolicy::wso2(), soon).await;
        assert!(needs_export(&r, Some(NOW)), "{r:?}");
        // A softly removed user can be exported too (its data still exists).
        export::export_user(&s, &o, &c, "t1", soon).await.unwrap();
        remove_user(&s, &o, &c, &RemovalPolicy::wso2(), soon)
            .await
            .unwrap();
        let again = export::export_user(&s, &o, &c, "t1", soon).await.unwrap();
        assert_eq!(again.document["profile"]["status"], "deleted");
        assert!(again.document["profile"]["softRemoval"]["purgeAfter"].is_string());
        consistent(&s, "restored and removed");
    });
}

#[test]
fn an_export_is_refused_once_a_removal_has_begun_and_that_removal_finishes() {
    let s = MemoryStore::from_env();
    let o = org_with(&s, None, Some(1), true);
    block_on(async {
        let id = user(&s, &o, "kim").await;
        for i in 0..3 {
            let d = crate::helpers::device(i, DeviceStatus::Inactive);
            devices::enroll(&s, &o, &id, d, NOW).await.unwrap();
        }
        export::export_user(&s, &o, &id, "t1", NOW).await.unwrap();
        let RemovalOutcome::InProgress { operation, .. } =
            remove_user(&s, &o, &id, &RemovalPolicy::apim(true, false), NOW)
                .await
                .unwrap()
        else {
            panic!("expected an asynchronous removal");
        };
        let r = export::export_user(&s, &o, &id, "t1", NOW).await;
        assert!(
            matches!(r, Err(ExportError::RemovalInProgress { ref operation_id }) if *operation_id == operation.id),
            "{r:?}"
        );
        // The window ends meanwhile: the removal under way still finishes.
        let stale = NOW.plus_millis(2 * WINDOW_S * 1000);
        for _ in 0..10 {
            removal::poll(&s, &o, &operation.id, stale).await.unwrap();
        }
        assert!(users::get_any(&s, &o, &id).await.is_err());
        consistent(&s, "finished");
        assert!(matches!(
            export::export_user(&s, &o, &id, "t1", stale).await,
            Err(ExportError::NotFound)
        ));
    });
}

#[test]
fn the_policy_is_validated_naming_the_field() {
    let p = || orgs::PolicyChanges::default();
    for bad in [0, 59, 7_776_001, -1, i64::MAX] {
        assert_eq!(
            p().with_export(None, Some(bad)).unwrap_err().field,
            "policy.exportMaxAgeSeconds",
            "{bad}"
        );
    }
    for good in [60, 86_400, 7_776_000] {
        let c = p().with_export(Some(true), Some(good)).unwrap();
        assert_eq!(c.export_max_age_seconds, Some(u32::try_from(good).unwrap()));
    }
    let d = roster_domain::model::OrgPolicy::default();
    assert!(!d.require_export_before_removal);
    assert_eq!(d.export_max_age_seconds, 86_400);
}

/// A removal under the policy, with a fresh export made first, whose store call `n`
/// fails, then retried until it ends: the export made before still counts, every stage
/// is consistent and the user is gone.
#[test]
fn a_removal_interrupted_at_every_call_with_the_policy_and_a_fresh_export() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, None, None, true);
        let id = block_on(user(&s, &o, "kim"));
        for i in 0..2 {
            let d = crate::helpers::device(i, DeviceStatus::Inactive);
            block_on(devices::enroll(&s, &o, &id, d, NOW)).unwrap();
        }
        block_on(export::export_user(&s, &o, &id, "t1", NOW)).unwrap();
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
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let first = block_on(remove_user(&s, &o, &id, &policy, NOW));
        s.clear_faults();
        if first.is_err() {
            // Past the failed attempt's lease, still within the window.
            let later = NOW.plus_millis(2_000);
            block_on(remove_user(&s, &o, &id, &policy, later)).unwrap();
        }
        assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "call {n}");
        consistent(&s, &format!("call {n}, finished"));
    }
}

/// An export whose store call `n` fails: no export time is ever recorded without its
/// audit event, a removal is refused until an export succeeds, and a repeated export
/// then lets it through.
#[test]
fn an_export_interrupted_at_every_call_never_records_a_time_without_its_event() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org_with(&s, None, None, true);
        let id = block_on(user(&s, &o, "kim"));
        block_on(devices::enroll(
            &s,
            &o,
            &id,
            crate::helpers::device(1, DeviceStatus::Inactive),
            NOW,
        ))
        .unwrap();
        (s, o, id)
    };
    let calls = {
        let (s, o, id) = setup();
        s.clear_faults();
        block_on(export::export_user(&s, &o, &id, "t1", NOW)).unwrap();
        s.calls()
    };
    assert!(calls > 3, "{calls}");
    let exported = |s: &MemoryStore, o: &Organization, id: &ObjectId| {
        let (log, _) = block_on(audit::list(
            s,
            &o.id,
            0,
            100,
            Some(&audit::pseudonym(o, id)),
        ))
        .unwrap();
        log.iter().any(|e| e.action == "user.exported")
    };
    let (mut recorded, mut not_recorded) = (0, 0);
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let r = block_on(export::export_user(&s, &o, &id, "t1", NOW));
        s.clear_faults();
        assert!(r.is_err(), "call {n}: the fault did not stop it");
        consistent(&s, &format!("call {n}"));
        let u = block_on(record(&s, &o, &id));
        if u.last_exported_at.is_some() {
            recorded += 1;
        } else {
            not_recorded += 1;
            let r = block_on(remove_user(&s, &o, &id, &RemovalPolicy::wso2(), NOW));
            assert!(needs_export(&r, None), "call {n}: {r:?}");
        }
        assert!(
            u.last_exported_at.is_none() || exported(&s, &o, &id),
            "call {n}"
        );
        block_on(export::export_user(&s, &o, &id, "t1", NOW)).unwrap();
        assert!(exported(&s, &o, &id), "call {n}");
        block_on(remove_user(&s, &o, &id, &RemovalPolicy::wso2(), NOW)).unwrap();
        assert!(block_on(users::get_any(&s, &o, &id)).is_err(), "call {n}");
        consistent(&s, &format!("call {n}, removed"));
    }
    assert!(not_recorded > 0, "{recorded} recorded, {not_recorded} not");
}
