//! Scheduled removal through the real components (the host's clock is the wall clock,
//! so schedules here fall due a second or two ahead): the schedule routes, the user,
//! the dry run and the audit log showing it; the due-run route warning once and
//! removing through the removal engine (device-retire notices included); a held user
//! reported and kept (and listed in `refusals`); a re-activation cancelling; the
//! permissions; an `at` without a UTC offset refused; a warning already due when its
//! removal is queued first (`warnedLate`); overlapping runs queuing each warning once
//! and counting each removal once; and the due run, the warning and the scheduling each
//! interrupted at every key-value call, ending consistent.

use roster_domain::Timestamp;
use roster_tests::{App, Reply, assert_error};
use serde_json::{Value, json};
use std::time::Duration;

use crate::surfaces::user_with_devices;

fn base(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

fn canonical(org: &str, id: &str) -> String {
    format!("{}/mdm/users/{id}", base(org))
}

fn schedule_path(org: &str, id: &str) -> String {
    format!("{}/removal-schedule", canonical(org, id))
}

/// RFC 3339 of now plus `ms` milliseconds.
fn after_rfc(ms: i64) -> String {
    Timestamp::now().plus_millis(ms).to_rfc3339()
}

async fn put(app: &App, org: &str, id: &str, body: Value) -> Reply {
    app.call("PUT", &schedule_path(org, id), Some(body)).await
}

async fn run(app: &App, org: &str, limit: u64) -> Reply {
    app.call(
        "POST",
        &format!("{}/mdm/users/scheduled-removals", base(org)),
        Some(json!({ "limit": limit })),
    )
    .await
}

/// Waits until `at` has passed.
async fn wait_until(at: Timestamp) {
    loop {
        let now = Timestamp::now();
        if now > at {
            return;
        }
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(at.0 - now.0 + 20).unwrap(),
        ))
        .await;
    }
}

/// Now plus `ms` milliseconds.
fn after(ms: i64) -> Timestamp {
    Timestamp::now().plus_millis(ms)
}

/// The outbox's messages of `kind` addressed to `id`.
/// Asserts overlapping runs' reports counted `n` of `expected` events: exactly on
/// Spin's SQLite store; at most on its Redis store, where a swap never confirms itself
/// (the run that wrote may not know it). The tests assert the data exactly on both.
fn counted(n: u64, expected: u64, what: &str) {
    if std::env::var("ROSTER_KV").as_deref() == Ok("redis") {
        assert!(n <= expected, "{what}: {n}");
    } else {
        assert_eq!(n, expected, "{what}");
    }
}

/// The outbox's messages of `kind` addressed to `id`, every page of it.
async fn messages(app: &App, org: &str, kind: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .call(
                "GET",
                &format!("{}/mdm/outbox?limit=200{cursor}", base(org)),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        out.extend(
            r.body["data"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["kind"] == kind && m["userId"] == id)
                .cloned(),
        );
        match r.body["data"]["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

async fn actions(app: &App, org: &str, id: &str) -> Vec<(String, Value)> {
    let r = app
        .call("GET", &format!("{}/audit?userId={id}", base(org)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["details"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_shown_warned_about_once_and_done_by_the_run() {
    let app = App::start().await;
    let org = app.org("sched-basic").await;
    let id = user_with_devices(&app, &org, "kim", "ACTIVE").await;
    let due = after(2_500);
    let at = due.to_rfc3339();
    let r = put(&app, &org, &id, json!({"at": at, "warnDaysBefore": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("etag").is_some());
    assert_eq!(r.body["data"]["schedule"]["at"], at.as_str(), "{}", r.text);
    // The user, its schedule and the dry run show it.
    let u = app.call("GET", &canonical(&org, &id), None).await;
    assert_eq!(
        u.body["data"]["removalScheduledAt"],
        at.as_str(),
        "{}",
        u.text
    );
    let g = app.call("GET", &schedule_path(&org, &id), None).await;
    assert_eq!(g.body["data"]["schedule"]["at"], at.as_str(), "{}", g.text);
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", canonical(&org, &id)),
            None,
        )
        .await;
    assert_eq!(
        dry.body["data"]["removalSchedule"]["at"],
        at.as_str(),
        "{}",
        dry.text
    );
    // The warning is due at once (a day before a removal 2.5 s ahead): queued once.
    let r = run(&app, &org, 100).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["warned"], 1, "{}", r.text);
    assert_eq!(r.body["data"]["removed"], 0, "{}", r.text);
    let r = run(&app, &org, 100).await;
    assert_eq!(r.body["data"]["warned"], 0, "{}", r.text);
    let w = messages(&app, &org, "removal_warning", &id).await;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["removalAt"], at.as_str());
    assert_eq!(w[0]["to"], "kim@example.com");
    app.assert_consistent();
    wait_until(due).await;
    let r = run(&app, &org, 100).await;
    assert_eq!(r.body["data"]["removed"], 1, "{}", r.text);
    assert_error(
        &app.call("GET", &canonical(&org, &id), None).await,
        404,
        3001,
    );
    // Through the engine: its audit event, the devices' retire notices; the warning
    // (which holds the address) went with the user.
    assert_eq!(messages(&app, &org, "device_retire", &id).await.len(), 2);
    assert!(
        messages(&app, &org, "removal_warning", &id)
            .await
            .is_empty()
    );
    let a: Vec<String> = actions(&app, &org, &id)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        a,
        [
            "user.removal_scheduled",
            "user.removal_warning_queued",
            "user.removed"
        ],
        "{a:?}"
    );
    let r = run(&app, &org, 100).await;
    assert_eq!(r.body["data"]["scanned"], 0, "{}", r.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_user_is_kept_and_a_reactivation_cancels() {
    let app = App::start().await;
    let org = app.org("sched-held").await;
    let held = app.user(&org, "ann").await;
    let back = app.user(&org, "bob").await;
    let status = |id: &str| format!("{}/status", canonical(&org, id));
    let r = app
        .call("POST", &status(&back), Some(json!({"status": "disabled"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let due = after(1_500);
    let at = due.to_rfc3339();
    for id in [&held, &back] {
        assert_eq!(put(&app, &org, id, json!({"at": at})).await.status, 200);
    }
    let h = app
        .call(
            "PUT",
            &format!("{}/hold", canonical(&org, &held)),
            Some(json!({"reason": "matter"})),
        )
        .await;
    assert_eq!(h.status, 200, "{}", h.text);
    // The dry run names both: the hold wins.
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", canonical(&org, &held)),
            None,
        )
        .await;
    assert_eq!(
        dry.body["data"]["legalHold"]["scope"], "user",
        "{}",
        dry.text
    );
    assert!(
        dry.body["data"]["removalSchedule"]["at"].is_string(),
        "{}",
        dry.text
    );
    // bob is re-activated: his schedule is cancelled, and that is audited.
    let r = app
        .call("POST", &status(&back), Some(json!({"status": "active"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = app.call("GET", &schedule_path(&org, &back), None).await;
    assert_eq!(g.body["data"]["schedule"], Value::Null, "{}", g.text);
    let cancelled: Vec<Value> = actions(&app, &org, &back)
        .await
        .into_iter()
        .filter(|(a, _)| a == "user.removal_schedule_cancelled")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["cause"], "reactivated");
    wait_until(due).await;
    for _ in 0..2 {
        let r = run(&app, &org, 100).await;
        assert_eq!(r.body["data"]["held"], 1, "{}", r.text);
        assert_eq!(r.body["data"]["heldUserIds"], json!([held]), "{}", r.text);
        assert_eq!(r.body["data"]["removed"], 0, "{}", r.text);
        // Who was refused and why: the hold by its times, never its reason.
        let refusals = &r.body["data"]["refusals"];
        assert_eq!(refusals.as_array().map(Vec::len), Some(1), "{}", r.text);
        assert_eq!(refusals[0]["mdmUserId"], json!(held), "{}", r.text);
        assert_eq!(refusals[0]["code"], "legalHold", "{}", r.text);
        let why = refusals[0]["reason"].as_str().unwrap_or_default();
        assert!(
            why.contains("under a user legal hold placed") && !why.contains("matter"),
            "{}",
            r.text
        );
    }
    assert_eq!(
        app.call("GET", &canonical(&org, &back), None).await.status,
        200
    );
    assert_eq!(
        app.call("GET", &canonical(&org, &held), None).await.status,
        200
    );
    app.assert_consistent();
    let lift = app
        .call("DELETE", &format!("{}/hold", canonical(&org, &held)), None)
        .await;
    assert_eq!(lift.status, 200);
    let r = run(&app, &org, 100).await;
    assert_eq!(r.body["data"]["removed"], 1, "{}", r.text);
    assert_error(
        &app.call("GET", &canonical(&org, &held), None).await,
        404,
        3001,
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_need_their_own_permissions_and_valid_requests() {
    let app = App::start().await;
    let org = app.org("sched-perm").await;
    let id = app.user(&org, "kim").await;
    let path = schedule_path(&org, &id);
    let body = json!({"at": after_rfc(86_400_000)}).to_string();
    let remover = app
        .org_token(&org, json!(["mdm.global.mdmUser.*"]), None)
        .await;
    let reader = app
        .org_token(&org, json!(["mdm.global.removalSchedule.read"]), None)
        .await;
    let scheduler = app
        .org_token(&org, json!(["mdm.global.removalSchedule.create"]), None)
        .await;
    for (token, method, want) in [
        (&remover, "PUT", 403),
        (&remover, "GET", 403),
        (&reader, "GET", 200),
        (&reader, "PUT", 403),
        (&scheduler, "PUT", 200),
        (&scheduler, "DELETE", 403),
    ] {
        let b = (method == "PUT").then(|| body.clone());
        let r = app.send(method, &path, Some(token), &[], b).await;
        assert_eq!(r.status, want, "{method}: {}", r.text);
    }
    // The run needs mdm.global.mdmUser.remove, as the purge.
    let due = format!("{}/mdm/users/scheduled-removals", base(&org));
    let r = app.send("POST", &due, Some(&scheduler), &[], None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.send("POST", &due, Some(&remover), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Errors name the field.
    for (b, field) in [
        (json!({"at": "2001-01-01T00:00:00Z"}), "at"),
        (json!({"at": "soon"}), "at"),
        (
            json!({"at": after_rfc(86_400_000), "warnDaysBefore": 400}),
            "warnDaysBefore",
        ),
        (json!({}), "at"),
    ] {
        let r = put(&app, &org, &id, b.clone()).await;
        assert_eq!(r.status, 400, "{b}: {}", r.text);
        assert!(r.text.contains(field), "{b}: {}", r.text);
    }
    assert_error(&run(&app, &org, 5000).await, 400, 1001);
    assert_error(
        &put(
            &app,
            &org,
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            json!({"at": after_rfc(86_400_000)}),
        )
        .await,
        404,
        3001,
    );
    app.assert_consistent();
}

/// The due run (one entry per call) whose N-th key-value call fails, for every N: each
/// round removes the next due user (two devices each) whether the failed call stopped
/// it before, during or after its removal; the repeated call finishes it, nothing is
/// removed twice, and the store is consistent after every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_due_run_interrupted_at_every_key_value_call() {
    let app = App::start().await;
    let org = app.org("sched-faults").await;
    let probe = user_with_devices(&app, &org, "probe", "ACTIVE").await;
    let due = after(1_000);
    assert_eq!(
        put(
            &app,
            &org,
            &probe,
            json!({"at": due.to_rfc3339(), "warnDaysBefore": 1})
        )
        .await
        .status,
        200
    );
    wait_until(due).await;
    app.host.faults().clear();
    let r = run(&app, &org, 1).await;
    assert_eq!(r.body["data"]["removed"], 1, "{}", r.text);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 10, "a due run makes {calls} key-value calls");
    let mut ids = Vec::new();
    for n in 1..=calls {
        ids.push(user_with_devices(&app, &org, &format!("u{n}"), "ACTIVE").await);
    }
    // Scheduled in this order (the run takes them in it), all due together.
    let due = after(2_000 + i64::try_from(calls).unwrap() * 100);
    let at = due.to_rfc3339();
    for id in &ids {
        let r = put(&app, &org, id, json!({"at": at, "warnDaysBefore": 1})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    wait_until(due).await;
    let mut stopped = 0;
    for (n, id) in (1..=calls).zip(&ids) {
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = run(&app, &org, 1).await;
        app.host.faults().clear();
        if first.status != 200 {
            stopped += 1;
            assert_error(&first, 500, 5000);
        }
        let again = run(&app, &org, 1).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        assert_error(
            &app.call("GET", &canonical(&org, id), None).await,
            404,
            3001,
        );
        let (removals, log) = app.removals_in_audit(&org, id).await;
        assert_eq!(removals, 1, "call {n}: {log}");
        assert_eq!(
            messages(&app, &org, "device_retire", id).await.len(),
            2,
            "call {n}"
        );
        app.assert_consistent();
    }
    assert!(stopped > 0);
    let r = run(&app, &org, 100).await;
    assert_eq!(
        (
            r.body["data"]["removed"].as_u64(),
            r.body["data"]["more"].as_bool()
        ),
        (Some(0), Some(false)),
        "{}",
        r.text
    );
    app.assert_consistent();
}

/// The warning (one entry per call) whose N-th key-value call fails, for every N: after
/// the repeat, exactly one warning is queued for the user and it reads `warned`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warning_interrupted_at_every_key_value_call_is_queued_once() {
    let app = App::start().await;
    let org = app.org("sched-warn-faults").await;
    let later = after_rfc(2 * 86_400_000);
    let probe = app.user(&org, "probe").await;
    assert_eq!(
        put(
            &app,
            &org,
            &probe,
            json!({"at": later, "warnDaysBefore": 3})
        )
        .await
        .status,
        200
    );
    app.host.faults().clear();
    assert_eq!(run(&app, &org, 1).await.body["data"]["warned"], 1);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 5, "{calls}");
    for n in 1..=calls {
        let id = app.user(&org, &format!("w{n}")).await;
        let r = put(&app, &org, &id, json!({"at": later, "warnDaysBefore": 3})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = run(&app, &org, 1).await;
        app.host.faults().clear();
        assert!(first.status == 200 || first.status == 500, "{}", first.text);
        app.assert_consistent();
        let again = run(&app, &org, 1).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        assert_eq!(
            messages(&app, &org, "removal_warning", &id).await.len(),
            1,
            "call {n}"
        );
        let g = app.call("GET", &schedule_path(&org, &id), None).await;
        assert_eq!(
            g.body["data"]["schedule"]["warned"], true,
            "call {n}: {}",
            g.text
        );
        app.assert_consistent();
    }
}

/// Scheduling whose N-th key-value call fails, for every N: consistent (the index is
/// written before the record), and the repeat schedules the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_interrupted_at_every_key_value_call() {
    let app = App::start().await;
    let org = app.org("sched-put-faults").await;
    let later = after_rfc(86_400_000);
    let probe = app.user(&org, "probe").await;
    app.host.faults().clear();
    assert_eq!(
        put(&app, &org, &probe, json!({"at": later})).await.status,
        200
    );
    let calls = app.host.faults().kv_calls();
    for n in 1..=calls {
        let id = app.user(&org, &format!("p{n}")).await;
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = put(&app, &org, &id, json!({"at": later})).await;
        app.host.faults().clear();
        assert!(
            first.status == 500 || first.status == 200,
            "call {n}: {}",
            first.text
        );
        app.assert_consistent();
        let again = put(&app, &org, &id, json!({"at": later})).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        let u = app.call("GET", &canonical(&org, &id), None).await;
        assert!(u.body["data"]["removalScheduledAt"].is_string(), "call {n}");
        app.assert_consistent();
    }
}

/// A schedule closer than `warnDaysBefore`: the PUT answers that the warning goes out at
/// once (`warnAt` = `scheduledAt`), an `at` without a UTC offset is refused naming it,
/// and a run that finds the removal due queues the missing warning first, counts it as
/// late, then removes the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_due_with_its_removal_is_queued_first() {
    let app = App::start().await;
    let org = app.org("sched-late").await;
    let id = app.user(&org, "kim").await;
    let r = put(&app, &org, &id, json!({"at": "2030-01-01T09:00:00"})).await;
    assert_error(&r, 400, 1001);
    assert!(
        r.text.contains("at") && r.text.contains("UTC offset"),
        "{}",
        r.text
    );
    let due = after(1_500);
    let r = put(
        &app,
        &org,
        &id,
        json!({"at": due.to_rfc3339(), "warnDaysBefore": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.body["data"]["schedule"];
    assert!(s["warnAt"].is_string(), "{}", r.text);
    assert_eq!(s["warnAt"], s["scheduledAt"], "{}", r.text);
    wait_until(due).await;
    let r = run(&app, &org, 100).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["warned"].as_u64(),
            d["warnedLate"].as_u64(),
            d["removed"].as_u64(),
            d["resumed"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(0)),
        "{}",
        r.text
    );
    assert_eq!(d["refusals"], json!([]), "{}", r.text);
    let a: Vec<String> = actions(&app, &org, &id)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        a,
        [
            "user.removal_scheduled",
            "user.removal_warning_queued",
            "user.removed"
        ],
        "{a:?}"
    );
    app.assert_consistent();
}

/// Four due runs at once, twice: first on eight users whose warnings are due (each
/// warning queued once, one message each, the four reports counting eight in all), then
/// on eight users due for removal with their warnings not yet queued (each warned once
/// before it is removed once, the reports counting eight removals and eight late
/// warnings in all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_runs_queue_each_warning_once_and_count_each_removal_once() {
    let app = App::start().await;
    let org = app.org("sched-overlap").await;
    let sum = |rs: &[&Reply], field: &str| -> u64 {
        rs.iter()
            .map(|r| {
                assert_eq!(r.status, 200, "{}", r.text);
                r.body["data"][field].as_u64().unwrap()
            })
            .sum()
    };
    let mut warned = Vec::new();
    for i in 0..8 {
        let id = app.user(&org, &format!("w{i}")).await;
        let r = put(
            &app,
            &org,
            &id,
            json!({"at": after_rfc(86_400_000), "warnDaysBefore": 2}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        warned.push(id);
    }
    let (a, b, c, d) = tokio::join!(
        run(&app, &org, 100),
        run(&app, &org, 100),
        run(&app, &org, 100),
        run(&app, &org, 100)
    );
    // Exactly once on SQLite; at most once on Redis (see below); the data is exact.
    counted(sum(&[&a, &b, &c, &d], "warned"), 8, "warned");
    assert_eq!(sum(&[&a, &b, &c, &d], "warnedLate"), 0);
    for id in &warned {
        assert_eq!(
            messages(&app, &org, "removal_warning", id).await.len(),
            1,
            "{id}"
        );
    }
    app.assert_consistent();
    let due = after(2_000);
    let mut removed = Vec::new();
    for i in 0..8 {
        let id = app.user(&org, &format!("r{i}")).await;
        let r = put(
            &app,
            &org,
            &id,
            json!({"at": due.to_rfc3339(), "warnDaysBefore": 1}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        removed.push(id);
    }
    wait_until(due).await;
    let (a, b, c, d) = tokio::join!(
        run(&app, &org, 100),
        run(&app, &org, 100),
        run(&app, &org, 100),
        run(&app, &org, 100)
    );
    let all = [&a, &b, &c, &d];
    // The reports count each removal and warning once; on Spin's Redis store, where a
    // swap never confirms itself, the run that wrote may not know it (at most once).
    // The data below is exact on both.
    for field in ["removed", "warned", "warnedLate"] {
        counted(sum(&all, field), 8, field);
    }
    for id in &removed {
        // Each once (their order may differ: of overlapping runs, one may write the
        // removal's event before the other has written the warning's).
        let mut a: Vec<String> = actions(&app, &org, id)
            .await
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        a.sort();
        assert_eq!(
            a,
            [
                "user.removal_scheduled",
                "user.removal_warning_queued",
                "user.removed"
            ],
            "{id}: {a:?}"
        );
    }
    // The first eight are untouched (due tomorrow), still warned once.
    for id in &warned {
        assert_eq!(
            messages(&app, &org, "removal_warning", id).await.len(),
            1,
            "{id}"
        );
    }
    app.assert_consistent();
}
