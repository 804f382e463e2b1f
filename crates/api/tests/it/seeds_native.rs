//! Seeds 001, 002 and 004 run natively against the in-memory store: users of identity
//! sources only the domain can create today (SCIM, directory), the owner-account rule
//! across organizations, and the asynchronous API Management removal driven by polls.

use futures::executor::block_on;
use http::Method;
use roster_api::{ApiRequest, Ctx, Endpoint, apim, cas, dynatrace};
use roster_domain::model::{
    ApimBinding, DeviceStatus, IdentitySource, OrgPolicy, Organization, Ownership, UserStatus,
};
use roster_domain::{MemoryStore, devices, orgs, users};
use serde_json::Value;

use crate::common::{NOW, ctx};

fn req(
    method: Method,
    params: &[(&str, &str)],
    query: &str,
    headers: &[(&str, &str)],
) -> ApiRequest {
    let mut r = ApiRequest::new(method);
    r.params = params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    r.query = query.to_owned();
    r.headers
        .insert("authorization", "Bearer secret".parse().unwrap());
    for (k, v) in headers {
        r.headers.insert(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn body(resp: &http::Response<Vec<u8>>) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

fn org(store: &MemoryStore, slug: &str, apim: Option<ApimBinding>, batch: u32) -> Organization {
    let mut new = orgs::NewOrganization::parse(slug, slug).unwrap();
    new.apim = apim;
    new.policy = OrgPolicy {
        removal_batch: batch,
        ..OrgPolicy::default()
    };
    block_on(orgs::create(store, new, NOW)).unwrap()
}

fn user(
    store: &MemoryStore,
    o: &Organization,
    name: &str,
    source: IdentitySource,
    status: UserStatus,
) -> roster_domain::model::User {
    let mut new = users::NewUser::parse(
        name,
        Some(&format!("{name}@example.com")),
        Some("Kim"),
        Some("Lee"),
    )
    .unwrap();
    new.source = source;
    new.status = status;
    block_on(users::create(store, o, new, NOW)).unwrap()
}

fn enroll(store: &MemoryStore, o: &Organization, u: &roster_domain::ids::ObjectId, n: usize) {
    for i in 0..n {
        let d = devices::NewDevice::parse(
            "Pixel",
            "android",
            None,
            &format!("imei-{u}-{i}"),
            Ownership::Byod,
            DeviceStatus::Active,
            vec![],
        )
        .unwrap();
        block_on(devices::enroll(store, o, u, d, NOW)).unwrap();
    }
}

#[test]
fn cas_refuses_scim_and_directory_users_with_405_and_an_empty_allow() {
    let s = MemoryStore::from_env();
    let o = org(&s, "acme", None, 100);
    for source in [IdentitySource::Scim, IdentitySource::Directory] {
        let u = user(
            &s,
            &o,
            &format!("{source:?}").to_lowercase(),
            source,
            UserStatus::Disabled,
        );
        let r = req(
            Method::DELETE,
            &[("userId", &u.uuid)],
            "",
            &[("x-roster-organization", "acme")],
        );
        let resp = block_on(cas::UserRoute::handle(&r, &s, &ctx()));
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "");
        let b = body(&resp);
        assert_eq!(b["code"], "IDENTITY_SOURCE_MANAGED");
        assert_eq!(b["message"], cas::MANAGED_MESSAGE);
        assert!(
            block_on(users::get(&s, &o, &u.id)).is_ok(),
            "the user stays"
        );
    }
    // The route's own 405 names DELETE.
    let resp = block_on(cas::UserRoute::handle(
        &req(Method::GET, &[("userId", "x")], "", &[]),
        &s,
        &ctx(),
    ));
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "DELETE");
    assert_eq!(body(&resp)["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
}

#[test]
fn cas_deletes_a_disabled_user_with_its_devices() {
    let s = MemoryStore::from_env();
    let o = org(&s, "acme", None, 100);
    let u = user(&s, &o, "kim", IdentitySource::Local, UserStatus::Disabled);
    enroll(&s, &o, &u.id, 3);
    let hdr = [("x-roster-organization", "acme")];
    let dry = block_on(cas::UserRoute::handle(
        &req(Method::DELETE, &[("userId", &u.uuid)], "dryRun=true", &hdr),
        &s,
        &ctx(),
    ));
    assert_eq!(dry.status(), 200);
    assert_eq!(body(&dry)["wouldRemove"]["devices"], 3);
    assert_eq!(body(&dry)["removable"], true);
    let resp = block_on(cas::UserRoute::handle(
        &req(
            Method::DELETE,
            &[("userId", &u.uuid.to_uppercase())],
            "",
            &hdr,
        ),
        &s,
        &ctx(),
    ));
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    assert_eq!(body(&resp)["removed"]["devices"], 3);
    assert_eq!(body(&resp)["userId"], u.uuid.as_str());
    let again = block_on(cas::UserRoute::handle(
        &req(Method::DELETE, &[("userId", &u.uuid)], "", &hdr),
        &s,
        &ctx(),
    ));
    assert_eq!(again.status(), 404);
    assert_eq!(body(&again)["message"], cas::USER_NOT_FOUND_MESSAGE);
    assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
}

#[test]
fn dynatrace_leaves_the_owner_account_last() {
    let s = MemoryStore::from_env();
    let a = org(&s, "alpha", None, 100);
    let b = org(&s, "beta", None, 100);
    let ua = user(&s, &a, "kim", IdentitySource::Local, UserStatus::Active);
    let ub = user(&s, &b, "kim", IdentitySource::Local, UserStatus::Disabled);
    let del = |o: &Organization, email: &str| {
        block_on(dynatrace::UserRoute::handle(
            &req(
                Method::DELETE,
                &[("accountUuid", &o.account_uuid), ("email", email)],
                "",
                &[],
            ),
            &s,
            &ctx(),
        ))
    };
    // Alpha is the owner account: it goes last.
    let refused = del(&a, "kim%40example.com");
    assert_eq!(refused.status(), 400);
    assert_eq!(
        body(&refused),
        serde_json::json!({"code": 400, "message": dynatrace::CANNOT_DELETE_MESSAGE})
    );
    let first = del(&b, "KIM@example.com");
    assert_eq!(first.status(), 200, "{}", body(&first));
    let users = body(&first);
    assert_eq!(users[0]["uid"], ub.uuid.as_str());
    assert_eq!(users[0]["userStatus"], "INACTIVE");
    assert_eq!(
        users[0]["accountUuids"],
        serde_json::json!([a.account_uuid])
    );
    assert_eq!(users[0]["ownerAccountUuid"], a.account_uuid.as_str());
    assert_eq!(users[0]["password"], Value::Null);
    let last = del(&a, "kim@example.com");
    assert_eq!(last.status(), 200, "{}", body(&last));
    let users = body(&last);
    assert_eq!(users[0]["uid"], ua.uuid.as_str());
    assert_eq!(users[0]["accountUuids"], serde_json::json!([]));
    assert_eq!(users[0]["ownerAccountUuid"], Value::Null);
    let gone = del(&a, "kim@example.com");
    assert_eq!(gone.status(), 404);
    assert_eq!(body(&gone)["message"], dynatrace::NOT_FOUND_MESSAGE);
    assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
}

#[test]
fn apim_removal_finishes_through_polls() {
    let s = MemoryStore::from_env();
    let binding = ApimBinding::parse(
        "00000000-0000-0000-0000-000000000000",
        "rg1",
        "apimService1",
    )
    .unwrap();
    let o = org(&s, "acme", Some(binding), 2);
    let u = user(&s, &o, "kim", IdentitySource::Local, UserStatus::Active);
    enroll(&s, &o, &u.id, 5);
    let base = [
        ("subscriptionId", "00000000-0000-0000-0000-000000000000"),
        ("resourceGroupName", "RG1"),
        ("serviceName", "apimservice1"),
    ];
    let mut p = base.to_vec();
    p.push(("userId", u.id.as_str()));
    let get = block_on(apim::UserRoute::handle(
        &req(Method::GET, &p, "api-version=2024-05-01", &[]),
        &s,
        &ctx(),
    ));
    assert_eq!(get.status(), 200);
    let etag = get.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(body(&get)["type"], "Microsoft.ApiManagement/service/users");
    let missing = block_on(apim::UserRoute::handle(
        &req(Method::DELETE, &p, "api-version=2024-05-01", &[]),
        &s,
        &ctx(),
    ));
    assert_eq!(missing.status(), 428);
    let stale = block_on(apim::UserRoute::handle(
        &req(
            Method::DELETE,
            &p,
            "api-version=2024-05-01",
            &[("if-match", "\"99\"")],
        ),
        &s,
        &ctx(),
    ));
    assert_eq!(stale.status(), 412);
    assert_eq!(body(&stale)["error"]["code"], "PreconditionFailed");
    let first = block_on(apim::UserRoute::handle(
        &req(
            Method::DELETE,
            &p,
            "api-version=2024-05-01",
            &[("if-match", &etag)],
        ),
        &s,
        &ctx(),
    ));
    assert_eq!(first.status(), 202);
    let op_url = first.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let op_id = op_url
        .split("/operationResults/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut op_params = base.to_vec();
    op_params.push(("operationId", &op_id));
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = block_on(apim::OperationResultRoute::handle(
            &req(Method::GET, &op_params, "api-version=2024-05-01", &[]),
            &s,
            &Ctx::new(Some("secret".into()), NOW.plus_millis(10_000)),
        ));
        assert_eq!(r.status(), 200);
        let st = body(&r)["status"].as_str().unwrap().to_owned();
        statuses.push(st.clone());
        if st == "Succeeded" {
            break;
        }
    }
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("Succeeded"),
        "{statuses:?}"
    );
    assert!(statuses.len() >= 2, "{statuses:?}");
    let again = block_on(apim::UserRoute::handle(
        &req(
            Method::DELETE,
            &p,
            "api-version=2024-05-01",
            &[("if-match", "*")],
        ),
        &s,
        &ctx(),
    ));
    assert_eq!(again.status(), 204);
    assert_eq!(roster_domain::invariants::check(&s.snapshot()), vec![]);
}

/// API Management's user and dry-run bodies are serialized straight from their types
/// (issue 16: less code than `json!` values): the bytes are those the `json!` values
/// wrote (serde_json's maps sort their members), for a local user and a directory one,
/// groups with and without an external id, and a dry run with and without a blocker.
#[test]
fn apim_user_and_dry_run_bodies_are_the_bytes_json_values_wrote() {
    use roster_domain::model::RemovalMode;
    use roster_domain::removal::{self, RemovalPolicy};
    use roster_domain::{groups, holds};
    use serde_json::json;
    let s = MemoryStore::from_env();
    let binding =
        ApimBinding::parse("00000000-0000-0000-0000-000000000000", "rg1", "svc1").unwrap();
    let o = org(&s, "acme", Some(binding), 10);
    let kim = user(&s, &o, "kim", IdentitySource::Local, UserStatus::Active);
    let bo = user(&s, &o, "bo", IdentitySource::Scim, UserStatus::Disabled);
    let new_group = |name: &str, external_id: Option<&str>| groups::NewGroup {
        name: name.into(),
        description: format!("{name} \"quoted\" ü"),
        external_id: external_id.map(Into::into),
    };
    let eng = block_on(groups::create_with(
        &s,
        &o,
        new_group("eng", Some("x-1")),
        NOW,
    ))
    .unwrap();
    let ops = block_on(groups::create_with(&s, &o, new_group("ops", None), NOW)).unwrap();
    for g in [&eng, &ops] {
        block_on(groups::add_member(&s, &o, &g.id, &kim.id, NOW)).unwrap();
    }
    let hold = holds::NewHold::parse("matter 7", None).unwrap();
    block_on(holds::place_user_hold(
        &s, &o, &bo.id, hold, true, "t1", NOW,
    ))
    .unwrap();
    let path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/svc1";
    for id in [&kim.id, &bo.id] {
        let u = block_on(users::get(&s, &o, id)).unwrap();
        let found: Vec<_> = u
            .groups
            .iter()
            .filter_map(|n| block_on(groups::find(&s, &o, n)).unwrap())
            .collect();
        // What `user_body` built before, word for word.
        let identities = match u.source {
            IdentitySource::Local => json!([{ "provider": "Basic", "id": u.email }]),
            IdentitySource::Scim | IdentitySource::Directory => json!([{
                "provider": "Aad",
                "id": u.external_id.clone().unwrap_or_else(|| u.uuid.clone()),
            }]),
        };
        let groups: Vec<Value> = found
            .iter()
            .map(|g| {
                json!({
                    "displayName": g.name,
                    "description": g.description,
                    "builtIn": false,
                    "type": if g.external_id.is_some() { "external" } else { "custom" },
                    "externalId": g.external_id,
                })
            })
            .collect();
        let state = if u.status == UserStatus::Active {
            "active"
        } else {
            "blocked"
        };
        let expected = json!({
            "id": format!("{path}/users/{}", u.id),
            "type": "Microsoft.ApiManagement/service/users",
            "name": u.id,
            "properties": {
                "firstName": u.first_name,
                "lastName": u.last_name,
                "email": u.email,
                "state": state,
                "registrationDate": u.created_at.to_rfc3339(),
                "note": null,
                "identities": identities,
                "groups": groups,
            }
        });
        let p = [
            ("subscriptionId", "00000000-0000-0000-0000-000000000000"),
            ("resourceGroupName", "rg1"),
            ("serviceName", "svc1"),
            ("userId", id.as_str()),
        ];
        let get = block_on(apim::UserRoute::handle(
            &req(Method::GET, &p, "api-version=2024-05-01", &[]),
            &s,
            &ctx(),
        ));
        assert_eq!(get.status(), 200);
        assert_eq!(
            String::from_utf8_lossy(get.body()),
            expected.to_string(),
            "{}",
            u.username
        );
        // The dry run, and what `plan_body` built before.
        let plan = block_on(removal::plan(
            &s,
            &o,
            id,
            &RemovalPolicy::apim(false, false),
            NOW,
        ))
        .unwrap();
        let blockers: Vec<Value> = plan
            .blockers
            .iter()
            .map(|b| {
                let (status, code, message, target) = apim::blocker(*b);
                json!({ "status": status.as_u16(), "code": code, "message": message, "target": target })
            })
            .collect();
        let expected = json!({
            "id": format!("{path}/users/{}", u.id),
            "type": "Microsoft.ApiManagement/service/users",
            "name": u.id,
            "properties": {
                "dryRun": true,
                "removable": plan.blockers.is_empty(),
                "mode": match plan.mode {
                    RemovalMode::Permanent => "permanent",
                    RemovalMode::Soft => "soft",
                },
                "wouldRemove": plan.would_remove,
                "blockers": blockers,
            }
        });
        let dry = block_on(apim::UserRoute::handle(
            &req(
                Method::DELETE,
                &p,
                "api-version=2024-05-01&dryRun=true",
                &[("if-match", "*")],
            ),
            &s,
            &ctx(),
        ));
        assert_eq!(dry.status(), 200, "{}", String::from_utf8_lossy(dry.body()));
        assert_eq!(
            String::from_utf8_lossy(dry.body()),
            expected.to_string(),
            "{}",
            u.username
        );
    }
    // ARM error bodies (a 404 without a target, a 400 naming one): rebuilt the old way
    // from the values they carry, the same bytes.
    let missing = [
        ("subscriptionId", "00000000-0000-0000-0000-000000000000"),
        ("resourceGroupName", "rg1"),
        ("serviceName", "svc1"),
        ("userId", "0123456789abcdef01234567"),
    ];
    for (method, query, status) in [
        (Method::GET, "api-version=2024-05-01", 404),
        (Method::DELETE, "api-version=2024-05-01&dryRun=maybe", 400),
    ] {
        let r = block_on(apim::UserRoute::handle(
            &req(method, &missing, query, &[("if-match", "*")]),
            &s,
            &ctx(),
        ));
        assert_eq!(r.status(), status, "{query}");
        let e = &body(&r)["error"];
        let expected = json!({
            "error": {
                "code": e["code"],
                "message": e["message"],
                "target": e["target"],
                "details": [],
                "additionalInfo": [],
            }
        });
        assert!(e["code"].is_string() && e["message"].is_string(), "{query}");
        assert_eq!(e["target"].is_string(), status == 400, "{query}");
        assert_eq!(
            String::from_utf8_lossy(r.body()),
            expected.to_string(),
            "{query}"
        );
    }
    assert!(
        String::from_utf8_lossy(
            block_on(apim::UserRoute::handle(
                &req(
                    Method::DELETE,
                    &[
                        ("subscriptionId", "00000000-0000-0000-0000-000000000000"),
                        ("resourceGroupName", "rg1"),
                        ("serviceName", "svc1"),
                        ("userId", bo.id.as_str()),
                    ],
                    "api-version=2024-05-01&dryRun=true",
                    &[("if-match", "*")],
                ),
                &s,
                &ctx(),
            ))
            .body()
        )
        .contains("\"removable\":false"),
        "the held user's dry run names a blocker"
    );
}
