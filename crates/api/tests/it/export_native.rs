//! Export before erase natively: the organization's policy set and validated naming the
//! field; the canonical DELETE refused (400 / 5060) and its dry run naming the missing
//! export; the export route (no-store, the document, 404 for an unknown user); the
//! removal let through by a fresh export.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{OrganizationRoute, UserExportRoute, UserRoute};
use roster_api::{ApiRequest, Endpoint};
use roster_domain::MemoryStore;
use serde_json::{Value, json};

use crate::common::{self, ctx, json_of};

fn req(method: Method, params: &[(&str, &str)], query: &str, body: Option<Value>) -> ApiRequest {
    common::req(method, params, query, body)
}

fn setup(store: &MemoryStore, policy: Value) -> String {
    common::acme_with_kim(store, policy)
}

#[test]
fn the_canonical_delete_needs_a_fresh_export_and_the_export_route_lets_it_through() {
    let store = MemoryStore::from_env();
    let id = setup(
        &store,
        json!({"requireExportBeforeRemoval": true, "exportMaxAgeSeconds": 600}),
    );
    let p = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    block_on(async {
        let org = OrganizationRoute::handle(
            &req(Method::GET, &[("organizationid", "acme")], "", None),
            &store,
            &ctx(),
        )
        .await;
        let policy = &json_of(&org)["data"]["policy"];
        assert_eq!(policy["requireExportBeforeRemoval"], true);
        assert_eq!(policy["exportMaxAgeSeconds"], 600);
        let refused = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(refused.status(), 400);
        let e = json_of(&refused);
        assert_eq!(e["error"]["code"], 5060);
        assert_eq!(
            e["error"]["message"],
            "MdmUser Can not be deleted because there is no export of its data in the last 600 \
             seconds (last export: never)"
        );
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &ctx(),
        )
        .await;
        let d = json_of(&dry);
        assert_eq!(d["data"]["removable"], false);
        assert_eq!(d["data"]["blockers"][0]["code"], 5060);
        assert_eq!(
            d["data"]["exportRequired"],
            json!({"lastExportedAt": null, "maxAgeSeconds": 600})
        );
        assert_eq!(d["data"]["legalHold"], Value::Null);
        let made = UserExportRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(made.status(), 200);
        assert_eq!(made.headers()["cache-control"], "no-store");
        let doc = json_of(&made);
        assert_eq!(doc["data"]["formatVersion"], 1);
        assert_eq!(doc["data"]["profile"]["username"], "kim");
        assert_eq!(doc["data"]["exportedAt"], ctx().now.to_rfc3339());
        let dry = UserRoute::handle(
            &req(Method::DELETE, &p, "dryRun=true", None),
            &store,
            &ctx(),
        )
        .await;
        let d = json_of(&dry);
        assert_eq!(d["data"]["removable"], true);
        assert_eq!(d["data"]["exportRequired"], Value::Null);
        let removed = UserRoute::handle(&req(Method::DELETE, &p, "", None), &store, &ctx()).await;
        assert_eq!(removed.status(), 200);
        assert!(roster_domain::invariants::check(&store.snapshot()).is_empty());
        // Gone: the export answers 404 / 3001.
        let gone = UserExportRoute::handle(&req(Method::GET, &p, "", None), &store, &ctx()).await;
        assert_eq!(gone.status(), 404);
        assert_eq!(json_of(&gone)["error"]["code"], 3001);
    });
}

#[test]
fn the_policy_is_validated_naming_the_field() {
    let store = MemoryStore::from_env();
    setup(&store, json!({}));
    let o = [("organizationid", "acme")];
    block_on(async {
        for (body, field) in [
            (
                json!({"exportMaxAgeSeconds": 59}),
                "policy.exportMaxAgeSeconds",
            ),
            (
                json!({"exportMaxAgeSeconds": 7_776_001}),
                "policy.exportMaxAgeSeconds",
            ),
            (
                json!({"requireExportBeforeRemoval": "yes"}),
                "requireExportBeforeRemoval",
            ),
        ] {
            let r = OrganizationRoute::handle(
                &req(Method::PATCH, &o, "", Some(json!({ "policy": body }))),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(r.status(), 400, "{body}");
            let m = json_of(&r)["error"]["message"].as_str().unwrap().to_owned();
            assert!(m.contains(field), "{body}: {m}");
        }
        // Without the policy (the default) nothing is required.
        let r = OrganizationRoute::handle(&req(Method::GET, &o, "", None), &store, &ctx()).await;
        let policy = &json_of(&r)["data"]["policy"];
        assert_eq!(policy["requireExportBeforeRemoval"], false);
        assert_eq!(policy["exportMaxAgeSeconds"], 86_400);
        let on = OrganizationRoute::handle(
            &req(
                Method::PATCH,
                &o,
                "",
                Some(json!({"policy": {"requireExportBeforeRemoval": true}})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(on.status(), 200);
        assert_eq!(
            json_of(&on)["data"]["policy"]["requireExportBeforeRemoval"],
            true
        );
        assert_eq!(
            json_of(&on)["data"]["policy"]["exportMaxAgeSeconds"],
            86_400
        );
    });
}
