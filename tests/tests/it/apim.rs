//! Seed 004 (Azure API Management, User - Delete) through the real components: the
//! seed's sample request and header shapes, GET with its ETag, `If-Match`,
//! `api-version` and the query parameters, every ARM error, the asynchronous path
//! (200+ devices) polled through both URLs, concurrent deletions, and fault injection at
//! every key-value call of a removal and its polls.

use roster_tests::{App, Reply};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const V: &str = "api-version=2024-05-01";
const SERVICE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apimService1";

/// An organization bound to `SUB/rg/service` with the given removal batch.
async fn bound_org(app: &App, slug: &str, rg: &str, service: &str, batch: u32) -> String {
    app.org_with(json!({
                "name": slug, "slug": slug,
                "aliases": {"apim": {"subscriptionId": SUB, "resourceGroupName": rg, "serviceName": service}},
                "policy": {"removalBatch": batch},
            })).await
}

fn canonical(org: &str, id: &str) -> String {
    format!("/v1/organizations/{org}/mdm/users/{id}")
}

async fn user(app: &App, org: &str, name: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/users"),
            Some(
                json!({"username": name, "email": format!("{name}@example.com"),
                        "firstName": "Kim", "lastName": "Lee"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn devices(app: &Arc<App>, org: &str, id: &str, n: usize) {
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let (app, org, id) = (app.clone(), org.to_owned(), id.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in (0..n).filter(|i| i % 8 == chunk) {
                let r = app
                    .call(
                        "POST",
                        &format!("{}/devices", canonical(&org, &id)),
                        Some(json!({"name": "d", "type": "ios",
                                    "deviceIdentifier": format!("{id}-{i}"),
                                    "enrolmentInfo": {"status": "INACTIVE"}})),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn subscribe(app: &App, org: &str, id: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("{}/subscriptions", canonical(org, id)),
            Some(json!({"scope": "/products/starter"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

fn user_url(service: &str, id: &str, query: &str) -> String {
    format!("{service}/users/{id}?{query}")
}

async fn delete(app: &App, url: &str, if_match: Option<&str>) -> Reply {
    let token = app.admin_token.clone();
    let headers: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    app.send("DELETE", url, Some(&token), &headers, None).await
}

/// The path and query of an absolute URL from a header.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

fn assert_arm(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let e = &r.body["error"];
    assert_eq!(e["code"], json!(code), "{}", r.text);
    assert!(e["message"].is_string(), "{}", r.text);
    let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["code", "message", "target", "details", "additionalInfo"]),
        "{}",
        r.text
    );
}

fn is_hex24(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a 202's headers against the seed's shapes; returns (Location, Azure-AsyncOperation).
fn assert_accepted(app: &App, r: &Reply, service: &str, id: &str) -> (String, String) {
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    let origin = format!("http://{}", app.addr);
    let location = r.header("location").unwrap().to_owned();
    let op_url = r.header("azure-asyncoperation").unwrap().to_owned();
    let prefix = format!("{origin}{service}/users/{id}?api-version=2024-05-01&asyncId=");
    let rest = location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location}"));
    let (async_id, code) = rest.split_once("&asyncCode=").unwrap();
    assert!(is_hex24(async_id), "{location}");
    assert_eq!(code, "204");
    assert_eq!(
        op_url,
        format!("{origin}{service}/tenant/operationResults/{async_id}?api-version=2024-05-01")
    );
    (location, op_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_sample_delete_answers_202_then_polls_to_204() {
    let app = Arc::new(App::start().await);
    let org = bound_org(&app, "apim-sample", "rg1", "apimService1", 1).await;
    let id = user(&app, &org, "kim").await;
    devices(&app, &org, &id, 3).await;

    // GET: the ARM resource with its ETag.
    let get = app.call("GET", &user_url(SERVICE, &id, V), None).await;
    assert_eq!(get.status, 200, "{}", get.text);
    let etag = get.header("etag").unwrap().to_owned();
    assert_eq!(
        get.body,
        json!({
            "id": format!("{SERVICE}/users/{id}"),
            "type": "Microsoft.ApiManagement/service/users",
            "name": id,
            "properties": {
                "firstName": "Kim", "lastName": "Lee", "email": "kim@example.com",
                "state": "active", "registrationDate": get.body["properties"]["registrationDate"],
                "note": null,
                "identities": [{"provider": "Basic", "id": "kim@example.com"}],
                "groups": [],
            }
        })
    );
    assert!(get.body["properties"]["registrationDate"].is_string());

    // The sample request (its example carries If-Match: *): more dependents than one
    // request may purge, so 202 with the seed's two headers.
    let r = delete(&app, &user_url(SERVICE, &id, V), Some(&etag)).await;
    let (location, op_url) = assert_accepted(&app, &r, SERVICE, &id);
    assert!(r.text.is_empty());
    // The Location URL answers 202 while work remains, then the asyncCode.
    let mut seen = Vec::new();
    for _ in 0..10 {
        let p = app.call("GET", &path_of(&location), None).await;
        seen.push(p.status);
        if p.status == 204 {
            assert!(p.text.is_empty());
            break;
        }
        assert_accepted(&app, &p, SERVICE, &id);
    }
    assert_eq!(seen.last(), Some(&204), "{seen:?}");
    assert!(seen.len() >= 2, "{seen:?}");
    let done = app.call("GET", &path_of(&op_url), None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["status"], "Succeeded");
    assert_eq!(done.body["percentComplete"], 100.0);
    // Gone; a repeated DELETE answers as ARM does for an absent resource: 204.
    assert_arm(
        &app.call("GET", &user_url(SERVICE, &id, V), None).await,
        404,
        "ResourceNotFound",
    );
    assert_eq!(
        app.call("GET", &canonical(&org, &id), None).await.status,
        404
    );
    let again = delete(&app, &user_url(SERVICE, &id, V), Some("*")).await;
    assert_eq!(again.status, 204, "{}", again.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_devices_are_removed_through_both_polling_urls() {
    let app = Arc::new(App::start().await);
    let org = bound_org(&app, "apim-big", "rg1", "apimService1", 100).await;
    // The bound is configurable: lower it for this test.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/organizations/{org}"),
            Some(json!({"policy": {"removalBatch": 40}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = user(&app, &org, "big").await;
    devices(&app, &org, &id, 210).await;
    for _ in 0..3 {
        subscribe(&app, &org, &id).await;
    }
    let url = user_url(
        SERVICE,
        &id,
        &format!("{V}&deleteSubscriptions=true&notify=true&appType=developerPortal"),
    );
    let dry = delete(&app, &format!("{url}&dryRun=true"), Some("*")).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["properties"]["wouldRemove"]["devices"], 210);
    assert_eq!(dry.body["properties"]["wouldRemove"]["subscriptions"], 3);
    assert_eq!(dry.body["properties"]["removable"], true);

    let r = delete(&app, &url, Some("*")).await;
    let (location, op_url) = assert_accepted(&app, &r, SERVICE, &id);
    // Alternate the two URLs; each poll advances the removal by one batch.
    let mut progress = Vec::new();
    let mut finished = false;
    for i in 0..20 {
        if i % 2 == 0 {
            let p = app.call("GET", &path_of(&op_url), None).await;
            assert_eq!(p.status, 200, "{}", p.text);
            let keys: BTreeSet<&str> = p
                .body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from([
                    "id",
                    "name",
                    "status",
                    "startTime",
                    "endTime",
                    "percentComplete"
                ])
            );
            assert_eq!(
                p.body["id"],
                json!(path_of(&op_url).split('?').next().unwrap())
            );
            progress.push(p.body["percentComplete"].as_f64().unwrap());
            if p.body["status"] == "Succeeded" {
                assert!(p.body["endTime"].is_string());
                finished = true;
                break;
            }
            assert_eq!(p.body["status"], "InProgress");
            assert!(p.header("retry-after").is_some());
        } else {
            let p = app.call("GET", &path_of(&location), None).await;
            if p.status == 204 {
                finished = true;
                break;
            }
            assert_accepted(&app, &p, SERVICE, &id);
        }
    }
    assert!(finished, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(
        app.call("GET", &path_of(&location), None).await.status,
        204,
        "a finished operation keeps answering its asyncCode"
    );
    // Everything went; the notice of `notify` waits in the outbox.
    for (key, _) in app.snapshot() {
        assert!(!key.contains(&id) || key.contains("/outbox/"), "{key}");
    }
    let mut messages: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .call(
                "GET",
                &format!("/v1/organizations/{org}/mdm/outbox?limit=200{cursor}"),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        messages.extend(
            page.body["data"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        match page.body["data"]["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let closed: Vec<&Value> = messages
        .iter()
        .filter(|m| m["kind"] == "account_closed")
        .collect();
    assert_eq!(closed.len(), 1, "{messages:?}");
    assert_eq!(closed[0]["to"], "big@example.com");
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["kind"] == "device_retire")
            .count(),
        210
    );
    app.assert_consistent();
}

/// The ETag a GET of `url` answers with.
async fn etag_of(app: &App, url: &str) -> String {
    let r = app.call("GET", url, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.header("etag").unwrap().to_owned()
}

/// What the error tests start from: an organization bound to apimService1 (resource
/// group "Rg1"), its user lee, and a live subscription of lee's: (org, user id,
/// subscription id).
async fn lee_subscribed(app: &App) -> (String, String, String) {
    let org = bound_org(app, "apim-errors", "Rg1", "apimService1", 100).await;
    let id = user(app, &org, "lee").await;
    let sub = subscribe(app, &org, &id).await;
    (org, id, sub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_errors_for_the_version_the_path_if_match_and_the_query() {
    let app = Arc::new(App::start().await);
    let (_org, id, _sub) = lee_subscribed(&app).await;
    let url = |q: &str| user_url(SERVICE, &id, q);
    // api-version.
    assert_arm(
        &delete(&app, &url(""), Some("*")).await,
        400,
        "MissingApiVersionParameter",
    );
    let r = delete(&app, &url("api-version=1999-01-01"), Some("*")).await;
    assert_arm(&r, 400, "InvalidApiVersionParameter");
    assert!(r.text.contains("2024-05-01"), "{}", r.text);
    // Path: a malformed subscription, an unbound service, names in another case.
    let bad_sub = SERVICE.replace(SUB, "not-a-subscription");
    let r = app.call("GET", &user_url(&bad_sub, &id, V), None).await;
    assert_arm(&r, 400, "InvalidSubscriptionId");
    let other = SERVICE.replace("apimService1", "otherService");
    let r = app.call("GET", &user_url(&other, &id, V), None).await;
    assert_arm(&r, 404, "ResourceNotFound");
    let folded = SERVICE
        .replace("rg1", "RG1")
        .replace("apimService1", "APIMSERVICE1");
    let r = app.call("GET", &user_url(&folded, &id, V), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["id"],
        json!(format!("{}/users/{id}", SERVICE.replace("rg1", "Rg1")))
    );
    assert!(r.header("etag").is_some(), "{}", r.text);

    // If-Match: required (428), must match (412), a foreign value never matches.
    assert_arm(
        &delete(&app, &url(V), None).await,
        428,
        "PreconditionRequired",
    );
    let r = delete(&app, &url(V), Some("\"999\"")).await;
    assert_arm(&r, 412, "PreconditionFailed");
    assert_eq!(r.body["error"]["target"], "If-Match");
    assert_arm(
        &delete(&app, &url(V), Some("AAAAAAAAAAA=")).await,
        412,
        "PreconditionFailed",
    );
    // If-Match compares strongly (RFC 9110 §13.1.1): the current version as a weak tag
    // matches nothing.
    let current = etag_of(&app, &url(V)).await;
    let r = delete(&app, &url(V), Some(&format!("W/{current}"))).await;
    assert_arm(&r, 412, "PreconditionFailed");
    // Tags compare as text (RFC 9110 §8.8.3.2): a leading zero names no version.
    let padded = format!("\"0{}", &current[1..]);
    let r = delete(&app, &url(V), Some(&padded)).await;
    assert_arm(&r, 412, "PreconditionFailed");
    // Query parameters.
    let r = delete(
        &app,
        &url(&format!("{V}&deleteSubscriptions=yes")),
        Some("*"),
    )
    .await;
    assert_arm(&r, 400, "InvalidParameter");
    assert_eq!(r.body["error"]["target"], "deleteSubscriptions");
    let r = delete(&app, &url(&format!("{V}&notify=1")), Some("*")).await;
    assert_eq!(r.body["error"]["target"], "notify", "{}", r.text);
    let r = delete(&app, &url(&format!("{V}&appType=mobile")), Some("*")).await;
    assert_arm(&r, 400, "InvalidParameter");
    assert_eq!(r.body["error"]["target"], "appType");
    let r = delete(&app, &url(&format!("{V}&dryRun=perhaps")), Some("*")).await;
    assert_eq!(r.body["error"]["target"], "dryRun", "{}", r.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscription_blocks_the_removal() {
    let app = Arc::new(App::start().await);
    let (_org, id, _sub) = lee_subscribed(&app).await;
    let url = |q: &str| user_url(SERVICE, &id, q);
    let etag = etag_of(&app, &url(V)).await;
    // A live subscription blocks without deleteSubscriptions=true; the dry run says so.
    let r = delete(&app, &url(&format!("{V}&appType=portal")), Some(&etag)).await;
    assert_arm(&r, 409, "UserHasSubscriptions");
    assert_eq!(r.body["error"]["target"], "deleteSubscriptions");
    // The codes of a dry run's blockers, for `If-Match: if_match`.
    let blockers = |if_match: String| {
        let app = app.clone();
        let url = url(&format!("{V}&dryRun=true"));
        async move {
            let dry = delete(&app, &url, Some(&if_match)).await;
            assert_eq!(dry.status, 200, "{}", dry.text);
            assert_eq!(dry.body["properties"]["removable"], false);
            dry.body["properties"]["blockers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["code"].clone())
                .collect::<Vec<Value>>()
        }
    };
    assert_eq!(
        blockers("\"999\"".into()).await,
        [json!("PreconditionFailed"), json!("UserHasSubscriptions")]
    );
    // A list of tags holds when any of them is current (RFC 9110 §13.1.1), on one line
    // or several, empty elements ignored: only the subscription blocks then.
    for listed in [format!("\"999\", {etag}"), format!(", {etag},, \"7\"")] {
        let codes = blockers(listed.clone()).await;
        assert_eq!(codes, [json!("UserHasSubscriptions")], "{listed}");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_errors_for_authentication_and_authorization() {
    let app = Arc::new(App::start().await);
    let (org, id, _sub) = lee_subscribed(&app).await;
    let url = |q: &str| user_url(SERVICE, &id, q);
    // Authentication and authorization.
    let r = app
        .send("DELETE", &url(V), None, &[("if-match", "*")], None)
        .await;
    assert_arm(&r, 401, "AuthenticationFailed");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = app.send("GET", &url(V), Some("nope"), &[], None).await;
    assert_arm(&r, 401, "InvalidAuthenticationToken");
    let token = |perms: Value, rate: Option<u32>, on: String| {
        let app = app.clone();
        async move { app.org_token(&on, perms, rate).await }
    };
    let reader = token(json!(["mdm.global.mdmUser.read"]), None, org.clone()).await;
    assert_eq!(
        app.send("GET", &url(V), Some(&reader), &[], None)
            .await
            .status,
        200
    );
    let r = app
        .send("DELETE", &url(V), Some(&reader), &[("if-match", "*")], None)
        .await;
    assert_arm(&r, 403, "AuthorizationFailed");
    assert!(r.text.contains("mdm.global.mdmUser.remove"), "{}", r.text);
    let ops = format!("{SERVICE}/tenant/operationResults/5c730e343244df1b9cb56e85?{V}");
    let r = app.send("GET", &ops, Some(&reader), &[], None).await;
    assert_arm(&r, 403, "AuthorizationFailed");
    assert_arm(&app.call("GET", &ops, None).await, 404, "ResourceNotFound");
    let foreign_org = app.org("apim-foreign").await;
    let foreign = token(json!(["*"]), None, foreign_org).await;
    let r = app.send("GET", &url(V), Some(&foreign), &[], None).await;
    assert_arm(&r, 404, "ResourceNotFound");
    let limited = token(json!(["mdm.global.mdmUser.read"]), Some(1), org.clone()).await;
    assert_eq!(
        app.send("GET", &url(V), Some(&limited), &[], None)
            .await
            .status,
        200
    );
    let r = app.send("GET", &url(V), Some(&limited), &[], None).await;
    assert_arm(&r, 429, "TooManyRequests");
    assert!(r.header("retry-after").is_some());
    let r = app.call("PUT", &url(V), None).await;
    assert_arm(&r, 405, "MethodNotAllowed");
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_get_404_and_their_deletion_204() {
    let app = Arc::new(App::start().await);
    let (org, id, _sub) = lee_subscribed(&app).await;
    // Unknown users: GET 404; DELETE 204 (ARM: deleting what is absent succeeds).
    let ghost = user_url(SERVICE, "5931a75ae4bbd512288c680b", V);
    assert_arm(
        &app.call("GET", &ghost, None).await,
        404,
        "ResourceNotFound",
    );
    assert_eq!(delete(&app, &ghost, Some("*")).await.status, 204);
    assert_eq!(
        delete(&app, &user_url(SERVICE, "1", V), Some("*"))
            .await
            .status,
        204
    );
    let r = app
        .call(
            "GET",
            &format!("{ghost}&asyncId=5c730e343244df1b9cb56e85"),
            None,
        )
        .await;
    assert_arm(&r, 404, "ResourceNotFound");
    assert_eq!(
        app.call("GET", &canonical(&org, &id), None).await.status,
        200
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_subscription_lets_the_user_go() {
    let app = Arc::new(App::start().await);
    let (org, id, sub) = lee_subscribed(&app).await;
    let url = |q: &str| user_url(SERVICE, &id, q);
    let etag = etag_of(&app, &url(V)).await;
    // Cancel the subscription: now the user goes (synchronously: 204).
    let r = app
        .call(
            "PATCH",
            &format!("{}/subscriptions/{sub}", canonical(&org, &id)),
            Some(json!({"state": "cancelled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = delete(&app, &url(V), Some(&etag)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deletions_perform_once() {
    let app = Arc::new(App::start().await);
    let org = bound_org(&app, "apim-race", "rg1", "apimService1", 10).await;
    for round in 0..3 {
        let id = user(&app, &org, &format!("race{round}")).await;
        // Round 0 finishes within a request; the others go asynchronous.
        devices(&app, &org, &id, if round == 0 { 5 } else { 30 }).await;
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (app, url) = (app.clone(), user_url(SERVICE, &id, V));
            tasks.push(tokio::spawn(
                async move { delete(&app, &url, Some("*")).await },
            ));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        // Every answer is ARM's: 204 (done, or already gone) or 202 (in progress).
        let mut op_url = None;
        for r in &replies {
            match r.status {
                204 => {}
                202 => op_url = Some(assert_accepted(&app, r, SERVICE, &id).1),
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        if let Some(op) = op_url {
            let mut done = false;
            for _ in 0..40 {
                let p = app.call("GET", &path_of(&op), None).await;
                if p.body["status"] == "Succeeded" {
                    done = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            assert!(done, "round {round}");
        }
        let (removals, audit) = app.removals_in_audit(&org, &id).await;
        assert_eq!(removals, 1, "round {round}: {audit}");
        assert_eq!(
            app.call("GET", &canonical(&org, &id), None).await.status,
            404
        );
    }
    app.assert_consistent();
}

/// Where phase one left a removal: the user, and the operation URL if a 202 named one.
struct Interrupted {
    id: String,
    op_url: Option<String>,
    finished: bool,
}

/// Runs a removal the way a client does: DELETE, then polls of the operation until it
/// succeeds; stops at the first 500 (the injected fault). Returns the operation URL
/// seen, if any, and whether it finished.
async fn run_removal(app: &App, id: &str) -> (Option<String>, bool) {
    let url = user_url(SERVICE, id, &format!("{V}&deleteSubscriptions=true"));
    let r = delete(app, &url, Some("*")).await;
    match r.status {
        204 => return (None, true),
        202 => {}
        500 => return (None, false),
        other => panic!("{other} {}", r.text),
    }
    let op = r.header("azure-asyncoperation").unwrap().to_owned();
    for _ in 0..20 {
        let p = app.call("GET", &path_of(&op), None).await;
        match (p.status, p.body["status"].as_str()) {
            (200, Some("Succeeded")) => return (Some(op), true),
            (200, Some("InProgress")) => {}
            (500, _) => return (Some(op), false),
            other => panic!("{other:?} {}", p.text),
        }
    }
    panic!("the removal of {id} did not finish");
}

/// Polls an operation URL until it reports success (true) or 20 polls have passed.
async fn poll_to_end(app: &App, op: &str) -> bool {
    for _ in 0..20 {
        let p = app.call("GET", &path_of(op), None).await;
        assert_eq!(p.status, 200, "{}", p.text);
        if p.body["status"] == "Succeeded" {
            return true;
        }
    }
    false
}

async fn interrupted_at_every_call(trap: bool) {
    let app = Arc::new(App::start().await);
    let org = bound_org(&app, "apim-faults", "rg1", "apimService1", 2).await;
    let setup = |name: String| {
        let app = app.clone();
        let org = org.clone();
        async move {
            let id = user(&app, &org, &name).await;
            devices(&app, &org, &id, 3).await;
            subscribe(&app, &org, &id).await;
            id
        }
    };
    // Count the key-value calls of an undisturbed removal: the DELETE and its polls.
    let probe = setup("probe".into()).await;
    app.host.faults().clear();
    let (op, finished) = run_removal(&app, &probe).await;
    assert!(
        finished && op.is_some(),
        "the probe goes asynchronous and finishes"
    );
    let calls = app.host.faults().kv_calls();
    assert!(calls > 20, "a removal makes {calls} key-value calls");

    // Phase one: interrupt each removal at its N-th call.
    let mut interrupted = Vec::new();
    for n in 1..=calls {
        let id = setup(format!("u{n}")).await;
        app.host.faults().clear();
        if trap {
            app.host.faults().trap_nth(n);
        } else {
            app.host.faults().fail_nth(n);
        }
        let (op_url, finished) = run_removal(&app, &id).await;
        assert!(
            app.host.faults().kv_calls() >= n,
            "call {n}: the removal made fewer calls than the probe"
        );
        app.host.faults().clear();
        // Only the last call (dropping the user id from the finished operation) is
        // best effort: a failure there does not stop the removal. Any other fault does.
        assert!(
            !finished || (!trap && n == calls),
            "call {n}: the fault did not stop the removal"
        );
        interrupted.push(Interrupted {
            id,
            op_url,
            finished,
        });
    }
    if trap {
        // A trapped request keeps its lease: wait it out once for all of them.
        let lease = u64::try_from(roster_domain::removal::LEASE_MS).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(lease + 500)).await;
    }
    // Phase two: poll what has an operation, retry the DELETE otherwise, to the end.
    for (i, it) in interrupted.iter().enumerate() {
        let n = i + 1;
        let done = match (&it.op_url, it.finished) {
            (_, true) => true,
            (Some(op), false) => poll_to_end(&app, op).await,
            (None, false) => run_removal(&app, &it.id).await.1,
        };
        assert!(done, "call {n}: not finished");
        // Finished means gone: no second DELETE is needed.
        assert_eq!(
            app.call("GET", &canonical(&org, &it.id), None).await.status,
            404,
            "call {n}"
        );
        let again = delete(&app, &user_url(SERVICE, &it.id, V), Some("*")).await;
        assert_eq!(again.status, 204, "call {n}: {}", again.text);
        assert_eq!(
            app.call("GET", &canonical(&org, &it.id), None).await.status,
            404,
            "call {n}"
        );
    }
    let snapshot = app.snapshot();
    for it in &interrupted {
        assert!(
            snapshot.keys().all(|k| !k.contains(&it.id)),
            "{} left keys",
            it.id
        );
    }
    for (key, value) in &snapshot {
        assert!(
            !String::from_utf8_lossy(value).contains("@example.com"),
            "{key} keeps an address"
        );
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_with_a_failing_call_completes_on_retry_or_poll() {
    interrupted_at_every_call(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_with_a_trapping_call_completes_on_retry_or_poll() {
    interrupted_at_every_call(true).await;
}
