//! The first vertical slice through every layer: organizations, users, devices and
//! enrollment tokens on the canonical surface, and seed 000's removal end to end,
//! through the real .wasm components served by roster-host over loopback HTTP.

use roster_tests::{App, assert_error};
use serde_json::{Value, json};

fn users(org: &str) -> String {
    format!("/v1/organizations/{org}/mdm/users")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_create_get_by_id_and_slug() {
    let app = App::start().await;
    let r = app
        .call(
            "POST",
            "/v1/organizations",
            Some(json!({"name": "Acme Corp", "slug": "acme-corp"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/organizations/{id}").as_str())
    );
    assert!(r.header("etag").is_some());

    for reference in [id.as_str(), "acme-corp", "ACME-CORP"] {
        let r = app
            .call("GET", &format!("/v1/organizations/{reference}"), None)
            .await;
        assert_eq!(r.status, 200, "{reference}: {}", r.text);
        assert_eq!(r.body["data"]["id"], Value::from(id.as_str()));
        assert_eq!(r.body["data"]["slug"], "acme-corp");
    }

    let dup = app
        .call(
            "POST",
            "/v1/organizations",
            Some(json!({"name": "Other", "slug": "Acme-Corp"})),
        )
        .await;
    assert_error(&dup, 409, 3002);

    let unknown = app.call("GET", "/v1/organizations/no-such-org", None).await;
    assert_error(&unknown, 404, 3001);

    let bad = app.call("GET", "/v1/organizations/a_b", None).await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("organizationId"), "{}", bad.text);

    let put = app.call("PUT", "/v1/organizations", None).await;
    assert_error(&put, 405, 1005);
    assert_eq!(put.header("allow"), Some("GET, HEAD, POST"));

    // Listing, renaming and moving the slug.
    let list = app.call("GET", "/v1/organizations?limit=200", None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(
        list.body["data"]["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == id.as_str())
    );
    let etag = app
        .call("GET", &format!("/v1/organizations/{id}"), None)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let moved = app
        .send(
            "PATCH",
            "/v1/organizations/acme-corp",
            Some(&app.admin_token),
            &[("if-match", etag.as_str())],
            Some(json!({"name": "Acme Inc", "slug": "acme-inc"}).to_string()),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["data"]["slug"], "acme-inc");
    assert_error(
        &app.call("GET", "/v1/organizations/acme-corp", None).await,
        404,
        3001,
    );
    assert_eq!(
        app.call("GET", "/v1/organizations/acme-inc", None)
            .await
            .status,
        200
    );
    let stale = app
        .send(
            "PATCH",
            "/v1/organizations/acme-inc",
            Some(&app.admin_token),
            &[("if-match", etag.as_str())],
            Some("{}".into()),
        )
        .await;
    assert_error(&stale, 412, 3003);
    // The old slug is free for another organization.
    app.org("acme-corp").await;
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_answers_as_seed_000() {
    let app = App::start().await;
    let org = app.org("auth-org").await;
    let path = users(&org);
    let none = app
        .send(
            "GET",
            &format!("{path}/5931a75ae4bbd512288c680b"),
            None,
            &[],
            None,
        )
        .await;
    assert_error(&none, 401, 4002);
    assert_eq!(none.body["error"]["message"], "No auth token");
    let wrong = app
        .send(
            "GET",
            &format!("{path}/5931a75ae4bbd512288c680b"),
            Some("nope"),
            &[],
            None,
        )
        .await;
    assert_error(&wrong, 401, 4001);
    assert_eq!(wrong.body["error"]["message"], "Unauthorized");
    let basic = app
        .send(
            "GET",
            &format!("{path}/5931a75ae4bbd512288c680b"),
            None,
            &[("authorization", "Basic a2ltOnB3")],
            None,
        )
        .await;
    assert_error(&basic, 401, 4002);
    let create = app
        .send(
            "POST",
            "/v1/organizations",
            Some("nope"),
            &[],
            Some(r#"{"name":"x","slug":"xyz"}"#.into()),
        )
        .await;
    assert_error(&create, 401, 4001);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_create_and_get() {
    let app = App::start().await;
    let org = app.org("users-org").await;
    let r = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "kim", "email": "kim@example.com", "firstName": "Kim", "lastName": "Lee"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("{}/{id}", users(&org)).as_str())
    );
    assert_eq!(r.body["data"]["status"], "active");
    assert!(r.body["data"].get("password").is_none());

    let got = app
        .call("GET", &format!("{}/{id}", users(&org)), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["data"]["username"], "kim");
    assert_eq!(got.header("etag"), r.header("etag"));
    // The slug addresses the same organization.
    let by_slug = app
        .call("GET", &format!("{}/{id}", users("users-org")), None)
        .await;
    assert_eq!(by_slug.status, 200);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_refuse_duplicates_and_bad_bodies() {
    let app = App::start().await;
    let org = app.org("users-org").await;
    app.user(&org, "kim").await;
    let dup = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "KIM", "email": "other@example.com"})),
        )
        .await;
    assert_error(&dup, 409, 3002);
    assert!(dup.text.contains("username"));
    let dup = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "kim2", "email": "Kim@Example.com"})),
        )
        .await;
    assert_error(&dup, 409, 3002);
    assert!(dup.text.contains("email"));

    let bad_email = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "a", "email": "nope"})),
        )
        .await;
    assert_error(&bad_email, 400, 1001);
    assert!(bad_email.text.contains("email"), "{}", bad_email.text);
    let missing = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"email": "a@example.com"})),
        )
        .await;
    assert_error(&missing, 400, 1002);
    assert!(missing.text.contains("username"), "{}", missing.text);
    let unknown_field = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "a", "email": "a@example.com", "role": "x"})),
        )
        .await;
    assert_error(&unknown_field, 400, 1002);
    assert!(
        unknown_field.text.contains("role"),
        "{}",
        unknown_field.text
    );
    let wrong_type = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": 7, "email": "a@example.com"})),
        )
        .await;
    assert_error(&wrong_type, 400, 1002);
    assert!(wrong_type.text.contains("username"), "{}", wrong_type.text);
    let not_json = app
        .send(
            "POST",
            &users(&org),
            Some(&app.admin_token),
            &[],
            Some("{".into()),
        )
        .await;
    assert_error(&not_json, 400, 1002);
    let huge = app
        .send(
            "POST",
            &users(&org),
            Some(&app.admin_token),
            &[],
            Some(format!(r#"{{"username":"{}"}}"#, "a".repeat(70_000))),
        )
        .await;
    assert_error(&huge, 413, 1003);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_refuse_bad_ids_unknown_users_and_methods() {
    let app = App::start().await;
    let org = app.org("users-org").await;
    let id = app.user(&org, "kim").await;
    let bad_id = app
        .call("GET", &format!("{}/not-an-id", users(&org)), None)
        .await;
    assert_error(&bad_id, 400, 1001);
    assert!(bad_id.text.contains("mdmUserId"), "{}", bad_id.text);
    let unknown = app
        .call(
            "GET",
            &format!("{}/5931a75ae4bbd512288c680b", users(&org)),
            None,
        )
        .await;
    assert_error(&unknown, 404, 3001);
    assert_eq!(unknown.body["error"]["message"], "Entity not found");
    let unknown_org = app
        .call("GET", &format!("{}/{id}", users("nobody-here")), None)
        .await;
    assert_error(&unknown_org, 404, 3001);
    // The organization is checked before the user's id (api.md's order of checks): a
    // malformed id in an organization that does not exist is its 404, not a 400.
    let both_bad = app
        .call("GET", &format!("{}/not-an-id", users("nobody-here")), None)
        .await;
    assert_error(&both_bad, 404, 3001);
    let post = app
        .call("POST", &format!("{}/{id}", users(&org)), None)
        .await;
    assert_error(&post, 405, 1005);
    assert_eq!(post.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_put_replaces_every_mutable_field() {
    let app = App::start().await;
    let org = app.org("users-org").await;
    let id = app.user(&org, "kim").await;
    // PUT replaces every mutable field: absent names become empty.
    let put = app
        .call(
            "PUT",
            &format!("{}/{id}", users(&org)),
            Some(json!({"email": "kim.lee@example.com", "firstName": "Kim"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["data"]["email"], "kim.lee@example.com");
    assert_eq!(put.body["data"]["lastName"], "");
    // The email is optional: a PUT without it leaves the user without one.
    let put_missing = app
        .call(
            "PUT",
            &format!("{}/{id}", users(&org)),
            Some(json!({"firstName": "K"})),
        )
        .await;
    assert_eq!(put_missing.status, 200, "{}", put_missing.text);
    assert_eq!(put_missing.body["data"]["email"], Value::Null);
    let bad = app
        .call(
            "PUT",
            &format!("{}/{id}", users(&org)),
            Some(json!({"email": "not an address"})),
        )
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("email"), "{}", bad.text);
    app.assert_consistent();
}

/// Seed 000 end to end: refused with 5054 while a device is ACTIVE, with 5055 while an
/// enrollment token is pending, then removed with 200; afterwards 404, the username is
/// free, and no key or value in the store mentions the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_removal_end_to_end() {
    let app = App::start().await;
    let org = app.org("removal-org").await;
    let id = app.user(&org, "alex.removed").await;
    let user = format!("{}/{id}", users(&org));

    let dev = app
        .call(
            "POST",
            &format!("{user}/devices"),
            Some(json!({
                "name": "Pixel 8", "type": "android", "deviceIdentifier": "356938035643809",
                "enrolmentInfo": {"ownership": "BYOD", "status": "ACTIVE"},
                "properties": [{"name": "DEVICE_MODEL", "value": "Pixel 8"}]
            })),
        )
        .await;
    assert_eq!(dev.status, 201, "{}", dev.text);
    assert_eq!(dev.body["data"]["enrolmentInfo"]["owner"], "alex.removed");
    let device_id = dev.body["data"]["id"].as_str().unwrap().to_owned();

    let refused = app.call("DELETE", &user, None).await;
    assert_error(&refused, 400, 5054);
    assert_eq!(
        refused.body["error"]["message"],
        "MdmUser Can not be deleted because has no delete emmDevices"
    );

    let inactive = app
        .call(
            "PATCH",
            &format!("{user}/devices/{device_id}"),
            Some(json!({"status": "INACTIVE"})),
        )
        .await;
    assert_eq!(inactive.status, 200, "{}", inactive.text);
    assert_eq!(inactive.body["data"]["enrolmentInfo"]["status"], "INACTIVE");

    let token = app
        .call(
            "POST",
            &format!("{user}/enrollment-tokens"),
            Some(json!({"expiresIn": 3600})),
        )
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    assert_eq!(token.body["data"]["status"], "pending");
    let token_id = token.body["data"]["id"].as_str().unwrap().to_owned();

    let refused = app.call("DELETE", &user, None).await;
    assert_error(&refused, 400, 5055);
    assert_eq!(
        refused.body["error"]["message"],
        "MdmUser Can not be deleted because has pending emmEnrollmentTokens"
    );

    let revoked = app
        .call(
            "DELETE",
            &format!("{user}/enrollment-tokens/{token_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.body["data"]["status"], "revoked");

    let stale = app
        .send(
            "DELETE",
            &user,
            Some(&app.admin_token),
            &[("if-match", "\"999\"")],
            None,
        )
        .await;
    assert_error(&stale, 412, 3003);

    let removed = app.call("DELETE", &user, None).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(
        removed.body,
        json!({"status": true, "data": {"delete": id}})
    );

    assert_error(&app.call("GET", &user, None).await, 404, 3001);
    assert_error(&app.call("DELETE", &user, None).await, 404, 3001);
    assert_error(
        &app.call("GET", &format!("{user}/devices/{device_id}"), None)
            .await,
        404,
        3001,
    );

    // The device's retire notice waits in the outbox for the mailer; once it is
    // acknowledged, nothing of the user survives anywhere in the store.
    let outbox = app
        .call("GET", &format!("/v1/organizations/{org}/mdm/outbox"), None)
        .await;
    let notices: Vec<Value> = outbox.body["data"]["messages"].as_array().unwrap().clone();
    assert!(
        notices
            .iter()
            .any(|m| m["kind"] == "device_retire" && m["deviceId"] == device_id.as_str()),
        "{}",
        outbox.text
    );
    let numbers: Vec<Value> = notices.iter().map(|m| m["number"].clone()).collect();
    let ack = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/outbox"),
            Some(json!({ "acknowledge": numbers })),
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.text);
    for (key, value) in app.snapshot() {
        let value = String::from_utf8_lossy(&value);
        for needle in [
            "alex.removed",
            "Firstname",
            "Lastname",
            id.as_str(),
            device_id.as_str(),
        ] {
            assert!(
                !key.contains(needle) && !value.contains(needle),
                "{key} = {value} holds {needle}"
            );
        }
    }
    app.assert_consistent();
    // The username is free again.
    app.user(&org, "alex.removed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_tokens_routes() {
    let app = App::start().await;
    let org = app.org("devices-org").await;
    let id = app.user(&org, "dana").await;
    let user = format!("{}/{id}", users(&org));
    let bad = app
        .call(
            "POST",
            &format!("{user}/devices"),
            Some(json!({"name": "x", "type": "ios", "deviceIdentifier": ""})),
        )
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("deviceIdentifier"), "{}", bad.text);
    let bad_status = app
        .call(
            "POST",
            &format!("{user}/devices"),
            Some(json!({"name": "x", "type": "ios", "deviceIdentifier": "1", "enrolmentInfo": {"status": "ON"}})),
        )
        .await;
    assert_error(&bad_status, 400, 1002);
    assert!(
        bad_status.text.contains("enrolmentInfo.status"),
        "{}",
        bad_status.text
    );

    let d = app
        .call(
            "POST",
            &format!("{user}/devices"),
            Some(json!({"name": "iPad", "type": "ios", "deviceIdentifier": "A1"})),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.text);
    assert_eq!(d.body["data"]["enrolmentInfo"]["status"], "ACTIVE");
    assert_eq!(d.body["data"]["enrolmentInfo"]["ownership"], "BYOD");
    let list = app.call("GET", &format!("{user}/devices"), None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let device_id = d.body["data"]["id"].as_str().unwrap();
    let del = app
        .call("DELETE", &format!("{user}/devices/{device_id}"), None)
        .await;
    assert_eq!(del.status, 200, "{}", del.text);
    assert_error(
        &app.call("DELETE", &format!("{user}/devices/{device_id}"), None)
            .await,
        404,
        3001,
    );
    let list = app.call("GET", &format!("{user}/devices"), None).await;
    assert_eq!(list.body["data"], json!([]));

    let t = app
        .send(
            "POST",
            &format!("{user}/enrollment-tokens"),
            Some(&app.admin_token),
            &[],
            None,
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);
    let too_long = app
        .call(
            "POST",
            &format!("{user}/enrollment-tokens"),
            Some(json!({"expiresIn": 0})),
        )
        .await;
    assert_error(&too_long, 400, 1001);
    assert!(too_long.text.contains("expiresIn"));
    let tokens = app
        .call("GET", &format!("{user}/enrollment-tokens"), None)
        .await;
    assert_eq!(tokens.body["data"].as_array().unwrap().len(), 1);
    let no_user = format!("{}/5931a75ae4bbd512288c680b/devices", users(&org));
    assert_error(&app.call("GET", &no_user, None).await, 404, 3001);
    app.assert_consistent();
}

/// Awaits racing requests (their statuses) and asserts that exactly one answered `won`
/// and every other one `lost`.
async fn assert_one_winner(tasks: Vec<tokio::task::JoinHandle<u16>>, won: u16, lost: u16) {
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let n = statuses.len();
    assert_eq!(
        statuses.iter().filter(|s| **s == won).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == lost).count(),
        n - 1,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_of_one_email_have_one_winner() {
    let app = std::sync::Arc::new(App::start().await);
    let org = app.org("email-race-org").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            app.call(
                "POST",
                &users(&org),
                Some(json!({"username": format!("racer{i}"), "email": "Same@Example.com"})),
            )
            .await
            .status
        }));
    }
    assert_one_winner(tasks, 201, 409).await;
    let count = app
        .call("GET", &format!("{}/count", users(&org)), None)
        .await;
    assert_eq!(count.body["data"]["count"], 1);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_of_one_username_have_one_winner() {
    let app = std::sync::Arc::new(App::start().await);
    let org = app.org("race-org").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            app.call(
                "POST",
                &users(&org),
                Some(json!({"username": "Racer", "email": format!("racer{i}@example.com")})),
            )
            .await
            .status
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            409 => conflicts += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 63));
    app.assert_consistent();
}

/// 64 PATCHes with the same `If-Match` and the same body: exactly one writes (200), every
/// other answers 412, and the user's version moved by one. Identical bodies make the
/// racers' records differ only by their write stamps, which is what tells a swap that
/// wrote from one that lost on a backend whose swaps all report failure (Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_patches_with_one_if_match_have_one_winner() {
    let app = std::sync::Arc::new(App::start().await);
    let org = app.org("if-match-race-org").await;
    let id = app.user(&org, "ifmatch").await;
    let user = format!("{}/{id}", users(&org));
    let got = app.call("GET", &user, None).await;
    let etag = got.header("etag").unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let app = app.clone();
        let (user, etag) = (user.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            let token = app.admin_token.clone();
            app.send(
                "PATCH",
                &user,
                Some(&token),
                &[("if-match", etag.as_str())],
                Some(json!({"firstName": "Same"}).to_string()),
            )
            .await
            .status
        }));
    }
    assert_one_winner(tasks, 200, 412).await;
    let after = app.call("GET", &user, None).await;
    assert_eq!(after.body["data"]["firstName"], "Same");
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    app.assert_consistent();
}

/// `…/users/count` is an exact route and wins over `…/users/:mdmUserId`; PATCH and the
/// status route are conditional writes guarded by `If-Match`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_patch_status_and_if_match() {
    let app = App::start().await;
    let org = app.org("patch-org").await;
    let count = app
        .call("GET", &format!("{}/count", users(&org)), None)
        .await;
    assert_eq!(count.status, 200, "{}", count.text);
    assert_eq!(count.body["data"]["count"], 0);
    let id = app.user(&org, "pat").await;
    app.user(&org, "sam").await;
    let count = app
        .call("GET", &format!("{}/count", users(&org)), None)
        .await;
    assert_eq!(count.body["data"]["count"], 2);

    let user = format!("{}/{id}", users(&org));
    let got = app.call("GET", &user, None).await;
    let etag = got.header("etag").unwrap().to_owned();
    let patched = app
        .send(
            "PATCH",
            &user,
            Some(&app.admin_token),
            &[("if-match", etag.as_str())],
            Some(json!({"firstName": "Patricia", "email": "patricia@example.com"}).to_string()),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"]["firstName"], "Patricia");
    assert_eq!(patched.body["data"]["email"], "patricia@example.com");
    assert_ne!(patched.header("etag"), Some(etag.as_str()));
    // The old ETag is stale now.
    let stale = app
        .send(
            "PATCH",
            &user,
            Some(&app.admin_token),
            &[("if-match", etag.as_str())],
            Some(json!({"lastName": "X"}).to_string()),
        )
        .await;
    assert_error(&stale, 412, 3003);
    // The old email is free again; the new one is taken.
    let taken = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "other", "email": "PATRICIA@example.com"})),
        )
        .await;
    assert_error(&taken, 409, 3002);
    let freed = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "other", "email": "pat@example.com"})),
        )
        .await;
    assert_eq!(freed.status, 201, "{}", freed.text);

    let disabled = app
        .call(
            "POST",
            &format!("{user}/status"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.body["data"]["status"], "disabled");
    let bad = app
        .call(
            "POST",
            &format!("{user}/status"),
            Some(json!({"status": "pending_deletion"})),
        )
        .await;
    assert_error(&bad, 400, 1002);
    assert!(bad.text.contains("status"), "{}", bad.text);
    let get_status = app.call("GET", &format!("{user}/status"), None).await;
    assert_error(&get_status, 405, 1005);
    assert_eq!(get_status.header("allow"), Some("POST"));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_every_user_once() {
    let app = App::start().await;
    let org = app.org("list-org").await;
    for i in 0..5 {
        app.user(&org, &format!("list{i}")).await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => format!("{}?limit=2", users(&org)),
            Some(c) => format!("{}?limit=2&cursor={c}", users(&org)),
        };
        let page = app.call("GET", &path, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let batch = page.body["data"]["users"].as_array().unwrap().clone();
        assert!(batch.len() <= 2);
        seen.extend(
            batch
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned()),
        );
        match page.body["data"]["nextCursor"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["list0", "list1", "list2", "list3", "list4"]);
    let bad = app
        .call("GET", &format!("{}?limit=500", users(&org)), None)
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("limit"));
    let bad = app
        .call("GET", &format!("{}?cursor=nope", users(&org)), None)
        .await;
    assert_error(&bad, 400, 1001);
    assert!(bad.text.contains("cursor"));
    let disabled = app
        .call("GET", &format!("{}?status=disabled", users(&org)), None)
        .await;
    assert_eq!(disabled.body["data"]["users"], json!([]));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_membership() {
    let app = App::start().await;
    let org = app.org("groups-org").await;
    let base = format!("/v1/organizations/{org}/mdm/groups");
    let g = app
        .call(
            "POST",
            &base,
            Some(json!({"name": "Staff", "description": "everyone"})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let gid = g.body["data"]["id"].as_str().unwrap().to_owned();
    assert_error(
        &app.call("POST", &base, Some(json!({"name": "staff"})))
            .await,
        409,
        3002,
    );
    assert_eq!(
        app.call("GET", &base, None).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let id = app.user(&org, "grace").await;
    let ug = format!("{}/{id}/groups", users(&org));
    let missing = app
        .call("PUT", &ug, Some(json!({"groups": ["nope"]})))
        .await;
    assert_error(&missing, 400, 1001);
    assert!(missing.text.contains("groups[0]"), "{}", missing.text);
    let set = app
        .call("PUT", &ug, Some(json!({"groups": ["STAFF"]})))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["data"][0]["name"], "Staff");
    let listed = app
        .call("GET", &format!("{}?group=staff", users(&org)), None)
        .await;
    assert_eq!(listed.body["data"]["users"].as_array().unwrap().len(), 1);

    let del = app.call("DELETE", &format!("{base}/{gid}"), None).await;
    assert_eq!(del.status, 200, "{}", del.text);
    assert_eq!(app.call("GET", &ug, None).await.body["data"], json!([]));
    assert_error(
        &app.call("GET", &format!("{base}/{gid}"), None).await,
        404,
        3001,
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_change_and_reset_without_leaking_hashes() {
    let app = App::start().await;
    let org = app.org("pw-org").await;
    let r = app
        .call(
            "POST",
            &users(&org),
            Some(json!({"username": "pw", "email": "pw@example.com", "password": "first-secret"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("argon2") && !r.text.contains("first-secret"));
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let user = format!("{}/{id}", users(&org));
    let wrong = app
        .call(
            "POST",
            &format!("{user}/password"),
            Some(json!({"oldPassword": "nope-nope", "newPassword": "second-secret"})),
        )
        .await;
    assert_error(&wrong, 400, 2001);
    let short = app
        .call(
            "POST",
            &format!("{user}/password"),
            Some(json!({"oldPassword": "first-secret", "newPassword": "short"})),
        )
        .await;
    assert_error(&short, 400, 1001);
    assert!(short.text.contains("newPassword"));
    let changed = app
        .call(
            "POST",
            &format!("{user}/password"),
            Some(json!({"oldPassword": "first-secret", "newPassword": "second-secret"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let reset = app
        .call(
            "POST",
            &format!("{user}/password-reset"),
            Some(json!({"newPassword": "third-secret"})),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let old = app
        .call(
            "POST",
            &format!("{user}/password"),
            Some(json!({"oldPassword": "second-secret", "newPassword": "fourth-secret"})),
        )
        .await;
    assert_error(&old, 400, 2001);
    let got = app.call("GET", &user, None).await;
    assert!(
        !got.text.contains("argon2") && !got.text.to_lowercase().contains("password\""),
        "{}",
        got.text
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_fill_the_outbox_and_removal_purges_it() {
    let app = App::start().await;
    let org = app.org("invite-org").await;
    let id = app.user(&org, "ivy").await;
    let base = format!("/v1/organizations/{org}/mdm");
    let r = app
        .call(
            "POST",
            &format!("{base}/invitations"),
            Some(json!({"usernames": ["IVY", "ghost"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"][0]["status"], "invited");
    assert_eq!(r.body["data"][1]["status"], "not_found");
    let outbox = app.call("GET", &format!("{base}/outbox"), None).await;
    let messages = outbox.body["data"]["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "ivy@example.com");
    assert_eq!(messages[0]["kind"], "invitation");
    // The invitation's token is pending: seed 000's removal refuses with 5055.
    let user = format!("{}/{id}", users(&org));
    assert_error(&app.call("DELETE", &user, None).await, 400, 5055);
    let token = r.body["data"][0]["enrollmentTokenId"].as_str().unwrap();
    app.call("DELETE", &format!("{user}/enrollment-tokens/{token}"), None)
        .await;
    assert_eq!(app.call("DELETE", &user, None).await.status, 200);
    let outbox = app.call("GET", &format!("{base}/outbox"), None).await;
    assert_eq!(
        outbox.body["data"]["messages"],
        json!([]),
        "removal purges the user's messages"
    );

    // Acknowledging removes delivered messages.
    app.user(&org, "jo").await;
    let r = app
        .call(
            "POST",
            &format!("{base}/invitations"),
            Some(json!({"usernames": ["jo"]})),
        )
        .await;
    let n = r.body["data"][0]["messageNumber"].as_i64().unwrap();
    let ack = app
        .call(
            "POST",
            &format!("{base}/outbox"),
            Some(json!({"acknowledge": [n, 999]})),
        )
        .await;
    assert_eq!(ack.body["data"]["acknowledged"], 1);
    let outbox = app.call("GET", &format!("{base}/outbox"), None).await;
    assert_eq!(outbox.body["data"]["messages"], json!([]));
    let bad = app
        .call(
            "POST",
            &format!("{base}/invitations"),
            Some(json!({"usernames": []})),
        )
        .await;
    assert_error(&bad, 400, 1001);
    app.assert_consistent();
}

/// A user created without email: answered with `"email": null`, and an invitation to
/// it is reported `not_deliverable` per user while the others are invited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_email_is_created_and_not_invited() {
    let app = App::start().await;
    let org = app.org("no-email-org").await;
    let r = app
        .call("POST", &users(&org), Some(json!({"username": "kiosk"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["email"], Value::Null);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let got = app
        .call("GET", &format!("{}/{id}", users(&org)), None)
        .await;
    assert_eq!(got.body["data"]["email"], Value::Null);
    app.user(&org, "ivy").await;
    let base = format!("/v1/organizations/{org}/mdm");
    let r = app
        .call(
            "POST",
            &format!("{base}/invitations"),
            Some(json!({"usernames": ["kiosk", "ivy"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["data"][0],
        json!({"username": "kiosk", "status": "not_deliverable",
               "reason": "the user has no email address"})
    );
    assert_eq!(r.body["data"][1]["status"], "invited");
    let outbox = app.call("GET", &format!("{base}/outbox"), None).await;
    let messages = outbox.body["data"]["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "ivy@example.com");
    app.assert_consistent();
}

/// A body that stops before its declared `Content-Length` (the client closes its side
/// midway) is refused with 400 and changes nothing: the part that came, here a whole
/// JSON object, is never acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_refused_and_changes_nothing() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = App::start().await;
    let org = app.org("cut-org").await;
    let id = app.user(&org, "kim").await;
    let path = format!("{}/{id}", users(&org));
    let before = app.call("GET", &path, None).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let part = r#"{"lastName":"Cut"}"#;
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        app.admin_token,
        part.len() + 50
    );
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(part.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await.unwrap() {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 30 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let after = app.call("GET", &path, None).await;
    assert_eq!(after.body, before.body, "the cut body changed the user");
    app.assert_consistent();
}

/// The headers of `r` that GET and HEAD must answer alike (RFC 9110 §9.3.2): all but
/// the connection's framing, the date and the rate limit's count, which moves with
/// every request.
fn comparable_headers(r: &roster_tests::Reply) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !matches!(name, "date" | "content-length" | "transfer-encoding")
                && !name.starts_with("x-ratelimit-")
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// RFC 9110 §9.1 / §9.3.2: every route that serves GET serves HEAD, answering GET's
/// status and headers without the body — on success, on a refusal (401, 404), and on a
/// conditional GET (SCIM's 304) — and lists it in `Allow`; HEAD on a route without GET
/// is 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_what_get_answers_without_the_body() {
    let app = App::start().await;
    let org = app.org("head-org").await;
    let id = app.user(&org, "head-kim").await;
    let scim = format!("/v1/organizations/{org}/scim/v2");
    let paths = [
        format!("/v1/organizations/{org}"),
        users(&org),
        format!("{}/{id}", users(&org)),
        format!("{}/{id}/devices", users(&org)),
        format!("{}/no-such-user", users(&org)),
        format!("/v1/organizations/{org}/audit"),
        format!("{scim}/Users"),
        format!("{scim}/ServiceProviderConfig"),
        format!("{scim}/Schemas/no-such-schema"),
        "/v1/tokens".to_owned(),
    ];
    for path in &paths {
        let get = app.call("GET", path, None).await;
        let head = app.call("HEAD", path, None).await;
        assert!(!get.text.is_empty(), "GET {path} has a body");
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert_eq!(
            comparable_headers(&head),
            comparable_headers(&get),
            "HEAD {path}"
        );
        assert!(
            head.text.is_empty(),
            "HEAD {path} has no body: {}",
            head.text
        );
        // Without a token: GET's 401, headers and all, without the body.
        let get = app.send("GET", path, None, &[], None).await;
        let head = app.send("HEAD", path, None, &[], None).await;
        assert_eq!((head.status, get.status), (401, 401), "{path}");
        assert_eq!(
            comparable_headers(&head),
            comparable_headers(&get),
            "{path}"
        );
        assert!(head.text.is_empty(), "HEAD {path} has no body");
    }
    // A conditional HEAD (SCIM's GET of a resource is conditional): 304 when
    // If-None-Match names the version.
    let user = format!("{scim}/Users/{id}");
    let etag = app.call("GET", &user, None).await;
    assert_eq!(etag.status, 200, "{}", etag.text);
    let etag = etag.header("etag").unwrap().to_owned();
    let head = app
        .send(
            "HEAD",
            &user,
            Some(&app.admin_token),
            &[("if-none-match", etag.as_str())],
            None,
        )
        .await;
    assert_eq!(head.status, 304);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // Allow names HEAD after GET; a route without GET refuses HEAD with its 405.
    let put = app.call("PUT", &users(&org), Some(json!({}))).await;
    assert_eq!(put.header("allow"), Some("GET, HEAD, POST"));
    let head = app
        .call("HEAD", &format!("{}/{id}/status", users(&org)), None)
        .await;
    assert_eq!(head.status, 405);
    assert_eq!(head.header("allow"), Some("POST"));
    assert!(head.text.is_empty());
    app.assert_consistent();
}
