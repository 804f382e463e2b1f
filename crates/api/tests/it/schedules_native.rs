//! Scheduled removal natively, with the clock moved forward: the schedule routes set,
//! read and cancel; the user, the dry run (single and bulk) and the audit log show the
//! schedule; the due-run route queues the warning once and removes the user when due;
//! a held user is reported; validation names the field.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{
    AuditRoute, OutboxRoute, ScheduledRemovalsRoute, UserHoldRoute, UserRemovalScheduleRoute,
    UserRemovalsRoute, UserRoute,
};
use roster_api::{Ctx, Endpoint};
use roster_domain::{MemoryStore, Timestamp};
use serde_json::{Value, json};

use crate::common::{self, DAY, NOW, at, ctx, json_of, req};

fn setup(store: &MemoryStore) -> String {
    common::acme_with_kim(store, Value::Null)
}

async fn run(store: &MemoryStore, c: Ctx) -> Value {
    let o = [("organizationid", "acme")];
    let r = ScheduledRemovalsRoute::handle(
        &req(Method::POST, &o, "", Some(json!({"limit": 10}))),
        store,
        &c,
    )
    .await;
    assert_eq!(r.status(), 200);
    json_of(&r)["data"].clone()
}

fn consistent(store: &MemoryStore) {
    assert_eq!(roster_domain::invariants::check(&store.snapshot()), vec![]);
}

#[test]
fn a_schedule_is_shown_everywhere_warned_once_and_done_when_due() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let o = [("organizationid", "acme")];
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    let due = Timestamp(NOW.0 + 10 * DAY).to_rfc3339();
    block_on(async {
        let put = UserRemovalScheduleRoute::handle(
            &req(
                Method::PUT,
                &p,
                "",
                Some(json!({"at": "2026-12-02T09:16:00+02:00", "warnDaysBefore": 3})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(put.status(), 200, "{}", json_of(&put));
        assert!(put.headers().contains_key("etag"));
        let s = &json_of(&put)["data"]["schedule"];
        assert_eq!(s["at"], due);
        assert_eq!(s["warnAt"], "2026-11-29T07:16:00.000Z");
        assert_eq!(s["scheduledBy"], "admin");
        assert_eq!(s["warned"], false);
        let got =
            UserRemovalScheduleRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&got)["data"]["schedule"]["at"], due);
        // The user, the dry run and the bulk dry run name it.
        let u = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&u)["data"]["removalScheduledAt"], due);
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &ctx(),
        )
        .await;
        let d = json_of(&dry);
        assert_eq!(d["data"]["removalSchedule"]["at"], due, "{d}");
        assert_eq!(
            d["data"]["removalSchedule"]["warnAt"],
            "2026-11-29T07:16:00.000Z"
        );
        let bulk = UserRemovalsRoute::handle(
            &req(
                Method::POST,
                &o,
                "",
                Some(json!({"ids": [id], "dryRun": true})),
            ),
            &store,
            &ctx(),
        )
        .await;
        let b = json_of(&bulk);
        assert_eq!(
            b["data"]["results"][0]["data"]["removalSchedule"]["at"], due,
            "{b}"
        );
        consistent(&store);
        // The warning, once.
        let r = run(&store, at(6)).await;
        assert_eq!(
            (r["warned"].as_u64(), r["removed"].as_u64()),
            (Some(0), Some(0))
        );
        let r = run(&store, at(7)).await;
        assert_eq!(r["warned"], 1, "{r}");
        let r = run(&store, at(8)).await;
        assert_eq!(r["warned"], 0, "{r}");
        let out = OutboxRoute::handle(&req(Method::GET, &o, "", None), &store, &at(8)).await;
        let msgs = json_of(&out)["data"]["messages"].clone();
        let warnings: Vec<&Value> = msgs
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "removal_warning")
            .collect();
        assert_eq!(warnings.len(), 1, "{msgs}");
        assert_eq!(warnings[0]["removalAt"], due);
        assert_eq!(warnings[0]["to"], "kim@example.com");
        consistent(&store);
        // Due: removed.
        let r = run(&store, at(10)).await;
        assert_eq!(r["removed"], 1, "{r}");
        let gone = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &at(10)).await;
        assert_eq!(gone.status(), 404);
        let audit = AuditRoute::handle(&req(Method::GET, &o, "", None), &store, &at(10)).await;
        let a = json_of(&audit);
        let actions: Vec<&str> = a["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for want in [
            "user.removal_scheduled",
            "user.removal_warning_queued",
            "user.removed",
        ] {
            assert!(actions.contains(&want), "{want} in {actions:?}");
        }
        consistent(&store);
    });
}

#[test]
fn validation_names_the_field_and_cancelling_stops_it() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let o = [("organizationid", "acme")];
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        for (body, field) in [
            (json!({"at": "2026-11-22T07:15:00Z"}), "at"),
            (json!({"at": "tomorrow"}), "at"),
            (json!({"at": "2040-01-01T00:00:00Z"}), "at"),
            (
                json!({"at": "2026-12-22T07:15:00Z", "warnDaysBefore": 0}),
                "warnDaysBefore",
            ),
            (json!({"at": "2026-12-22T07:15:00Z", "when": 1}), "when"),
            // RFC 3339 needs a UTC offset: none is refused, not read as UTC.
            (json!({"at": "2026-12-22T07:15:00"}), "at"),
            (json!({"at": "2026-12-22T07:15:00.000"}), "at"),
            (json!({"at": "2026-12-22"}), "at"),
        ] {
            let r = UserRemovalScheduleRoute::handle(
                &req(Method::PUT, &p, "", Some(body.clone())),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(r.status(), 400, "{body}");
            let msg = json_of(&r)["error"]["message"].as_str().unwrap().to_owned();
            assert!(msg.contains(field), "{body}: {msg}");
            if body["at"].as_str().is_some_and(|a| !a.ends_with('Z')) {
                assert!(msg.contains("UTC offset"), "{body}: {msg}");
            }
        }
        // With an offset (or a lower-case z) it is accepted, and answered in UTC.
        for (given, utc) in [
            ("2026-12-22T08:15:00+01:00", "2026-12-22T07:15:00.000Z"),
            ("2026-12-22T02:15:00-05:00", "2026-12-22T07:15:00.000Z"),
            ("2026-12-22T07:15:00z", "2026-12-22T07:15:00.000Z"),
        ] {
            let r = UserRemovalScheduleRoute::handle(
                &req(Method::PUT, &p, "", Some(json!({"at": given}))),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(r.status(), 200, "{given}");
            assert_eq!(json_of(&r)["data"]["schedule"]["at"], utc, "{given}");
        }
        let bad_limit = ScheduledRemovalsRoute::handle(
            &req(Method::POST, &o, "", Some(json!({"limit": 0}))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(bad_limit.status(), 400);
        let put = UserRemovalScheduleRoute::handle(
            &req(
                Method::PUT,
                &p,
                "",
                Some(json!({"at": "2026-11-23T07:16:00Z"})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(put.status(), 200);
        let del =
            UserRemovalScheduleRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx())
                .await;
        let d = json_of(&del);
        assert_eq!(d["data"]["cancelled"], true);
        assert_eq!(d["data"]["schedule"]["at"], "2026-11-23T07:16:00.000Z");
        let again =
            UserRemovalScheduleRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx())
                .await;
        assert_eq!(json_of(&again)["data"]["cancelled"], false);
        assert_eq!(json_of(&again)["data"]["schedule"], Value::Null);
        let r =
            ScheduledRemovalsRoute::handle(&req(Method::POST, &o, "", None), &store, &at(2)).await;
        assert_eq!(json_of(&r)["data"]["removed"], 0);
        let u = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &at(2)).await;
        assert_eq!(u.status(), 200);
        assert!(json_of(&u)["data"].get("removalScheduledAt").is_none());
        // An unknown user is 404 / 3001.
        let q = [
            ("organizationid", "acme"),
            ("mdmuserid", "aaaaaaaaaaaaaaaaaaaaaaaa"),
        ];
        let r =
            UserRemovalScheduleRoute::handle(&req(Method::GET, &q, "", None), &store, &ctx()).await;
        assert_eq!(r.status(), 404);
        assert_eq!(json_of(&r)["error"]["code"], 3001);
        consistent(&store);
    });
}

#[test]
fn a_held_user_is_reported_by_the_run_and_stays_scheduled() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let o = [("organizationid", "acme")];
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        let put = UserRemovalScheduleRoute::handle(
            &req(
                Method::PUT,
                &p,
                "",
                Some(json!({"at": "2026-11-23T07:16:00Z"})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(put.status(), 200);
        let hold = UserHoldRoute::handle(
            &req(Method::PUT, &p, "", Some(json!({"reason": "matter"}))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(hold.status(), 200);
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &ctx(),
        )
        .await;
        let d = json_of(&dry);
        assert_eq!(d["data"]["legalHold"]["scope"], "user");
        assert_eq!(
            d["data"]["removalSchedule"]["at"],
            "2026-11-23T07:16:00.000Z"
        );
        let r =
            ScheduledRemovalsRoute::handle(&req(Method::POST, &o, "", None), &store, &at(2)).await;
        let r = json_of(&r)["data"].clone();
        assert_eq!(
            (r["held"].as_u64(), r["removed"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(r["heldUserIds"], json!([id]));
        // Who was refused and why, the hold named by its times, never its reason.
        assert_eq!(r["refusals"].as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(r["refusals"][0]["mdmUserId"], json!(id));
        assert_eq!(r["refusals"][0]["code"], "legalHold");
        let why = r["refusals"][0]["reason"].as_str().unwrap();
        assert!(
            why.contains("under a user legal hold placed") && !why.contains("matter"),
            "{why}"
        );
        let got =
            UserRemovalScheduleRoute::handle(&req(Method::GET, &p, "", None), &store, &at(2)).await;
        assert_eq!(
            json_of(&got)["data"]["schedule"]["at"],
            "2026-11-23T07:16:00.000Z"
        );
        consistent(&store);
    });
}

/// A schedule closer than `warnDaysBefore` is accepted and answers when its warning
/// goes out (at once: `warnAt` is `scheduledAt`); the first run after `at` queues the
/// warning, counted as late, before it removes the user.
#[test]
fn a_warning_already_due_goes_out_at_once_and_before_the_removal() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        let put = UserRemovalScheduleRoute::handle(
            &req(
                Method::PUT,
                &p,
                "",
                Some(json!({"at": "2026-11-23T07:16:00Z", "warnDaysBefore": 3})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(put.status(), 200);
        let s = json_of(&put)["data"]["schedule"].clone();
        assert_eq!(s["warnAt"], "2026-11-22T07:16:00.000Z", "{s}");
        assert_eq!(s["warnAt"], s["scheduledAt"], "{s}");
        let r = run(&store, at(2)).await;
        assert_eq!(
            (
                r["warned"].as_u64(),
                r["warnedLate"].as_u64(),
                r["removed"].as_u64(),
                r["resumed"].as_u64()
            ),
            (Some(1), Some(1), Some(1), Some(0)),
            "{r}"
        );
        assert_eq!(r["refusals"], json!([]), "{r}");
        let a = AuditRoute::handle(
            &req(
                Method::GET,
                &[("organizationid", "acme")],
                &format!("userId={id}"),
                None,
            ),
            &store,
            &at(2),
        )
        .await;
        let actions: Vec<Value> = json_of(&a)["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].clone())
            .collect();
        let warned = actions
            .iter()
            .position(|x| x == "user.removal_warning_queued");
        let removed = actions
            .iter()
            .position(|x| x == "user.removed" || x == "user.soft_removed");
        assert!(warned.is_some() && warned < removed, "{actions:?}");
        consistent(&store);
    });
}
