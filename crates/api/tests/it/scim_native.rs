//! The SCIM endpoints run natively against the in-memory store: the bounds that need
//! large organizations (cheap to build here), and a group PATCH interrupted at every
//! store call, then completed by a retry.

use futures::executor::block_on;
use http::Method;
use roster_api::Endpoint;
use roster_api::scim::service::{GroupRoute, UsersRoute};
use roster_domain::{MemoryStore, groups, invariants, orgs, users};
use serde_json::json;

use crate::common::{NOW, ctx, json_of, req};

fn org(store: &MemoryStore) -> roster_domain::model::Organization {
    block_on(orgs::create(
        store,
        orgs::NewOrganization::parse("Acme", "acme").unwrap(),
        NOW,
    ))
    .unwrap()
}

fn new_user(name: &str) -> users::NewUser {
    users::NewUser::parse(name, &format!("{name}@example.com"), None, None).unwrap()
}

#[test]
fn sorting_and_filters_are_bounded_on_large_organizations() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        for i in 0..1001 {
            users::create(&store, &o, new_user(&format!("u{i:04}")), NOW)
                .await
                .unwrap();
        }
        let list = async |query: &str| {
            let r = UsersRoute::handle(
                &req(Method::GET, &[("organizationid", "acme")], query, None),
                &store,
                &ctx(),
            )
            .await;
            (r.status().as_u16(), json_of(&r))
        };
        // sortBy over 1 001 users needs a filter.
        let (status, body) = list("sortBy=userName").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["scimType"], "tooMany");
        // A filter selecting more than 1 000 candidates.
        let (status, body) = list("filter=userName%20co%20%22u%22").await;
        assert_eq!((status, body["scimType"].clone()), (400, json!("tooMany")));
        // A narrower one is served, sorted.
        let (status, body) =
            list("filter=userName%20sw%20%22u09%22&sortBy=userName&sortOrder=descending&count=2")
                .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["totalResults"], 100);
        assert_eq!(body["Resources"][0]["userName"], "u0999");
        // Plain paging reaches the end.
        let (status, body) = list("startIndex=1000&count=5").await;
        assert_eq!(status, 200);
        assert_eq!(body["totalResults"], 1001);
        let got: Vec<&str> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap())
            .collect();
        assert_eq!(got, ["u0999", "u1000"]);
        // An exact lookup stays O(1) whatever the size.
        let (status, body) = list("filter=userName%20eq%20%22U0500%22").await;
        assert_eq!((status, body["totalResults"].clone()), (200, json!(1)));
    });
}

#[test]
fn a_group_patch_stopped_at_any_store_call_is_completed_by_a_retry() {
    let mut n = 1;
    loop {
        let store = MemoryStore::from_env();
        let o = org(&store);
        let (gid, ids) = block_on(async {
            let g = groups::create(&store, &o, "Staff".into(), String::new(), NOW)
                .await
                .unwrap();
            let mut ids = Vec::new();
            for name in ["kim", "lee", "max"] {
                ids.push(
                    users::create(&store, &o, new_user(name), NOW)
                        .await
                        .unwrap()
                        .id,
                );
            }
            groups::add_member(&store, &o, &g.id, &ids[0], NOW)
                .await
                .unwrap();
            groups::add_member(&store, &o, &g.id, &ids[1], NOW)
                .await
                .unwrap();
            (g.id, ids)
        });
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                { "op": "replace", "path": "displayName", "value": "Crew" },
                { "op": "remove", "path": format!("members[value eq \"{}\"]", ids[0]) },
                { "op": "add", "path": "members", "value": [{ "value": ids[2] }] }
            ]
        });
        let params = [("organizationid", "acme"), ("groupid", gid.as_str())];
        let request = req(Method::PATCH, &params, "", Some(body.clone()));
        let context = ctx();
        let patch = || GroupRoute::handle(&request, &store, &context);
        store.fail_nth(n);
        let first = block_on(patch());
        store.clear_faults();
        if first.status() == 200 {
            assert!(n > 10, "the PATCH should take many store calls");
            break;
        }
        assert_eq!(first.status(), 500, "call {n}");
        assert_eq!(json_of(&first)["status"], "500");
        let again = block_on(patch());
        assert_eq!(again.status(), 200, "call {n}: {:?}", json_of(&again));
        let g = json_of(&again);
        assert_eq!(g["displayName"], "Crew", "call {n}");
        let members: Vec<&str> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert_eq!(members, [ids[1].as_str(), ids[2].as_str()], "call {n}");
        block_on(async {
            for (i, id) in ids.iter().enumerate() {
                let u = users::get(&store, &o, id).await.unwrap();
                let expected: &[&str] = if i == 0 { &[] } else { &["Crew"] };
                assert_eq!(u.groups, expected, "call {n}, user {i}");
            }
        });
        assert_eq!(invariants::check(&store.snapshot()), vec![], "call {n}");
        n += 1;
    }
}

#[test]
fn a_user_put_stopped_at_any_store_call_is_completed_by_a_retry() {
    let mut n = 1;
    loop {
        let store = MemoryStore::from_env();
        let o = org(&store);
        let id = block_on(users::create(&store, &o, new_user("kim"), NOW))
            .unwrap()
            .id;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kimberly",
            "externalId": "K-1",
            "emails": [
                { "value": "kimberly@example.com", "primary": true },
                { "value": "kim@home.example", "type": "home" }
            ],
            "active": false,
            "title": "Guide"
        });
        let params = [("organizationid", "acme"), ("userid", id.as_str())];
        let request = req(Method::PUT, &params, "", Some(body));
        let context = ctx();
        store.fail_nth(n);
        let first = block_on(roster_api::scim::service::UserRoute::handle(
            &request, &store, &context,
        ));
        store.clear_faults();
        if first.status() == 200 {
            assert!(n > 5, "the PUT should take several store calls");
            break;
        }
        assert_eq!(first.status(), 500, "call {n}");
        let again = block_on(roster_api::scim::service::UserRoute::handle(
            &request, &store, &context,
        ));
        assert_eq!(again.status(), 200, "call {n}: {:?}", json_of(&again));
        block_on(async {
            let u = users::find_by_any_email(&store, &o, "kim@home.example")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (u.username.as_str(), u.email.as_str()),
                ("kimberly", "kimberly@example.com")
            );
            assert!(
                users::find_by_username(&store, &o, "kim")
                    .await
                    .unwrap()
                    .is_none()
            );
        });
        assert_eq!(invariants::check(&store.snapshot()), vec![], "call {n}");
        n += 1;
    }
}

/// `active` can be unassigned (RFC 7644 §3.5.2.2: `remove` of a single-valued
/// attribute; a POST or PUT without it): the user stays enabled and the resource
/// omits `active` until a client assigns it, or another surface disables the user.
#[test]
fn active_can_be_unassigned_and_the_user_stays_enabled() {
    use roster_api::scim::service::UserRoute;
    use roster_domain::model::UserStatus;
    let store = MemoryStore::from_env();
    let o = org(&store);
    let id = block_on(users::create(&store, &o, new_user("kim"), NOW))
        .unwrap()
        .id;
    let params = [("organizationid", "acme"), ("userid", id.as_str())];
    let call = |method: Method, body: Option<serde_json::Value>| {
        let r = block_on(UserRoute::handle(
            &req(method, &params, "", body),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 200, "{:?}", json_of(&r));
        json_of(&r)
    };
    let patch = |op: serde_json::Value| {
        call(
            Method::PATCH,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [op]
            })),
        )
    };
    let status = || block_on(users::get(&store, &o, &id)).unwrap().status;
    assert_eq!(
        call(Method::GET, None)["active"],
        true,
        "a user from elsewhere"
    );
    for (op, want, enabled) in [
        (
            json!({ "op": "replace", "path": "active", "value": false }),
            Some(false),
            false,
        ),
        (json!({ "op": "remove", "path": "active" }), None, true),
        (
            json!({ "op": "replace", "path": "title", "value": "Guide" }),
            None,
            true,
        ),
        (
            json!({ "op": "add", "path": "active", "value": true }),
            Some(true),
            true,
        ),
        (json!({ "op": "remove", "path": "active" }), None, true),
    ] {
        let body = patch(op.clone());
        assert_eq!(
            body.get("active").and_then(|a| a.as_bool()),
            want,
            "{op}: {body}"
        );
        assert_eq!(call(Method::GET, None).get("active"), body.get("active"));
        assert_eq!(status() == UserStatus::Active, enabled, "{op}");
    }
    // Another surface disabling the user shows, whatever SCIM last wrote.
    block_on(users::update(
        &store,
        &o,
        &id,
        None,
        users::UserChanges {
            status: Some(UserStatus::Disabled),
            ..users::UserChanges::default()
        },
        NOW,
    ))
    .unwrap();
    assert_eq!(call(Method::GET, None)["active"], false);
    // PUT without `active` unassigns it, and enables the user.
    let body = call(
        Method::PUT,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim",
            "emails": [{ "value": "kim@example.com" }]
        })),
    );
    assert!(body.get("active").is_none(), "{body}");
    assert_eq!(status(), UserStatus::Active);
    // POST without `active`: the same.
    let r = block_on(UsersRoute::handle(
        &req(
            Method::POST,
            &[("organizationid", "acme")],
            "",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "lee@example.com"
            })),
        ),
        &store,
        &ctx(),
    ));
    assert_eq!(r.status(), 201, "{:?}", json_of(&r));
    assert!(json_of(&r).get("active").is_none());
    let lee = block_on(users::find_by_username(&store, &o, "lee@example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(lee.status, UserStatus::Active);
    assert_eq!(invariants::check(&store.snapshot()), vec![]);
}

/// `POST /.search` at the base pages over Users then Groups: the page that crosses
/// from one to the other, totals summed, a filter applied per resource type.
#[test]
fn root_search_pages_over_users_then_groups() {
    use roster_api::scim::service::{RootSearchRoute, SEARCH_REQUEST_URN};
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        for i in 0..3 {
            users::create(&store, &o, new_user(&format!("u{i}")), NOW)
                .await
                .unwrap();
        }
        for name in ["g0", "g1"] {
            groups::create_with(
                &store,
                &o,
                groups::NewGroup {
                    name: groups::parse_name("name", name).unwrap(),
                    description: String::new(),
                    external_id: Some(format!("e-{name}")),
                },
                NOW,
            )
            .await
            .unwrap();
        }
    });
    let search = |body: serde_json::Value| {
        let mut body = body;
        body["schemas"] = json!([SEARCH_REQUEST_URN]);
        let r = block_on(RootSearchRoute::handle(
            &req(Method::POST, &[("organizationid", "acme")], "", Some(body)),
            &store,
            &ctx(),
        ));
        assert_eq!(r.status(), 200, "{:?}", json_of(&r));
        let b = json_of(&r);
        let names: Vec<String> = b["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x.get("userName")
                    .or(x.get("displayName"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect();
        (b["totalResults"].as_u64().unwrap(), names)
    };
    assert_eq!(
        search(json!({})),
        (
            5,
            vec![
                "u0".into(),
                "u1".into(),
                "u2".into(),
                "g0".into(),
                "g1".into()
            ]
        )
    );
    assert_eq!(
        search(json!({ "startIndex": 3, "count": 2 })),
        (5, vec!["u2".into(), "g0".into()])
    );
    assert_eq!(
        search(json!({ "startIndex": 5, "count": 2 })),
        (5, vec!["g1".into()])
    );
    assert_eq!(search(json!({ "startIndex": 9 })), (5, vec![]));
    assert_eq!(search(json!({ "count": 0 })), (5, vec![]));
    assert_eq!(
        search(json!({ "filter": "externalId eq \"e-g1\"", "attributes": "displayName" })),
        (1, vec!["g1".into()])
    );
    // Group has no userName: the filter matches no group.
    assert_eq!(
        search(json!({ "filter": "externalId eq \"e-g0\" or userName eq \"u1\"" })),
        (1, vec!["u1".into()])
    );
    // A filter Users cannot serve without a scan is refused, as on /Users.
    let r = block_on(RootSearchRoute::handle(
        &req(
            Method::POST,
            &[("organizationid", "acme")],
            "",
            Some(json!({ "schemas": [SEARCH_REQUEST_URN], "filter": "displayName eq \"g1\"" })),
        ),
        &store,
        &ctx(),
    ));
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(&r)["scimType"], "invalidFilter");
}
