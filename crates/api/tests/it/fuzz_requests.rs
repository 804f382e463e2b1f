//! A short fuzz run of request parsing: random methods, path parameters, query strings,
//! headers and bodies against every route of the catalogue, on an in-memory store that
//! never fails. No input may produce a 500, and every answer is a well-formed response
//! (JSON when it has a JSON content type), and the store's invariants hold after every
//! request. `PROPTEST_CASES` raises the case count.

use futures::executor::block_on;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use proptest::prelude::*;
use roster_api::routes::{self, catalogue};
use roster_api::{ApiRequest, Body, Ctx};
use roster_domain::{MemoryStore, Timestamp};
use serde_json::{Value, json};
use std::sync::OnceLock;

const ADMIN: &str = "fuzz-admin";
const NOW: Timestamp = Timestamp(1_795_331_760_000);

struct World {
    store: MemoryStore,
    org: String,
    user: String,
}

/// A store with one organization (slug `acme`) and one user, shared by every case.
fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let store = MemoryStore::from_env();
        let ctx = Ctx::new(Some(ADMIN.into()), NOW);
        let post = |component: &str, params: Vec<(String, String)>, body: Value| {
            let mut req = ApiRequest::new(Method::POST);
            req.params = params;
            req.headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {ADMIN}")).unwrap(),
            );
            req.body = Body::Bytes(body.to_string().into_bytes());
            let resp = block_on(routes::dispatch(component, &req, &store, &ctx)).unwrap();
            serde_json::from_slice::<Value>(resp.body()).unwrap()
        };
        let org = post(
            "organizations",
            vec![],
            json!({"name": "Acme", "slug": "acme"}),
        )["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = post(
            "mdm-users",
            vec![("organizationId".into(), org.clone())],
            json!({"username": "kim", "email": "kim@example.com"}),
        )["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        World { store, org, user }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "kim",
            "kim@example.com",
            "active",
            "disabled",
            "ACTIVE",
            "BYOD",
            "*",
            "acme",
            "mdm.global.mdmUser.*",
            "aGVsbG8=",
            "00000000-0000-0000-0000-000000000000",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "name",
                        "slug",
                        "username",
                        "email",
                        "firstName",
                        "lastName",
                        "password",
                        "status",
                        "groups",
                        "usernames",
                        "acknowledge",
                        "expiresIn",
                        "permissions",
                        "aliases",
                        "policy",
                        "apim",
                        "accountUuid",
                        "retentionDays",
                        "ids",
                        "dryRun",
                        "type",
                        "deviceIdentifier",
                        "enrolmentInfo",
                        "properties",
                        "oldPassword",
                        "newPassword",
                        "scope",
                        "state",
                        "limit",
                        "emailAddress",
                        "firstname",
                        "lastname",
                        "roles",
                        "x",
                    ]),
                    inner,
                ),
                0..6,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// Bodies valid for some route, with one field perhaps replaced by anything: reaches
/// past the parsers into the domain.
fn near_valid() -> impl Strategy<Value = Value> {
    let templates = vec![
        json!({"name": "X", "slug": "s-1"}),
        json!({"username": "u1", "email": "u1@example.com", "firstName": "A", "lastName": "B"}),
        json!({"name": "Pixel", "type": "android", "deviceIdentifier": "1"}),
        json!({"status": "disabled"}),
        json!({"status": "INACTIVE"}),
        json!({"groups": ["g"]}),
        json!({"name": "g", "description": "d"}),
        json!({"usernames": ["kim"]}),
        json!({"acknowledge": [1, 2]}),
        json!({"name": "t", "permissions": ["*"], "expiresIn": 60}),
        json!({"ids": ["__USER__"], "dryRun": true}),
        json!({"scope": "/products/x"}),
        json!({"state": "suspended"}),
        json!({"limit": 5}),
        json!({"expiresIn": 60}),
        json!({"email": "kim2@example.com", "countryCode": "de"}),
        json!({"policy": {"retentionDays": 1, "removalBatch": 2}}),
        json!({"aliases": {"apim": {"subscriptionId": "00000000-0000-0000-0000-000000000000",
            "resourceGroupName": "rg", "serviceName": "svc"}}}),
        json!({"username": "PRIMARY/u2", "firstname": "A", "lastname": "B",
            "emailAddress": "u2@example.com", "roles": ["r"]}),
        json!({"username": "kim", "oldPassword": "aGVsbG8gd29ybGQ=", "newPassword": "c2VjcmV0LXNlY3JldA=="}),
        json!(["kim", "PRIMARY/kim"]),
    ];
    (
        prop::sample::select(templates),
        prop::option::of((0..8usize, json_value())),
    )
        .prop_map(|(mut t, change)| {
            if let (Some((i, v)), Some(obj)) = (change, t.as_object_mut()) {
                let keys: Vec<String> = obj.keys().cloned().collect();
                let k = keys[i % keys.len()].clone();
                obj.insert(k, v);
            }
            t
        })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        near_valid().prop_map(|v| Body::Bytes(v.to_string().into_bytes())),
        json_value().prop_map(|v| Body::Bytes(v.to_string().into_bytes())),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Bytes),
        Just(Body::TooLarge),
        Just(Body::Bytes(Vec::new())),
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("acme".to_owned()),
        2 => Just("__ORG__".to_owned()),
        3 => Just("__USER__".to_owned()),
        1 => "[a-fA-F0-9]{24}",
        1 => ".{0,30}",
        1 => "%[0-9A-F]{2}[a-z%]{0,10}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "limit",
                "cursor",
                "q",
                "status",
                "group",
                "dryRun",
                "userId",
                "username",
                "api-version",
                "filter",
                "start",
                "length",
                "x",
            ]),
            ".{0,12}",
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.replace('&', "%26")))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ])
}

/// The organization header that tenant-less surfaces (WSO2) need with a global token.
fn organization() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        4 => Just(Some("acme".to_owned())),
        2 => Just(Some("__ORG__".to_owned())),
        1 => ".{0,30}".prop_map(Some),
    ]
}

fn auth() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => Just(Some(format!("Bearer {ADMIN}"))),
        1 => Just(None),
        1 => ".{0,20}".prop_map(Some),
        1 => "rst_[0-9a-f]{64}".prop_map(|t| Some(format!("Bearer {t}"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(384)
    ))]

    #[test]
    fn no_request_is_answered_with_a_500(
        route in 0..1000usize,
        allowed in prop::option::weighted(0.85, 0..8usize),
        method in method(),
        params in prop::collection::vec(param_value(), 4),
        query in query(),
        auth in auth(),
        organization in organization(),
        if_match in prop::option::of("[\"*W/0-9a-z]{0,8}"),
        body in body(),
    ) {
        let w = world();
        let all = catalogue();
        let spec = &all[route % all.len()];
        let names: Vec<&str> = spec
            .route
            .split('/')
            .filter_map(|seg| seg.strip_prefix(':'))
            .collect();
        let method = match allowed {
            Some(i) => {
                let allow: Vec<&str> = spec.allow.split(", ").collect();
                Method::from_bytes(allow[i % allow.len()].as_bytes()).unwrap()
            }
            None => method,
        };
        let mut req = ApiRequest::new(method);
        req.params = names
            .iter()
            .zip(params)
            .map(|(n, v)| {
                let v = v.replace("__ORG__", &w.org).replace("__USER__", &w.user);
                ((*n).to_owned(), v)
            })
            .collect();
        req.query = query;
        if let Some(a) = auth.and_then(|a| HeaderValue::from_str(&a).ok()) {
            req.headers.insert(HeaderName::from_static("authorization"), a);
        }
        if let Some(o) = organization
            .and_then(|o| HeaderValue::from_str(&o.replace("__ORG__", &w.org)).ok())
        {
            req.headers.insert(HeaderName::from_static("x-roster-organization"), o);
        }
        if let Some(m) = if_match.and_then(|m| HeaderValue::from_str(&m).ok()) {
            req.headers.insert(HeaderName::from_static("if-match"), m);
        }
        if let Body::Bytes(b) = &body {
            let text = String::from_utf8_lossy(b).replace("__USER__", &w.user);
            req.body = Body::Bytes(text.into_bytes());
        } else {
            req.body = body;
        }
        let ctx = Ctx::new(Some(ADMIN.into()), NOW);
        let resp = block_on(routes::dispatch(spec.component, &req, &w.store, &ctx)).unwrap();
        prop_assert_ne!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{} {:?}", spec.component, String::from_utf8_lossy(resp.body()));
        let json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if json && !resp.body().is_empty() {
            prop_assert!(serde_json::from_slice::<Value>(resp.body()).is_ok(), "{}: not JSON", spec.component);
        }
        // Whatever the request did, the store's invariants still hold.
        let violations = roster_domain::invariants::check(&w.store.snapshot());
        prop_assert!(violations.is_empty(), "{}: {:?}", spec.component, violations);
    }
}
