//! Inactivity removal through the real components. The policy counts in days and the
//! host's clock is the wall clock, so a test makes a user inactive by backdating, in
//! the store itself, the user's `updatedAt` and the policy's `inactivitySince` (what
//! two days without a change leave behind) — the day arithmetic is the engine tests'.
//! Here: the sweep route scheduling an inactive user (shown on the user with its
//! reason), the due-run route warning and removing it through the engine (retire
//! notices included), a change of the user or the policy cancelling instead, the
//! permission and validation, and the sweep and the due run's cancellation each
//! interrupted at every key-value call (scheduled or cancelled exactly once).

use roster_domain::Timestamp;
use roster_tests::{App, Reply, assert_error};
use serde_json::{Value, json};

use crate::surfaces::user_with_devices;

const DAY: i64 = 86_400_000;

fn base(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

fn canonical(org: &str, id: &str) -> String {
    format!("{}/mdm/users/{id}", base(org))
}

async fn sweep(app: &App, org: &str) -> Reply {
    app.call(
        "POST",
        &format!("{}/mdm/users/inactivity-sweep", base(org)),
        Some(json!({"limit": 100})),
    )
    .await
}

async fn run(app: &App, org: &str) -> Reply {
    app.call(
        "POST",
        &format!("{}/mdm/users/scheduled-removals", base(org)),
        Some(json!({"limit": 100})),
    )
    .await
}

async fn set_policy(app: &App, org: &str, policy: Value) {
    let r = app
        .call("PATCH", &base(org), Some(json!({ "policy": policy })))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Rewrites the JSON record at `key` with `f` (a direct store write, as a seeding tool
/// would: the app is not asked).
fn rewrite(app: &App, key: &str, f: impl FnOnce(&mut Value)) {
    let kv = app.host.kv();
    let bytes = kv.get("default", key).unwrap().expect("the record exists");
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    f(&mut v);
    kv.set("default", key, &serde_json::to_vec(&v).unwrap())
        .unwrap();
}

/// Makes the policy's start and each user's last change `ms` milliseconds ago.
fn backdate(app: &App, org: &str, users: &[&str], ms: i64) {
    let then = Timestamp::now().0 - ms;
    rewrite(app, &format!("org/{org}"), |v| {
        v["policy"]["inactivitySince"] = json!(then);
    });
    for id in users {
        rewrite(app, &format!("o/{org}/user/{id}"), |v| {
            v["updatedAt"] = json!(then);
        });
    }
}

async fn messages(app: &App, org: &str, kind: &str, id: &str) -> usize {
    let r = app
        .call("GET", &format!("{}/mdm/outbox?limit=200", base(org)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind && m["userId"] == id)
        .count()
}

/// The details of the audit events `action` about user `id`.
async fn events(app: &App, org: &str, id: &str, action: &str) -> Vec<Value> {
    let r = app
        .call("GET", &format!("{}/audit?userId={id}", base(org)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| e["details"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_schedules_an_inactive_user_and_the_due_run_removes_it() {
    let app = App::start().await;
    let org = app.org("inact-flow").await;
    let kim = user_with_devices(&app, &org, "kim", "ACTIVE").await;
    let fresh = app.user(&org, "fresh").await;
    set_policy(&app, &org, json!({"inactivityDays": 1})).await;
    // Just switched on: nobody is due, whatever their last change.
    let r = sweep(&app, &org).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["data"]["enabled"].as_bool(),
            r.body["data"]["scanned"].as_u64(),
            r.body["data"]["scheduled"].as_u64()
        ),
        (Some(true), Some(2), Some(0)),
        "{}",
        r.text
    );
    backdate(&app, &org, &[&kim], 2 * DAY);
    let r = sweep(&app, &org).await;
    assert_eq!(r.body["data"]["scheduled"], 1, "{}", r.text);
    assert_eq!(r.body["data"]["more"], false, "{}", r.text);
    let u = app.call("GET", &canonical(&org, &kim), None).await;
    assert_eq!(
        u.body["data"]["removalScheduleReason"], "inactivity",
        "{}",
        u.text
    );
    assert!(
        u.body["data"]["removalScheduledAt"].is_string(),
        "{}",
        u.text
    );
    let f = app.call("GET", &canonical(&org, &fresh), None).await;
    assert!(
        f.body["data"].get("removalScheduledAt").is_none(),
        "{}",
        f.text
    );
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", canonical(&org, &kim)),
            None,
        )
        .await;
    assert_eq!(
        dry.body["data"]["removalSchedule"]["reason"], "inactivity",
        "{}",
        dry.text
    );
    let scheduled = events(&app, &org, &kim, "user.removal_scheduled").await;
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["reason"], "inactivity");
    app.assert_consistent();
    // Due at once (no warning): the run removes it through the engine.
    let r = run(&app, &org).await;
    assert_eq!(r.body["data"]["removed"], 1, "{}", r.text);
    assert_error(
        &app.call("GET", &canonical(&org, &kim), None).await,
        404,
        3001,
    );
    assert_eq!(messages(&app, &org, "device_retire", &kim).await, 2);
    assert_eq!(app.removals_in_audit(&org, &kim).await.0, 1);
    assert_eq!(
        app.call("GET", &canonical(&org, &fresh), None).await.status,
        200
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warning_comes_first_and_a_change_or_the_policy_cancels() {
    let app = App::start().await;
    let org = app.org("inact-cancel").await;
    let ann = app.user(&org, "ann").await;
    let bob = app.user(&org, "bob").await;
    let cy = app.user(&org, "cy").await;
    set_policy(
        &app,
        &org,
        json!({"inactivityDays": 2, "inactivityWarnDaysBefore": 1}),
    )
    .await;
    // Inactive for a day and a half: within the warning's day, not yet due.
    backdate(&app, &org, &[&ann, &bob, &cy], 3 * DAY / 2);
    let r = sweep(&app, &org).await;
    assert_eq!(r.body["data"]["scheduled"], 3, "{}", r.text);
    let s = app
        .call(
            "GET",
            &format!("{}/removal-schedule", canonical(&org, &ann)),
            None,
        )
        .await;
    assert_eq!(
        s.body["data"]["schedule"]["reason"], "inactivity",
        "{}",
        s.text
    );
    assert!(
        s.body["data"]["schedule"]["warnAt"].is_string(),
        "{}",
        s.text
    );
    // ann changes before the run: her schedule is cancelled, she is not warned.
    let r = app
        .call(
            "PATCH",
            &canonical(&org, &ann),
            Some(json!({"firstName": "Annie"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = run(&app, &org).await;
    assert_eq!(
        (
            r.body["data"]["warned"].as_u64(),
            r.body["data"]["removed"].as_u64()
        ),
        (Some(2), Some(0)),
        "{}",
        r.text
    );
    assert_eq!(messages(&app, &org, "removal_warning", &ann).await, 0);
    assert_eq!(messages(&app, &org, "removal_warning", &bob).await, 1);
    let c = events(&app, &org, &ann, "user.removal_schedule_cancelled").await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["cause"], "activity");
    let a = app.call("GET", &canonical(&org, &ann), None).await;
    assert!(
        a.body["data"].get("removalScheduledAt").is_none(),
        "{}",
        a.text
    );
    // The policy switched off: the sweep cancels bob's and cy's.
    set_policy(&app, &org, json!({"inactivityDays": null})).await;
    let r = sweep(&app, &org).await;
    assert_eq!(r.body["data"]["enabled"], false, "{}", r.text);
    set_policy(&app, &org, json!({"inactivityDays": 3})).await;
    let r = sweep(&app, &org).await;
    assert_eq!(
        (
            r.body["data"]["cancelled"].as_u64(),
            r.body["data"]["scheduled"].as_u64()
        ),
        (Some(2), Some(0)),
        "{}",
        r.text
    );
    for id in [&bob, &cy] {
        let c = events(&app, &org, id, "user.removal_schedule_cancelled").await;
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["cause"], "policyChanged");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_needs_the_remove_permission_and_valid_requests() {
    let app = App::start().await;
    let org = app.org("inact-perm").await;
    let path = format!("{}/mdm/users/inactivity-sweep", base(&org));
    let reader = app
        .org_token(&org, json!(["mdm.global.mdmUser.read"]), None)
        .await;
    let scheduler = app
        .org_token(&org, json!(["mdm.global.removalSchedule.*"]), None)
        .await;
    let remover = app
        .org_token(&org, json!(["mdm.global.mdmUser.remove"]), None)
        .await;
    for (token, want) in [(&reader, 403), (&scheduler, 403), (&remover, 200)] {
        let r = app.send("POST", &path, Some(token), &[], None).await;
        assert_eq!(r.status, want, "{}", r.text);
    }
    // Out of range: 1001; not an integer: 1002 (the canonical surface's codes).
    for (body, code) in [
        (json!({"limit": 0}), 1001),
        (json!({"limit": 1001}), 1001),
        (json!({"limit": "x"}), 1002),
    ] {
        let r = app.call("POST", &path, Some(body.clone())).await;
        assert_error(&r, 400, code);
        assert!(r.text.contains("limit"), "{body}: {}", r.text);
    }
    for (policy, field) in [
        (json!({"inactivityDays": 0}), "policy.inactivityDays"),
        (json!({"inactivityDays": 4000}), "policy.inactivityDays"),
        (
            json!({"inactivityWarnDaysBefore": 0}),
            "policy.inactivityWarnDaysBefore",
        ),
    ] {
        let r = app
            .call("PATCH", &base(&org), Some(json!({ "policy": policy })))
            .await;
        assert_eq!(r.status, 400, "{policy}: {}", r.text);
        assert!(r.text.contains(field), "{policy}: {}", r.text);
    }
    let r = app.call("GET", &base(&org), None).await;
    assert_eq!(r.body["data"]["policy"]["inactivityDays"], Value::Null);
    app.assert_consistent();
}

/// A sweep whose N-th key-value call fails, for every N (a fresh organization each
/// round): repeated, it schedules the inactive user exactly once (one
/// `user.removal_scheduled` event), and the due run then removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_interrupted_at_every_key_value_call_schedules_once() {
    let app = App::start().await;
    let setup = async |round: u64| {
        let org = app.org(&format!("inact-sweep-{round}")).await;
        let id = app.user(&org, "kim").await;
        set_policy(&app, &org, json!({"inactivityDays": 1})).await;
        backdate(&app, &org, &[&id], 2 * DAY);
        (org, id)
    };
    let (org, _) = setup(0).await;
    app.host.faults().clear();
    let r = sweep(&app, &org).await;
    assert_eq!(r.body["data"]["scheduled"], 1, "{}", r.text);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 8, "a sweep makes {calls} key-value calls");
    let mut stopped = 0;
    for n in 1..=calls {
        let (org, id) = setup(n).await;
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = sweep(&app, &org).await;
        app.host.faults().clear();
        if first.status != 200 {
            stopped += 1;
            assert_error(&first, 500, 5000);
        }
        app.assert_consistent();
        let again = sweep(&app, &org).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        let scheduled = events(&app, &org, &id, "user.removal_scheduled").await;
        assert_eq!(scheduled.len(), 1, "call {n}");
        let r = run(&app, &org).await;
        assert_eq!(r.body["data"]["removed"], 1, "call {n}: {}", r.text);
        app.assert_consistent();
    }
    assert!(stopped > 0);
}

/// The due run meeting an inactivity schedule whose user changed, its N-th key-value
/// call failing, for every N: repeated, it cancels once (one event, `activity`) and
/// removes nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancellation_interrupted_at_every_key_value_call_happens_once() {
    let app = App::start().await;
    let setup = async |round: u64| {
        let org = app.org(&format!("inact-cancel-{round}")).await;
        let id = app.user(&org, "kim").await;
        set_policy(&app, &org, json!({"inactivityDays": 1})).await;
        backdate(&app, &org, &[&id], 2 * DAY);
        let r = sweep(&app, &org).await;
        assert_eq!(r.body["data"]["scheduled"], 1, "{}", r.text);
        let r = app
            .call(
                "PATCH",
                &canonical(&org, &id),
                Some(json!({"lastName": "K"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        (org, id)
    };
    let (org, _) = setup(0).await;
    app.host.faults().clear();
    let r = run(&app, &org).await;
    assert_eq!(r.body["data"]["removed"], 0, "{}", r.text);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 6, "a cancelling run makes {calls} key-value calls");
    let mut stopped = 0;
    for n in 1..=calls {
        let (org, id) = setup(n).await;
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = run(&app, &org).await;
        app.host.faults().clear();
        if first.status != 200 {
            stopped += 1;
            assert_error(&first, 500, 5000);
        }
        app.assert_consistent();
        let again = run(&app, &org).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        assert_eq!(again.body["data"]["removed"], 0, "call {n}");
        let u = app.call("GET", &canonical(&org, &id), None).await;
        assert_eq!(u.status, 200, "call {n}: {}", u.text);
        assert!(
            u.body["data"].get("removalScheduledAt").is_none(),
            "call {n}"
        );
        let c = events(&app, &org, &id, "user.removal_schedule_cancelled").await;
        assert_eq!(c.len(), 1, "call {n}");
        assert_eq!(c[0]["cause"], "activity", "call {n}");
        app.assert_consistent();
    }
    assert!(stopped > 0);
}
