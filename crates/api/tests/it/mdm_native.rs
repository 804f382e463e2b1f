//! The canonical endpoints run natively against the in-memory store: the same code the
//! components run, without wasm.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{OrganizationsRoute, UserDevicesRoute, UserRoute, UsersRoute};
use roster_api::{ApiRequest, Body, Ctx, Endpoint};
use roster_domain::{MemoryStore, Timestamp};
use serde_json::{Value, json};

use crate::common::{self, ctx, json_of};

/// A request without a query string.
fn req(method: Method, params: &[(&str, &str)], body: Option<Value>) -> ApiRequest {
    common::req(method, params, "", body)
}

#[test]
fn create_then_remove_through_the_endpoints() {
    let store = MemoryStore::from_env();
    block_on(async {
        let r = OrganizationsRoute::handle(
            &req(
                Method::POST,
                &[],
                Some(json!({"name": "Acme", "slug": "acme"})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201);
        // Spin lower-cases header names: parameters are matched case-insensitively.
        let org = [("organizationid", "acme")];
        let r = UsersRoute::handle(
            &req(
                Method::POST,
                &org,
                Some(json!({"username": "kim", "email": "kim@example.com"})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201);
        let id = json_of(&r)["data"]["id"].as_str().unwrap().to_owned();
        let params = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
        let d = UserDevicesRoute::handle(
            &req(
                Method::POST,
                &params,
                Some(json!({"name": "n", "type": "ios", "deviceIdentifier": "x"})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(d.status(), 201);
        let refused = UserRoute::handle(&req(Method::DELETE, &params, None), &store, &ctx()).await;
        assert_eq!(refused.status(), 400);
        assert_eq!(json_of(&refused)["error"]["code"], 5054);
    });
}

#[test]
fn the_body_limit_answers_413_and_405_lists_allow() {
    let store = MemoryStore::from_env();
    block_on(async {
        let mut r = req(Method::POST, &[], None);
        r.body = Body::TooLarge;
        let resp = OrganizationsRoute::handle(&r, &store, &ctx()).await;
        assert_eq!(resp.status(), 413);
        let resp =
            OrganizationsRoute::handle(&req(Method::DELETE, &[], None), &store, &ctx()).await;
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, POST");
    });
}

#[test]
fn an_unset_admin_token_authorizes_nobody() {
    let store = MemoryStore::from_env();
    let ctx = Ctx::new(None, Timestamp(0));
    block_on(async {
        let resp = OrganizationsRoute::handle(
            &req(
                Method::POST,
                &[],
                Some(json!({"name": "Acme", "slug": "acme"})),
            ),
            &store,
            &ctx,
        )
        .await;
        assert_eq!(resp.status(), 401);
        assert_eq!(json_of(&resp)["error"]["code"], 4001);
    });
}

#[test]
fn cursors_round_trip_and_garbage_is_refused() {
    use roster_api::mdm::{decode_cursor, encode_cursor};
    for n in [0, 1, 42, i64::MAX] {
        assert_eq!(decode_cursor(&encode_cursor(n)), Some(n));
    }
    for bad in ["", "zz", "75", "7531", &"a".repeat(70)] {
        assert_eq!(decode_cursor(bad), None, "{bad}");
    }
}
