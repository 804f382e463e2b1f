//! Export before erase through the real components: the export route (the document,
//! no secrets, `no-store`, nothing kept, audited, its own permission); with the
//! organization's `requireExportBeforeRemoval` every removal path (canonical, bulk,
//! WSO2, CAS, Dynatrace, API Management, SCIM) refuses a user without a fresh export in
//! its own surface's shape and succeeds after one; dry runs name it; a stale export;
//! the purge of an expired soft removal needs none; and a removal (and an export)
//! interrupted at every key-value call with the policy on, ending consistent.

use roster_tests::{App, Reply, assert_error};

use crate::surfaces::{PATHS, Path, Target, base, canonical, remove, user, user_with_devices};
use serde_json::{Value, json};

const SUB: &str = "22222222-2222-2222-2222-222222222222";
const SERVICE: &str = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/exportService";

async fn export(app: &App, org: &str, id: &str) -> Reply {
    app.call("GET", &format!("{}/export", canonical(org, id)), None)
        .await
}

async fn strict_org(app: &App, slug: &str, extra: Value) -> (String, String) {
    let mut policy = json!({"requireExportBeforeRemoval": true, "exportMaxAgeSeconds": 600});
    if let (Some(p), Some(e)) = (policy.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let org = app
        .org_with(json!({
            "name": slug, "slug": slug, "policy": policy,
            "aliases": {"apim": {"subscriptionId": SUB, "resourceGroupName": "rg1", "serviceName": format!("{slug}-svc")}},
        }))
        .await;
    let r = app.call("GET", &base(&org), None).await;
    assert_eq!(r.body["data"]["policy"]["requireExportBeforeRemoval"], true);
    let account = r.body["data"]["aliases"]["accountUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    (org, account)
}

/// Asserts `r` is the surface's refusal for a missing export whose last one was `last`
/// (`never`, or an RFC 3339 time).
fn assert_needs_export(p: Path, r: &Reply, last: &str) {
    let named = format!("no export of its data in the last 600 seconds (last export: {last})");
    assert!(r.text.contains(&named), "{p:?}: {}", r.text);
    match p {
        Path::Canonical => assert_error(r, 400, 5060),
        Path::Bulk => {
            assert_eq!(r.status, 200, "{}", r.text);
            let e = &r.body["data"]["results"][0];
            assert_eq!(e["status"], false, "{}", r.text);
            assert_eq!(e["error"]["code"], 5060, "{}", r.text);
        }
        Path::Wso2 => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["statusCode"], 409, "{}", r.text);
            assert!(r.text.contains("requires an export first"), "{}", r.text);
        }
        Path::Cas => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["code"], "USER_EXPORT_REQUIRED", "{}", r.text);
        }
        Path::Dynatrace => {
            assert_eq!(r.status, 400, "{}", r.text);
            assert_eq!(r.body["code"], 400, "{}", r.text);
            assert!(
                r.text.contains("Cannot delete user from this account"),
                "{}",
                r.text
            );
        }
        Path::Apim => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(r.body["error"]["code"], "UserExportRequired", "{}", r.text);
        }
        Path::Scim => {
            assert_eq!(r.status, 409, "{}", r.text);
            assert_eq!(
                r.body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
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

/// Rewrites the user record's `lastExportedAt` to `at` (milliseconds), as if the export
/// had been made then.
fn age_export(app: &App, org: &str, id: &str, at: i64) {
    let key = format!("o/{org}/user/{id}");
    let raw = app.snapshot().remove(&key).expect("the user record");
    let mut v: Value = serde_json::from_slice(&raw).unwrap();
    assert!(v["lastExportedAt"].is_number(), "{v}");
    v["lastExportedAt"] = json!(at);
    app.host
        .kv()
        .set("default", &key, v.to_string().as_bytes())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_surface_refuses_without_a_fresh_export_and_removes_after_one() {
    let app = App::start().await;
    let (org, account) = strict_org(&app, "exp-acme", json!({})).await;
    for (i, p) in PATHS.into_iter().enumerate() {
        let name = format!("gone{i}");
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
            service: SERVICE.replace("exportService", "exp-acme-svc"),
        };
        assert_needs_export(p, &remove(&app, p, &t).await, "never");
        assert_eq!(
            app.call("GET", &canonical(&org, &id), None).await.status,
            200,
            "{p:?}: the user is still there"
        );
        app.assert_consistent();
        let made = export(&app, &org, &id).await;
        assert_eq!(made.status, 200, "{}", made.text);
        assert_eq!(made.header("cache-control"), Some("no-store"));
        // Stale: an export made eleven minutes ago does not count.
        let stale_at = exported_at(&app, &org, &id) - 660_000;
        age_export(&app, &org, &id, stale_at);
        let last = iso(stale_at);
        assert_needs_export(p, &remove(&app, p, &t).await, &last);
        assert_eq!(export(&app, &org, &id).await.status, 200);
        assert_removed(p, &remove(&app, p, &t).await);
        assert_error(&export(&app, &org, &id).await, 404, 3001);
        app.assert_consistent();
    }
}

/// The user record's `lastExportedAt` (milliseconds).
fn exported_at(app: &App, org: &str, id: &str) -> i64 {
    let raw = app
        .snapshot()
        .remove(&format!("o/{org}/user/{id}"))
        .expect("the user record");
    let v: Value = serde_json::from_slice(&raw).unwrap();
    v["lastExportedAt"].as_i64().expect("an export time")
}

fn iso(ms: i64) -> String {
    roster_domain::Timestamp(ms).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_holds_the_users_data_no_secret_and_the_export_is_audited() {
    let app = App::start().await;
    let (org, account) = strict_org(&app, "exp-doc", json!({})).await;
    let (id, uuid) = user(&app, &org, "kim").await;
    let (other, _) = user(&app, &org, "bex").await;
    let u = canonical(&org, &id);
    let d = app
        .call(
            "POST",
            &format!("{u}/devices"),
            Some(
                json!({"name": "phone", "type": "ios", "deviceIdentifier": "kim-1",
                        "enrolmentInfo": {"status": "INACTIVE"}}),
            ),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.text);
    let et = app
        .call("POST", &format!("{u}/enrollment-tokens"), Some(json!({})))
        .await;
    assert_eq!(et.status, 201, "{}", et.text);
    let sub = app
        .call(
            "POST",
            &format!("{u}/subscriptions"),
            Some(json!({"scope": "/products/starter", "displayName": "Starter"})),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let (token_id, secret) = app
        .token_with(
            &org,
            json!({"name": "kim's ci", "permissions": ["mdm.global.device.read"], "ownerUserId": id}),
        )
        .await;
    // bex's data is not kim's.
    let od = app
        .call(
            "POST",
            &format!("{}/devices", canonical(&org, &other)),
            Some(
                json!({"name": "other", "type": "ios", "deviceIdentifier": "bex-1",
                        "enrolmentInfo": {"status": "INACTIVE"}}),
            ),
        )
        .await;
    assert_eq!(od.status, 201, "{}", od.text);
    assert_eq!(export(&app, &org, &other).await.status, 200);
    let before = app.snapshot();
    let made = export(&app, &org, &id).await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(made.header("cache-control"), Some("no-store"));
    let doc = &made.body["data"];
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(doc["organizationId"], org);
    assert_eq!(doc["profile"]["id"], id);
    assert_eq!(doc["profile"]["uuid"], uuid);
    assert_eq!(doc["profile"]["email"], "kim@example.com");
    assert_eq!(doc["devices"].as_array().unwrap().len(), 1, "{}", made.text);
    assert_eq!(doc["devices"][0]["deviceIdentifier"], "kim-1");
    assert_eq!(doc["enrollmentTokens"][0]["id"], et.body["data"]["id"]);
    assert_eq!(doc["subscriptions"][0]["scope"], "/products/starter");
    assert_eq!(doc["apiTokens"][0]["id"], token_id);
    assert_eq!(
        doc["apiTokens"][0]["permissions"],
        json!(["mdm.global.device.read"])
    );
    assert!(
        doc["auditEvents"].as_array().unwrap().is_empty(),
        "{}",
        made.text
    );
    for leak in [
        secret.as_str(),
        &secret[4..],
        "bex",
        "passwordHash",
        "digest",
    ] {
        assert!(!made.text.contains(leak), "{leak}: {}", made.text);
    }
    // Nothing of it is kept: the store changed by the audit event, its counter and the
    // user record's lastExportedAt only; no value holds the document. (On Redis the
    // rate limiter's counters share the keyspace: they are not the export's.)
    let after = app.snapshot();
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v) && !k.starts_with("ratelimit/"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed.len(), 3, "{changed:?}");
    assert!(
        changed.contains(&&format!("o/{org}/user/{id}")),
        "{changed:?}"
    );
    for (k, v) in &after {
        let v = String::from_utf8_lossy(v);
        assert!(!v.contains("formatVersion\":1,\"organizationId"), "{k}");
    }
    // Audited, pseudonymously, nothing of the contents; found by the user's id.
    let audit = app
        .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
        .await;
    let events = audit.body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", audit.text);
    assert_eq!(events[0]["action"], "user.exported");
    assert_eq!(events[0]["surface"], "mdm");
    assert_eq!(events[0]["details"], json!({"formatVersion": 1}));
    for leak in ["kim", "starter", id.as_str()] {
        assert!(!audit.text.contains(leak), "{leak}: {}", audit.text);
    }
    // The next export lists the first among the events about the user.
    let again = export(&app, &org, &id).await;
    assert_eq!(
        again.body["data"]["auditEvents"][0]["action"],
        "user.exported"
    );
    // The canonical user (and its ETag) does not change with an export.
    let r1 = app.call("GET", &u, None).await;
    assert_eq!(export(&app, &org, &id).await.status, 200);
    let r2 = app.call("GET", &u, None).await;
    assert_eq!(r1.header("etag"), r2.header("etag"));
    assert_eq!(r1.body, r2.body);
    // Dry runs: removable now (fresh), and each surface's names the export once stale.
    let t = Target {
        org: org.clone(),
        account,
        name: "kim".into(),
        id: id.clone(),
        uuid,
        service: SERVICE.replace("exportService", "exp-doc-svc"),
    };
    let dry = app.call("DELETE", &format!("{u}?dryRun=true"), None).await;
    assert_eq!(
        dry.body["data"]["exportRequired"],
        Value::Null,
        "{}",
        dry.text
    );
    // `dryRun` in any case, as the description's shared parameter says (the canonical
    // route refused `TRUE` with 400 before stop 30's walk-through found it).
    let upper = app.call("DELETE", &format!("{u}?dryRun=TRUE"), None).await;
    assert_eq!(upper.status, 200, "{}", upper.text);
    assert_eq!(upper.body["data"], dry.body["data"]);
    age_export(&app, &org, &id, 1);
    let dry = app.call("DELETE", &format!("{u}?dryRun=true"), None).await;
    assert_eq!(dry.body["data"]["removable"], false, "{}", dry.text);
    assert_eq!(
        dry.body["data"]["blockers"][0]["code"], 5060,
        "{}",
        dry.text
    );
    assert_eq!(
        dry.body["data"]["exportRequired"],
        json!({"lastExportedAt": "1970-01-01T00:00:00.001Z", "maxAgeSeconds": 600})
    );
    let bulk = app
        .call(
            "POST",
            &format!("{}/mdm/users/removals", base(&org)),
            Some(json!({"ids": [id], "dryRun": true})),
        )
        .await;
    assert_eq!(
        bulk.body["data"]["results"][0]["data"]["exportRequired"]["maxAgeSeconds"], 600,
        "{}",
        bulk.text
    );
    let admin = app.admin_token.clone();
    for path in [
        format!("/AdminInterface/restapi/v1/users/{}?dryRun=true", t.uuid),
        "/mdm-admin/users?username=kim&dryRun=true".to_owned(),
        format!(
            "/v1/accounts/{}/users/kim@example.com?dryRun=true",
            t.account
        ),
        format!(
            "{}/users/{id}?api-version=2024-05-01&dryRun=true",
            SERVICE.replace("exportService", "exp-doc-svc")
        ),
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
        assert!(
            r.text.contains("no export of its data"),
            "{path}: {}",
            r.text
        );
        assert!(r.text.contains("\"removable\":false"), "{path}: {}", r.text);
    }
    // Nothing was removed by the dry runs.
    assert_eq!(app.call("GET", &u, None).await.status, 200);
    assert_needs_export(
        Path::Scim,
        &remove(&app, Path::Scim, &t).await,
        "1970-01-01T00:00:00.001Z",
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_need_their_own_permission() {
    let app = App::start().await;
    let (org, _) = strict_org(&app, "exp-perm", json!({})).await;
    let (id, _) = user(&app, &org, "kim").await;
    let path = format!("{}/export", canonical(&org, &id));
    // Everything on users (reading, removing) is not enough to export.
    let users_only = app
        .org_token(
            &org,
            json!(["mdm.global.mdmUser.*", "mdm.global.audit.read"]),
            None,
        )
        .await;
    let r = app.send("GET", &path, Some(&users_only), &[], None).await;
    assert_error(&r, 403, 4003);
    assert!(r.text.contains("mdm.global.userExport.read"), "{}", r.text);
    // ... and the remover is refused until someone who may export did.
    let r = app
        .send(
            "DELETE",
            &canonical(&org, &id),
            Some(&users_only),
            &[],
            None,
        )
        .await;
    assert_error(&r, 400, 5060);
    let (exporter_id, exporter) = app
        .token_with(
            &org,
            json!({"name": "dpo", "permissions": ["mdm.global.userExport.read"]}),
        )
        .await;
    let r = app.send("GET", &path, Some(&exporter), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let audit = app
        .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
        .await;
    assert_eq!(
        audit.body["data"]["events"][0]["actor"], exporter_id,
        "{}",
        audit.text
    );
    assert_error(
        &app.send("GET", &canonical(&org, &id), Some(&exporter), &[], None)
            .await,
        403,
        4003,
    );
    let r = app
        .send(
            "DELETE",
            &canonical(&org, &id),
            Some(&users_only),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_error(
        &export(&app, &org, "aaaaaaaaaaaaaaaaaaaaaaaa").await,
        404,
        3001,
    );
    let bad = export(&app, &org, "not-an-id").await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("mdmUserId"), "{}", bad.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_validated_and_the_purge_needs_no_new_export() {
    let app = App::start().await;
    let (org, _) = strict_org(&app, "exp-purge", json!({"retentionDays": 1})).await;
    for (policy, field) in [
        (
            json!({"exportMaxAgeSeconds": 0}),
            "policy.exportMaxAgeSeconds",
        ),
        (json!({"exportMaxAgeSeconds": "1h"}), "exportMaxAgeSeconds"),
        (
            json!({"requireExportBeforeRemoval": 1}),
            "requireExportBeforeRemoval",
        ),
    ] {
        let r = app
            .call("PATCH", &base(&org), Some(json!({ "policy": policy })))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    let (id, _) = user(&app, &org, "ann").await;
    assert_eq!(export(&app, &org, &id).await.status, 200);
    let r = app.call("DELETE", &canonical(&org, &id), None).await;
    assert_eq!(r.body["data"]["restorable"], true, "{}", r.text);
    // A softly removed user can still be exported (its data is there until the purge).
    let soft = export(&app, &org, &id).await;
    assert_eq!(soft.status, 200, "{}", soft.text);
    assert_eq!(soft.body["data"]["profile"]["status"], "deleted");
    // The window ends and the export goes stale: the purge takes the user all the same.
    for (key, value) in app.snapshot() {
        let is_user = key == format!("o/{org}/user/{id}");
        let is_trash = key.starts_with(&format!("o/{org}/trash/")) && !key.ends_with("head");
        if !(is_user || is_trash) {
            continue;
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&value) else {
            continue;
        };
        if is_user {
            v["deletion"]["purgeAfter"] = json!(1);
            v["lastExportedAt"] = json!(1);
        } else if v["purgeAfter"].is_number() {
            v["purgeAfter"] = json!(1);
        } else {
            continue;
        }
        app.host
            .kv()
            .set("default", &key, v.to_string().as_bytes())
            .unwrap();
    }
    let r = app
        .call("POST", &format!("{}/mdm/users/purge", base(&org)), None)
        .await;
    assert_eq!(r.body["data"]["purged"], 1, "{}", r.text);
    assert_error(&export(&app, &org, &id).await, 404, 3001);
    // Turned off, removals need nothing.
    let off = app
        .call(
            "PATCH",
            &base(&org),
            Some(json!({"policy": {"requireExportBeforeRemoval": false}})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    let (b, _) = user(&app, &org, "bex").await;
    let r = app.call("DELETE", &canonical(&org, &b), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.assert_consistent();
}

/// With the policy on and a fresh export made, a canonical removal whose N-th key-value
/// call fails, for every N; then the user is exported again before the retry. If the
/// failed attempt had marked the user, that export is refused (409 / 3004: the data is
/// being taken away); otherwise it is made. Either way the retry finishes the removal
/// and the store is consistent; both orders occur.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_interrupted_at_every_call_with_the_policy_on() {
    let app = App::start().await;
    let (org, _) = strict_org(&app, "exp-faults", json!({})).await;
    let probe = user_with_devices(&app, &org, "probe", "INACTIVE").await;
    assert_eq!(export(&app, &org, &probe).await.status, 200);
    app.host.faults().clear();
    assert_eq!(
        app.call("DELETE", &canonical(&org, &probe), None)
            .await
            .status,
        200
    );
    let calls = app.host.faults().kv_calls();
    assert!(calls > 10, "a removal makes {calls} key-value calls");
    let (mut exported, mut refused) = (0, 0);
    for n in 1..=calls {
        let id = user_with_devices(&app, &org, &format!("u{n}"), "INACTIVE").await;
        let user = canonical(&org, &id);
        assert_eq!(export(&app, &org, &id).await.status, 200);
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = app.call("DELETE", &user, None).await;
        app.host.faults().clear();
        if first.status == 200 {
            // The last call is best effort: the removal had finished.
            assert_error(&export(&app, &org, &id).await, 404, 3001);
            app.assert_consistent();
            continue;
        }
        assert_error(&first, 500, 5000);
        let again = export(&app, &org, &id).await;
        match again.status {
            200 => exported += 1,
            _ => {
                refused += 1;
                assert_error(&again, 409, 3004);
            }
        }
        let retry = app.call("DELETE", &user, None).await;
        assert_eq!(retry.status, 200, "call {n}: {}", retry.text);
        assert_error(&app.call("GET", &user, None).await, 404, 3001);
        app.assert_consistent();
    }
    assert!(
        exported > 0 && refused > 0,
        "{exported} exported, {refused} refused"
    );
}

/// An export whose N-th key-value call fails, for every N: the request answers 500 and
/// serves nothing; the user's export time is recorded only with its audit event; the
/// removal is refused until an export succeeds, and then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_interrupted_at_every_call() {
    let app = App::start().await;
    let (org, _) = strict_org(&app, "exp-export-faults", json!({})).await;
    let probe = user_with_devices(&app, &org, "probe", "INACTIVE").await;
    app.host.faults().clear();
    assert_eq!(export(&app, &org, &probe).await.status, 200);
    let calls = app.host.faults().kv_calls();
    assert!(calls > 3, "an export makes {calls} key-value calls");
    for n in 1..=calls {
        let id = user_with_devices(&app, &org, &format!("e{n}"), "INACTIVE").await;
        app.host.faults().clear();
        app.host.faults().fail_nth(n);
        let first = export(&app, &org, &id).await;
        app.host.faults().clear();
        app.assert_consistent();
        let audited = app
            .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
            .await
            .body["data"]["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        let dry = app
            .call(
                "DELETE",
                &format!("{}?dryRun=true", canonical(&org, &id)),
                None,
            )
            .await;
        let removable = dry.body["data"]["removable"] == true;
        if first.status == 200 {
            // Only a call after the last write failing could let it through.
            assert!(removable && audited, "call {n}: {}", dry.text);
        } else {
            assert_error(&first, 500, 5000);
            assert!(!first.text.contains("formatVersion"), "call {n}");
            // Never an export time without its event.
            assert!(!removable || audited, "call {n}: {}", dry.text);
            if !removable {
                assert_error(
                    &app.call("DELETE", &canonical(&org, &id), None).await,
                    400,
                    5060,
                );
            }
        }
        assert_eq!(export(&app, &org, &id).await.status, 200, "call {n}");
        let r = app.call("DELETE", &canonical(&org, &id), None).await;
        assert_eq!(r.status, 200, "call {n}: {}", r.text);
        app.assert_consistent();
    }
}

/// A HEAD of the export answers GET's status and headers without the body, and makes no
/// export (RFC 9110 §9.2.1: HEAD is safe): nothing audited, no export time recorded, so
/// `requireExportBeforeRemoval` still refuses the removal. Its refusals are GET's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_of_the_export_exports_nothing() {
    let app = App::start().await;
    let (org, _) = strict_org(&app, "exp-head", json!({})).await;
    let (id, _) = user(&app, &org, "kim").await;
    let path = format!("{}/export", canonical(&org, &id));
    let head = app.call("HEAD", &path, None).await;
    assert_eq!(head.status, 200);
    assert!(head.text.is_empty(), "{}", head.text);
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("content-type"), Some("application/json"));
    let audit = app
        .call("GET", &format!("{}/audit?userId={id}", base(&org)), None)
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(!audit.text.contains("user.exported"), "{}", audit.text);
    let r = app.call("DELETE", &canonical(&org, &id), None).await;
    assert_needs_export(Path::Canonical, &r, "never");
    // A missing user: GET's 404, without the body.
    let missing = format!("{}/export", canonical(&org, "0123456789abcdef01234567"));
    let (get, head) = (
        app.call("GET", &missing, None).await,
        app.call("HEAD", &missing, None).await,
    );
    assert_eq!((get.status, head.status), (404, 404));
    assert!(head.text.is_empty());
    // The GET exports, and then the removal goes through.
    assert_eq!(export(&app, &org, &id).await.status, 200);
    let r = app.call("DELETE", &canonical(&org, &id), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.assert_consistent();
}
