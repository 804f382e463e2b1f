//! A user without email on every surface, natively: the canonical API, WSO2, Dynatrace
//! and SCIM accept its absence, answer it consistently, never find such a user by
//! email, and report an invitation to it as not deliverable.

use futures::executor::block_on;
use http::Method;
use roster_api::{ApiRequest, Endpoint, dynatrace, mdm, scim, wso2};
use roster_domain::{MemoryStore, orgs, outbox};
use serde_json::{Value, json};

use crate::common::{self, NOW, ctx, json_of};

fn org(store: &MemoryStore) -> roster_domain::model::Organization {
    block_on(orgs::create(
        store,
        orgs::NewOrganization::parse("Acme", "acme").unwrap(),
        NOW,
    ))
    .unwrap()
}

/// A WSO2 request for organization `acme`.
fn wso2_req(method: Method, query: &str, body: Option<Value>) -> ApiRequest {
    let mut r = common::req(method, &[], query, body);
    r.headers
        .insert("x-roster-organization", "acme".parse().unwrap());
    r
}

async fn pending(store: &MemoryStore, o: &roster_domain::model::Organization) -> usize {
    outbox::pending(store, o, 0, 100).await.unwrap().0.len()
}

#[test]
fn canonical_users_without_email_are_created_changed_and_not_invited() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    let acme = [("organizationid", "acme")];
    block_on(async {
        let r = mdm::UsersRoute::handle(
            &common::req(Method::POST, &acme, "", Some(json!({"username": "kiosk"}))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        let data = &json_of(&r)["data"];
        assert_eq!(data["email"], Value::Null);
        let id = data["id"].as_str().unwrap().to_owned();
        let user = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
        // The invitation is reported per user, not queued.
        let inv = mdm::InvitationsRoute::handle(
            &common::req(
                Method::POST,
                &acme,
                "",
                Some(json!({"usernames": ["kiosk"]})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(inv.status(), 200);
        assert_eq!(
            json_of(&inv)["data"],
            json!([{"username": "kiosk", "status": "not_deliverable",
                    "reason": "the user has no email address"}])
        );
        assert_eq!(pending(&store, &o).await, 0);
        // PATCH adds an email, PATCH null removes it, a PATCH without it keeps it.
        let patch = |body: Value| {
            let store = &store;
            let user = &user;
            async move {
                mdm::UserRoute::handle(
                    &common::req(Method::PATCH, user, "", Some(body)),
                    store,
                    &ctx(),
                )
                .await
            }
        };
        let r = patch(json!({"email": "kiosk@example.com"})).await;
        assert_eq!(json_of(&r)["data"]["email"], "kiosk@example.com");
        let r = patch(json!({"firstName": "Kiosk"})).await;
        assert_eq!(json_of(&r)["data"]["email"], "kiosk@example.com");
        let r = patch(json!({"email": null})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(json_of(&r)["data"]["email"], Value::Null);
        // PUT without email leaves the user without one.
        patch(json!({"email": "kiosk@example.com"})).await;
        let r = mdm::UserRoute::handle(
            &common::req(Method::PUT, &user, "", Some(json!({"firstName": "K"}))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(json_of(&r)["data"]["email"], Value::Null);
        // A bad email is still refused, naming the field.
        let r = patch(json!({"email": "not an address"})).await;
        assert_eq!(r.status(), 400);
        assert!(json_of(&r).to_string().contains("email"), "{}", json_of(&r));
        assert_eq!(roster_domain::invariants::check(&store.snapshot()), vec![]);
    });
}

#[test]
fn wso2_users_without_email_address_are_added_shown_without_it_and_not_invited() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        let add = |body: Value| {
            let store = &store;
            async move {
                wso2::UsersRoute::handle(&wso2_req(Method::POST, "", Some(body)), store, &ctx())
                    .await
            }
        };
        let r = add(json!({"username": "kiosk", "firstname": "Kiosk"})).await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        let r = add(json!({"username": "kim", "emailAddress": "kim@example.com"})).await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        let view = wso2::UsersViewRoute::handle(
            &wso2_req(Method::GET, "username=kiosk", None),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(
            json_of(&view)["responseContent"],
            json!({"username": "kiosk", "firstname": "Kiosk"})
        );
        // One user without an address: nobody is invited, and the answer names it.
        let inv = wso2::UsersEmailInvitationRoute::handle(
            &wso2_req(Method::POST, "", Some(json!(["kim", "kiosk"]))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(inv.status(), 400);
        assert_eq!(
            json_of(&inv)["messageFromServer"],
            "User by username: kiosk has no emailAddress: the invitation is not deliverable."
        );
        assert_eq!(pending(&store, &o).await, 0);
        // "" removes an email on update, like the names.
        let upd = wso2::UsersRoute::handle(
            &wso2_req(
                Method::PUT,
                "username=kim",
                Some(json!({"emailAddress": ""})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(upd.status(), 201, "{}", json_of(&upd));
        let view = wso2::UsersViewRoute::handle(
            &wso2_req(Method::GET, "username=kim", None),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(
            json_of(&view)["responseContent"],
            json!({"username": "kim"})
        );
        assert_eq!(roster_domain::invariants::check(&store.snapshot()), vec![]);
    });
}

#[test]
fn dynatrace_never_finds_a_user_whose_email_was_removed() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    let acme = [("organizationid", "acme")];
    let r = block_on(mdm::UsersRoute::handle(
        &common::req(
            Method::POST,
            &acme,
            "",
            Some(json!({"username": "kim", "email": "kim@example.com"})),
        ),
        &store,
        &ctx(),
    ));
    let id = json_of(&r)["data"]["id"].as_str().unwrap().to_owned();
    let del = || {
        let params = [
            ("accountuuid", o.account_uuid.as_str()),
            ("email", "kim@example.com"),
        ];
        block_on(dynatrace::UserRoute::handle(
            &common::req(Method::DELETE, &params, "dryRun=true", None),
            &store,
            &ctx(),
        ))
    };
    assert_eq!(del().status(), 200);
    let user = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    let r = block_on(mdm::UserRoute::handle(
        &common::req(Method::PATCH, &user, "", Some(json!({"email": null}))),
        &store,
        &ctx(),
    ));
    assert_eq!(r.status(), 200);
    let gone = del();
    assert_eq!(gone.status(), 404);
    assert_eq!(json_of(&gone)["message"], dynatrace::NOT_FOUND_MESSAGE);
}

#[test]
fn scim_users_without_emails_have_no_emails_attribute_and_a_patch_can_remove_it() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        let acme = [("organizationid", "acme")];
        let r = scim::service::UsersRoute::handle(
            &common::req(
                Method::POST,
                &acme,
                "",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "kiosk-7"
                })),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        assert!(json_of(&r).get("emails").is_none(), "{}", json_of(&r));
        // A userName that is an address is not taken for an email either.
        let r = scim::service::UsersRoute::handle(
            &common::req(
                Method::POST,
                &acme,
                "",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "kim@example.com",
                    "emails": [{"value": "kim@example.com", "primary": true},
                               {"value": "kim@home.example"}]
                })),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        let id = json_of(&r)["id"].as_str().unwrap().to_owned();
        let user = [("organizationid", "acme"), ("userid", id.as_str())];
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "emails"}]
        });
        let r = scim::service::UserRoute::handle(
            &common::req(Method::PATCH, &user, "", Some(patch)),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", json_of(&r));
        assert!(json_of(&r).get("emails").is_none(), "{}", json_of(&r));
        let r = scim::service::UserRoute::handle(
            &common::req(Method::GET, &user, "", None),
            &store,
            &ctx(),
        )
        .await;
        assert!(json_of(&r).get("emails").is_none(), "{}", json_of(&r));
        assert_eq!(json_of(&r)["userName"], "kim@example.com");
        // Both addresses are free again.
        assert_eq!(roster_domain::invariants::check(&store.snapshot()), vec![]);
        for e in ["kim@example.com", "kim@home.example"] {
            assert!(
                roster_domain::users::find_by_any_email(&store, &o, e)
                    .await
                    .unwrap()
                    .is_none(),
                "{e}"
            );
        }
    });
}
