//! Legal holds through the real components: every removal path (canonical, bulk, WSO2,
//! CAS, Dynatrace, API Management, SCIM, the purge of an expired soft removal) refuses
//! a held user in its own surface's shape and succeeds after the lift or the hold's end;
//! the dry run names the hold; the organization-wide hold; the audit events and the
//! permissions; and a removal (and a hold's placement) interrupted at every key-value
//! call with a hold placed before the retry, ending consistent.

use roster_tests::{App, Reply, assert_error};

use crate::surfaces::{PATHS, Path, Target, base, canonical, remove, user, user_with_devices};
use serde_json::{Value, json};

const SUB: &str = "11111111-1111-1111-1111-111111111111";
const SERVICE: &str = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/holdService";

async fn place(app: &App, org: &str, id: &str, body: Value) -> Reply {
    app.call("PUT", &format!("{}/hold", canonical(org, id)), Some(body))
        .await
}

async fn lift(app: &App, org: &str, id: &str) -> Reply {
    app.call("DELETE", &format!("{}/hold", canonical(org, id)), None)
        .await
}

/// Asserts `r` is the surface's refusal naming a hold of `scope` (`a user` or `an
/// organization-wide`).
fn assert_held(p: Path, r: &Reply, scope: &str) {
    let named = format!("under {scope} legal hold placed");
    assert!(r.text.contains(&named), "{p:?}: {}", r.text);
    match p {
        Path::Canonical => assert_error(r, 400, 5059),
        Path::Bulk => {
            assert_eq!(r.status, 200, "{}", r.text);
            let e = &r.body["data"]["results"][0];
            assert_eq!(e["status"], false, "{}", r.text);
            assert_eq!(e["error"]["code"], 5059, "{}", r.text);
        }
        Path::Wso2 => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["statusCode"], 409, "{}", r.text);
        }
        Path::Cas => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["code"], "USER_LEGAL_HOLD", "{}", r.text);
        }
        Path::Dynatrace => {
            assert_eq!(r.status, 400, "{}", r.text);
            assert!(
                r.text.contains("Cannot delete user from this account"),
                "{}",
                r.text
            );
        }
        Path::Apim => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["error"]["code"], "UserUnderLegalHold", "{}", r.text);
        }
        Path::Scim => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(
                r.body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
            assert_eq!(r.body["status"], "409", "{}", r.text);
            assert!(r.body.get("scimType").is_none(), "{}", r.text);
        }
    }
}

fn assert_removed(p: Path, r: &Reply) {
    let ok = match p {
        Path::Canonical | Path::Wso2 | Path::Cas | Path::Dynatrace => r.status == 200,
        Path::Bulk => r.status == 200 && r.body["data"]["results"][0]["status"] == true,
        Path::Apim => r.status == 204 || r.status == 202,
        Path::Scim => r.status == 204,
    };
    assert!(ok, "{p:?}: {} {}", r.status, r.text);
}

async fn held_org(app: &App, slug: &str) -> (String, String) {
    let org = app
        .org_with(json!({
            "name": slug, "slug": slug,
            "aliases": {"apim": {"subscriptionId": SUB, "resourceGroupName": "rg1", "serviceName": "holdService"}},
        }))
        .await;
    let r = app.call("GET", &base(&org), None).await;
    let account = r.body["data"]["aliases"]["accountUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    (org, account)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_surface_refuses_a_held_user_and_removes_it_after_the_lift() {
    let app = App::start().await;
    let (org, account) = held_org(&app, "hold-acme").await;
    for (i, p) in PATHS.into_iter().enumerate() {
        let name = format!("held{i}");
        let (id, uuid) = user(&app, &org, &name).await;
        if let Path::Cas = p {
            let r = app
                .call(
                    "POST",
                    &format!("{}/status", canonical(&org, &id)),
                    Some(json!({"status": "disabled"})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let t = Target {
            org: org.clone(),
            account: account.clone(),
            name,
            id: id.clone(),
            uuid,
            service: SERVICE.into(),
        };
        let placed = place(&app, &org, &id, json!({"reason": "matter 7"})).await;
        assert_eq!(placed.status, 200, "{}", placed.text);
        assert!(placed.header("etag").is_some());
        assert_eq!(placed.body["data"]["hold"]["active"], true);
        assert_eq!(placed.body["data"]["hold"]["until"], Value::Null);
        let refused = remove(&app, p, &t).await;
        assert_held(p, &refused, "a user");
        // The reason is never in a refusal.
        assert!(!refused.text.contains("matter 7"), "{}", refused.text);
        assert_eq!(
            app.call("GET", &canonical(&org, &id), None).await.status,
            200,
            "{p:?}: the held user is still there"
        );
        app.assert_consistent();
        let lifted = lift(&app, &org, &id).await;
        assert_eq!(lifted.status, 200, "{}", lifted.text);
        assert_eq!(lifted.body["data"]["lifted"], true);
        assert_removed(p, &remove(&app, p, &t).await);
        app.assert_consistent();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_name_the_hold_and_the_organization_wide_hold_refuses_everyone() {
    let app = App::start().await;
    let (org, account) = held_org(&app, "hold-dry").await;
    let (id, uuid) = user(&app, &org, "kim").await;
    let t = Target {
        org: org.clone(),
        account,
        name: "kim".into(),
        id: id.clone(),
        uuid,
        service: SERVICE.into(),
    };
    assert_eq!(
        place(&app, &org, &id, json!({"reason": "matter"}))
            .await
            .status,
        200
    );
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", canonical(&org, &id)),
            None,
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let d = &dry.body["data"];
    assert_eq!(d["removable"], false);
    assert_eq!(d["blockers"][0]["code"], 5059, "{}", dry.text);
    assert_eq!(d["legalHold"]["scope"], "user", "{}", dry.text);
    assert!(d["legalHold"]["placedAt"].is_string());
    // The bulk dry run, and every surface's own dry run, name it too.
    let bulk = app
        .call(
            "POST",
            &format!("{}/mdm/users/removals", base(&org)),
            Some(json!({"ids": [id], "dryRun": true})),
        )
        .await;
    assert_eq!(
        bulk.body["data"]["results"][0]["data"]["legalHold"]["scope"], "user",
        "{}",
        bulk.text
    );
    let admin = app.admin_token.clone();
    // API Management wants `If-Match` on every DELETE, its dry run included; the
    // others ignore it.
    for path in [
        format!("/AdminInterface/restapi/v1/users/{}?dryRun=true", t.uuid),
        "/mdm-admin/users?username=kim&dryRun=true".to_owned(),
        format!(
            "/v1/accounts/{}/users/kim@example.com?dryRun=true",
            t.account
        ),
        format!("{SERVICE}/users/{id}?api-version=2024-05-01&dryRun=true"),
    ] {
        let r = app
            .send(
                "DELETE",
                &path,
                Some(&admin),
                &[("x-roster-organization", org.as_str()), ("if-match", "*")],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(r.text.contains("legal hold"), "{path}: {}", r.text);
        assert!(r.text.contains("\"removable\":false"), "{path}: {}", r.text);
    }
    // A hold that ends by itself: one second, then the user's hold reads inactive.
    assert_eq!(
        place(&app, &org, &id, json!({"reason": "short", "expiresIn": 1}))
            .await
            .status,
        200
    );
    // The organization-wide hold refuses everyone, on every surface.
    let org_hold = app
        .call(
            "PUT",
            &format!("{}/mdm/hold", base(&org)),
            Some(json!({"reason": "audit 2026"})),
        )
        .await;
    assert_eq!(org_hold.status, 200, "{}", org_hold.text);
    assert_eq!(org_hold.body["data"]["hold"]["active"], true);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let own = app
        .call("GET", &format!("{}/hold", canonical(&org, &id)), None)
        .await;
    assert_eq!(own.body["data"]["hold"]["active"], false, "{}", own.text);
    for p in [Path::Canonical, Path::Scim, Path::Apim, Path::Dynatrace] {
        assert_held(p, &remove(&app, p, &t).await, "an organization-wide");
    }
    let got = app
        .call("GET", &format!("{}/mdm/hold", base(&org)), None)
        .await;
    assert_eq!(got.body["data"]["hold"]["reason"], "audit 2026");
    let lifted = app
        .call("DELETE", &format!("{}/mdm/hold", base(&org)), None)
        .await;
    assert_eq!(lifted.body["data"]["lifted"], true, "{}", lifted.text);
    let again = app
        .call("DELETE", &format!("{}/mdm/hold", base(&org)), None)
        .await;
    assert_eq!(again.body["data"]["lifted"], false, "{}", again.text);
    // The user's own hold has ended, the organization's is lifted: removed.
    assert_removed(Path::Canonical, &remove(&app, Path::Canonical, &t).await);
    // Audited without the reasons: the user's events by its id, the organization's.
    let audit = app
        .call("GET", &format!("{}/audit", base(&org)), None)
        .await;
    let actions: Vec<&str> = audit.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.hold_placed",
            "user.hold_placed",
            "organization.hold_placed",
            "organization.hold_lifted",
            "user.removed"
        ],
        "{}",
        audit.text
    );
    for secret in ["matter", "short", "audit 2026", "kim"] {
        assert!(!audit.text.contains(secret), "{secret}: {}", audit.text);
    }
    let mine = app
        .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
        .await;
    assert_eq!(mine.body["data"]["events"].as_array().unwrap().len(), 3);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_need_their_own_permissions_and_valid_requests() {
    let app = App::start().await;
    let org = app.org("hold-perm").await;
    let (id, _) = user(&app, &org, "kim").await;
    let hold = format!("{}/hold", canonical(&org, &id));
    // Everything on users, and removing them, is not enough to place or lift a hold.
    let users_only = app
        .org_token(&org, json!(["mdm.global.mdmUser.*"]), None)
        .await;
    let body = Some(json!({"reason": "matter"}).to_string());
    for (method, body, permission) in [
        ("PUT", body.clone(), "mdm.global.legalHold.create"),
        ("DELETE", None, "mdm.global.legalHold.remove"),
        ("GET", None, "mdm.global.legalHold.read"),
    ] {
        let r = app
            .send(method, &hold, Some(&users_only), &[], body.clone())
            .await;
        assert_error(&r, 403, 4003);
        assert!(r.text.contains(permission), "{}", r.text);
    }
    // Placing does not grant lifting.
    let placer = app
        .org_token(&org, json!(["mdm.global.legalHold.create"]), None)
        .await;
    let r = app.send("PUT", &hold, Some(&placer), &[], body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["data"]["hold"]["placedBy"].as_str().unwrap().len(),
        24
    );
    assert_error(
        &app.send("DELETE", &hold, Some(&placer), &[], None).await,
        403,
        4003,
    );
    // Nor ending it sooner by a replacement that expires in a second (a lift in all
    // but name); extending it is placing.
    let short = Some(json!({"reason": "x", "expiresIn": 1}).to_string());
    let r = app
        .send("PUT", &hold, Some(&placer), &[], short.clone())
        .await;
    assert_error(&r, 403, 4003);
    assert!(r.text.contains("mdm.global.legalHold.remove"), "{}", r.text);
    let admin = app.admin_token.clone();
    let still = app.send("GET", &hold, Some(&admin), &[], None).await;
    assert_eq!(
        still.body["data"]["hold"]["until"],
        Value::Null,
        "{}",
        still.text
    );
    assert_eq!(still.body["data"]["hold"]["active"], true, "{}", still.text);
    // A token that may lift may also shorten.
    let both = app
        .org_token(
            &org,
            json!(["mdm.global.legalHold.create", "mdm.global.legalHold.remove"]),
            None,
        )
        .await;
    let r = app.send("PUT", &hold, Some(&both), &[], short).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send(
            "PUT",
            &hold,
            Some(&placer),
            &[],
            Some(json!({"reason": "matter"}).to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The remover is refused while held.
    let r = app
        .send(
            "DELETE",
            &canonical(&org, &id),
            Some(&users_only),
            &[],
            None,
        )
        .await;
    assert_error(&r, 400, 5059);
    // Bad requests name the field.
    for (body, field) in [
        (json!({"reason": ""}), "reason"),
        (json!({"reason": "x", "expiresIn": 0}), "expiresIn"),
        (json!({"reason": "x", "until": "2030-01-01"}), "until"),
        (json!({}), "reason"),
    ] {
        let r = place(&app, &org, &id, body).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    assert_error(
        &place(
            &app,
            &org,
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            json!({"reason": "x"}),
        )
        .await,
        404,
        3001,
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_skips_a_held_expired_soft_removal_and_takes_it_after_the_lift() {
    let app = App::start().await;
    let org = app
        .org_with(json!({"name": "p", "slug": "hold-purge", "policy": {"retentionDays": 1}}))
        .await;
    let (held, _) = user(&app, &org, "ann").await;
    let (free, _) = user(&app, &org, "bex").await;
    for id in [&held, &free] {
        let r = app.call("DELETE", &canonical(&org, id), None).await;
        assert_eq!(r.body["data"]["restorable"], true, "{}", r.text);
    }
    // A softly removed user can be held.
    assert_eq!(
        place(&app, &org, &held, json!({"reason": "matter"}))
            .await
            .status,
        200
    );
    // Both windows end: the records (and trash entries) say so, as a day later.
    for (key, value) in app.snapshot() {
        let is_user = key.starts_with(&format!("o/{org}/user/")) && key.matches('/').count() == 3;
        let is_trash = key.starts_with(&format!("o/{org}/trash/")) && !key.ends_with("head");
        if !(is_user || is_trash) {
            continue;
        }
        // Counters and index entries under the same prefixes are not JSON records.
        let Ok(mut v) = serde_json::from_slice::<Value>(&value) else {
            continue;
        };
        if is_user && v["deletion"].is_object() {
            v["deletion"]["purgeAfter"] = json!(1);
        } else if is_trash && v["purgeAfter"].is_number() {
            v["purgeAfter"] = json!(1);
        } else {
            continue;
        }
        app.host
            .kv()
            .set("default", &key, v.to_string().as_bytes())
            .unwrap();
    }
    let purge = format!("{}/mdm/users/purge", base(&org));
    let r = app.call("POST", &purge, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = &r.body["data"];
    assert_eq!(
        (d["purged"].as_u64(), d["held"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        r.text
    );
    assert_eq!(d["heldUserIds"], json!([held]));
    // Touching the held one does not purge it either; its hold is still readable.
    assert_error(
        &app.call("GET", &canonical(&org, &held), None).await,
        404,
        3001,
    );
    let h = app
        .call("GET", &format!("{}/hold", canonical(&org, &held)), None)
        .await;
    assert_eq!(h.body["data"]["hold"]["active"], true, "{}", h.text);
    app.assert_consistent();
    assert_eq!(lift(&app, &org, &held).await.status, 200);
    let r = app.call("POST", &purge, None).await;
    assert_eq!(r.body["data"]["purged"], 1, "{}", r.text);
    assert_eq!(r.body["data"]["held"], 0, "{}", r.text);
    assert_error(&lift(&app, &org, &held).await, 404, 3001);
    app.assert_consistent();
}

/// A canonical removal whose N-th key-value call fails, for every N; then a hold is
/// placed before the retry. If the failed attempt had marked the user, the hold is
/// refused (409 / 3004) and the retry finishes the removal; otherwise it is placed, the
/// retry is refused (5059), and after the lift the removal completes. The store is
/// consistent at every stage, and both orders occur.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_interrupted_at_every_call_with_a_hold_placed_midway() {
    let app = App::start().await;
    let org = app.org("hold-faults").await;
    let probe = user_with_devices(&app, &org, "probe", "INACTIVE").await;
    app.host.faults().clear();
    assert_eq!(
        app.call("DELETE", &canonical(&org, &probe), None)
            .await
            .status,
        200
    );
    let calls = app.host.faults().kv_calls();
    assert!(calls > 10, "a removal makes {calls} key-value calls");
    let (mut placed, mut refused) = (0, 0);
    for n in 1..=calls {
        let id = user_with_devices(&app, &org, &format!("u{n}"), "INACTIVE").await;
        let user = canonical(&org, &id);
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = app.call("DELETE", &user, None).await;
        app.host.faults().clear();
        if first.status == 200 {
            // The last call is best effort: the removal had finished.
            assert_error(
                &place(&app, &org, &id, json!({"reason": "m"})).await,
                404,
                3001,
            );
            continue;
        }
        assert_error(&first, 500, 5000);
        let hold = place(&app, &org, &id, json!({"reason": "m"})).await;
        match hold.status {
            200 => {
                placed += 1;
                assert_error(&app.call("DELETE", &user, None).await, 400, 5059);
                app.assert_consistent();
                assert_eq!(lift(&app, &org, &id).await.status, 200);
            }
            _ => {
                refused += 1;
                assert_error(&hold, 409, 3004);
            }
        }
        let retry = app.call("DELETE", &user, None).await;
        assert_eq!(retry.status, 200, "call {n}: {}", retry.text);
        assert_error(&app.call("GET", &user, None).await, 404, 3001);
        app.assert_consistent();
    }
    assert!(
        placed > 0 && refused > 0,
        "{placed} placed, {refused} refused"
    );
}

/// A hold's placement whose N-th key-value call fails, for every N: the user is either
/// held or not (never half), a retry places it, and the removal is then refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placing_a_hold_interrupted_at_every_call() {
    let app = App::start().await;
    let org = app.org("hold-place-faults").await;
    let (probe, _) = user(&app, &org, "probe").await;
    app.host.faults().clear();
    assert_eq!(
        place(&app, &org, &probe, json!({"reason": "m"}))
            .await
            .status,
        200
    );
    let calls = app.host.faults().kv_calls();
    for n in 1..=calls {
        let (id, _) = user(&app, &org, &format!("p{n}")).await;
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = place(&app, &org, &id, json!({"reason": "m"})).await;
        app.host.faults().clear();
        assert!(
            first.status == 500 || first.status == 200,
            "call {n}: {}",
            first.text
        );
        app.assert_consistent();
        let again = place(&app, &org, &id, json!({"reason": "m"})).await;
        assert_eq!(again.status, 200, "call {n}: {}", again.text);
        assert_error(
            &app.call("DELETE", &canonical(&org, &id), None).await,
            400,
            5059,
        );
        app.assert_consistent();
    }
}
