//! The SCIM 2.0 service provider (RFC 7644) through the real components: every
//! operation on Users and Groups, lists with each filter operator, refusals of filters
//! that cannot be served without a scan, sorting, paging, projection, ETags, the
//! lifecycle on the shared domain, discovery documents held to the behaviour, the
//! identity providers' request shapes, and the authentication answers. Every test ends
//! with the storage invariants checker.

use roster_tests::{App, Reply};
use serde_json::{Value, json};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn base(org: &str) -> String {
    format!("/v1/organizations/{org}/scim/v2")
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A SCIM request with the admin token and `Content-Type: application/scim+json`.
async fn scim(app: &App, method: &str, path: &str, body: Option<Value>) -> Reply {
    scim_with(app, method, path, &[], body).await
}

async fn scim_with(
    app: &App,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut all = vec![("content-type", "application/scim+json")];
    all.extend_from_slice(headers);
    let r = app
        .send(
            method,
            path,
            Some(&app.admin_token),
            &all,
            body.map(|b| b.to_string()),
        )
        .await;
    if !r.text.is_empty() {
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{method} {path}: {}",
            r.text
        );
    }
    r
}

/// Asserts an RFC 7644 §3.12 error.
fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([ERROR_URN]), "{}", r.text);
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.text);
    assert_eq!(
        r.body["scimType"].as_str(),
        scim_type,
        "scimType of {}",
        r.text
    );
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
}

fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": { "givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara Jensen" },
        "emails": [{ "value": format!("{user_name}@example.com"), "type": "work", "primary": true }],
        "active": true,
    })
}

async fn create_user(app: &App, org: &str, body: Value) -> Value {
    let r = scim(app, "POST", &format!("{}/Users", base(org)), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn create_group(app: &App, org: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let r = scim(
        app,
        "POST",
        &format!("{}/Groups", base(org)),
        Some(json!({ "schemas": [GROUP_URN], "displayName": name, "members": members })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

/// Lists with `query` (already encoded) and returns the body, asserting a ListResponse.
async fn list(app: &App, org: &str, resource: &str, query: &str) -> Value {
    let r = scim(
        app,
        "GET",
        &format!("{}/{resource}?{query}", base(org)),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    assert_eq!(r.body["schemas"], json!([LIST_URN]));
    r.body
}

/// The userNames a filtered list of users answers, in order.
async fn names(app: &App, org: &str, filter: &str) -> Vec<String> {
    let body = list(app, org, "Users", &format!("filter={}", enc(filter))).await;
    let out: Vec<String> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(body["totalResults"], json!(out.len()), "{filter}");
    out
}

async fn refused_filter(app: &App, org: &str, resource: &str, filter: &str) -> Reply {
    let r = scim(
        app,
        "GET",
        &format!("{}/{resource}?filter={}", base(org), enc(filter)),
        None,
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    r
}

/// An organization token with `permissions` (and optionally a rate limit).
async fn token(app: &App, org: &str, permissions: &[&str], rate: Option<u32>) -> String {
    let mut body = json!({ "name": "idp", "permissions": permissions });
    if let Some(r) = rate {
        body["rateLimitPerMinute"] = json!(r);
    }
    app.token_with(org, body).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_replace_delete_and_the_username_is_free_again() {
    let app = App::start().await;
    let org = app.org("scim-crud").await;
    let users = format!("{}/Users", base(&org));

    let created = scim(&app, "POST", &users, Some(user_body("bjensen"))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    let location = created.header("location").unwrap().to_owned();
    assert!(location.ends_with(&format!("/v1/organizations/{org}/scim/v2/Users/{id}")));
    assert!(location.starts_with("http://"), "absolute: {location}");
    let etag = created.header("etag").unwrap().to_owned();
    assert_eq!(etag, "W/\"1\"");
    let b = &created.body;
    assert_eq!(b["schemas"], json!([USER_URN]));
    assert_eq!(b["userName"], "bjensen");
    assert_eq!(b["externalId"], "ext-bjensen");
    assert_eq!(b["active"], true);
    assert_eq!(
        b["name"],
        json!({ "givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara Jensen" })
    );
    assert_eq!(
        b["emails"],
        json!([{ "value": "bjensen@example.com", "type": "work", "primary": true }])
    );
    assert_eq!(b["meta"]["resourceType"], "User");
    assert_eq!(b["meta"]["location"], json!(location));
    assert_eq!(b["meta"]["version"], json!(etag));
    assert!(b["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert!(b.get("password").is_none() && b.get("groups").is_none());

    // The same user on the canonical surface: source scim.
    let canonical = format!("/v1/organizations/{org}/mdm/users/{id}");
    let c = app.call("GET", &canonical, None).await;
    assert_eq!(c.status, 200);
    assert_eq!(c.body["data"]["source"], "scim");
    assert_eq!(c.body["data"]["username"], "bjensen");
    assert_eq!(c.body["data"]["email"], "bjensen@example.com");
    assert_eq!(c.body["data"]["firstName"], "Barbara");

    let got = scim(&app, "GET", &format!("{users}/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.header("location"), Some(location.as_str()));

    // PUT replaces: what it omits is gone, readOnly attributes are ignored.
    let mut put = user_body("bjensen");
    put["id"] = json!("000000000000000000000000");
    put["meta"] = json!({ "version": "W/\"99\"" });
    put["name"] = json!({ "givenName": "Babs" });
    put["title"] = json!("Tour Guide");
    put[ENTERPRISE] = json!({ "employeeNumber": "701984", "department": "Tours" });
    put["schemas"] = json!([USER_URN, ENTERPRISE]);
    let replaced = scim(&app, "PUT", &format!("{users}/{id}"), Some(put)).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["id"], json!(id));
    assert_eq!(replaced.body["name"], json!({ "givenName": "Babs" }));
    assert_eq!(replaced.body["title"], "Tour Guide");
    assert_eq!(
        replaced.body[ENTERPRISE],
        json!({ "employeeNumber": "701984", "department": "Tours" })
    );
    assert_eq!(replaced.body["schemas"], json!([USER_URN, ENTERPRISE]));
    assert_eq!(replaced.header("etag"), Some("W/\"2\""));

    // SCIM has no dry run: asking for one is refused, not ignored, and removes nothing.
    for q in ["dryRun=true", "dryRun", "dryRun=false"] {
        let r = scim(&app, "DELETE", &format!("{users}/{id}?{q}"), None).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert!(r.text.contains("dryRun"), "{q}: {}", r.text);
        let still = scim(&app, "GET", &format!("{users}/{id}"), None).await;
        assert_eq!(still.status, 200, "{q}: {}", still.text);
    }

    // DELETE: 204, then 404 for every method.
    let deleted = scim(&app, "DELETE", &format!("{users}/{id}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(deleted.text.is_empty());
    for method in ["GET", "DELETE"] {
        let r = scim(&app, method, &format!("{users}/{id}"), None).await;
        assert_scim_error(&r, 404, None);
    }
    let r = scim(
        &app,
        "PUT",
        &format!("{users}/{id}"),
        Some(user_body("bjensen")),
    )
    .await;
    assert_scim_error(&r, 404, None);
    let r = scim(
        &app,
        "PATCH",
        &format!("{users}/{id}"),
        Some(patch(
            json!([{ "op": "replace", "path": "active", "value": false }]),
        )),
    )
    .await;
    assert_scim_error(&r, 404, None);
    assert_eq!(app.call("GET", &canonical, None).await.status, 404);
    // The userName, email and externalId are free for a new user.
    let again = create_user(&app, &org, user_body("bjensen")).await;
    assert_ne!(again["id"], json!(id));
    assert_eq!(
        names(&app, &org, "userName eq \"bjensen\"").await,
        ["bjensen"]
    );

    // An id that is no user id names no user.
    let r = scim(&app, "GET", &format!("{users}/not-an-id"), None).await;
    assert_scim_error(&r, 404, None);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_user_is_a_user_of_every_surface() {
    let app = App::start().await;
    let org = app.org("scim-shared").await;
    let u = create_user(&app, &org, user_body("kim")).await;
    let id = u["id"].as_str().unwrap();
    // active: false disables, on the canonical surface too.
    let r = scim(
        &app,
        "PATCH",
        &format!("{}/Users/{id}", base(&org)),
        Some(patch(
            json!([{ "op": "replace", "path": "active", "value": false }]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    let canonical = format!("/v1/organizations/{org}/mdm/users/{id}");
    assert_eq!(
        app.call("GET", &canonical, None).await.body["data"]["status"],
        "disabled"
    );
    // A change on the canonical surface shows over SCIM.
    let c = app
        .call(
            "PATCH",
            &canonical,
            Some(json!({ "email": "kim.new@example.com", "firstName": "Kimberly" })),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    let got = scim(&app, "GET", &format!("{}/Users/{id}", base(&org)), None).await;
    assert_eq!(got.body["name"]["givenName"], "Kimberly");
    assert_eq!(
        got.body["emails"],
        json!([{ "value": "kim.new@example.com", "type": "work", "primary": true }])
    );
    assert_eq!(got.header("etag"), Some("W/\"3\""));
    // Users created elsewhere are listed over SCIM.
    app.user(&org, "local1").await;
    assert_eq!(
        names(&app, &org, "userName eq \"LOCAL1\"").await,
        ["local1"]
    );
    // The canonical DELETE refuses nothing of a SCIM user.
    let d = app.call("DELETE", &canonical, None).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let r = scim(&app, "GET", &format!("{}/Users/{id}", base(&org)), None).await;
    assert_scim_error(&r, 404, None);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_refuses_taken_unique_values_with_409() {
    let app = App::start().await;
    let org = app.org("scim-valid").await;
    let users = format!("{}/Users", base(&org));
    create_user(&app, &org, user_body("taken")).await;
    // uniqueness: userName (any case), email, externalId.
    let mut dup = user_body("TAKEN");
    dup["emails"] = json!([{ "value": "other@example.com" }]);
    dup["externalId"] = json!("other");
    let r = scim(&app, "POST", &users, Some(dup)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    let mut dup = user_body("fresh");
    dup["emails"] = json!([{ "value": "Taken@Example.com" }]);
    let r = scim(&app, "POST", &users, Some(dup)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("emails"));
    let mut dup = user_body("fresh");
    dup["externalId"] = json!("ext-taken");
    let r = scim(&app, "POST", &users, Some(dup)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("externalId"));
    // A further address may not be another user's either.
    let mut dup = user_body("fresh");
    dup["emails"] = json!([
        { "value": "fresh@example.com", "primary": true },
        { "value": "taken@example.com", "type": "home" }
    ]);
    let r = scim(&app, "POST", &users, Some(dup)).await;
    assert_scim_error(&r, 409, Some("uniqueness"));

    for (body, scim_type, mentions) in [
        (
            json!({ "userName": "x@example.com" }),
            "invalidSyntax",
            "schemas",
        ),
        (
            json!({ "schemas": ["urn:example:nope"], "userName": "x@example.com" }),
            "invalidValue",
            "urn:example:nope",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x@example.com", "nosuch": 1 }),
            "invalidSyntax",
            "nosuch",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x@example.com", "active": "maybe" }),
            "invalidValue",
            "active",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x@example.com", "emails": "x" }),
            "invalidValue",
            "emails",
        ),
        (json!({ "schemas": [USER_URN] }), "invalidValue", "userName"),
        (
            json!({ "schemas": [USER_URN], "userName": "has space" }),
            "invalidValue",
            "userName",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x", "emails": [{ "primary": true }] }),
            "invalidValue",
            "emails[0].value",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x", "emails": [{ "value": "not-an-email" }] }),
            "invalidValue",
            "emails[0].value",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x@example.com", "password": "short" }),
            "invalidValue",
            "password",
        ),
        (
            json!({ "schemas": [USER_URN], "userName": "x@example.com", "emails": [
                { "value": "a@example.com", "primary": true },
                { "value": "b@example.com", "primary": true }
            ] }),
            "invalidValue",
            "primary",
        ),
    ] {
        let r = scim(&app, "POST", &users, Some(body.clone())).await;
        assert_scim_error(&r, 400, Some(scim_type));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(mentions), "{body}: {detail}");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_refuses_bodies_that_are_not_a_user() {
    let app = App::start().await;
    let org = app.org("scim-valid").await;
    let users = format!("{}/Users", base(&org));
    create_user(&app, &org, user_body("taken")).await;
    // Not JSON, not an object, another media type, too large.
    let r = app
        .send(
            "POST",
            &users,
            Some(&app.admin_token),
            &[("content-type", "application/scim+json")],
            Some("{".into()),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = scim(&app, "POST", &users, Some(json!([1]))).await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = app
        .send(
            "POST",
            &users,
            Some(&app.admin_token),
            &[("content-type", "text/plain")],
            Some(user_body("plain").to_string()),
        )
        .await;
    assert_scim_error(&r, 415, None);
    let mut big = user_body("big");
    big["title"] = json!("x".repeat(70 * 1024));
    let r = scim(&app, "POST", &users, Some(big)).await;
    assert_scim_error(&r, 413, None);
    let mut heavy = user_body("heavy");
    heavy["title"] = json!("x".repeat(17 * 1024));
    let r = scim(&app, "POST", &users, Some(heavy)).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_accepts_application_json_and_no_emails() {
    let app = App::start().await;
    let org = app.org("scim-valid").await;
    let users = format!("{}/Users", base(&org));
    create_user(&app, &org, user_body("taken")).await;
    // application/json is accepted too; `emails` is optional (RFC 7643 §4.1): a user
    // created without has none (a userName that looks like an address is not taken
    // for one), and its resource has no `emails`.
    let r = app
        .send(
            "POST",
            &users,
            Some(&app.admin_token),
            &[],
            Some(json!({ "schemas": [USER_URN], "userName": "Sam@Example.com" }).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("emails").is_none(), "{}", r.text);
    // Sent without `active`: unassigned, so the resource omits it (the user is enabled).
    assert!(r.body.get("active").is_none(), "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let got = app
        .send(
            "GET",
            &format!("{users}/{id}"),
            Some(&app.admin_token),
            &[],
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert!(got.body.get("emails").is_none(), "{}", got.text);
    // Another user may take that address, and one more may have none.
    create_user(
        &app,
        &org,
        json!({ "schemas": [USER_URN], "userName": "sam2",
                "emails": [{ "value": "sam@example.com" }] }),
    )
    .await;
    create_user(
        &app,
        &org,
        json!({ "schemas": [USER_URN], "userName": "kiosk" }),
    )
    .await;
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_sets_a_write_only_password() {
    let app = App::start().await;
    let org = app.org("scim-valid").await;
    // The password is write-only, and set.
    let mut with_pw = user_body("pw");
    with_pw["password"] = json!("correct horse battery staple");
    let created = create_user(&app, &org, with_pw).await;
    assert!(created.get("password").is_none());
    let id = created["id"].as_str().unwrap();
    let c = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/users/{id}/password"),
            Some(json!({ "oldPassword": "correct horse battery staple", "newPassword": "another long passphrase" })),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_of_a_disabled_user() {
    let app = App::start().await;
    let org = app.org("scim-valid").await;
    // Created disabled.
    let mut off = user_body("off");
    off["active"] = json!(false);
    assert_eq!(create_user(&app, &org, off).await["active"], false);
    app.assert_consistent();
}

/// babs's first PATCH: add with a path; add without a path (several attributes, an
/// extension); a further (home) address.
fn babs_additions() -> Value {
    json!([
    { "op": "add", "path": "nickName", "value": "Babs" },
    { "op": "add", "value": {
        "title": "Tour Guide",
        "phoneNumbers": [{ "value": "555-555-5555", "type": "work" }],
        ENTERPRISE: { "employeeNumber": "701984" }
    } },
    { "op": "add", "path": "emails", "value": [{ "value": "babs@home.example", "type": "home" }] }
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_add_remove_replace_with_and_without_paths() {
    let app = App::start().await;
    let org = app.org("scim-patch").await;
    let u = create_user(&app, &org, user_body("babs")).await;
    let path = format!("{}/Users/{}", base(&org), u["id"].as_str().unwrap());
    let run = async |ops: Value| scim(&app, "PATCH", &path, Some(patch(ops))).await;
    // add with a path; add without a path (several attributes, an extension).
    let r = run(babs_additions()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(r.body["title"], "Tour Guide");
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(r.body["schemas"], json!([USER_URN, ENTERPRISE]));
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 2);
    // The further address finds the user.
    assert_eq!(
        names(&app, &org, "emails.value eq \"BABS@home.example\"").await,
        ["babs"]
    );

    // replace through a value filter; replace without a path.
    let r = run(json!([
        { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@work.example" },
        { "op": "replace", "value": { "name": { "givenName": "Barbara", "familyName": "J" }, "displayName": "Babs J" } }
    ]))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["emails"][0]["value"], "babs@work.example");
    assert_eq!(r.body["displayName"], "Babs J");
    assert_eq!(r.body["name"]["familyName"], "J");
    let canonical = app
        .call(
            "GET",
            &format!(
                "/v1/organizations/{org}/mdm/users/{}",
                u["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(canonical.body["data"]["email"], "babs@work.example");
    assert_eq!(canonical.body["data"]["lastName"], "J");
    // The old primary address is free.
    assert!(
        names(&app, &org, "emails eq \"babs@example.com\"")
            .await
            .is_empty()
    );

    // remove: an attribute, values through a filter, a sub-attribute.
    let r = run(json!([
        { "op": "remove", "path": "nickName" },
        { "op": "remove", "path": "emails[type eq \"home\"]" },
        { "op": "remove", "path": "name.familyName" },
        { "op": "remove", "path": "phoneNumbers[value eq \"555-555-5555\"]" }
    ]))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("nickName").is_none() && r.body.get("phoneNumbers").is_none());
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    assert!(r.body["name"].get("familyName").is_none());
    assert!(
        names(&app, &org, "emails eq \"babs@home.example\"")
            .await
            .is_empty()
    );

    // Entra ID's shapes: capitalized ops, string booleans, URN-qualified keys, a bare
    // manager id, add through a filter that matches nothing.
    let r = run(json!([
        { "op": "Replace", "path": "active", "value": "False" },
        { "op": "Add", "value": { "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops" } },
        { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "5931a75ae4bbd512288c680b" },
        { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-1234" }
    ]))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body[ENTERPRISE]["department"], "Ops");
    assert_eq!(
        r.body[ENTERPRISE]["manager"],
        json!({ "value": "5931a75ae4bbd512288c680b" })
    );
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{ "type": "mobile", "value": "555-1234" }])
    );
    // Okta's shape: replace without a path.
    let r = run(json!([{ "op": "replace", "value": { "active": true } }])).await;
    assert_eq!(r.body["active"], true);
    // Removing the extension's last attribute takes its URN out of schemas.
    let r = run(json!([
        { "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" },
        { "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" },
        { "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber" }
    ]))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([USER_URN]));
    // userName changes move the claim.
    let r = run(json!([{ "op": "replace", "path": "userName", "value": "barbara" }])).await;
    assert_eq!(r.body["userName"], "barbara");
    assert!(names(&app, &org, "userName eq \"babs\"").await.is_empty());
    assert_eq!(
        names(&app, &org, "userName eq \"barbara\"").await,
        ["barbara"]
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_errors_leave_the_user_as_it_was() {
    let app = App::start().await;
    let org = app.org("scim-patch").await;
    let u = create_user(&app, &org, user_body("babs")).await;
    let path = format!("{}/Users/{}", base(&org), u["id"].as_str().unwrap());
    let run = async |ops: Value| scim(&app, "PATCH", &path, Some(patch(ops))).await;
    // On a user with attributes of every kind (an extension, a further address).
    let r = run(babs_additions()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Errors, each leaving the user as it was.
    let before = scim(&app, "GET", &path, None).await;
    for (ops, status, scim_type) in [
        (
            json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y.z" }]),
            400,
            "noTarget",
        ),
        (json!([{ "op": "remove" }]), 400, "noTarget"),
        (
            json!([{ "op": "replace", "path": "id", "value": "5931a75ae4bbd512288c680b" }]),
            400,
            "mutability",
        ),
        (
            json!([{ "op": "add", "path": "groups", "value": [{ "value": "x" }] }]),
            400,
            "mutability",
        ),
        (
            json!([{ "op": "replace", "path": "nosuch", "value": 1 }]),
            400,
            "invalidPath",
        ),
        (
            json!([{ "op": "replace", "path": "emails[type eq]", "value": 1 }]),
            400,
            "invalidFilter",
        ),
        (
            json!([{ "op": "replace", "path": "active", "value": 3 }]),
            400,
            "invalidValue",
        ),
        (
            json!([{ "op": "remove", "path": "userName" }]),
            400,
            "invalidValue",
        ),
        (
            json!([{ "op": "move", "path": "title" }]),
            400,
            "invalidSyntax",
        ),
        (
            json!([{ "op": "replace", "path": "title", "value": "ok" }, { "op": "remove", "path": "nosuch" }]),
            400,
            "invalidPath",
        ),
        (
            json!([{ "op": "replace", "path": "emails", "value": [{ "value": "nope" }] }]),
            400,
            "invalidValue",
        ),
    ] {
        let r = run(ops.clone()).await;
        assert_scim_error(&r, status, Some(scim_type));
        let _ = ops;
    }
    let r = scim(&app, "PATCH", &path, Some(json!({ "Operations": [] }))).await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let after = scim(&app, "GET", &path, None).await;
    assert_eq!(before.body, after.body, "failed patches change nothing");
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_sets_a_usable_password() {
    let app = App::start().await;
    let org = app.org("scim-patch").await;
    let u = create_user(&app, &org, user_body("babs")).await;
    let path = format!("{}/Users/{}", base(&org), u["id"].as_str().unwrap());
    let run = async |ops: Value| scim(&app, "PATCH", &path, Some(patch(ops))).await;
    // A password set by PATCH is usable.
    let r = run(json!([{ "op": "replace", "path": "password", "value": "a long new passphrase" }]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("password").is_none());
    let id = u["id"].as_str().unwrap();
    let c = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/users/{id}/password"),
            Some(json!({ "oldPassword": "a long new passphrase", "newPassword": "yet another passphrase" })),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_of_users_if_match_and_if_none_match() {
    let app = App::start().await;
    let org = app.org("scim-etag").await;
    let u = create_user(&app, &org, user_body("etag")).await;
    let path = format!("{}/Users/{}", base(&org), u["id"].as_str().unwrap());
    let got = scim(&app, "GET", &path, None).await;
    let v1 = got.header("etag").unwrap().to_owned();
    assert_eq!(json!(v1), got.body["meta"]["version"]);

    let r = scim_with(&app, "GET", &path, &[("if-none-match", &v1)], None).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(v1.as_str()));
    assert!(r.text.is_empty());
    let r = scim_with(&app, "GET", &path, &[("if-none-match", "W/\"0\"")], None).await;
    assert_eq!(r.status, 200);

    let body = patch(json!([{ "op": "replace", "path": "title", "value": "A" }]));
    let r = scim_with(
        &app,
        "PATCH",
        &path,
        &[("if-match", "W/\"7\"")],
        Some(body.clone()),
    )
    .await;
    assert_scim_error(&r, 412, None);
    let r = scim_with(
        &app,
        "PATCH",
        &path,
        &[("if-match", "*")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, 200);
    let v2 = r.header("etag").unwrap().to_owned();
    assert_ne!(v1, v2);
    // The old version no longer matches; the strong form of the current one does.
    let r = scim_with(
        &app,
        "PATCH",
        &path,
        &[("if-match", &v1)],
        Some(body.clone()),
    )
    .await;
    assert_scim_error(&r, 412, None);
    let strong = v2.trim_start_matches("W/").to_owned();
    let r = scim_with(
        &app,
        "PATCH",
        &path,
        &[("if-match", &format!("\"x\", {strong}"))],
        Some(patch(
            json!([{ "op": "replace", "path": "title", "value": "B" }]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "B");
    // If-None-Match: * on PUT and PATCH: the resource exists.
    let r = scim_with(
        &app,
        "PUT",
        &path,
        &[("if-none-match", "*")],
        Some(user_body("etag")),
    )
    .await;
    assert_scim_error(&r, 412, None);
    let r = scim_with(
        &app,
        "PATCH",
        &path,
        &[("if-none-match", "*")],
        Some(body.clone()),
    )
    .await;
    assert_scim_error(&r, 412, None);
    let v3 = scim(&app, "GET", &path, None)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = scim_with(
        &app,
        "PUT",
        &path,
        &[("if-match", &v3)],
        Some(user_body("etag")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("title").is_none(), "PUT replaced");
    // DELETE with a stale If-Match is 412 and removes nothing.
    let r = scim_with(&app, "DELETE", &path, &[("if-match", &v3)], None).await;
    assert_scim_error(&r, 412, None);
    let v4 = r.header("etag").map(str::to_owned);
    assert!(v4.is_none());
    let current = scim(&app, "GET", &path, None)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = scim_with(&app, "DELETE", &path, &[("if-match", &current)], None).await;
    assert_eq!(r.status, 204);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_of_groups_follow_member_changes() {
    let app = App::start().await;
    let org = app.org("scim-etag").await;
    // Groups have versions too, bumped by member changes.
    let kim = create_user(&app, &org, user_body("kim")).await;
    let g = create_group(&app, &org, "Etags", &[]).await;
    let gpath = format!("{}/Groups/{}", base(&org), g["id"].as_str().unwrap());
    let g1 = scim(&app, "GET", &gpath, None)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let add = patch(json!([{ "op": "add", "path": "members", "value": [{ "value": kim["id"] }] }]));
    let r = scim_with(
        &app,
        "PATCH",
        &gpath,
        &[("if-match", &g1)],
        Some(add.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g2 = r.header("etag").unwrap().to_owned();
    assert_ne!(g1, g2);
    let r = scim_with(&app, "PATCH", &gpath, &[("if-match", &g1)], Some(add)).await;
    assert_scim_error(&r, 412, None);
    // A membership change made on the canonical surface is a new version as well.
    app.call(
        "PUT",
        &format!(
            "/v1/organizations/{org}/mdm/users/{}/groups",
            kim["id"].as_str().unwrap()
        ),
        Some(json!({ "groups": [] })),
    )
    .await;
    let r = scim_with(&app, "GET", &gpath, &[("if-none-match", &g2)], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("members").is_none());
    let r = scim_with(&app, "DELETE", &gpath, &[("if-match", &g2)], None).await;
    assert_scim_error(&r, 412, None);
    app.assert_consistent();
}

/// Six users to filter.
async fn population(app: &App, org: &str) {
    for (user_name, given, family, title, active, work, ext) in [
        (
            "alice",
            "Alice",
            "Anders",
            Some("Engineer"),
            true,
            "alice@corp.example",
            "E-1",
        ),
        (
            "bob",
            "Bob",
            "Brown",
            Some("Manager"),
            true,
            "bob@corp.example",
            "E-2",
        ),
        (
            "carol",
            "Carol",
            "Chen",
            None,
            false,
            "carol@other.example",
            "e-3",
        ),
        (
            "dave",
            "Dave",
            "Anders",
            Some("Engineer"),
            true,
            "dave@corp.example",
            "E-4",
        ),
        (
            "Eve.Smith",
            "Eve",
            "Smith",
            Some("Engineer"),
            false,
            "eve@other.example",
            "E-5",
        ),
        (
            "frank",
            "Frank",
            "Brown",
            None,
            true,
            "frank@corp.example",
            "E-6",
        ),
    ] {
        let mut body = json!({
            "schemas": [USER_URN],
            "userName": user_name,
            "externalId": ext,
            "name": { "givenName": given, "familyName": family },
            "active": active,
            "emails": [
                { "value": work, "type": "work", "primary": true },
                { "value": format!("{}@home.example", user_name.to_lowercase()), "type": "home" }
            ],
        });
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        create_user(app, org, body).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_with_every_operator_and_combination() {
    let app = App::start().await;
    let org = app.org("scim-filter").await;
    population(&app, &org).await;
    let cases: &[(&str, &[&str])] = &[
        // eq, case-insensitive userName; case-exact externalId.
        ("userName eq \"ALICE\"", &["alice"]),
        ("userName eq \"eve.smith\"", &["Eve.Smith"]),
        ("externalId eq \"E-2\"", &["bob"]),
        ("externalId eq \"E-3\"", &[]),
        ("externalId eq \"e-3\"", &["carol"]),
        ("emails eq \"dave@corp.example\"", &["dave"]),
        ("emails.value eq \"DAVE@home.example\"", &["dave"]),
        (
            "emails[type eq \"work\" and value eq \"bob@corp.example\"]",
            &["bob"],
        ),
        (
            "emails[type eq \"home\" and value eq \"bob@corp.example\"]",
            &[],
        ),
        (
            "emails[type eq \"work\"].value eq \"frank@corp.example\"",
            &["frank"],
        ),
        ("userName eq \"nobody\"", &[]),
        // co, sw, ew over the searchable attributes.
        ("userName co \"a\"", &["alice", "carol", "dave", "frank"]),
        ("userName sw \"EVE\"", &["Eve.Smith"]),
        ("userName ew \"ob\"", &["bob"]),
        ("name.familyName eq \"anders\"", &["alice", "dave"]),
        ("name.givenName sw \"c\"", &["carol"]),
        ("emails co \"@other.\"", &["carol", "Eve.Smith"]),
        ("emails[type eq \"home\" and value sw \"f\"]", &["frank"]),
        (
            "emails.value ew \"corp.example\"",
            &["alice", "bob", "dave", "frank"],
        ),
        // and, or, not, grouping, pr, ne, gt/ge/lt/le, booleans.
        (
            "name.familyName eq \"Brown\" and active eq true",
            &["bob", "frank"],
        ),
        (
            "name.familyName eq \"Anders\" and title pr",
            &["alice", "dave"],
        ),
        (
            "name.familyName eq \"Brown\" and not (title pr)",
            &["frank"],
        ),
        (
            "userName eq \"alice\" or userName eq \"bob\" or externalId eq \"E-6\"",
            &["alice", "bob", "frank"],
        ),
        (
            "(userName sw \"a\" or userName sw \"b\") and title eq \"Engineer\"",
            &["alice"],
        ),
        (
            "emails co \"corp\" and title ne \"Engineer\"",
            &["bob", "frank"],
        ),
        ("userName co \"e\" and active eq false", &["Eve.Smith"]),
        (
            "emails co \"corp\" and userName gt \"bob\"",
            &["dave", "frank"],
        ),
        (
            "emails co \"corp\" and userName ge \"bob\"",
            &["bob", "dave", "frank"],
        ),
        ("emails co \"corp\" and userName lt \"bob\"", &["alice"]),
        (
            "emails co \"corp\" and userName le \"bob\"",
            &["alice", "bob"],
        ),
        (
            "userName co \"\" and meta.created gt \"2000-01-01T00:00:00Z\" and meta.lastModified le \"2999-01-01T00:00:00Z\"",
            &["alice", "bob", "carol", "dave", "Eve.Smith", "frank"],
        ),
        (
            "userName co \"\" and meta.created lt \"2000-01-01T00:00:00Z\"",
            &[],
        ),
        (
            "userName co \"a\" and emails[type eq \"home\" and value co \"ali\"]",
            &["alice"],
        ),
        (
            "userName co \"\" and name.givenName ew \"e\" and title pr",
            &["alice", "dave", "Eve.Smith"],
        ),
        (
            "userName co \"\" and schemas eq \"urn:ietf:params:scim:schemas:core:2.0:User\" and userName eq \"bob\"",
            &["bob"],
        ),
        // Keywords and attribute names in any case, the URN-qualified form.
        (
            "USERNAME EQ \"bob\" OR urn:ietf:params:scim:schemas:core:2.0:User:userName Eq \"carol\"",
            &["bob", "carol"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(&names(&app, &org, filter).await, expected, "{filter}");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_that_need_a_scan_or_are_malformed_are_refused() {
    let app = App::start().await;
    let org = app.org("scim-refuse").await;
    population(&app, &org).await;
    for filter in [
        "title pr",
        "active eq true",
        "title eq \"Engineer\"",
        "not (userName eq \"alice\")",
        "userName ne \"alice\"",
        "userName eq \"alice\" or title pr",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
        "emails[type eq \"work\"]",
        "userName gt \"a\"",
        "userName co \"a\" or userName co \"b\" or userName co \"c\" or userName co \"d\" or userName co \"e\"",
    ] {
        let r = refused_filter(&app, &org, "Users", filter).await;
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("scanning") || detail.contains("searches"),
            "{filter}: {detail}"
        );
    }
    for filter in [
        "userName eq",
        "userName eq bob",
        "nosuch eq \"x\"",
        "(userName eq \"x\"",
        "active gt true",
        "emails[type eq \"work\"",
    ] {
        refused_filter(&app, &org, "Users", filter).await;
    }
    for filter in [
        "displayName co \"x\"",
        "not (displayName eq \"x\")",
        "displayName pr",
    ] {
        refused_filter(&app, &org, "Groups", filter).await;
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_in_creation_order() {
    let app = App::start().await;
    let org = app.org("scim-page").await;
    population(&app, &org).await;
    // Plain paging: creation order, 1-based startIndex, every user once.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = list(&app, &org, "Users", &format!("startIndex={start}&count=4")).await;
        assert_eq!(page["totalResults"], 6);
        assert_eq!(page["startIndex"], start);
        let items = page["Resources"].as_array().unwrap();
        assert_eq!(page["itemsPerPage"], items.len());
        if items.is_empty() {
            break;
        }
        seen.extend(
            items
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_owned()),
        );
        start += items.len();
    }
    assert_eq!(
        seen,
        ["alice", "bob", "carol", "dave", "Eve.Smith", "frank"]
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_bounds_and_coercions() {
    let app = App::start().await;
    let org = app.org("scim-page").await;
    population(&app, &org).await;
    // count=0: the total only; out of range start: nothing; bounds and coercions.
    let zero = list(&app, &org, "Users", "count=0").await;
    assert_eq!(
        (zero["totalResults"].clone(), zero["itemsPerPage"].clone()),
        (json!(6), json!(0))
    );
    assert_eq!(
        list(&app, &org, "Users", "count=-5").await["itemsPerPage"],
        0
    );
    let low = list(&app, &org, "Users", "startIndex=-3&count=1").await;
    assert_eq!(
        (
            low["startIndex"].clone(),
            low["Resources"][0]["userName"].clone()
        ),
        (json!(1), json!("alice"))
    );
    assert_eq!(
        list(&app, &org, "Users", "count=100000").await["itemsPerPage"],
        6
    );
    assert_eq!(
        list(&app, &org, "Users", "startIndex=7").await["itemsPerPage"],
        0
    );
    for bad in [
        "count=x",
        "startIndex=1.5",
        "sortOrder=sideways",
        "sortBy=nosuch",
        "sortBy=emails.display&sortOrder=up",
    ] {
        let r = scim(&app, "GET", &format!("{}/Users?{bad}", base(&org)), None).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_filtered() {
    let app = App::start().await;
    let org = app.org("scim-page").await;
    population(&app, &org).await;
    // Filtered paging.
    let page = list(
        &app,
        &org,
        "Users",
        &format!("filter={}&startIndex=2&count=2", enc("emails co \"corp\"")),
    )
    .await;
    assert_eq!(page["totalResults"], 4);
    let got: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["bob", "dave"]);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_with_and_without_a_filter() {
    let app = App::start().await;
    let org = app.org("scim-page").await;
    population(&app, &org).await;
    // sortBy / sortOrder, with and without a filter.
    let sorted = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_family = list(
        &app,
        &org,
        "Users",
        "sortBy=name.familyName&sortOrder=descending",
    )
    .await;
    let families: Vec<String> = by_family["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"]["familyName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        families,
        ["Smith", "Chen", "Brown", "Brown", "Anders", "Anders"]
    );
    let titled = list(
        &app,
        &org,
        "Users",
        &format!("filter={}&sortBy=title", enc("userName co \"\"")),
    )
    .await;
    let titles: Vec<Value> = titled["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].clone())
        .collect();
    // Missing values sort last when ascending.
    assert_eq!(
        titles,
        [
            json!("Engineer"),
            json!("Engineer"),
            json!("Engineer"),
            json!("Manager"),
            Value::Null,
            Value::Null
        ]
    );
    let desc = list(
        &app,
        &org,
        "Users",
        &format!(
            "filter={}&sortBy=userName&sortOrder=descending&count=3",
            enc("emails co \"example\"")
        ),
    )
    .await;
    assert_eq!(sorted(&desc), ["frank", "Eve.Smith", "dave"]);
    assert_eq!(desc["totalResults"], 6);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_with_attributes_and_excluded_attributes() {
    let app = App::start().await;
    let org = app.org("scim-page").await;
    population(&app, &org).await;
    // attributes / excludedAttributes.
    let only = list(
        &app,
        &org,
        "Users",
        &format!(
            "filter={}&attributes=userName,name.givenName",
            enc("userName eq \"bob\"")
        ),
    )
    .await;
    let r = &only["Resources"][0];
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "name", "schemas", "userName"]);
    assert_eq!(r["name"], json!({ "givenName": "Bob" }));
    let without = list(
        &app,
        &org,
        "Users",
        &format!(
            "filter={}&excludedAttributes=emails,meta,name",
            enc("userName eq \"bob\"")
        ),
    )
    .await;
    let r = &without["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("meta").is_none() && r.get("name").is_none());
    assert_eq!(r["userName"], "bob");
    assert!(r.get("id").is_some(), "id is returned always");
    let id = r["id"].as_str().unwrap();
    let one = scim(
        &app,
        "GET",
        &format!("{}/Users/{id}?attributes=emails.value,active", base(&org)),
        None,
    )
    .await;
    assert_eq!(
        one.body["emails"],
        json!([{ "value": "bob@corp.example" }, { "value": "bob@home.example" }])
    );
    assert_eq!(one.body["active"], true);
    assert!(one.body.get("userName").is_none());
    let r = scim(
        &app,
        "PATCH",
        &format!("{}/Users/{id}?attributes=title", base(&org)),
        Some(patch(
            json!([{ "op": "replace", "path": "title", "value": "Boss" }]),
        )),
    )
    .await;
    assert_eq!(r.body.as_object().unwrap().len(), 3, "{}", r.text);
    assert_eq!(r.body["title"], "Boss");
    app.assert_consistent();
}

/// ann, ben and cat, with the group "Tour Guides" (external id G-1) created over SCIM
/// with ann and ben as members: the three ids, and the creation's reply.
async fn tour_guides(app: &App, org: &str) -> ([String; 3], Reply) {
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let u = create_user(app, org, user_body(name)).await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let [ida, idb, idc]: [String; 3] = ids.try_into().unwrap();
    let r = scim(
        app,
        "POST",
        &format!("{}/Groups", base(org)),
        Some(json!({
            "schemas": [GROUP_URN],
            "displayName": "Tour Guides",
            "externalId": "G-1",
            "members": [{ "value": ida, "display": "ignored" }, { "value": idb, "type": "User" }]
        })),
    )
    .await;
    ([ida, idb, idc], r)
}

/// The groups the canonical surface lists for a user.
async fn canonical_groups(app: &App, org: &str, id: &str) -> Vec<String> {
    let r = app
        .call(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users/{id}/groups"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_created_shown_refused_and_filtered() {
    let app = App::start().await;
    let org = app.org("scim-groups").await;
    let groups_path = format!("{}/Groups", base(&org));
    let ([ida, idb, idc], r) = tour_guides(&app, &org).await;
    // Created with members and an external id.
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let gpath = format!("{groups_path}/{gid}");
    assert_eq!(
        r.header("location").map(|l| l.ends_with(&gpath)),
        Some(true)
    );
    assert_eq!(r.body["displayName"], "Tour Guides");
    assert_eq!(r.body["externalId"], "G-1");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [ida.as_str(), idb.as_str()]);
    // `display` is the server's (`returned: request`): only when asked for.
    assert!(r.body["members"][0].get("display").is_none(), "{}", r.text);
    let shown = scim(
        &app,
        "GET",
        &format!("{gpath}?attributes=members.value,members.display"),
        None,
    )
    .await;
    assert_eq!(
        shown.body["members"][0],
        json!({ "value": ida, "display": "ann" })
    );
    assert_eq!(r.body["members"][0]["type"], "User");
    assert!(
        r.body["members"][0]["$ref"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{ida}"))
    );
    assert_eq!(canonical_groups(&app, &org, &ida).await, ["Tour Guides"]);
    // The user shows its groups (readOnly).
    let u = scim(&app, "GET", &format!("{}/Users/{ida}", base(&org)), None).await;
    assert_eq!(u.body["groups"][0]["value"], json!(gid));
    assert_eq!(u.body["groups"][0]["display"], "Tour Guides");
    assert_eq!(
        names(
            &app,
            &org,
            "userName co \"\" and groups.display eq \"tour guides\""
        )
        .await,
        ["ann", "ben"]
    );

    // Refusals: a taken name (any case), an unknown member, a nested group.
    let r = scim(
        &app,
        "POST",
        &groups_path,
        Some(json!({ "schemas": [GROUP_URN], "displayName": "TOUR GUIDES" })),
    )
    .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let r = scim(
        &app,
        "POST",
        &groups_path,
        Some(json!({ "schemas": [GROUP_URN], "displayName": "X", "externalId": "G-1" })),
    )
    .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let r = scim(&app, "POST", &groups_path, Some(json!({ "schemas": [GROUP_URN], "displayName": "X", "members": [{ "value": "5931a75ae4bbd512288c680b" }] }))).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = scim(&app, "POST", &groups_path, Some(json!({ "schemas": [GROUP_URN], "displayName": "X", "members": [{ "value": gid, "type": "Group" }] }))).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = scim(
        &app,
        "POST",
        &groups_path,
        Some(json!({ "schemas": [GROUP_URN] })),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidValue"));

    // Filters: displayName (any case), externalId, id, members.value.
    for (filter, expect) in [
        ("displayName eq \"tour guides\"", 1),
        ("displayName eq \"nope\"", 0),
        ("externalId eq \"G-1\"", 1),
        ("externalId eq \"g-1\"", 0),
        (&*format!("id eq \"{gid}\""), 1),
        (&*format!("members[value eq \"{ida}\"]"), 1),
        (&*format!("members.value eq \"{idc}\""), 0),
    ] {
        let body = list(&app, &org, "Groups", &format!("filter={}", enc(filter))).await;
        assert_eq!(body["totalResults"], expect, "{filter}");
    }
    let lean = list(
        &app,
        &org,
        "Groups",
        &format!(
            "filter={}&excludedAttributes=members",
            enc("displayName eq \"Tour Guides\"")
        ),
    )
    .await;
    assert!(lean["Resources"][0].get("members").is_none());
    assert_eq!(lean["Resources"][0]["displayName"], "Tour Guides");
    let lean = scim(
        &app,
        "GET",
        &format!("{gpath}?excludedAttributes=members"),
        None,
    )
    .await;
    assert!(lean.body.get("members").is_none());
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_membership_changes_show_on_every_surface() {
    let app = App::start().await;
    let org = app.org("scim-groups").await;
    let groups_path = format!("{}/Groups", base(&org));
    let ([ida, idb, idc], r) = tour_guides(&app, &org).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let gpath = format!("{groups_path}/{gid}");
    // PATCH: Okta's add; Entra's remove with a value; remove through a value filter;
    // replace all members.
    let run = async |ops: Value| scim(&app, "PATCH", &gpath, Some(patch(ops))).await;
    let r = run(
        json!([{ "op": "add", "path": "members", "value": [{ "value": idc, "display": "cat" }] }]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 3);
    assert_eq!(canonical_groups(&app, &org, &idc).await, ["Tour Guides"]);
    let r = run(json!([{ "op": "Remove", "path": "members", "value": [{ "value": idb }] }])).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    assert!(canonical_groups(&app, &org, &idb).await.is_empty());
    let r = run(json!([{ "op": "remove", "path": format!("members[value eq \"{ida}\"]") }])).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert!(canonical_groups(&app, &org, &ida).await.is_empty());
    let r = run(json!([{ "op": "replace", "path": "members", "value": [{ "value": ida }, { "value": idb }] }])).await;
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [ida.as_str(), idb.as_str()]);
    assert!(canonical_groups(&app, &org, &idc).await.is_empty());
    let r = run(json!([{ "op": "add", "path": "members", "value": [{ "value": "5931a75ae4bbd512288c680b" }] }])).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = run(json!([{ "op": "replace", "path": "displayName", "value": "" }])).await;
    assert_scim_error(&r, 400, Some("invalidValue"));

    // Rename: the members' groups follow, everywhere.
    let r =
        run(json!([{ "op": "Replace", "value": { "id": gid, "displayName": "Guides" } }])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Guides");
    assert_eq!(canonical_groups(&app, &org, &ida).await, ["Guides"]);
    let u = scim(&app, "GET", &format!("{}/Users/{idb}", base(&org)), None).await;
    assert_eq!(u.body["groups"][0]["display"], "Guides");
    assert_eq!(
        list(
            &app,
            &org,
            "Groups",
            &format!("filter={}", enc("displayName eq \"Tour Guides\""))
        )
        .await["totalResults"],
        0
    );
    // The old name is free.
    let other = create_group(&app, &org, "Tour Guides", &[&idc]).await;

    // Membership set on the canonical surface shows over SCIM.
    let r = app
        .call(
            "PUT",
            &format!("/v1/organizations/{org}/mdm/users/{idc}/groups"),
            Some(json!({ "groups": ["Guides", "Tour Guides"] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = scim(&app, "GET", &gpath, None).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 3);

    // PUT replaces name, external id and members.
    let r = scim(
        &app,
        "PUT",
        &gpath,
        Some(json!({ "schemas": [GROUP_URN], "displayName": "Guides", "members": [{ "value": idc }] })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("externalId").is_none());
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert!(canonical_groups(&app, &org, &ida).await.is_empty());

    // Listing groups: paging and sorting.
    let all = list(
        &app,
        &org,
        "Groups",
        "sortBy=displayName&excludedAttributes=members",
    )
    .await;
    let sorted: Vec<&str> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(sorted, ["Guides", "Tour Guides"]);
    let second = list(&app, &org, "Groups", "startIndex=2&count=1").await;
    assert_eq!(second["totalResults"], 2);
    assert_eq!(second["Resources"][0]["id"], other["id"]);

    // A removed user leaves its groups.
    scim(&app, "DELETE", &format!("{}/Users/{idc}", base(&org)), None).await;
    let g = scim(&app, "GET", &gpath, None).await;
    assert!(g.body.get("members").is_none(), "{}", g.text);

    // DELETE: 204, then 404; the name is free again.
    let r = scim(&app, "DELETE", &gpath, None).await;
    assert_eq!(r.status, 204);
    for method in ["GET", "DELETE"] {
        assert_scim_error(&scim(&app, method, &gpath, None).await, 404, None);
    }
    assert_scim_error(
        &scim(
            &app,
            "PATCH",
            &gpath,
            Some(patch(
                json!([{ "op": "add", "path": "members", "value": [] }]),
            )),
        )
        .await,
        404,
        None,
    );
    create_group(&app, &org, "Guides", &[]).await;
    app.assert_consistent();
}

/// The attribute paths a `/Schemas` document lists (sub-attributes included), with
/// their definitions, URN-qualified for extensions.
fn listed(schema: &Value, extension: bool) -> Vec<(String, Value)> {
    let prefix = if extension {
        format!("{}:", schema["id"].as_str().unwrap())
    } else {
        String::new()
    };
    let mut out = Vec::new();
    for a in schema["attributes"].as_array().unwrap() {
        let name = format!("{prefix}{}", a["name"].as_str().unwrap());
        out.push((name.clone(), a.clone()));
        for s in a["subAttributes"].as_array().into_iter().flatten() {
            out.push((format!("{name}.{}", s["name"].as_str().unwrap()), s.clone()));
        }
    }
    out
}

/// A value of the attribute's type (for PATCH).
fn sample(def: &Value, path: &str) -> Value {
    let one = match def["type"].as_str().unwrap() {
        "boolean" => json!(true),
        "dateTime" => json!("2020-01-01T00:00:00Z"),
        "integer" | "decimal" => json!(1),
        "complex" => {
            let mut o = serde_json::Map::new();
            for s in def["subAttributes"].as_array().unwrap() {
                let writable = s["mutability"] != "readOnly" || def["mutability"] == "readOnly";
                if writable && s["type"] == "string" {
                    o.insert(
                        s["name"].as_str().unwrap().to_owned(),
                        json!("5931a75ae4bbd512288c680b"),
                    );
                }
            }
            if path.ends_with("emails") {
                o.insert("value".into(), json!("sample@example.org"));
            }
            Value::Object(o)
        }
        _ if path.ends_with("emails.value") => json!("sample2@example.org"),
        _ if path == "userName" => json!("sample.user"),
        _ => json!("sample"),
    };
    if def["multiValued"] == true {
        json!([one])
    } else {
        one
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_service_provider_config_matches_the_behaviour() {
    let app = App::start().await;
    let org = app.org("scim-discovery").await;
    let b = base(&org);
    // ServiceProviderConfig, and each flag held to the behaviour.
    let spc = scim(&app, "GET", &format!("{b}/ServiceProviderConfig"), None).await;
    assert_eq!(spc.status, 200, "{}", spc.text);
    let spc = spc.body;
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(
        spc["filter"],
        json!({ "supported": true, "maxResults": 200 })
    );
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["changePassword"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert!(
        spc["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/ServiceProviderConfig")
    );
    for i in 0..205 {
        create_user(
            &app,
            &org,
            json!({ "schemas": [USER_URN], "userName": format!("u{i:03}@example.com") }),
        )
        .await;
    }
    let big = list(&app, &org, "Users", "count=1000").await;
    assert_eq!(big["itemsPerPage"], 200, "filter.maxResults bounds a page");
    assert_eq!(big["totalResults"], 205);
    let bulk = app
        .send(
            "POST",
            &format!("{b}/Bulk"),
            Some(&app.admin_token),
            &[],
            Some("{}".into()),
        )
        .await;
    assert_scim_error(&bulk, 404, None);
    assert!(bulk.body["detail"].as_str().unwrap().contains("/Bulk"));
    // Both pagination methods (RFC 9865 §3), each held to the behaviour below
    // (`cursor_paging_through_hundreds_of_users_while_more_are_added`).
    assert_eq!(
        spc["pagination"],
        json!({ "cursor": true, "index": true, "defaultPaginationMethod": "index",
                "defaultPageSize": 100, "maxPageSize": 200 })
    );
    let default = list(&app, &org, "Users", "").await;
    assert_eq!(default["itemsPerPage"], 100, "defaultPageSize");
    assert_eq!(default["startIndex"], 1, "index is the default method");
    assert!(default.get("nextCursor").is_none());
    // Sorting is bounded: 205 users sort; the bound is stated when exceeded (see docs).
    let sorted = list(
        &app,
        &org,
        "Users",
        "sortBy=userName&sortOrder=descending&count=1",
    )
    .await;
    assert_eq!(sorted["Resources"][0]["userName"], "u204@example.com");
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_resource_types_and_schemas() {
    let app = App::start().await;
    let org = app.org("scim-discovery").await;
    let b = base(&org);
    // ResourceTypes and Schemas, listed and by id (a URN through the path, encoded or
    // not, any case).
    let rts = scim(&app, "GET", &format!("{b}/ResourceTypes"), None)
        .await
        .body;
    assert_eq!(rts["totalResults"], 2);
    let ids: Vec<&str> = rts["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["User", "Group"]);
    let user_rt = scim(&app, "GET", &format!("{b}/ResourceTypes/User"), None).await;
    assert_eq!(user_rt.body, rts["Resources"][0]);
    assert_eq!(user_rt.body["endpoint"], "/Users");
    assert_eq!(
        user_rt.body["schemaExtensions"],
        json!([{ "schema": ENTERPRISE, "required": false }])
    );
    assert_eq!(
        scim(&app, "GET", &format!("{b}/ResourceTypes/group"), None)
            .await
            .body["id"],
        "Group"
    );
    assert_scim_error(
        &scim(&app, "GET", &format!("{b}/ResourceTypes/Device"), None).await,
        404,
        None,
    );
    let schemas = scim(&app, "GET", &format!("{b}/Schemas"), None).await.body;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER_URN, ENTERPRISE, GROUP_URN]);
    for (i, urn) in ids.iter().enumerate() {
        let raw = scim(&app, "GET", &format!("{b}/Schemas/{urn}"), None).await;
        assert_eq!(raw.status, 200, "{urn}: {}", raw.text);
        assert_eq!(raw.body, schemas["Resources"][i]);
        let encoded = scim(
            &app,
            "GET",
            &format!("{b}/Schemas/{}", enc(&urn.to_uppercase())),
            None,
        )
        .await;
        assert_eq!(encoded.body, schemas["Resources"][i]);
    }
    assert_scim_error(
        &scim(&app, "GET", &format!("{b}/Schemas/urn:nope"), None).await,
        404,
        None,
    );
    let filtered = scim(
        &app,
        "GET",
        &format!("{b}/Schemas?filter={}", enc("id pr")),
        None,
    )
    .await;
    assert_scim_error(&filtered, 403, None);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_listed_attributes_are_accepted_and_only_those() {
    let app = App::start().await;
    let org = app.org("scim-discovery").await;
    let b = base(&org);
    // Every attribute the User and enterprise schemas list is accepted by filters and
    // PATCH (or refused for its mutability, never as unknown); the same for Group.
    let schemas = scim(&app, "GET", &format!("{b}/Schemas"), None).await.body;
    let victim = create_user(&app, &org, user_body("victim")).await;
    let vpath = format!("{b}/Users/{}", victim["id"].as_str().unwrap());
    let group = create_group(&app, &org, "Probe", &[]).await;
    let gpath = format!("{b}/Groups/{}", group["id"].as_str().unwrap());
    // The common attributes (RFC 7643 §3.1) are in no schema, and behave as §3.1
    // describes them on both resource types.
    for schema in schemas["Resources"].as_array().unwrap() {
        for (name, _) in listed(schema, false) {
            assert!(
                !["id", "externalId", "meta", "schemas"].contains(&name.split('.').next().unwrap()),
                "{} lists the common attribute {name}",
                schema["id"]
            );
        }
    }
    let common = listed(
        &json!({ "attributes": [
            { "name": "id", "type": "string", "mutability": "readOnly" },
            { "name": "externalId", "type": "string", "mutability": "readWrite" },
            { "name": "meta", "type": "complex", "mutability": "readOnly", "subAttributes": [
                { "name": "resourceType", "type": "string", "mutability": "readOnly" },
                { "name": "created", "type": "dateTime", "mutability": "readOnly" },
                { "name": "lastModified", "type": "dateTime", "mutability": "readOnly" },
                { "name": "location", "type": "reference", "mutability": "readOnly" },
                { "name": "version", "type": "string", "mutability": "readOnly" },
            ] },
        ] }),
        false,
    );
    let user_attrs: Vec<(String, Value)> = listed(&schemas["Resources"][0], false)
        .into_iter()
        .chain(listed(&schemas["Resources"][1], true))
        .chain(common.clone())
        .collect();
    let group_attrs: Vec<(String, Value)> = listed(&schemas["Resources"][2], false)
        .into_iter()
        .chain(common)
        .collect();
    assert!(user_attrs.len() > 40 && group_attrs.len() > 8);
    for (resource, path, attrs, anchor) in [
        ("Users", &vpath, &user_attrs, "userName eq \"victim\""),
        ("Groups", &gpath, &group_attrs, "displayName eq \"Probe\""),
    ] {
        for (name, def) in attrs {
            let f = format!("{anchor} and {name} pr");
            let r = scim(
                &app,
                "GET",
                &format!("{b}/{resource}?filter={}", enc(&f)),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "filter on listed {name}: {}", r.text);
            let r = scim(
                &app,
                "GET",
                &format!(
                    "{b}/{resource}?filter={}&attributes={}",
                    enc(anchor),
                    enc(name)
                ),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "attributes={name}: {}", r.text);
            let value = sample(def, name);
            let r = scim(
                &app,
                "PATCH",
                path,
                Some(patch(
                    json!([{ "op": "add", "path": name, "value": value }]),
                )),
            )
            .await;
            if def["mutability"] == "readOnly" {
                assert_eq!(
                    r.body["scimType"], "mutability",
                    "PATCH of readOnly {name}: {}",
                    r.text
                );
                assert_scim_error(&r, 400, Some("mutability"));
            } else {
                assert!(
                    r.status == 200
                        || r.body["scimType"] != "invalidPath"
                            && r.body["scimType"] != "invalidSyntax",
                    "PATCH of listed {name}: {}",
                    r.text
                );
            }
        }
    }
    // What is not listed is not accepted.
    for name in [
        "x509Certificates",
        "photos",
        "entitlements",
        "ims",
        "name.nosuch",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch",
    ] {
        let r = scim(
            &app,
            "PATCH",
            &vpath,
            Some(patch(json!([{ "op": "add", "path": name, "value": "x" }]))),
        )
        .await;
        assert_scim_error(&r, 400, Some("invalidPath"));
        refused_filter(
            &app,
            &org,
            "Users",
            &format!("userName eq \"victim\" and {name} pr"),
        )
        .await;
    }
    // Everything the service stores for a user reads back through the schema.
    let got = scim(&app, "GET", &vpath, None).await.body;
    for key in got.as_object().unwrap().keys() {
        let known =
            key == "schemas" || key == ENTERPRISE || user_attrs.iter().any(|(n, _)| n == key);
        assert!(known, "{key} is returned but not listed");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_tokens_and_other_organizations_answer_in_the_scim_shape() {
    let app = App::start().await;
    let org = app.org("scim-auth").await;
    let other = app.org("scim-other").await;
    let users = format!("{}/Users", base(&org));
    let r = app.send("GET", &users, None, &[], None).await;
    assert_scim_error(&r, 401, None);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = app.send("GET", &users, Some("nope"), &[], None).await;
    assert_scim_error(&r, 401, None);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );

    // An organization token for an identity provider, as docs/scim.md sets it up.
    let idp = token(
        &app,
        &org,
        &["mdm.global.mdmUser.*", "mdm.global.group.*"],
        None,
    )
    .await;
    let r = app
        .send(
            "POST",
            &users,
            Some(&idp),
            &[("content-type", "application/scim+json")],
            Some(user_body("viatoken").to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .send(
            "GET",
            &format!("{users}?filter={}", enc("userName eq \"viatoken\"")),
            Some(&idp),
            &[],
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    let r = app
        .send(
            "GET",
            &format!("{}/Schemas", base(&org)),
            Some(&idp),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // Another organization's path: 404, as if it did not exist.
    for path in [
        format!("{}/Users", base(&other)),
        format!("{}/Schemas", base(&other)),
        format!("{}/Groups", base("no-such-org")),
    ] {
        let r = app.send("GET", &path, Some(&idp), &[], None).await;
        assert_scim_error(&r, 404, None);
    }
    let r = app
        .send(
            "GET",
            &format!("{}/Users", base("x")),
            Some(&app.admin_token),
            &[],
            None,
        )
        .await;
    assert_scim_error(&r, 404, None);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_missing_permissions_are_403_naming_the_permission() {
    let app = App::start().await;
    let org = app.org("scim-auth").await;
    let users = format!("{}/Users", base(&org));
    // Missing permissions: 403 naming the permission.
    let reader = token(&app, &org, &["mdm.global.mdmUser.read"], None).await;
    let r = app
        .send(
            "POST",
            &users,
            Some(&reader),
            &[],
            Some(user_body("nope").to_string()),
        )
        .await;
    assert_scim_error(&r, 403, None);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("mdm.global.mdmUser.create")
    );
    let r = app
        .send(
            "GET",
            &format!("{}/Groups", base(&org)),
            Some(&reader),
            &[],
            None,
        )
        .await;
    assert_scim_error(&r, 403, None);
    assert_eq!(
        app.send(
            "GET",
            &format!("{}/ResourceTypes", base(&org)),
            Some(&reader),
            &[],
            None
        )
        .await
        .status,
        200
    );
    let grouper = token(&app, &org, &["mdm.global.group.read"], None).await;
    assert_scim_error(
        &app.send(
            "GET",
            &format!("{}/ServiceProviderConfig", base(&org)),
            Some(&grouper),
            &[],
            None,
        )
        .await,
        403,
        None,
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_not_served_are_405_with_allow() {
    let app = App::start().await;
    let org = app.org("scim-auth").await;
    let users = format!("{}/Users", base(&org));
    // 405 with Allow.
    let r = scim(&app, "DELETE", &users, None).await;
    assert_scim_error(&r, 405, None);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = scim(
        &app,
        "POST",
        &format!("{}/Schemas", base(&org)),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_429_with_retry_after() {
    let app = App::start().await;
    let org = app.org("scim-auth").await;
    let users = format!("{}/Users", base(&org));
    // 429 with Retry-After.
    let slow = token(&app, &org, &["mdm.global.mdmUser.read"], Some(2)).await;
    for _ in 0..2 {
        assert_eq!(
            app.send("GET", &users, Some(&slow), &[], None).await.status,
            200
        );
    }
    let r = app.send("GET", &users, Some(&slow), &[], None).await;
    assert_scim_error(&r, 429, None);
    assert!(r.header("retry-after").is_some());
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_with_soft_delete_is_still_404_and_frees_the_username() {
    let app = App::start().await;
    let org = app
        .org_with(json!({ "name": "Soft", "slug": "scim-soft", "policy": { "retentionDays": 30 } }))
        .await;
    let kim = create_user(&app, &org, user_body("kim")).await;
    let g = create_group(&app, &org, "Crew", &[kim["id"].as_str().unwrap()]).await;
    let path = format!("{}/Users/{}", base(&org), kim["id"].as_str().unwrap());
    assert_eq!(scim(&app, "DELETE", &path, None).await.status, 204);
    assert_scim_error(&scim(&app, "GET", &path, None).await, 404, None);
    assert!(names(&app, &org, "userName eq \"kim\"").await.is_empty());
    assert_eq!(list(&app, &org, "Users", "").await["totalResults"], 0);
    let gpath = format!("{}/Groups/{}", base(&org), g["id"].as_str().unwrap());
    assert!(
        scim(&app, "GET", &gpath, None)
            .await
            .body
            .get("members")
            .is_none()
    );
    create_user(&app, &org, user_body("kim")).await;
    app.assert_consistent();
}

/// The standard sequences of common SCIM compliance checkers (Okta's SCIM 2.0 test
/// suite, Microsoft's SCIM validator): their requests, in their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_checker_sequences() {
    let app = App::start().await;
    let org = app.org("scim-okta").await;
    let b = base(&org);
    let idp = token(
        &app,
        &org,
        &["mdm.global.mdmUser.*", "mdm.global.group.*"],
        None,
    )
    .await;
    let send = async |method: &str, path: &str, body: Option<Value>| {
        app.send(
            method,
            path,
            Some(&idp),
            &[
                ("content-type", "application/scim+json"),
                ("accept", "application/scim+json"),
            ],
            body.map(|b| b.to_string()),
        )
        .await
    };

    // Okta: does the user exist? (random userName) → 0 results.
    let r = send(
        "GET",
        &format!(
            "{b}/Users?filter={}&startIndex=1&count=100",
            enc("userName eq \"runscope.user@atko.com\"")
        ),
        None,
    )
    .await;
    assert_eq!((r.status, r.body["totalResults"].clone()), (200, json!(0)));
    assert_eq!(r.body["Resources"], json!([]));
    // Create.
    let r = send(
        "POST",
        &format!("{b}/Users"),
        Some(json!({
            "schemas": [USER_URN],
            "userName": "Runscope.User@atko.com",
            "name": { "givenName": "Runscope", "familyName": "User" },
            "emails": [{ "primary": true, "value": "runscope.user@atko.com", "type": "work" }],
            "displayName": "Runscope User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Retrieve by id, by userName (exact and another case), list with paging.
    assert_eq!(
        send("GET", &format!("{b}/Users/{id}"), None).await.body["userName"],
        "Runscope.User@atko.com"
    );
    for probe in ["Runscope.User@atko.com", "runscope.user@ATKO.com"] {
        let r = send(
            "GET",
            &format!(
                "{b}/Users?filter={}",
                enc(&format!("userName eq \"{probe}\""))
            ),
            None,
        )
        .await;
        assert_eq!(r.body["totalResults"], 1, "{probe}");
        assert_eq!(r.body["Resources"][0]["id"], json!(id));
    }
    let r = send("GET", &format!("{b}/Users?startIndex=1&count=2"), None).await;
    assert_eq!(
        (r.body["startIndex"].clone(), r.body["itemsPerPage"].clone()),
        (json!(1), json!(1))
    );
    // Okta: unknown id → 404; duplicate → 409.
    assert_scim_error(
        &send("GET", &format!("{b}/Users/010101010101010101010101"), None).await,
        404,
        None,
    );
    let r = send("POST", &format!("{b}/Users"), Some(json!({ "schemas": [USER_URN], "userName": "runscope.user@atko.com", "emails": [{ "value": "x@atko.com" }] }))).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    // Microsoft: PATCH replace of several attributes, Entra's shapes.
    let r = send(
        "PATCH",
        &format!("{b}/Users/{id}"),
        Some(patch(json!([
            { "op": "Replace", "path": "displayName", "value": "Runscope U" },
            { "op": "Replace", "path": "name.givenName", "value": "Run" },
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "run@atko.com" },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42" }
        ]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["emails"][0]["value"], "run@atko.com");
    // Deactivate (PATCH), then PUT back.
    let r = send(
        "PATCH",
        &format!("{b}/Users/{id}"),
        Some(patch(
            json!([{ "op": "replace", "value": { "active": false } }]),
        )),
    )
    .await;
    assert_eq!(r.body["active"], false);
    let r = send(
        "PUT",
        &format!("{b}/Users/{id}"),
        Some(json!({
            "schemas": [USER_URN],
            "id": id,
            "userName": "Runscope.User@atko.com",
            "name": { "givenName": "Runscope", "familyName": "Updated" },
            "emails": [{ "primary": true, "value": "runscope.user@atko.com", "type": "work" }],
            "active": true,
            "meta": { "resourceType": "User" }
        })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["active"].clone(),
            r.body["name"]["familyName"].clone()
        ),
        (json!(true), json!("Updated"))
    );
    // Groups: create, find by displayName, add member, remove member, delete.
    let r = send(
        "POST",
        &format!("{b}/Groups"),
        Some(json!({ "schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": [] })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let r = send(
        "GET",
        &format!(
            "{b}/Groups?filter={}&excludedAttributes=members",
            enc("displayName eq \"Test SCIMv2\"")
        ),
        None,
    )
    .await;
    assert_eq!(r.body["Resources"][0]["id"], json!(gid));
    let r = send("PATCH", &format!("{b}/Groups/{gid}"), Some(patch(json!([{ "op": "add", "path": "members", "value": [{ "value": id, "display": "Runscope.User@atko.com" }] }])))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send("GET", &format!("{b}/Groups/{gid}"), None).await;
    assert_eq!(r.body["members"][0]["value"], json!(id));
    let r = send(
        "PATCH",
        &format!("{b}/Groups/{gid}"),
        Some(patch(
            json!([{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("members").is_none());
    let r = send(
        "PATCH",
        &format!("{b}/Groups/{gid}"),
        Some(patch(
            json!([{ "op": "replace", "path": "displayName", "value": "Test SCIMv2 renamed" }]),
        )),
    )
    .await;
    assert_eq!(r.body["displayName"], "Test SCIMv2 renamed");
    assert_eq!(
        send("DELETE", &format!("{b}/Groups/{gid}"), None)
            .await
            .status,
        204
    );
    // Delete the user: 204, then 404.
    assert_eq!(
        send("DELETE", &format!("{b}/Users/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        send("GET", &format!("{b}/Users/{id}"), None).await.status,
        404
    );
    app.assert_consistent();
}

/// A short fuzz over HTTP: arbitrary filter text is answered 200 or 400, never
/// anything else (the parser's own property tests run in `cargo test -p roster-api`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_filters_are_answered_200_or_400() {
    let app = App::start().await;
    let org = app.org("scim-fuzz").await;
    population(&app, &org).await;
    let pieces = [
        "userName",
        "emails",
        "emails[",
        "]",
        "type",
        "value",
        " eq ",
        " co ",
        " sw ",
        " pr",
        " gt ",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "\"a\"",
        "\"",
        "true",
        "1.5",
        "null",
        ".",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "\\",
        "é",
        "%",
        "&",
        "groups",
        "meta.created",
        " ",
        "\"2020-01-01T00:00:00Z\"",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..150 {
        let n = 1 + next() % 9;
        let text: String = (0..n)
            .map(|_| pieces[usize::try_from(next() % pieces.len() as u64).unwrap()])
            .collect();
        for resource in ["Users", "Groups"] {
            let r = scim(
                &app,
                "GET",
                &format!("{}/{resource}?filter={}", base(&org), enc(&text)),
                None,
            )
            .await;
            assert!(
                r.status == 200 || r.status == 400,
                "{text}: {} {}",
                r.status,
                r.text
            );
            if r.status == 400 {
                assert_eq!(r.body["schemas"], json!([ERROR_URN]));
            }
        }
    }
    app.assert_consistent();
}

const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn user_names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_me_answer_scim_errors_for_every_method() {
    let app = App::start().await;
    let org = app.org("scim-unknown").await;
    let b = base(&org);
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        for path in ["/Widgets", "/Users/abc/extra", "/", "/Groups/x/y/z"] {
            let r = scim(&app, method, &format!("{b}{path}"), Some(json!({}))).await;
            assert_scim_error(&r, 404, None);
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("/scim/v2{path}")),
                "{method} {path}: {detail}"
            );
        }
        let me = scim(&app, method, &format!("{b}/Me"), Some(json!({}))).await;
        assert_scim_error(&me, 501, None);
        // `/.search` at the base is the root search: POST only, 405 in the SCIM shape
        // for the other methods (POST is tested with the root search).
        if method != "POST" {
            let r = scim(&app, method, &format!("{b}/.search"), Some(json!({}))).await;
            assert_scim_error(&r, 405, None);
            assert_eq!(r.header("allow"), Some("POST"), "{method}");
        }
    }
    // Authentication and permission come first, in the SCIM shape.
    let r = app
        .send("GET", &format!("{b}/Widgets"), None, &[], None)
        .await;
    assert_scim_error(&r, 401, None);
    assert!(r.header("www-authenticate").is_some());
    let groups_only = token(&app, &org, &["mdm.global.group.read"], None).await;
    for path in ["/Widgets", "/Me"] {
        let r = app
            .send("GET", &format!("{b}{path}"), Some(&groups_only), &[], None)
            .await;
        assert_scim_error(&r, 403, None);
    }
    // Another method is 405 with Allow, in the SCIM shape.
    let r = scim(&app, "OPTIONS", &format!("{b}/Widgets"), None).await;
    assert_eq!(r.status, 405);
    assert_eq!(
        r.header("allow"),
        Some("GET, HEAD, POST, PUT, PATCH, DELETE")
    );
    // An unknown organization is its 404.
    let r = scim(
        &app,
        "GET",
        &format!("{}/Widgets", base("no-such-org")),
        None,
    )
    .await;
    assert_scim_error(&r, 404, None);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_exactly_what_the_get_answers() {
    let app = App::start().await;
    let org = app.org("scim-search").await;
    population(&app, &org).await;
    let b = base(&org);
    let alice = list(
        &app,
        &org,
        "Users",
        &format!("filter={}", enc("userName eq \"alice\"")),
    )
    .await;
    let alice_id = alice["Resources"][0]["id"].as_str().unwrap().to_owned();
    create_group(&app, &org, "Search Staff", &[&alice_id]).await;
    create_group(&app, &org, "Search Ops", &[]).await;
    let cases: Vec<(&str, String, Value)> = vec![
        ("Users", String::new(), json!({})),
        (
            "Users",
            format!(
                "filter={}&sortBy=userName&sortOrder=descending&startIndex=2&count=2&attributes=userName,emails",
                enc("emails co \"example\"")
            ),
            json!({ "filter": "emails co \"example\"", "sortBy": "userName",
                    "sortOrder": "descending", "startIndex": 2, "count": 2,
                    "attributes": ["userName", "emails"] }),
        ),
        (
            "Users",
            "cursor=&count=4&excludedAttributes=emails".into(),
            json!({ "cursor": "", "count": 4, "excludedAttributes": ["emails"] }),
        ),
        (
            "Groups",
            format!("filter={}", enc(&format!("members eq \"{alice_id}\""))),
            json!({ "filter": format!("members eq \"{alice_id}\"") }),
        ),
        (
            "Groups",
            "cursor=&count=1&attributes=displayName".into(),
            json!({ "cursor": "", "count": 1, "attributes": ["displayName"] }),
        ),
    ];
    for (resource, query, mut body) in cases {
        let get = list(&app, &org, resource, &query).await;
        body["schemas"] = json!([SEARCH_URN]);
        let post = scim(&app, "POST", &format!("{b}/{resource}/.search"), Some(body)).await;
        assert_eq!(post.status, 200, "{resource} {query}: {}", post.text);
        assert_eq!(post.body, get, "{resource} {query}");
        assert!(
            get["totalResults"].as_u64().unwrap() > 0,
            "{resource} {query}"
        );
    }
    // Follow a Groups cursor through .search.
    let mut body = json!({ "schemas": [SEARCH_URN], "cursor": "", "count": 1 });
    let mut seen = Vec::new();
    loop {
        let r = scim(
            &app,
            "POST",
            &format!("{b}/Groups/.search"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.push(
            r.body["Resources"][0]["displayName"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        match r.body.get("nextCursor") {
            Some(c) => body["cursor"] = c.clone(),
            None => break,
        }
    }
    assert_eq!(seen, ["Search Staff", "Search Ops"]);
    // A request that is no SearchRequest is 400 naming its fault.
    let r = scim(
        &app,
        "POST",
        &format!("{b}/Users/.search"),
        Some(json!({ "filter": "userName eq \"a\"" })),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    assert!(r.body["detail"].as_str().unwrap().contains("schemas"));
    let r = scim(
        &app,
        "POST",
        &format!("{b}/Users/.search"),
        Some(json!({ "schemas": [SEARCH_URN], "count": "x" })),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    // .search needs read permission, and POST on a user is still 405.
    let groups_only = token(&app, &org, &["mdm.global.group.read"], None).await;
    let r = app
        .send(
            "POST",
            &format!("{b}/Users/.search"),
            Some(&groups_only),
            &[],
            Some(json!({ "schemas": [SEARCH_URN] }).to_string()),
        )
        .await;
    assert_scim_error(&r, 403, None);
    let r = scim(
        &app,
        "POST",
        &format!("{b}/Users/{alice_id}"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
    // Every 405 names what the resource at its path serves (RFC 9110 §15.5.6), for
    // OPTIONS as for POST on a user or GET on `.search` (each route's own 405, before
    // authentication): a resource's methods on a user or group, an unknown id
    // included, and POST alone at `.search` (its own route and component).
    let group_id = "0123456789abcdef01234567";
    for (path, allow) in [
        (
            format!("{b}/Users/{alice_id}"),
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        (
            format!("{b}/Groups/{group_id}"),
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        (format!("{b}/Users/.search"), "POST"),
        (format!("{b}/Groups/.search"), "POST"),
    ] {
        let r = scim(&app, "OPTIONS", &path, None).await;
        assert_scim_error(&r, 405, None);
        assert_eq!(r.header("allow"), Some(allow), "OPTIONS {path}");
        let method = if allow == "POST" { "GET" } else { "POST" };
        let r = scim(&app, method, &path, Some(json!({}))).await;
        assert_scim_error(&r, 405, None);
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_paging_through_hundreds_of_users_while_more_are_added() {
    let app = App::start().await;
    let org = app.org("scim-cursor").await;
    let mut expected = Vec::new();
    for i in 0..240 {
        let name = format!("c{i:03}");
        create_user(&app, &org, json!({ "schemas": [USER_URN], "userName": name, "emails": [{"value": format!("{name}@example.com")}] })).await;
        expected.push(name);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = list(
            &app,
            &org,
            "Users",
            &format!("cursor={}&count=50&attributes=userName", enc(&cursor)),
        )
        .await;
        assert!(page.get("startIndex").is_none(), "{page}");
        assert!(page.get("previousCursor").is_none(), "{page}");
        seen.extend(user_names(&page));
        pages += 1;
        // Users added while paging come after every position already returned.
        let name = format!("late{pages}");
        create_user(&app, &org, json!({ "schemas": [USER_URN], "userName": name, "emails": [{"value": format!("{name}@example.com")}] })).await;
        expected.push(name);
        match page.get("nextCursor") {
            Some(c) => {
                cursor = c.as_str().unwrap().to_owned();
                assert!(
                    cursor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
                    "RFC 9865: unreserved characters only: {cursor}"
                );
            }
            None => break,
        }
        assert!(pages < 12, "paging does not end");
    }
    // Every user once, none skipped, the late ones included (the last one was created
    // after the final page).
    expected.pop();
    assert_eq!(seen, expected);
    // Invalid cursors: 400 invalidCursor, in the SCIM shape, for GET and .search.
    for bad in ["nonsense", "Gs1", "Us", "Us%2D1"] {
        let r = scim(
            &app,
            "GET",
            &format!("{}/Users?cursor={bad}", base(&org)),
            None,
        )
        .await;
        assert_scim_error(&r, 400, Some("invalidCursor"));
    }
    let r = scim(
        &app,
        "POST",
        &format!("{}/Users/.search", base(&org)),
        Some(json!({ "schemas": [SEARCH_URN], "cursor": "Go1" })),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidCursor"));
    let r = scim(
        &app,
        "GET",
        &format!("{}/Users?cursor=&startIndex=3", base(&org)),
        None,
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    // count over maxPageSize is capped.
    let big = list(&app, &org, "Users", "cursor=&count=5000").await;
    assert_eq!(big["itemsPerPage"], 200);
    assert!(big.get("nextCursor").is_some());
    app.assert_consistent();
}

/// What scim2-tester checks beyond the basics: PATCH of the enterprise extension as a
/// whole, `remove` of `active`, members compared as written, and `POST /.search` at
/// the base over Users and Groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extension_patch_active_removal_members_as_written_and_root_search() {
    let app = App::start().await;
    let org = app.org("scim-more").await;
    let b = base(&org);
    let ann = create_user(&app, &org, user_body("ann")).await;
    let aid = ann["id"].as_str().unwrap().to_owned();
    let apath = format!("{b}/Users/{aid}");
    let bob = create_user(&app, &org, user_body("bob")).await;
    let bid = bob["id"].as_str().unwrap().to_owned();

    // The enterprise extension as one complex attribute (RFC 7643 §3.3).
    let r = scim(
        &app,
        "PATCH",
        &apath,
        Some(patch(json!([{ "op": "add", "path": ENTERPRISE, "value": {
            "schemas": [ENTERPRISE], "employeeNumber": "7", "manager": { "value": bid }
        } }]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "7");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], json!(bid));
    assert_eq!(r.body["schemas"], json!([USER_URN, ENTERPRISE]));
    let r = scim(
        &app,
        "PATCH",
        &apath,
        Some(patch(
            json!([{ "op": "replace", "path": ENTERPRISE, "value": { "department": "Rides" } }]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[ENTERPRISE], json!({ "department": "Rides" }));
    let r = scim(
        &app,
        "PATCH",
        &apath,
        Some(patch(json!([{ "op": "remove", "path": ENTERPRISE }]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get(ENTERPRISE).is_none());
    assert_eq!(r.body["schemas"], json!([USER_URN]));

    // `remove` of `active` unassigns it; the user stays enabled.
    let r = scim(
        &app,
        "PATCH",
        &apath,
        Some(patch(json!([{ "op": "remove", "path": "active" }]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("active").is_none(), "{}", r.text);
    assert!(
        scim(&app, "GET", &apath, None)
            .await
            .body
            .get("active")
            .is_none()
    );
    let mdm = app
        .call(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users/{aid}"),
            None,
        )
        .await;
    assert_eq!(mdm.body["data"]["status"], "active", "{}", mdm.text);

    // Members answered as written: `display` only on request.
    let group = create_group(&app, &org, "Riders", &[]).await;
    let gid = group["id"].as_str().unwrap().to_owned();
    let written = json!([{ "value": aid, "$ref": format!("{b}/Users/{aid}"), "type": "User" }]);
    let r = scim(
        &app,
        "PATCH",
        &format!("{b}/Groups/{gid}"),
        Some(patch(
            json!([{ "op": "add", "path": "members", "value": written }]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert!(r.body["members"][0].get("display").is_none(), "{}", r.text);
    assert_eq!(r.body["members"][0]["value"], json!(aid));
    assert_eq!(r.body["members"][0]["type"], "User");

    // POST /.search at the base: Users then Groups, paged over both.
    let search = async |body: Value| {
        let mut body = body;
        body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]);
        scim(&app, "POST", &format!("{b}/.search"), Some(body)).await
    };
    let ids = |r: &Reply| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = search(json!({})).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["schemas"], json!([LIST_URN]));
    assert_eq!(all.body["totalResults"], 3);
    assert_eq!(ids(&all), [aid.clone(), bid.clone(), gid.clone()]);
    assert_eq!(all.body["Resources"][2]["schemas"], json!([GROUP_URN]));
    let page = search(json!({ "startIndex": 2, "count": 2, "attributes": ["id"] })).await;
    assert_eq!(ids(&page), [bid.clone(), gid.clone()]);
    assert_eq!(
        (
            page.body["startIndex"].clone(),
            page.body["itemsPerPage"].clone()
        ),
        (json!(2), json!(2))
    );
    assert!(
        page.body["Resources"][0].get("userName").is_none(),
        "projected"
    );
    let last = search(json!({ "startIndex": 3, "count": 5 })).await;
    assert_eq!(ids(&last), [gid.as_str()]);
    assert_eq!(last.body["totalResults"], 3);
    // A filter resolves per resource type; one naming an attribute a type lacks does
    // not match that type.
    let users_only = search(json!({ "filter": "userName sw \"a\"" })).await;
    assert_eq!(ids(&users_only), [aid.as_str()]);
    let groups_only = search(json!({ "filter": format!("members.value eq \"{aid}\"") })).await;
    assert_eq!(ids(&groups_only), [gid.as_str()]);
    let both = search(json!({ "filter": format!("id eq \"{bid}\" or id eq \"{gid}\"") })).await;
    assert_eq!(ids(&both), [bid.clone(), gid.clone()]);
    assert_scim_error(
        &search(json!({ "filter": "nosuch eq 1" })).await,
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(
        &search(json!({ "filter": "userName eq" })).await,
        400,
        Some("invalidFilter"),
    );
    assert_scim_error(
        &search(json!({ "sortBy": "id" })).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &search(json!({ "count": "x" })).await,
        400,
        Some("invalidValue"),
    );
    // The root pages by index only, and reads a SearchRequest as /Users/.search does.
    assert_scim_error(
        &search(json!({ "cursor": "" })).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &search(json!({ "nosuch": 1 })).await,
        400,
        Some("invalidSyntax"),
    );
    let r = scim(
        &app,
        "POST",
        &format!("{b}/.search"),
        Some(json!({ "filter": "id pr" })),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = scim(&app, "GET", &format!("{b}/.search"), None).await;
    assert_eq!(r.status, 405, "{}", r.text);
    // The route is `…/v2/:prefix.search` (Spin cannot route a literal `.search`
    // segment): other prefixes are SCIM 404s, and the type endpoints are untouched.
    let r = search_at(&app, &format!("{b}/Users.search")).await;
    assert_scim_error(&r, 404, None);
    let r = search_at(&app, &format!("{b}/Users")).await;
    assert_ne!(r.status, 404, "{}", r.text);
    // A token that may read users but not groups searches users only.
    let reader = token(&app, &org, &["mdm.global.mdmUser.read"], None).await;
    let r = app
        .send(
            "POST",
            &format!("{b}/.search"),
            Some(&reader),
            &[("content-type", "application/scim+json")],
            Some(
                json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] })
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2);
    app.assert_consistent();
}

async fn search_at(app: &App, path: &str) -> Reply {
    let body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] });
    scim(app, "POST", path, Some(body)).await
}
