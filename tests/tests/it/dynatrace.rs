//! Seed 002 (Dynatrace account management, "Remove user") through the real components:
//! a person removed account by account (the owner account last), the documented 200
//! (`RestUserWithGroups[]` with every field of the seed's model), 400 and 404, every
//! refusal in `ExceptionMessage` shape, dry runs, and concurrent removals.

use roster_tests::{App, Reply};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const ALPHA_ACCOUNT: &str = "5b0d5c6e-8a1f-4c63-9d2e-0f7a1b2c3d4e";

async fn account_of(app: &App, org: &str) -> String {
    let r = app
        .call("GET", &format!("/v1/organizations/{org}"), None)
        .await;
    r.body["data"]["aliases"]["accountUuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A user `name` in `org` with a password, company, country and one group.
async fn member(app: &App, org: &str, name: &str, group: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/users"),
            Some(
                json!({"username": name, "email": format!("{name}@example.com"),
                        "firstName": "Kim", "lastName": "Lee", "password": "correct horse battery",
                        "company": "Acme", "countryCode": "de"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["data"]["id"].as_str().unwrap().to_owned();
    let g = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/mdm/groups"),
            Some(json!({"name": group, "description": "On call"})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let r = app
        .call(
            "PUT",
            &format!("/v1/organizations/{org}/mdm/users/{id}/groups"),
            Some(json!({"groups": [group]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

fn path(account: &str, email: &str) -> String {
    format!("/v1/accounts/{account}/users/{email}")
}

fn assert_exception(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.body,
        json!({"code": status, "message": message}),
        "{}",
        r.text
    );
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_removes_a_person_account_by_account() {
    let app = App::start().await;
    let alpha = app.org("dt-alpha").await;
    let beta = app.org("dt-beta").await;
    // Accounts answer to a settable UUID alias.
    let r = app
        .call(
            "PATCH",
            &format!("/v1/organizations/{alpha}"),
            Some(json!({"aliases": {"accountUuid": ALPHA_ACCOUNT}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let beta_account = account_of(&app, &beta).await;
    // The person joins alpha first: alpha is their owner account.
    let in_alpha = member(&app, &alpha, "kim", "ops").await;
    let in_beta = member(&app, &beta, "kim", "dev").await;

    // Not from the owner account while another remains; a dry run says so too.
    let r = app
        .call("DELETE", &path(ALPHA_ACCOUNT, "kim@example.com"), None)
        .await;
    assert_exception(&r, 400, "Cannot delete user from this account");
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", path(ALPHA_ACCOUNT, "kim@example.com")),
            None,
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["removable"], false);
    assert_eq!(
        dry.body["blockers"][0],
        json!({"code": 400, "message": "Cannot delete user from this account"})
    );
    let dry = app
        .call(
            "DELETE",
            &format!("{}?dryRun=true", path(&beta_account, "kim@example.com")),
            None,
        )
        .await;
    assert_eq!(dry.body["removable"], true, "{}", dry.text);
    assert_eq!(dry.body["removesPerson"], false);
    assert_eq!(
        dry.body["users"][0]["accountUuids"],
        json!([ALPHA_ACCOUNT, beta_account])
    );

    // From beta (the email URL-encoded, in another case): 200 with the seed's model.
    let r = app
        .call("DELETE", &path(&beta_account, "KIM%40Example.com"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let users = r.body.as_array().unwrap();
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(
        keys(u),
        set(&[
            "uid",
            "email",
            "name",
            "surname",
            "password",
            "company",
            "countryCode",
            "userStatus",
            "accountUuids",
            "ownerAccountUuid",
            "type",
            "dcsActive",
            "passwordChangedAt",
            "userLoginMetadata",
            "createdAt",
            "updatedAt",
            "groups",
        ])
    );
    assert_eq!(
        keys(&u["userLoginMetadata"]),
        set(&[
            "successfulLoginCounter",
            "failedLoginCounter",
            "lastSuccessfulLogin",
            "lastFailedLogin",
            "resetPasswordTokenSentAt",
            "lastSuccessfulBasicAuthentication",
            "createdAt",
            "updatedAt",
        ])
    );
    assert_eq!(
        keys(&u["groups"][0]),
        set(&[
            "groupName",
            "uuid",
            "owner",
            "description",
            "accountUUID",
            "accountName",
            "federatedAttributeValues",
            "createdAt",
            "updatedAt",
        ])
    );
    assert_eq!(u["email"], "kim@example.com");
    assert_eq!(
        (u["name"].clone(), u["surname"].clone()),
        (json!("Kim"), json!("Lee"))
    );
    assert_eq!(u["password"], Value::Null, "never a secret");
    assert!(!r.text.contains("argon2"), "{}", r.text);
    assert_eq!(u["company"], "Acme");
    assert_eq!(u["countryCode"], "DE");
    assert_eq!(u["userStatus"], "ACTIVE");
    assert_eq!(u["type"], "LOCAL");
    assert_eq!(u["dcsActive"], false);
    assert!(u["passwordChangedAt"].is_string());
    assert_eq!(u["userLoginMetadata"]["successfulLoginCounter"], 0);
    assert_eq!(u["accountUuids"], json!([ALPHA_ACCOUNT]));
    assert_eq!(u["ownerAccountUuid"], ALPHA_ACCOUNT);
    assert_eq!(u["groups"][0]["groupName"], "dev");
    assert_eq!(u["groups"][0]["owner"], "LOCAL");
    assert_eq!(u["groups"][0]["description"], "On call");
    assert_eq!(u["groups"][0]["accountUUID"], json!(beta_account));
    assert_eq!(u["groups"][0]["accountName"], "dt-beta");
    assert_eq!(u["groups"][0]["federatedAttributeValues"], json!([]));
    assert_eq!(
        app.call(
            "GET",
            &format!("/v1/organizations/{beta}/mdm/users/{in_beta}"),
            None
        )
        .await
        .status,
        404
    );
    let again = app
        .call("DELETE", &path(&beta_account, "kim@example.com"), None)
        .await;
    assert_exception(&again, 404, "Could not find requested user or account");

    // Now the owner account is the last: removing them from it removes the person.
    let r = app
        .call("DELETE", &path(ALPHA_ACCOUNT, "kim@example.com"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0]["accountUuids"], json!([]));
    assert_eq!(r.body[0]["ownerAccountUuid"], Value::Null);
    assert_eq!(r.body[0]["groups"][0]["accountUUID"], ALPHA_ACCOUNT);
    assert_eq!(
        app.call(
            "GET",
            &format!("/v1/organizations/{alpha}/mdm/users/{in_alpha}"),
            None
        )
        .await
        .status,
        404
    );
    for (key, value) in app.snapshot() {
        assert!(
            !String::from_utf8_lossy(&value).contains("kim@example.com"),
            "{key}"
        );
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_an_exception_message() {
    let app = App::start().await;
    let org = app.org("dt-errors").await;
    let account = account_of(&app, &org).await;
    member(&app, &org, "lee", "ops").await;
    let target = path(&account, "lee@example.com");
    let not_found = "Could not find requested user or account";

    for p in [
        path("00000000-0000-4000-8000-000000000000", "lee@example.com"),
        path("not-a-uuid", "lee@example.com"),
        path(&account, "nobody@example.com"),
    ] {
        assert_exception(&app.call("DELETE", &p, None).await, 404, not_found);
    }
    let r = app.send("DELETE", &target, None, &[], None).await;
    assert_exception(&r, 401, "Authentication failed: no bearer token");
    let r = app.send("DELETE", &target, Some("nope"), &[], None).await;
    assert_exception(&r, 401, "Authentication failed: the token is not valid");
    let token = |perms: Value, rate: Option<u32>, on: String| {
        let app = &app;
        async move { app.org_token(&on, perms, rate).await }
    };
    let reader = token(json!(["mdm.global.mdmUser.read"]), None, org.clone()).await;
    let r = app.send("DELETE", &target, Some(&reader), &[], None).await;
    assert_exception(&r, 403, "Forbidden: requires mdm.global.mdmUser.remove");
    // Another organization's token: the account does not exist for it.
    let other = app.org("dt-other").await;
    let foreign = token(json!(["*"]), None, other).await;
    let r = app.send("DELETE", &target, Some(&foreign), &[], None).await;
    assert_exception(&r, 404, not_found);
    let r = app.call("GET", &target, None).await;
    assert_exception(&r, 405, "Method not allowed");
    assert_eq!(r.header("allow"), Some("DELETE"));
    let r = app
        .call("DELETE", &format!("{target}?dryRun=maybe"), None)
        .await;
    assert_exception(&r, 400, "invalid dryRun: must be true or false");
    let limited = token(json!(["mdm.global.mdmUser.remove"]), Some(1), org.clone()).await;
    let missing = path(&account, "nobody@example.com");
    let r = app
        .send("DELETE", &missing, Some(&limited), &[], None)
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .send("DELETE", &missing, Some(&limited), &[], None)
        .await;
    assert_exception(&r, 429, "Too many requests");
    assert!(r.header("retry-after").is_some());
    // The person was never touched.
    assert_eq!(
        app.call("DELETE", &format!("{target}?dryRun=true"), None)
            .await
            .body["removable"],
        true
    );
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_removals_remove_once() {
    let app = Arc::new(App::start().await);
    let org = app.org("dt-race").await;
    let account = account_of(&app, &org).await;
    for round in 0..3 {
        let name = format!("race{round}");
        let id = member(&app, &org, &name, &format!("g{round}")).await;
        for n in 0..20 {
            let r = app
                .call(
                    "POST",
                    &format!("/v1/organizations/{org}/mdm/users/{id}/devices"),
                    Some(json!({"name": "d", "type": "ios", "deviceIdentifier": format!("{name}-{n}")})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (app, p) = (app.clone(), path(&account, &format!("{name}@example.com")));
            tasks.push(tokio::spawn(
                async move { app.call("DELETE", &p, None).await },
            ));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        // One performs it; a request that arrives while it runs helps finish it (and
        // answers 200 too), one that arrives after finds nobody (404).
        assert!(replies.iter().any(|r| r.status == 200), "{replies:#?}");
        for r in &replies {
            match r.status {
                200 => assert_eq!(r.body[0]["email"], json!(format!("{name}@example.com"))),
                404 => assert_exception(r, 404, "Could not find requested user or account"),
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        let (removals, audit) = app.removals_in_audit(&org, &id).await;
        assert_eq!(removals, 1, "{audit}");
    }
    app.assert_consistent();
}

/// A user without email is no person: never found here, even by the address it had
/// before the canonical API removed it; the other surfaces still see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_email_is_never_found() {
    let app = App::start().await;
    let org = app.org("dt-no-email").await;
    let account = account_of(&app, &org).await;
    let id = member(&app, &org, "kiosk", "ops").await;
    let target = path(&account, "kiosk@example.com");
    let r = app
        .call("DELETE", &format!("{target}?dryRun=true"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call(
            "PATCH",
            &format!("/v1/organizations/{org}/mdm/users/{id}"),
            Some(json!({"email": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["email"], Value::Null);
    for p in [target.clone(), format!("{target}?dryRun=true")] {
        assert_exception(
            &app.call("DELETE", &p, None).await,
            404,
            "Could not find requested user or account",
        );
    }
    let r = app
        .call(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.assert_consistent();
}
