//! The SCIM endpoints run natively against the in-memory store: the bounds that need
//! large organizations (cheap to build here), and a group PATCH interrupted at every
//! store call, then completed by a retry.

use futures::executor::block_on;
use http::Method;
use roster_api::Endpoint;
use roster_api::scim::service::{
    GroupRoute, GroupsRoute, GroupsSearchRoute, MeRoute, ServiceProviderConfigRoute, UnknownRoute,
    UserRoute, UsersRoute, UsersSearchRoute,
};
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
    users::NewUser::parse(name, Some(&format!("{name}@example.com")), None, None).unwrap()
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
                (u.username.as_str(), u.email.as_deref()),
                ("kimberly", Some("kimberly@example.com"))
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

/// The user names of a list answer, in order.
fn names(body: &serde_json::Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn cursor_paging_visits_every_user_once_while_users_are_added() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        for i in 0..300 {
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
        let mut seen: Vec<String> = Vec::new();
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let (status, body) = list(&format!("cursor={cursor}&count=37")).await;
            assert_eq!(status, 200, "{body}");
            assert!(body.get("startIndex").is_none(), "{body}");
            assert_eq!(
                body["itemsPerPage"],
                body["Resources"].as_array().unwrap().len()
            );
            seen.extend(names(&body));
            pages += 1;
            // Users added while paging: after every position already returned.
            if pages <= 3 {
                users::create(&store, &o, new_user(&format!("v{pages}")), NOW)
                    .await
                    .unwrap();
            }
            // One removed ahead of the cursor vanishes without shifting anything.
            if pages == 2 {
                let gone = users::find_by_username(&store, &o, "u0200")
                    .await
                    .unwrap()
                    .unwrap();
                let policy = roster_domain::removal::RemovalPolicy::scim();
                roster_domain::removal::remove_user(&store, &o, &gone.id, &policy, NOW)
                    .await
                    .unwrap();
            }
            match body.get("nextCursor") {
                Some(next) => cursor = next.as_str().unwrap().to_owned(),
                None => break,
            }
            assert!(pages < 20, "paging does not end");
        }
        let mut expected: Vec<String> = (0..300)
            .filter(|i| *i != 200)
            .map(|i| format!("u{i:04}"))
            .collect();
        expected.extend(["v1", "v2", "v3"].map(String::from));
        assert_eq!(seen, expected);
        // A cursor this service did not issue, or one for Groups, is invalidCursor.
        for bad in ["zzz", "Gs1", "Us", "Uo5", "Us-1"] {
            let (status, body) = list(&format!("cursor={bad}")).await;
            assert_eq!(
                (status, body["scimType"].clone()),
                (400, json!("invalidCursor")),
                "{bad}: {body}"
            );
            assert_eq!(
                body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
        }
        let (status, body) = list("cursor=&startIndex=2").await;
        assert_eq!(
            (status, body["scimType"].clone()),
            (400, json!("invalidValue"))
        );
        // count over the maximum is capped; a filtered cursor walks the filtered set.
        let (status, body) = list("cursor=&count=5000").await;
        assert_eq!((status, body["itemsPerPage"].clone()), (200, json!(200)));
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, body) = list(&format!(
                "filter=userName%20sw%20%22u01%22&cursor={cursor}&count=30"
            ))
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["totalResults"], 100);
            seen.extend(names(&body));
            match body.get("nextCursor") {
                Some(next) => cursor = next.as_str().unwrap().to_owned(),
                None => break,
            }
        }
        assert_eq!(
            seen,
            (100..200).map(|i| format!("u{i:04}")).collect::<Vec<_>>()
        );
        // Sorted, by offset: the same order as the index pages.
        let (_, first) = list(
            "filter=userName%20sw%20%22u01%22&sortBy=userName&sortOrder=descending&cursor=&count=3",
        )
        .await;
        assert_eq!(names(&first), ["u0199", "u0198", "u0197"]);
        let next = first["nextCursor"].as_str().unwrap();
        let (_, second) = list(&format!("filter=userName%20sw%20%22u01%22&sortBy=userName&sortOrder=descending&cursor={next}&count=3")).await;
        assert_eq!(names(&second), ["u0196", "u0195", "u0194"]);
        // An unsorted cursor on a sorted listing is refused.
        let (status, body) = list("sortBy=userName&cursor=Us1").await;
        assert_eq!(
            (status, body["scimType"].clone()),
            (400, json!("invalidCursor"))
        );
    });
}

#[test]
fn search_answers_what_the_get_answers() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(async {
        for i in 0..12 {
            users::create(&store, &o, new_user(&format!("s{i:02}")), NOW)
                .await
                .unwrap();
        }
        for g in ["g1", "g2", "g3"] {
            groups::create(&store, &o, g.into(), String::new(), NOW)
                .await
                .unwrap();
        }
        let get = UsersRoute::handle(
            &req(
                Method::GET,
                &[("organizationid", "acme")],
                "filter=userName%20sw%20%22s%22&sortBy=userName&sortOrder=descending&count=4&startIndex=2&attributes=userName",
                None,
            ),
            &store,
            &ctx(),
        )
        .await;
        let search_body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"s\"", "sortBy": "userName", "sortOrder": "descending",
            "count": 4, "startIndex": 2, "attributes": ["userName"],
        });
        let post = UsersSearchRoute::handle(
            &req(
                Method::POST,
                &[("organizationid", "acme"), ("prefix", "")],
                "",
                Some(search_body.clone()),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(get.status(), 200);
        assert_eq!(post.status(), 200);
        assert_eq!(json_of(&post), json_of(&get));
        assert_eq!(names(&json_of(&post)), ["s10", "s09", "s08", "s07"]);
        // Cursor paging through .search.
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "count": 5, "cursor": "",
        });
        let mut seen = Vec::new();
        loop {
            let r = UsersSearchRoute::handle(
                &req(
                    Method::POST,
                    &[("organizationid", "acme"), ("prefix", "")],
                    "",
                    Some(body.clone()),
                ),
                &store,
                &ctx(),
            )
            .await;
            let page = json_of(&r);
            seen.extend(names(&page));
            match page.get("nextCursor") {
                Some(c) => body["cursor"] = c.clone(),
                None => break,
            }
        }
        assert_eq!(seen.len(), 12);
        // Groups: .search equals the GET, cursor included.
        let get = GroupsRoute::handle(
            &req(
                Method::GET,
                &[("organizationid", "acme")],
                "cursor=&count=2",
                None,
            ),
            &store,
            &ctx(),
        )
        .await;
        let post = GroupsSearchRoute::handle(
            &req(
                Method::POST,
                &[("organizationid", "acme"), ("prefix", "")],
                "",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "count": 2, "cursor": "",
                })),
            ),
            &store,
            &ctx(),
        )
        .await;
        let (get, post) = (json_of(&get), json_of(&post));
        assert_eq!(get, post);
        assert_eq!(get["totalResults"], 3);
        let next = get["nextCursor"].as_str().unwrap();
        let rest = GroupsRoute::handle(
            &req(
                Method::GET,
                &[("organizationid", "acme")],
                &format!("cursor={next}&count=2"),
                None,
            ),
            &store,
            &ctx(),
        )
        .await;
        let rest = json_of(&rest);
        assert_eq!(rest["Resources"][0]["displayName"], "g3");
        assert!(rest.get("nextCursor").is_none(), "{rest}");
        // A Users cursor on Groups is invalidCursor.
        let r = GroupsRoute::handle(
            &req(
                Method::GET,
                &[("organizationid", "acme")],
                "cursor=Us1",
                None,
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(json_of(&r)["scimType"], "invalidCursor");
        // A bad SearchRequest names what is wrong.
        for (bad, needle) in [
            (json!({"schemas": ["urn:x"]}), "SearchRequest"),
            (
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "colour": 1}),
                "colour",
            ),
            (
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": "5"}),
                "count",
            ),
            (
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": [1]}),
                "attributes[0]",
            ),
        ] {
            let r = UsersSearchRoute::handle(
                &req(
                    Method::POST,
                    &[("organizationid", "acme"), ("prefix", "")],
                    "",
                    Some(bad),
                ),
                &store,
                &ctx(),
            )
            .await;
            let body = json_of(&r);
            assert_eq!(r.status(), 400, "{body}");
            assert!(body["detail"].as_str().unwrap().contains(needle), "{body}");
        }
        // POST on a user is 405, listing the methods a user has.
        let u = users::find_by_username(&store, &o, "s01")
            .await
            .unwrap()
            .unwrap();
        let r = UserRoute::handle(
            &req(
                Method::POST,
                &[("organizationid", "acme"), ("userid", u.id.as_str())],
                "",
                Some(json!({})),
            ),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, HEAD, PUT, PATCH, DELETE");
    });
}

#[test]
fn unknown_paths_and_me_answer_scim_errors() {
    let store = MemoryStore::from_env();
    org(&store);
    block_on(async {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let mut r = req(method.clone(), &[("organizationid", "acme")], "", None);
            r.headers
                .insert("spin-path-info", "/Widgets/7".parse().unwrap());
            let resp = UnknownRoute::handle(&r, &store, &ctx()).await;
            assert_eq!(resp.status(), 404, "{method}");
            assert_eq!(resp.headers()["content-type"], "application/scim+json");
            let body = json_of(&resp);
            assert_eq!(
                body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
            assert_eq!(body["status"], "404");
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("/scim/v2/Widgets/7"), "{detail}");

            let resp = MeRoute::handle(
                &req(method.clone(), &[("organizationid", "acme")], "", None),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(resp.status(), 501, "{method}");
            let body = json_of(&resp);
            assert_eq!(
                body["schemas"],
                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
            );
            assert_eq!(body["status"], "501");
        }
        // Authentication comes first, in the SCIM shape.
        let mut r = req(Method::GET, &[("organizationid", "acme")], "", None);
        r.headers.remove("authorization");
        let resp = UnknownRoute::handle(&r, &store, &ctx()).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(
            json_of(&resp)["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        // Another organization's path is the organization's 404.
        let resp = MeRoute::handle(
            &req(Method::GET, &[("organizationid", "nope")], "", None),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(resp.status(), 404);
    });
}

#[test]
fn service_provider_config_advertises_both_pagination_methods() {
    let store = MemoryStore::from_env();
    org(&store);
    let r = block_on(ServiceProviderConfigRoute::handle(
        &req(Method::GET, &[("organizationid", "acme")], "", None),
        &store,
        &ctx(),
    ));
    assert_eq!(
        json_of(&r)["pagination"],
        json!({
            "cursor": true, "index": true, "defaultPaginationMethod": "index",
            "defaultPageSize": 100, "maxPageSize": 200,
        })
    );
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

/// `count` and `startIndex` beyond `i64` are integers too: they saturate and are then
/// bounded (count capped, an index past the end answers an empty page), while text that
/// is no integer stays 400 `invalidValue`.
#[test]
fn integers_beyond_i64_saturate_and_non_integers_are_refused() {
    let store = MemoryStore::from_env();
    let o = org(&store);
    block_on(users::create(&store, &o, new_user("kim"), NOW)).unwrap();
    let list = |query: &str| {
        let r = block_on(UsersRoute::handle(
            &req(Method::GET, &[("organizationid", "acme")], query, None),
            &store,
            &ctx(),
        ));
        (r.status().as_u16(), json_of(&r))
    };
    let (status, body) = list("cursor=&count=99999999999999999999");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["itemsPerPage"], 1);
    let (status, body) = list("startIndex=99999999999999999999");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["itemsPerPage"], 0);
    assert_eq!(body["totalResults"], 1);
    let (status, body) = list("count=-99999999999999999999");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["itemsPerPage"], 0);
    for bad in ["count=1.5", "count=12x", "startIndex=-", "count=+"] {
        let (status, body) = list(bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["scimType"], "invalidValue", "{bad}");
    }
}

/// Found by schemathesis (`make openapi-check`, unsupported_method): `/Users/.search`
/// and `/Groups/.search` serve POST only, so any other method answers 405 `Allow: POST`
/// in the SCIM shape (it answered 404, reading `.search` as a user id). Since the search
/// routes are their own (stop 33) that 405 comes before authentication, as for every
/// method a route does not serve. A `<prefix>.search` other than `.search` is 404 to a
/// POST, naming the path.
#[test]
fn search_paths_answer_405_for_other_methods() {
    let store = MemoryStore::from_env();
    org(&store);
    let at = |method: &Method, prefix: &str| {
        req(
            method.clone(),
            &[("organizationid", "acme"), ("prefix", prefix)],
            "",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        )
    };
    block_on(async {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let mut anonymous = at(&method, "");
            anonymous.headers.remove("authorization");
            for r in [at(&method, ""), anonymous] {
                for resp in [
                    UsersSearchRoute::handle(&r, &store, &ctx()).await,
                    GroupsSearchRoute::handle(&r, &store, &ctx()).await,
                ] {
                    assert_eq!(resp.status(), 405, "{method}");
                    assert_eq!(resp.headers()["allow"], "POST", "{method}");
                    assert_eq!(json_of(&resp)["status"], "405", "{method}");
                }
            }
        }
        for (resp, under) in [
            (
                UsersSearchRoute::handle(&at(&Method::POST, "x"), &store, &ctx()).await,
                "/Users",
            ),
            (
                GroupsSearchRoute::handle(&at(&Method::POST, "x"), &store, &ctx()).await,
                "/Groups",
            ),
        ] {
            assert_eq!(resp.status(), 404, "{under}");
            let detail = json_of(&resp)["detail"].as_str().unwrap().to_owned();
            assert!(
                detail.contains("\"x.search\"") && detail.contains(under),
                "{detail}"
            );
        }
        // An anonymous POST is 401: the search authenticates first.
        let mut anonymous = at(&Method::POST, "");
        anonymous.headers.remove("authorization");
        let resp = UsersSearchRoute::handle(&anonymous, &store, &ctx()).await;
        assert_eq!(resp.status(), 401);
    });
}
