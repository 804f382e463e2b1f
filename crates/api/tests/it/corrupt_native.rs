//! A stored record that does not decode (an array, wrong types, a nested struct as an
//! array, trailing bytes) answers a 5xx on every surface that reads it, never a panic
//! nor a 2xx built from half a record.

use futures::executor::block_on;
use http::Method;
use roster_api::Endpoint;
use roster_api::mdm::{OrganizationRoute, UserRoute, UsersRoute};
use roster_domain::{MemoryStore, Store as _};
use serde_json::{Value, json};

use crate::common::{self, acme_with_kim, ctx, json_of};

/// The key of the only record whose key ends with `suffix`.
fn key_ending(store: &MemoryStore, suffix: &str) -> String {
    let keys: Vec<String> = store
        .snapshot()
        .into_keys()
        .filter(|k| k.ends_with(suffix))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys.into_iter().next().unwrap()
}

/// Replacements of a good record: each one that the decoder must refuse.
fn malformed(good: &Value) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        b"[1,2,3]".to_vec(),
        b"\"text\"".to_vec(),
        b"42".to_vec(),
        b"{}".to_vec(),
        b"{".to_vec(),
        b"".to_vec(),
    ];
    // The good record as an array of its values (serde's other form of a struct).
    let values: Vec<Value> = good.as_object().unwrap().values().cloned().collect();
    out.push(serde_json::to_vec(&values).unwrap());
    // The good record with trailing bytes.
    let mut trailing = serde_json::to_vec(good).unwrap();
    trailing.extend_from_slice(b" []");
    out.push(trailing);
    // Each field given a value of the wrong type, and each nested object as an array.
    for (name, value) in good.as_object().unwrap() {
        let mut bad = good.clone();
        bad[name] = match value {
            Value::String(_) => json!(7),
            Value::Object(o) => Value::Array(o.values().cloned().collect()),
            _ => json!({"x": [1]}),
        };
        out.push(serde_json::to_vec(&bad).unwrap());
    }
    out
}

#[test]
fn a_malformed_user_record_answers_500_on_every_read_never_a_panic() {
    let store = MemoryStore::from_env();
    let id = acme_with_kim(&store, json!({"retentionDays": 30}));
    let key = key_ending(&store, &format!("/user/{id}"));
    let good: Value = serde_json::from_slice(&block_on(store.get(&key)).unwrap().unwrap()).unwrap();
    let params = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    for bad in malformed(&good) {
        block_on(store.set(&key, &bad)).unwrap();
        let shown = String::from_utf8_lossy(&bad).into_owned();
        for method in [Method::GET, Method::DELETE] {
            let r = block_on(UserRoute::handle(
                &common::req(method.clone(), &params, "", None),
                &store,
                &ctx(),
            ));
            assert_eq!(r.status(), 500, "{method} on {shown}: {}", json_of(&r));
            assert_eq!(json_of(&r)["status"], false, "{shown}");
        }
        let r = block_on(UserRoute::handle(
            &common::req(Method::PATCH, &params, "", Some(json!({"firstName": "K"}))),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 500, "PATCH on {shown}: {}", json_of(&r));
        let r = block_on(UsersRoute::handle(
            &common::req(Method::GET, &params[..1], "", None),
            &store,
            &ctx(),
        ));
        assert!(
            r.status() == 500,
            "list on {shown}: {} {}",
            r.status(),
            json_of(&r)
        );
        let r = block_on(roster_api::scim::service::UserRoute::handle(
            &common::req(
                Method::GET,
                &[("organizationid", "acme"), ("userid", id.as_str())],
                "",
                None,
            ),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 500, "SCIM GET on {shown}");
        // Not "repeat the request": a retry fails the same way.
        let detail = json_of(&r)["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains("could not be read") && !detail.contains("repeating"),
            "{detail}"
        );
    }
    // The good record back: everything answers again.
    block_on(store.set(&key, &serde_json::to_vec(&good).unwrap())).unwrap();
    let r = block_on(UserRoute::handle(
        &common::req(Method::GET, &params, "", None),
        &store,
        &ctx(),
    ));
    assert_eq!(r.status(), 200, "{}", json_of(&r));
}

#[test]
fn a_malformed_organization_record_answers_500_never_a_panic() {
    let store = MemoryStore::from_env();
    let id = acme_with_kim(&store, json!({"retentionDays": 30}));
    let r = block_on(OrganizationRoute::handle(
        &common::req(Method::GET, &[("organizationid", "acme")], "", None),
        &store,
        &ctx(),
    ));
    assert_eq!(r.status(), 200);
    let org_id = json_of(&r)["data"]["id"].as_str().unwrap().to_owned();
    let key = format!("org/{org_id}");
    let good: Value = serde_json::from_slice(&block_on(store.get(&key)).unwrap().unwrap()).unwrap();
    let params = [("organizationid", "acme"), ("mdmuserid", id.as_str())];
    for bad in malformed(&good) {
        block_on(store.set(&key, &bad)).unwrap();
        let shown = String::from_utf8_lossy(&bad).into_owned();
        let r = block_on(OrganizationRoute::handle(
            &common::req(Method::GET, &params[..1], "", None),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 500, "org GET on {shown}: {}", json_of(&r));
        let r = block_on(UserRoute::handle(
            &common::req(Method::GET, &params, "", None),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 500, "user GET on {shown}: {}", json_of(&r));
    }
}
