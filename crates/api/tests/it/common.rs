//! What the native API tests share: the clock, the admin context and request builders.

use http::Method;
use roster_api::{ApiRequest, Body, Ctx};
use roster_domain::Timestamp;
use serde_json::Value;

/// The instant every native test runs at.
pub const NOW: Timestamp = Timestamp(1_795_331_760_000);

/// A context whose admin token is `secret`, at [`NOW`].
pub fn ctx() -> Ctx {
    Ctx::new(Some("secret".into()), NOW)
}

/// A request carrying the admin token, with path parameters, a query and a JSON body.
pub fn req(
    method: Method,
    params: &[(&str, &str)],
    query: &str,
    body: Option<Value>,
) -> ApiRequest {
    let mut r = ApiRequest::new(method);
    r.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r.query = query.to_owned();
    r.headers
        .insert("authorization", "Bearer secret".parse().unwrap());
    if let Some(b) = body {
        r.body = Body::Bytes(b.to_string().into_bytes());
    }
    r
}

/// One day in milliseconds.
pub const DAY: i64 = 86_400_000;

/// A context whose admin token is `secret`, `days` days after [`NOW`].
pub fn at(days: i64) -> Ctx {
    Ctx::new(Some("secret".into()), NOW.plus_millis(days * DAY))
}

/// A response body parsed as JSON.
pub fn json_of(resp: &http::Response<Vec<u8>>) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

/// Creates the organization `acme` (with `policy` when it is not `null`) and the user
/// `kim` in it, as the admin at [`NOW`]; returns kim's `mdmUserId`. Panics when either
/// answer is not 201.
pub fn acme_with_kim(store: &roster_domain::MemoryStore, policy: Value) -> String {
    use roster_api::Endpoint;
    use roster_api::mdm::{OrganizationsRoute, UsersRoute};
    futures::executor::block_on(async {
        let mut org = serde_json::json!({"name": "Acme", "slug": "acme"});
        if !policy.is_null() {
            org["policy"] = policy;
        }
        let r =
            OrganizationsRoute::handle(&req(Method::POST, &[], "", Some(org)), store, &ctx()).await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        let r = UsersRoute::handle(
            &req(
                Method::POST,
                &[("organizationid", "acme")],
                "",
                Some(serde_json::json!({"username": "kim", "email": "kim@example.com"})),
            ),
            store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201, "{}", json_of(&r));
        json_of(&r)["data"]["id"].as_str().unwrap().to_owned()
    })
}
