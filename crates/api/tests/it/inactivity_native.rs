//! Inactivity removal natively, with the clock moved forward: the policy's fields
//! (validation naming them, `inactivitySince` set by the server, `null` switching it
//! off); the sweep route scheduling an inactive user, shown on the user, its schedule,
//! the dry run and the bulk dry run with `reason: "inactivity"`; the due run warning
//! then removing it; a change of the user cancelling it instead; the sweep's `limit`.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{
    AuditRoute, InactivitySweepRoute, OrganizationRoute, OrganizationsRoute,
    ScheduledRemovalsRoute, UserRemovalScheduleRoute, UserRemovalsRoute, UserRoute,
};
use roster_api::{Ctx, Endpoint};
use roster_domain::{MemoryStore, Timestamp};
use serde_json::{Value, json};

use crate::common::{self, DAY, NOW, at, ctx, json_of, req};

fn day(days: i64) -> String {
    Timestamp(NOW.0 + days * DAY).to_rfc3339()
}

const O: [(&str, &str); 1] = [("organizationid", "acme")];

fn setup(store: &MemoryStore) -> String {
    common::acme_with_kim(store, Value::Null)
}

async fn patch_policy(store: &MemoryStore, policy: Value, c: &Ctx) -> Value {
    let r = OrganizationRoute::handle(
        &req(Method::PATCH, &O, "", Some(json!({ "policy": policy }))),
        store,
        c,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", json_of(&r));
    json_of(&r)["data"]["policy"].clone()
}

async fn sweep(store: &MemoryStore, c: &Ctx) -> Value {
    let r = InactivitySweepRoute::handle(&req(Method::POST, &O, "", None), store, c).await;
    assert_eq!(r.status(), 200, "{}", json_of(&r));
    json_of(&r)["data"].clone()
}

async fn run(store: &MemoryStore, c: &Ctx) -> Value {
    let r = ScheduledRemovalsRoute::handle(&req(Method::POST, &O, "", None), store, c).await;
    assert_eq!(r.status(), 200);
    json_of(&r)["data"].clone()
}

async fn audit_details(store: &MemoryStore, action: &str, c: &Ctx) -> Vec<Value> {
    let r = AuditRoute::handle(&req(Method::GET, &O, "", None), store, c).await;
    json_of(&r)["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| e["details"].clone())
        .collect()
}

fn consistent(store: &MemoryStore) {
    assert_eq!(roster_domain::invariants::check(&store.snapshot()), vec![]);
}

#[test]
fn the_policy_is_validated_naming_the_field_and_its_start_is_recorded() {
    let store = MemoryStore::from_env();
    setup(&store);
    block_on(async {
        for (body, field) in [
            (json!({"inactivityDays": 0}), "policy.inactivityDays"),
            (json!({"inactivityDays": 3651}), "policy.inactivityDays"),
            (json!({"inactivityDays": "30"}), "inactivityDays"),
            (
                json!({"inactivityWarnDaysBefore": 366}),
                "policy.inactivityWarnDaysBefore",
            ),
            (
                json!({"inactivitySince": "2026-01-01T00:00:00Z"}),
                "inactivitySince",
            ),
            // A warning as long as the inactivity would warn everyone at once.
            (
                json!({"inactivityDays": 30, "inactivityWarnDaysBefore": 30}),
                "policy.inactivityWarnDaysBefore",
            ),
        ] {
            let r = OrganizationRoute::handle(
                &req(Method::PATCH, &O, "", Some(json!({ "policy": body }))),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(r.status(), 400, "{body}");
            let m = json_of(&r)["error"]["message"].as_str().unwrap().to_owned();
            assert!(m.contains(field), "{body}: {m}");
        }
        let r = OrganizationRoute::handle(&req(Method::GET, &O, "", None), &store, &ctx()).await;
        let p = &json_of(&r)["data"]["policy"];
        assert_eq!(
            (&p["inactivityDays"], &p["inactivitySince"]),
            (&Value::Null, &Value::Null)
        );
        let p = patch_policy(
            &store,
            json!({"inactivityDays": 30, "inactivityWarnDaysBefore": 5}),
            &at(2),
        )
        .await;
        assert_eq!(p["inactivityDays"], 30);
        assert_eq!(p["inactivityWarnDaysBefore"], 5);
        assert_eq!(p["inactivitySince"], day(2));
        // Other fields leave it; the same days keep its start.
        let p = patch_policy(
            &store,
            json!({"inactivityDays": 30, "retentionDays": 3}),
            &at(4),
        )
        .await;
        assert_eq!(p["inactivitySince"], day(2));
        let p = patch_policy(&store, json!({"inactivityDays": 60}), &at(5)).await;
        assert_eq!(p["inactivitySince"], day(5));
        let p = patch_policy(&store, json!({"inactivityDays": null}), &at(6)).await;
        assert_eq!(p["inactivityDays"], Value::Null);
        assert_eq!(p["inactivitySince"], Value::Null);
        assert_eq!(p["inactivityWarnDaysBefore"], 5);
        // Off: the sweep looks at nobody.
        let r = sweep(&store, &at(400)).await;
        assert_eq!(
            (r["enabled"].as_bool(), r["scanned"].as_u64()),
            (Some(false), Some(0))
        );
        // Set at creation: counted from then.
        let r = OrganizationsRoute::handle(
            &req(
                Method::POST,
                &[],
                "",
                Some(json!({"name": "Beta", "slug": "beta", "policy": {"inactivityDays": 10}})),
            ),
            &store,
            &at(1),
        )
        .await;
        assert_eq!(r.status(), 201);
        assert_eq!(json_of(&r)["data"]["policy"]["inactivitySince"], day(1));
        // The sweep's limit.
        for body in [
            json!({"limit": 0}),
            json!({"limit": 1001}),
            json!({"max": 3}),
        ] {
            let r = InactivitySweepRoute::handle(
                &req(Method::POST, &O, "", Some(body.clone())),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(r.status(), 400, "{body}");
            let m = json_of(&r)["error"]["message"].as_str().unwrap().to_owned();
            assert!(m.contains("limit") || m.contains("max"), "{body}: {m}");
        }
        consistent(&store);
    });
}

#[test]
fn an_inactive_user_is_scheduled_shown_warned_and_removed() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        patch_policy(
            &store,
            json!({"inactivityDays": 30, "inactivityWarnDaysBefore": 5}),
            &ctx(),
        )
        .await;
        let r = sweep(&store, &at(24)).await;
        assert_eq!(
            (r["scanned"].as_u64(), r["scheduled"].as_u64()),
            (Some(1), Some(0)),
            "{r}"
        );
        let r = sweep(&store, &at(25)).await;
        assert_eq!(r["scheduled"], 1, "{r}");
        assert_eq!(
            (r["more"].as_bool(), r["cursor"].as_i64()),
            (Some(false), Some(0))
        );
        let u = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &at(25)).await;
        let u = json_of(&u)["data"].clone();
        assert_eq!(u["removalScheduledAt"], day(30));
        assert_eq!(u["removalScheduleReason"], "inactivity");
        assert_eq!(u["updatedAt"], day(0), "scheduling is not activity");
        let s = UserRemovalScheduleRoute::handle(&req(Method::GET, &p, "", None), &store, &at(25))
            .await;
        let s = json_of(&s)["data"]["schedule"].clone();
        assert_eq!(s["reason"], "inactivity");
        assert_eq!(s["inactiveSince"], day(0));
        assert_eq!(s["warnAt"], day(25));
        assert_eq!(s["scheduledBy"], "admin");
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &at(25),
        )
        .await;
        assert_eq!(
            json_of(&dry)["data"]["removalSchedule"]["reason"],
            "inactivity"
        );
        let bulk = UserRemovalsRoute::handle(
            &req(
                Method::POST,
                &O,
                "",
                Some(json!({"ids": [id], "dryRun": true})),
            ),
            &store,
            &at(25),
        )
        .await;
        let b = json_of(&bulk);
        assert_eq!(
            b["data"]["results"][0]["data"]["removalSchedule"]["reason"], "inactivity",
            "{b}"
        );
        let d = audit_details(&store, "user.removal_scheduled", &at(25)).await;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["reason"], "inactivity");
        assert_eq!(d[0]["at"], day(30));
        consistent(&store);
        let r = run(&store, &at(25)).await;
        assert_eq!(r["warned"], 1, "{r}");
        let r = run(&store, &at(30)).await;
        assert_eq!(r["removed"], 1, "{r}");
        let gone = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &at(30)).await;
        assert_eq!(gone.status(), 404);
        consistent(&store);
    });
}

#[test]
fn a_change_of_the_user_cancels_the_inactivity_removal() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        patch_policy(&store, json!({"inactivityDays": 30}), &ctx()).await;
        let r = sweep(&store, &at(31)).await;
        assert_eq!(r["scheduled"], 1, "{r}");
        let ch = UserRoute::handle(
            &req(
                Method::PATCH,
                &p,
                "",
                Some(json!({"firstName": "Kimberly"})),
            ),
            &store,
            &at(31),
        )
        .await;
        assert_eq!(ch.status(), 200, "{}", json_of(&ch));
        let r = run(&store, &at(32)).await;
        assert_eq!(r["removed"], 0, "{r}");
        let u = UserRoute::handle(&req(Method::GET, &p, "", None), &store, &at(32)).await;
        assert_eq!(u.status(), 200);
        let u = json_of(&u)["data"].clone();
        assert!(u.get("removalScheduledAt").is_none(), "{u}");
        assert!(u.get("removalScheduleReason").is_none(), "{u}");
        let d = audit_details(&store, "user.removal_schedule_cancelled", &at(32)).await;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["cause"], "activity");
        consistent(&store);
    });
}
