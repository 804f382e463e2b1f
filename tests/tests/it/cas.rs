//! Seed 001 (Cloud Access Service, "Delete User Now") through the real components:
//! every documented status (200, 403, 404, 405, 409, 429), the seed's request example,
//! dry runs, and concurrent deletions of one user.

use roster_tests::{App, Reply};
use serde_json::{Value, json};
use std::sync::Arc;

const CAS: &str = "/AdminInterface/restapi/v1/users";

struct Fixture {
    app: Arc<App>,
    org: String,
}

impl Fixture {
    async fn new(slug: &str) -> Self {
        let app = Arc::new(App::start().await);
        let org = app.org(slug).await;
        Self { app, org }
    }

    /// A user; returns (id, uuid).
    async fn user(&self, name: &str) -> (String, String) {
        let r = self
            .app
            .call(
                "POST",
                &format!("/v1/organizations/{}/mdm/users", self.org),
                Some(json!({"username": name, "email": format!("{name}@example.com")})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        (
            r.body["data"]["id"].as_str().unwrap().to_owned(),
            r.body["data"]["uuid"].as_str().unwrap().to_owned(),
        )
    }

    fn canonical(&self, id: &str) -> String {
        format!("/v1/organizations/{}/mdm/users/{id}", self.org)
    }

    async fn disable(&self, id: &str) {
        let r = self
            .app
            .call(
                "POST",
                &format!("{}/status", self.canonical(id)),
                Some(json!({"status": "disabled"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    async fn device(&self, id: &str, n: usize, status: &str) {
        let r = self
            .app
            .call(
                "POST",
                &format!("{}/devices", self.canonical(id)),
                Some(
                    json!({"name": "Phone", "type": "ios", "deviceIdentifier": format!("{id}-{n}"),
                            "enrolmentInfo": {"status": status}}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// DELETE with the admin token, naming the organization.
    async fn delete(&self, uuid: &str, query: &str) -> Reply {
        let token = self.app.admin_token.clone();
        self.app
            .send(
                "DELETE",
                &format!("{CAS}/{uuid}{query}"),
                Some(&token),
                &[("x-roster-organization", &self.org)],
                None,
            )
            .await
    }

    async fn token(&self, permissions: &[&str], rate: Option<u32>) -> String {
        let mut body = json!({"name": "t", "permissions": permissions});
        if let Some(r) = rate {
            body["rateLimitPerMinute"] = json!(r);
        }
        let r = self
            .app
            .call(
                "POST",
                &format!("/v1/organizations/{}/tokens", self.org),
                Some(body),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["data"]["secret"].as_str().unwrap().to_owned()
    }
}

fn assert_cas_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["status"], json!(status), "{}", r.text);
    assert_eq!(r.body["code"], json!(code), "{}", r.text);
    assert!(r.body["message"].is_string(), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_deletes_a_disabled_user_with_everything() {
    let f = Fixture::new("cas-acme").await;
    let (id, uuid) = f.user("kim").await;
    f.device(&id, 1, "ACTIVE").await;
    f.device(&id, 2, "INACTIVE").await;
    let t = f
        .app
        .call(
            "POST",
            &format!("{}/enrollment-tokens", f.canonical(&id)),
            None,
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text);

    // Enabled: 409, and nothing changes.
    let enabled = f.delete(&uuid, "").await;
    assert_cas_error(&enabled, 409, "USER_ENABLED");
    assert_eq!(enabled.body["message"], "User is in enabled state.");
    let dry = f.delete(&uuid, "?dryRun=true").await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["removable"], false);
    assert_eq!(dry.body["blockers"][0]["code"], "USER_ENABLED");
    assert_eq!(dry.body["blockers"][0]["status"], 409);
    assert_eq!(f.app.call("GET", &f.canonical(&id), None).await.status, 200);

    f.disable(&id).await;
    let dry = f.delete(&uuid, "?dryRun=true").await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.body["removable"], true);
    assert_eq!(dry.body["userId"], json!(uuid));
    assert_eq!(dry.body["wouldRemove"]["devices"], 2);
    assert_eq!(dry.body["wouldRemove"]["enrollmentTokens"], 1);
    assert_eq!(
        f.app.call("GET", &f.canonical(&id), None).await.status,
        200,
        "a dry run changes nothing"
    );
    let bad = f.delete(&uuid, "?dryRun=maybe").await;
    assert_cas_error(&bad, 400, "INVALID_PARAMETER");

    // The seed's request: DELETE with Content-Type and a bearer token → 200, JSON.
    let token = f.app.admin_token.clone();
    let r = f
        .app
        .send(
            "DELETE",
            &format!("{CAS}/{uuid}"),
            Some(&token),
            &[
                ("content-type", "application/json"),
                ("x-roster-organization", &f.org),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.body,
        json!({
            "userId": uuid,
            "deleted": true,
            "mode": "permanent",
            "removed": {"devices": 2, "enrollmentTokens": 1, "apiTokens": 0,
                        "subscriptions": 0, "messages": 0, "groups": 0},
        })
    );
    // Everything of the user is gone.
    assert_eq!(f.app.call("GET", &f.canonical(&id), None).await.status, 404);
    for (key, value) in f.app.snapshot() {
        assert!(!key.contains(&id), "{key}");
        assert!(
            !String::from_utf8_lossy(&value).contains("kim@example.com"),
            "{key}"
        );
    }
    // Again: 404, as is any unknown user and anything that is not a UUID.
    assert_cas_error(&f.delete(&uuid, "").await, 404, "USER_NOT_FOUND");
    let example = f.delete("eb2e12ae-1112-451b-98e1-dfe4e6afd60d", "").await;
    assert_cas_error(&example, 404, "USER_NOT_FOUND");
    assert_eq!(example.body["message"], "User is not found.");
    assert_cas_error(&f.delete("not-a-uuid", "").await, 404, "USER_NOT_FOUND");
    f.app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_status_and_code() {
    let f = Fixture::new("cas-auth").await;
    let (id, uuid) = f.user("lee").await;
    f.disable(&id).await;
    let path = format!("{CAS}/{uuid}");

    // No token, a bad token: 403 (the seed documents no 401).
    let r = f.app.send("DELETE", &path, None, &[], None).await;
    assert_cas_error(&r, 403, "MISSING_TOKEN");
    let r = f.app.send("DELETE", &path, Some("nope"), &[], None).await;
    assert_cas_error(&r, 403, "INVALID_TOKEN");
    // A token without mdmUser.remove.
    let reader = f.token(&["mdm.global.mdmUser.read"], None).await;
    let r = f.app.send("DELETE", &path, Some(&reader), &[], None).await;
    assert_cas_error(&r, 403, "PERMISSION_DENIED");
    assert!(r.text.contains("mdm.global.mdmUser.remove"), "{}", r.text);
    // A global token must name the organization, and an existing one.
    let admin = f.app.admin_token.clone();
    let r = f.app.send("DELETE", &path, Some(&admin), &[], None).await;
    assert_cas_error(&r, 403, "ORGANIZATION_REQUIRED");
    let r = f
        .app
        .send(
            "DELETE",
            &path,
            Some(&admin),
            &[("x-roster-organization", "no-such-org")],
            None,
        )
        .await;
    assert_cas_error(&r, 403, "ORGANIZATION_REQUIRED");
    // The route serves only DELETE.
    let r = f.app.send("GET", &path, Some(&admin), &[], None).await;
    assert_cas_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("DELETE"));

    // Another organization's token sees no such user.
    let other = f.app.org("cas-other").await;
    let r = f
        .app
        .call(
            "POST",
            &format!("/v1/organizations/{other}/tokens"),
            Some(json!({"name": "o", "permissions": ["*"]})),
        )
        .await;
    let foreign = r.body["data"]["secret"].as_str().unwrap().to_owned();
    let r = f.app.send("DELETE", &path, Some(&foreign), &[], None).await;
    assert_cas_error(&r, 404, "USER_NOT_FOUND");

    // Rate limited: 429 with Retry-After and the X-RateLimit headers.
    let limited = f.token(&["mdm.global.mdmUser.remove"], Some(1)).await;
    let missing = format!("{CAS}/eb2e12ae-1112-451b-98e1-dfe4e6afd60d");
    let r = f
        .app
        .send("DELETE", &missing, Some(&limited), &[], None)
        .await;
    assert_cas_error(&r, 404, "USER_NOT_FOUND");
    let r = f
        .app
        .send("DELETE", &missing, Some(&limited), &[], None)
        .await;
    assert_cas_error(&r, 429, "TOO_MANY_REQUESTS");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));

    // An organization token needs no header and acts on its own organization.
    let remover = f.token(&["mdm.global.mdmUser.remove"], None).await;
    let r = f.app.send("DELETE", &path, Some(&remover), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    f.app.assert_consistent();
}

/// Users mastered elsewhere cannot be deleted here: one an identity provider
/// provisioned over SCIM, and a directory-synced one (no surface creates those, so the
/// test marks the source in the stored record, the only field it changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_managed_and_directory_users_answer_405() {
    let f = Fixture::new("cas-scim").await;
    let r = f
        .app
        .call(
            "POST",
            &format!("/v1/organizations/{}/scim/v2/Users", f.org),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "sam",
                "emails": [{"value": "sam@example.com", "primary": true}],
                "active": false,
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sam = r.body["id"].as_str().unwrap().to_owned();
    let (dora, _) = f.user("dora").await;
    f.disable(&dora).await;
    let key = format!("o/{}/user/{dora}", f.org);
    let mut record: Value =
        serde_json::from_slice(&f.app.host.kv().get("default", &key).unwrap().unwrap()).unwrap();
    record["source"] = json!("directory");
    f.app
        .host
        .kv()
        .set("default", &key, record.to_string().as_bytes())
        .unwrap();

    for (id, source) in [(sam, "scim"), (dora, "directory")] {
        let user = f.app.call("GET", &f.canonical(&id), None).await;
        assert_eq!(user.body["data"]["source"], source, "{}", user.text);
        assert_eq!(user.body["data"]["status"], "disabled", "{}", user.text);
        let uuid = user.body["data"]["uuid"].as_str().unwrap().to_owned();
        let r = f.delete(&uuid, "").await;
        assert_cas_error(&r, 405, "IDENTITY_SOURCE_MANAGED");
        assert_eq!(r.body["identitySource"], source);
        assert_eq!(
            r.body["message"],
            "Method Not Allowed. The method you are using is not allowed for users in the SCIM Managed and Azure Active Directory (SCIM) identity sources."
        );
        // Unlike the route's own 405 (Allow: DELETE), no method is allowed on this user.
        assert_eq!(r.header("allow"), Some(""));
        let dry = f.delete(&uuid, "?dryRun=true").await;
        assert_eq!(dry.body["blockers"][0]["status"], 405, "{}", dry.text);
        assert_eq!(f.app.call("GET", &f.canonical(&id), None).await.status, 200);
    }
    f.app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deletions_of_one_user_delete_it_once() {
    let f = Fixture::new("cas-race").await;
    for round in 0..3 {
        let (id, uuid) = f.user(&format!("race{round}")).await;
        for n in 0..20 {
            f.device(&id, n, "ACTIVE").await;
        }
        f.disable(&id).await;
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (app, org, path) = (f.app.clone(), f.org.clone(), format!("{CAS}/{uuid}"));
            tasks.push(tokio::spawn(async move {
                let token = app.admin_token.clone();
                app.send(
                    "DELETE",
                    &path,
                    Some(&token),
                    &[("x-roster-organization", &org)],
                    None,
                )
                .await
            }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        let ok = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 1, "round {round}: {replies:#?}");
        for r in replies.iter().filter(|r| r.status != 200) {
            // Either it saw the deletion under way (409) or already done (404).
            match r.status {
                409 => assert_cas_error(r, 409, "USER_PENDING_DELETION"),
                404 => assert_cas_error(r, 404, "USER_NOT_FOUND"),
                other => panic!("round {round}: {other} {}", r.text),
            }
        }
        let (removals, audit) = f.app.removals_in_audit(&f.org, &id).await;
        assert_eq!(removals, 1, "{audit}");
        assert_eq!(f.app.call("GET", &f.canonical(&id), None).await.status, 404);
    }
    f.app.assert_consistent();
}
