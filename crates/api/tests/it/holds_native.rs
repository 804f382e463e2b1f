//! Legal holds natively: the hold routes place, read and lift; every surface's DELETE
//! maps the engine's hold refusal to its own shape; the organization-wide hold; a hold
//! refused (409 / 3004) while a removal is in progress.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{OrgHoldRoute, UserHoldRoute, UserRoute};
use roster_api::{ApiRequest, Endpoint};
use roster_domain::MemoryStore;
use serde_json::{Value, json};

use crate::common::{self, ctx, json_of};

fn req(method: Method, params: &[(&str, &str)], query: &str, body: Option<Value>) -> ApiRequest {
    common::req(method, params, query, body)
}

fn setup(store: &MemoryStore) -> String {
    common::acme_with_kim(store, Value::Null)
}

#[test]
fn a_user_hold_refuses_the_canonical_delete_and_its_dry_run_names_it() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        let placed = UserHoldRoute::handle(
            &req(
                Method::PUT,
                &p,
                "",
                Some(json!({"reason": "matter 7", "expiresIn": 3600})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(placed.status(), 200);
        assert!(placed.headers().contains_key("etag"));
        let body = json_of(&placed);
        assert_eq!(body["data"]["hold"]["reason"], "matter 7");
        assert_eq!(body["data"]["hold"]["placedBy"], "admin");
        assert_eq!(body["data"]["hold"]["until"], "2026-11-22T08:16:00.000Z");
        let refused = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(refused.status(), 400);
        let e = json_of(&refused);
        assert_eq!(e["error"]["code"], 5059);
        assert_eq!(
            e["error"]["message"],
            "MdmUser Can not be deleted because is under a user legal hold placed \
             2026-11-22T07:16:00.000Z (until 2026-11-22T08:16:00.000Z)"
        );
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &ctx(),
        )
        .await;
        let d = json_of(&dry);
        assert_eq!(d["data"]["legalHold"]["scope"], "user");
        assert_eq!(d["data"]["blockers"][0]["code"], 5059);
        let got = UserHoldRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&got)["data"]["hold"]["active"], true);
        let lifted =
            UserHoldRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&lifted)["data"]["lifted"], true);
        let removed = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(removed.status(), 200);
        assert!(roster_domain::invariants::check(&store.snapshot()).is_empty());
    });
}

#[test]
fn the_organization_hold_routes_and_their_validation() {
    let store = MemoryStore::from_env();
    let id = setup(&store);
    let o = [("organizationid", "acme")];
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        let bad = OrgHoldRoute::handle(
            &req(
                Method::PUT,
                &o,
                "",
                Some(json!({"reason": "x", "expiresIn": -1})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(bad.status(), 400);
        assert!(
            json_of(&bad)["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expiresIn")
        );
        let placed = OrgHoldRoute::handle(
            &req(Method::PUT, &o, "", Some(json!({"reason": "audit"}))),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(placed.status(), 200);
        let refused = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert!(
            json_of(&refused)["error"]["message"]
                .as_str()
                .unwrap()
                .contains("an organization-wide legal hold")
        );
        let got = OrgHoldRoute::handle(&req(Method::GET, &o, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&got)["data"]["hold"]["reason"], "audit");
        let lifted = OrgHoldRoute::handle(&req(Method::DELETE, &o, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&lifted)["data"]["lifted"], true);
        let none = OrgHoldRoute::handle(&req(Method::GET, &o, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&none)["data"]["hold"], Value::Null);
        let removed = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(removed.status(), 200);
        // The user is gone: its hold route answers 404.
        let gone = UserHoldRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(gone.status(), 404);
        assert_eq!(json_of(&gone)["error"]["code"], 3001);
    });
}
