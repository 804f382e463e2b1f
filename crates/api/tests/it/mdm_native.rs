//! The canonical endpoints run natively against the in-memory store: the same code the
//! components run, without wasm.

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{OrganizationsRoute, UserDevicesRoute, UserRoute, UsersRoute};
use roster_api::{ApiRequest, Body, Ctx, Endpoint};
use roster_domain::{MemoryStore, Store as _, Timestamp};
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
        assert_eq!(resp.headers()["allow"], "GET, HEAD, POST");
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

#[test]
fn a_get_leaves_the_store_untouched_and_counts_in_the_rate_limit_store() {
    let store = MemoryStore::from_env().with_rate_limits(MemoryStore::from_env());
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
        let before = store.snapshot();
        let counted = store.rate_limits().calls();
        for _ in 0..3 {
            let ctx = ctx();
            let got =
                ctx.finish(UserRoute::handle(&req(Method::GET, &params, None), &store, &ctx).await);
            assert_eq!(got.status(), 200);
            assert_eq!(got.headers()["x-ratelimit-limit"], "60000");
        }
        assert_eq!(store.snapshot(), before, "a GET changed the durable store");
        assert!(store.rate_limits().calls() >= counted + 3);
        assert!(
            store
                .rate_limits()
                .snapshot()
                .keys()
                .all(|k| k.starts_with("ratelimit/admin/"))
        );
    });
}

static ADMIN_READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn admin_source() -> Option<String> {
    ADMIN_READS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Some("secret".to_owned())
}

#[test]
fn the_admin_variable_is_read_only_for_a_request_with_a_token() {
    let store = MemoryStore::from_env();
    block_on(async {
        let mut no_token = req(Method::GET, &[], None);
        no_token.headers.remove("authorization");
        let ctx = Ctx::lazy(admin_source, common::NOW);
        let resp = OrganizationsRoute::handle(&no_token, &store, &ctx).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(ADMIN_READS.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(store.calls(), 0, "a request without a token reads nothing");
        let ctx = Ctx::lazy(admin_source, common::NOW);
        let resp = OrganizationsRoute::handle(&req(Method::GET, &[], None), &store, &ctx).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(ctx.admin_token(), Some("secret"));
        assert_eq!(
            ADMIN_READS.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "read once"
        );
    });
}

#[test]
fn an_if_match_that_is_not_text_is_refused_never_an_unconditional_write() {
    let store = MemoryStore::from_env();
    let id = common::acme_with_kim(&store, Value::Null);
    let params = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    let patch = |if_match: &[u8]| {
        let mut r = req(Method::PATCH, &params, Some(json!({"lastName": "Changed"})));
        r.headers.insert(
            "if-match",
            http::HeaderValue::from_bytes(if_match).expect("a header value"),
        );
        block_on(UserRoute::handle(&r, &store, &ctx()))
    };
    // The version as text would match (kim is at version 1): the bytes that are not
    // UTF-8 make it no ETag of this API, so 400 naming If-Match, and nothing changes.
    let r = patch(b"\"1\xff\"");
    assert_eq!(r.status(), 400, "{}", json_of(&r));
    assert!(
        json_of(&r).to_string().contains("If-Match"),
        "{}",
        json_of(&r)
    );
    let got = block_on(UserRoute::handle(
        &req(Method::GET, &params, None),
        &store,
        &ctx(),
    ));
    assert_ne!(json_of(&got)["lastName"], "Changed", "{}", json_of(&got));
    let etag = got.headers()["etag"].as_bytes().to_vec();
    // If-Match compares strongly (RFC 9110 §13.1.1) and this API issues strong tags: the
    // current version as a weak tag, or unquoted, is no ETag of this API.
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(&etag);
    assert_eq!(patch(&weak).status(), 400);
    assert_eq!(patch(&etag[1..etag.len() - 1]).status(), 400, "unquoted");
    // Tags compare as text (RFC 9110 §8.8.3.2): a leading zero or sign is a tag never
    // issued, though it parses as the current version.
    let mut padded = b"\"0".to_vec();
    padded.extend_from_slice(&etag[1..]);
    assert_eq!(patch(&padded).status(), 400, "leading zero");
    // The current ETag on one line and another on a second line is the list of both
    // (RFC 9110 §5.3), which this API refuses as it refuses it on one line: 400, never
    // the first line alone going through.
    let mut two = req(Method::PATCH, &params, Some(json!({"lastName": "Changed"})));
    two.headers.append(
        "if-match",
        http::HeaderValue::from_bytes(&etag).expect("a header value"),
    );
    two.headers
        .append("if-match", http::HeaderValue::from_static("\"7\""));
    let r = block_on(UserRoute::handle(&two, &store, &ctx()));
    assert_eq!(r.status(), 400, "{}", json_of(&r));
    assert!(json_of(&r).to_string().contains("If-Match"));
    // An empty line, or empty list elements, add nothing (RFC 9110 §5.6.1): an empty
    // line then the current ETag is the current ETag, as `, "1",` on one line is.
    let mut listed = b", ".to_vec();
    listed.extend_from_slice(&etag);
    listed.extend_from_slice(b",");
    assert_eq!(patch(b" , ").status(), 400, "no ETag at all");
    let mut empty_then_current = req(Method::PATCH, &params, Some(json!({"lastName": "Changed"})));
    empty_then_current
        .headers
        .append("if-match", http::HeaderValue::from_static(""));
    empty_then_current.headers.append(
        "if-match",
        http::HeaderValue::from_bytes(&listed).expect("a header value"),
    );
    let r = block_on(UserRoute::handle(&empty_then_current, &store, &ctx()));
    assert_eq!(r.status(), 200, "{}", json_of(&r));
}

/// A canonical GET (and HEAD) honours `If-None-Match` (RFC 9110 §13.1.2): 304 with the
/// `ETag` and no body when it names the current version — strong or weak, in a list, or
/// `*` — and the resource when it names another version, a tag never issued, or bytes
/// that are not text. Before, the canonical GETs ignored it and always sent the body.
#[test]
fn a_get_with_a_current_if_none_match_is_304_without_a_body() {
    use roster_api::mdm::OrganizationRoute;
    let store = MemoryStore::from_env();
    let id = common::acme_with_kim(&store, Value::Null);
    let params = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    let get = |method: Method, inm: Option<&[u8]>| {
        let mut r = req(method, &params, None);
        if let Some(v) = inm {
            r.headers.insert(
                "if-none-match",
                http::HeaderValue::from_bytes(v).expect("a header value"),
            );
        }
        block_on(UserRoute::handle(&r, &store, &ctx()))
    };
    let fresh = get(Method::GET, None);
    assert_eq!(fresh.status(), 200);
    let etag = fresh.headers()["etag"].as_bytes().to_vec();
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(&etag);
    let mut listed = b"\"999\", ".to_vec();
    listed.extend_from_slice(&etag);
    for (inm, what) in [
        (etag.clone(), "the current tag"),
        (weak, "the current tag, weak"),
        (listed, "a list naming it"),
        (b"*".to_vec(), "*"),
    ] {
        for method in [Method::GET, Method::HEAD] {
            let r = get(method.clone(), Some(&inm));
            assert_eq!(r.status(), 304, "{method} with {what}");
            assert!(r.body().is_empty(), "{method} with {what}");
            assert_eq!(r.headers()["etag"].as_bytes(), &etag[..], "{what}");
        }
    }
    for (inm, what) in [
        (&b"\"999\""[..], "another version"),
        (&b"\"01\""[..], "a tag never issued"),
        (&b"1"[..], "unquoted"),
        (&b"\"1\xff\""[..], "not text"),
    ] {
        let r = get(Method::GET, Some(inm));
        assert_eq!(r.status(), 200, "{what}");
        assert_eq!(json_of(&r)["data"]["id"], id.as_str(), "{what}");
    }
    // A change moves the version: the old tag no longer stops the body.
    let patch = req(Method::PATCH, &params, Some(json!({"lastName": "Changed"})));
    assert_eq!(
        block_on(UserRoute::handle(&patch, &store, &ctx())).status(),
        200
    );
    let r = get(Method::GET, Some(&etag));
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(&r)["data"]["lastName"], "Changed");
    // The organization's GET too.
    let org_params = [("organizationid", "acme")];
    let mut r = req(Method::GET, &org_params, None);
    let org = block_on(OrganizationRoute::handle(&r, &store, &ctx()));
    r.headers
        .insert("if-none-match", org.headers()["etag"].clone());
    let again = block_on(OrganizationRoute::handle(&r, &store, &ctx()));
    assert_eq!(again.status(), 304);
    assert!(again.body().is_empty());
    // A device's body names its owner's username, which the device's version does not
    // follow (a break test renamed the owner and got a 304 for the old name): its GET
    // answers the device whatever If-None-Match says.
    use roster_api::mdm::UserDeviceRoute;
    let created = block_on(UserDevicesRoute::handle(
        &req(
            Method::POST,
            &params,
            Some(json!({"name": "n", "type": "ios", "deviceIdentifier": "x"})),
        ),
        &store,
        &ctx(),
    ));
    assert_eq!(created.status(), 201, "{}", json_of(&created));
    let device_id = json_of(&created)["data"]["id"]
        .as_str()
        .expect("a device id")
        .to_owned();
    let device_params = [
        ("organizationid", "acme"),
        ("mdmuserid", id.as_str()),
        ("deviceid", device_id.as_str()),
    ];
    let mut r = req(Method::GET, &device_params, None);
    let device = block_on(UserDeviceRoute::handle(&r, &store, &ctx()));
    assert_eq!(device.status(), 200, "{}", json_of(&device));
    r.headers
        .insert("if-none-match", device.headers()["etag"].clone());
    let again = block_on(UserDeviceRoute::handle(&r, &store, &ctx()));
    assert_eq!(again.status(), 200);
    assert_eq!(json_of(&again), json_of(&device));
}
