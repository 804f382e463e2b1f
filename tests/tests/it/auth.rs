//! Every route of spin.toml, walked from the route catalogue: each refuses a missing,
//! wrong, expired, revoked, foreign-organization and under-privileged token with its
//! surface's documented answer (docs/auth.md), and admits a valid one. There is no
//! health route in spin.toml (roster-host's `/.well-known/spin/health` is the host's,
//! as Spin's is); the exceptions are the public `GET /openapi.json` (the API
//! description, no data) and the reference page that renders it (`GET /reference`,
//! `GET /reference/rapidoc-min.js`) and the admin console's files (`GET /console`,
//! `/console/console.js`, `/console/console.css`), which answer every token and none.

use roster_api::routes::{RouteSpec, Surface, catalogue};
use roster_host::manifest::Route;
use roster_tests::{App, Reply};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[test]
fn spin_toml_the_components_and_the_catalogue_agree() {
    let manifest = roster_host::Manifest::load(&roster_tests::root().join("spin.toml")).unwrap();
    let mut from_manifest = BTreeMap::new();
    for t in &manifest.http_triggers {
        let Route::Pattern(p) = &t.route else {
            panic!("{} has a private route", t.component)
        };
        from_manifest.insert(t.component.clone(), p.clone());
    }
    let cat = catalogue();
    let from_catalogue: BTreeMap<String, String> = cat
        .iter()
        .map(|r| (r.component.to_owned(), r.route.to_owned()))
        .collect();
    assert_eq!(
        from_manifest, from_catalogue,
        "spin.toml and the catalogue differ"
    );
    let components: Vec<String> = std::fs::read_dir(roster_tests::root().join("components"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        components.len(),
        cat.len(),
        "a component without a route, or the reverse"
    );
    for r in &cat {
        // The component serves the endpoint the catalogue names.
        let src = std::fs::read_to_string(
            roster_tests::root()
                .join("components")
                .join(r.component)
                .join("src/lib.rs"),
        )
        .unwrap();
        let endpoint = r.endpoint.trim_start_matches("roster_api::");
        let short = endpoint.rsplit("::").next().unwrap();
        assert!(
            src.contains("serve::<roster_api::") && src.contains(&format!("::{short}>")),
            "components/{}/src/lib.rs does not serve {}",
            r.component,
            r.endpoint
        );
        let c = &manifest.components[r.component];
        // The data, and the rate-limit counters (every route authenticates).
        assert_eq!(
            c.key_value_stores,
            vec!["default".to_owned(), "ratelimit".to_owned()],
            "{}",
            r.component
        );
        // No outbound HTTP, except what the catalogue gives (the pushed events' delivery
        // route: the operator's `event_hosts`).
        assert_eq!(
            c.allowed_outbound_hosts,
            roster_api::routes::allowed_outbound_hosts(r.component)
                .iter()
                .map(|h| (*h).to_owned())
                .collect::<Vec<_>>(),
            "{}",
            r.component
        );
    }
    // Every route is documented in prose (the Markdown pages: docs/openapi.json names
    // every route by construction, so it proves nothing here).
    let docs: String = std::fs::read_dir(roster_tests::root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    for r in &cat {
        let tail = r.route.rsplit('/').next().unwrap();
        assert!(
            docs.contains(r.route)
                || docs.contains(&format!("/{tail}`"))
                || docs.contains(&format!("…/{tail}")),
            "{} is not documented under docs/",
            r.route
        );
    }
}

/// The kinds of bad token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    Missing,
    Wrong,
    Expired,
    Revoked,
    Foreign,
    UnderPrivileged,
}

struct World {
    org: String,
    user: Value,
    tokens: BTreeMap<&'static str, String>,
}

async fn token(
    app: &App,
    org: &str,
    permissions: &[&str],
    expires_in: Option<i64>,
) -> (String, String) {
    let mut body = json!({ "name": "t", "permissions": permissions });
    if let Some(e) = expires_in {
        body["expiresIn"] = json!(e);
    }
    app.token_with(org, body).await
}

async fn world(app: &App) -> World {
    let org = app
        .org_with(json!({"name": "A", "slug": "org-a", "aliases": {"apim": {
                "subscriptionId": "00000000-0000-0000-0000-000000000000",
                "resourceGroupName": "rg1", "serviceName": "apimService1"}}}))
        .await;
    let other = app.org("org-b").await;
    let id = app.user(&org, "kim").await;
    let user = app
        .call(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users/{id}"),
            None,
        )
        .await
        .body["data"]
        .clone();
    let mut tokens = BTreeMap::new();
    tokens.insert("valid", token(app, &org, &["*"], None).await.1);
    tokens.insert("foreign", token(app, &other, &["*"], None).await.1);
    tokens.insert(
        "audit-only",
        token(app, &org, &["mdm.global.audit.read"], None).await.1,
    );
    tokens.insert(
        "outbox-only",
        token(app, &org, &["mdm.global.outbox.read"], None).await.1,
    );
    tokens.insert("expired", token(app, &org, &["*"], Some(1)).await.1);
    let (rid, revoked) = token(app, &org, &["*"], None).await;
    let r = app
        .call(
            "DELETE",
            &format!("/v1/organizations/{org}/tokens/{rid}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokens.insert("revoked", revoked);
    World { org, user, tokens }
}

/// A concrete path for a route pattern, naming organization A's resources.
fn path_for(r: &RouteSpec, w: &World) -> String {
    let apim = r.route.starts_with("/subscriptions/");
    let mut out = String::new();
    for seg in r.route.split('/').skip(1) {
        out.push('/');
        let value = match seg.strip_prefix(':') {
            None => seg.to_owned(),
            Some("organizationId") => w.org.clone(),
            Some("mdmUserId") | Some("id") => w.user["id"].as_str().unwrap().to_owned(),
            Some("subscriptionId") if apim => "00000000-0000-0000-0000-000000000000".into(),
            Some("resourceGroupName") => "rg1".into(),
            Some("serviceName") => "apimService1".into(),
            Some("userId") if apim => w.user["id"].as_str().unwrap().to_owned(),
            Some("userId") => w.user["uuid"].as_str().unwrap().to_owned(),
            Some("accountUuid") => String::new(), // filled by the caller (needs a lookup)
            Some("email") => w.user["email"].as_str().unwrap().replace('@', "%40"),
            // SCIM's search routes (`…/:prefix.search`, docs/scim.md "Routing"): `.search`.
            Some("prefix.search") => ".search".into(),
            Some(_) => "0123456789abcdef01234567".into(),
        };
        out.push_str(&value);
    }
    if r.surface == Surface::Wso2 {
        // WSO2 names users in the query; name organization A's user.
        out.push_str("?username=");
        out.push_str(w.user["username"].as_str().unwrap());
    }
    if apim {
        // ARM requires an api-version on every request (docs/seeds.md).
        out.push_str("?api-version=2024-05-01");
    }
    out
}

/// What a surface answers to each bad token (docs/auth.md). `global_only` routes answer
/// a foreign (organization) token like an under-privileged one.
fn expected(surface: Surface, bad: Bad, global_only: bool) -> (u16, Option<u64>) {
    use Bad::*;
    match (surface, bad) {
        (Surface::Mdm, Missing) => (401, Some(4002)),
        (Surface::Mdm, Wrong | Expired | Revoked) => (401, Some(4001)),
        (Surface::Mdm, UnderPrivileged) => (403, Some(4003)),
        (Surface::Mdm, Foreign) if global_only => (403, Some(4003)),
        (Surface::Mdm, Foreign) => (404, Some(3001)),
        // SCIM (docs/scim.md): RFC 7644 error bodies, no numeric codes.
        (Surface::Scim, Missing | Wrong | Expired | Revoked) => (401, None),
        (Surface::Scim, UnderPrivileged) => (403, None),
        (Surface::Scim, Foreign) => (404, None),
        // Seeds 001, 002, 004 (docs/seeds.md): CAS answers every authentication and
        // permission failure 403 (the seed has no 401); Dynatrace and ARM answer 401.
        (Surface::Cas, Missing | Wrong | Expired | Revoked | UnderPrivileged) => (403, None),
        (Surface::Cas | Surface::Dynatrace | Surface::Apim, Foreign) => (404, None),
        (Surface::Dynatrace | Surface::Apim, Missing | Wrong | Expired | Revoked) => (401, None),
        (Surface::Dynatrace | Surface::Apim, UnderPrivileged) => (403, None),
        // The WSO2 envelope's statusCode is the HTTP status. A foreign token is checked
        // apart ([`assert_foreign_wso2`]): WSO2 paths name no organization, so it acts
        // on its own.
        (Surface::Wso2, Missing | Wrong | Expired | Revoked) => (401, Some(401)),
        (Surface::Wso2, UnderPrivileged) => (403, Some(403)),
        (s, b) => panic!("no expectation for {s:?} {b:?}"),
    }
}

fn code_of(surface: Surface, r: &Reply) -> Option<u64> {
    match surface {
        Surface::Mdm => r.body["error"]["code"].as_u64(),
        Surface::Wso2 => r.body["statusCode"].as_u64(),
        _ => None,
    }
}

/// A token of organization B on a WSO2 route acts on B: it is admitted (no 401, 403 or
/// 405), and nothing of organization A's user shows in the answer.
fn assert_foreign_wso2(method: &str, route: &str, w: &World, reply: &Reply) {
    assert!(
        [200, 400, 404].contains(&reply.status),
        "{method} {route} with a foreign token: {}",
        reply.text
    );
    // Count and devices answer bare (an integer, an array); the rest in the envelope.
    if reply.body.is_object() {
        assert_eq!(
            reply.body["statusCode"].as_u64(),
            Some(u64::from(reply.status)),
            "{method} {route}: {}",
            reply.text
        );
    } else {
        assert_eq!(reply.status, 200, "{method} {route}: {}", reply.text);
        assert!(
            reply.body.is_u64() || reply.body.is_array(),
            "{method} {route}: {}",
            reply.text
        );
    }
    for field in ["id", "uuid", "email", "firstName", "lastName"] {
        let value = w.user[field].as_str().unwrap();
        assert!(
            !reply.text.contains(value),
            "{method} {route} with a foreign token shows A's user: {}",
            reply.text
        );
    }
    if reply.status == 404 {
        assert!(
            reply.text.contains("does not exist"),
            "{method} {route}: {}",
            reply.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_every_bad_token() {
    let app = App::start().await;
    let w = world(&app).await;
    let account = app
        .call("GET", &format!("/v1/organizations/{}", w.org), None)
        .await
        .body["data"]["aliases"]["accountUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Let the one-second token expire.
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let mut checked = 0;
    for r in catalogue() {
        let path = path_for(&r, &w).replace("/accounts//", &format!("/accounts/{account}/"));
        for (method, need) in &r.requirements {
            let Some(permission) = need.permission else {
                // The public routes (`GET /openapi.json`, the reference page and its
                // viewer, the console's three files) answer every token, and none, with what they serve.
                for token in [
                    None,
                    Some("not-a-token"),
                    Some(w.tokens["revoked"].as_str()),
                ] {
                    let reply = app.send(method, &path, token, &[], None).await;
                    assert_eq!(reply.status, 200, "{method} {}: {}", r.route, reply.text);
                    if *method == "HEAD" {
                        assert!(reply.text.is_empty(), "HEAD {}: a body", r.route);
                        checked += 1;
                        continue;
                    }
                    match r.component {
                        "openapi" => assert_eq!(reply.body["openapi"], "3.1.0"),
                        "reference" => assert!(reply.text.contains("<rapi-doc")),
                        "reference-rapidoc" => assert!(reply.text.contains("rapi-doc")),
                        "console" => assert!(reply.text.contains("console.js")),
                        "console-js" => assert!(reply.text.contains("sessionStorage")),
                        "console-css" => assert!(reply.text.contains("@media")),
                        other => panic!("{other}: a public route this test does not know"),
                    }
                    checked += 1;
                }
                continue;
            };
            let under = if permission.to_string() == "mdm.global.audit.read" {
                "outbox-only"
            } else {
                "audit-only"
            };
            let cases = [
                (Bad::Missing, None),
                (Bad::Wrong, Some(format!("rst_{}", "0".repeat(64)))),
                (Bad::Wrong, Some("not-a-token".to_owned())),
                (Bad::Expired, Some(w.tokens["expired"].clone())),
                (Bad::Revoked, Some(w.tokens["revoked"].clone())),
                (Bad::Foreign, Some(w.tokens["foreign"].clone())),
                (Bad::UnderPrivileged, Some(w.tokens[under].clone())),
            ];
            for (bad, token) in cases {
                let reply = app
                    .send(method, &path, token.as_deref(), &[], Some("{}".into()))
                    .await;
                // HEAD answers GET's status and headers without the body (RFC 9110
                // §9.3.2): its status is checked as GET's, its body is empty.
                let head = *method == "HEAD";
                if head {
                    assert!(
                        reply.text.is_empty(),
                        "HEAD {} with a {bad:?} token has a body: {}",
                        r.route,
                        reply.text
                    );
                }
                if r.surface == Surface::Wso2 && bad == Bad::Foreign {
                    if head {
                        assert!([200, 400, 404].contains(&reply.status), "HEAD {}", r.route);
                    } else {
                        assert_foreign_wso2(method, r.route, &w, &reply);
                    }
                    checked += 1;
                    continue;
                }
                let (status, code) = expected(r.surface, bad, need.global_only);
                assert_eq!(
                    reply.status, status,
                    "{method} {} with a {bad:?} token: {}",
                    r.route, reply.text
                );
                if let Some(code) = code.filter(|_| !head) {
                    assert_eq!(
                        code_of(r.surface, &reply),
                        Some(code),
                        "{method} {} with a {bad:?} token: {}",
                        r.route,
                        reply.text
                    );
                }
                checked += 1;
            }
            // A valid token gets past authentication and authorization.
            let token = if need.global_only {
                app.admin_token.clone()
            } else {
                w.tokens["valid"].clone()
            };
            let reply = app
                .send(method, &path, Some(&token), &[], Some("{}".into()))
                .await;
            assert!(
                ![401, 403, 405, 429].contains(&reply.status),
                "{method} {} with a valid token: {} {}",
                r.route,
                reply.status,
                reply.text
            );
        }
    }
    assert!(checked > 200, "{checked} refusals checked");
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_headers_per_token() {
    let app = App::start().await;
    let org = app
        .org_with(json!({"name": "Slow", "slug": "slow", "policy": {"rateLimitPerMinute": 3}}))
        .await;
    let (_, a) = token(&app, &org, &["*"], None).await;
    let (_, b) = token(&app, &org, &["*"], None).await;
    let count = format!("/v1/organizations/{org}/mdm/users/count");
    // Within one window the fourth request is refused; a window that turns over while
    // we count only moves the refusal later, so look at up to seven requests.
    let mut refused = None;
    let mut remaining = Vec::new();
    for i in 0..7 {
        let reply = app.send("GET", &count, Some(&a), &[], None).await;
        assert_eq!(reply.header("x-ratelimit-limit"), Some("3"));
        remaining.push(reply.header("x-ratelimit-remaining").unwrap().to_owned());
        if reply.status == 429 {
            refused = Some((i, reply));
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let (i, reply) = refused.expect("the limit is enforced");
    assert!(i >= 3, "refused too early: {remaining:?}");
    assert_eq!(reply.body["error"]["code"], 4029);
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = reply.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    // Another token has its own budget.
    let other = app.send("GET", &count, Some(&b), &[], None).await;
    assert_eq!(other.status, 200, "{}", other.text);
    app.assert_consistent();
}

/// Every component uses the `ratelimit` store, which only a runtime config defines: the
/// app does not start without one, as Spin refuses it.
#[tokio::test]
async fn the_app_needs_a_runtime_config_defining_ratelimit() {
    let cfg = roster_host::HostConfig {
        manifest: roster_tests::root().join("spin.toml"),
        store: roster_host::StoreChoice::Memory,
        variables: std::collections::HashMap::from([("admin_token".to_owned(), "x".to_owned())]),
        ..roster_host::HostConfig::default()
    };
    let err = roster_host::Host::new(cfg)
        .await
        .err()
        .expect("startup fails");
    assert!(
        err.to_string()
            .starts_with("unknown key_value_stores label \"ratelimit\" for component"),
        "{err}"
    );
}

/// Reads make no durable write: the rate-limit counters go to the `ratelimit` store
/// (in memory or on Redis, per the runtime config), never to `default`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_write_nothing_to_the_default_store() {
    let app = App::start().await;
    let org = app.org("readonly").await;
    let id = app.user(&org, "reader").await;
    let (_, secret) = token(&app, &org, &["*"], None).await;
    let user = format!("/v1/organizations/{org}/mdm/users/{id}");
    let counts = app.host.kv().counts();
    let (default0, limits0) = (counts.get("default"), counts.get("ratelimit"));
    for bearer in [secret.as_str(), app.admin_token.as_str()] {
        for _ in 0..3 {
            let reply = app.send("GET", &user, Some(bearer), &[], None).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert!(reply.header("x-ratelimit-remaining").is_some());
        }
    }
    let (default1, limits1) = (counts.get("default"), counts.get("ratelimit"));
    assert_eq!(default1.writes, default0.writes, "a GET wrote to `default`");
    // Per GET: the token and its organization (organization token only), the user.
    assert!(
        default1.reads >= default0.reads + 6,
        "{default0:?} -> {default1:?}"
    );
    // One increment per GET (and a delete on the first request of a window).
    assert!(
        limits1.writes >= limits0.writes + 6,
        "{limits0:?} -> {limits1:?}"
    );
    assert_eq!(limits1.reads, limits0.reads, "the limiter only increments");
    // A refused request reads the token store only, and writes nowhere.
    let refused = app.send("GET", &user, Some("nope"), &[], None).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(counts.get("default").writes, default1.writes);
    assert_eq!(counts.get("ratelimit"), limits1);
    if roster_tests::backend() == roster_tests::Backend::Memory {
        // Spin's SQLite store keeps labels apart (Redis ignores them).
        let kv = app.host.kv();
        assert!(
            kv.keys("default")
                .unwrap()
                .iter()
                .all(|k| !k.starts_with("ratelimit/")),
            "a counter in `default`"
        );
        assert!(
            kv.keys("ratelimit")
                .unwrap()
                .iter()
                .all(|k| k.starts_with("ratelimit/")),
            "only counters in `ratelimit`"
        );
        assert!(!kv.keys("ratelimit").unwrap().is_empty());
    }
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_scoped_revocable_and_never_escalate() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let other = app.org("other").await;
    let (id, secret) = token(
        &app,
        &org,
        &["mdm.global.mdmUser.*", "mdm.global.token.*"],
        None,
    )
    .await;
    assert!(secret.starts_with("rst_") && secret.len() == 68);
    // The secret is never listed, stored or shown again.
    let list = app
        .call("GET", &format!("/v1/organizations/{org}/tokens"), None)
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(!list.text.contains(&secret[4..]));
    assert!(
        list.body["data"]["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    for (k, v) in app.snapshot() {
        assert!(!k.contains(&secret[4..]) && !String::from_utf8_lossy(&v).contains(&secret[4..]));
    }
    // It works for its organization, reads another as missing, and global routes are
    // not for it.
    let mine = app
        .send(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users"),
            Some(&secret),
            &[],
            None,
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let theirs = app
        .send(
            "GET",
            &format!("/v1/organizations/{other}/mdm/users"),
            Some(&secret),
            &[],
            None,
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.text);
    let global = app
        .send("GET", "/v1/organizations", Some(&secret), &[], None)
        .await;
    assert_eq!(global.status, 403, "{}", global.text);
    // No escalation: it cannot mint a token with more than it holds.
    let more = app
        .send(
            "POST",
            &format!("/v1/organizations/{org}/tokens"),
            Some(&secret),
            &[],
            Some(json!({"name": "x", "permissions": ["*"]}).to_string()),
        )
        .await;
    assert_eq!(more.status, 403, "{}", more.text);
    assert!(more.text.contains("permissions[0]"), "{}", more.text);
    let ok = app
        .send(
            "POST",
            &format!("/v1/organizations/{org}/tokens"),
            Some(&secret),
            &[],
            Some(json!({"name": "x", "permissions": ["mdm.global.mdmUser.read"]}).to_string()),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    // Bad requests name the field.
    let bad = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/tokens"),
            Some(json!({"name": "x", "permissions": ["mdm.global.nothing.read"]})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("permissions[0]"), "{}", bad.text);
    // An owner that is no user of the organization is the body's fault (400 naming
    // `ownerUserId`), not a missing resource (404).
    let nobody = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/tokens"),
            Some(json!({"name": "x", "permissions": ["*"], "ownerUserId": "0123456789abcdef01234567"})),
        )
        .await;
    assert_eq!(nobody.status, 400, "{}", nobody.text);
    assert_eq!(nobody.body["error"]["code"], 1001, "{}", nobody.text);
    assert!(nobody.text.contains("ownerUserId"), "{}", nobody.text);
    // Revoked: unauthorized from then on.
    let r = app
        .call(
            "DELETE",
            &format!("/v1/organizations/{org}/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["state"], "revoked", "{}", r.text);
    let after = app
        .send(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users"),
            Some(&secret),
            &[],
            None,
        )
        .await;
    assert_eq!(after.status, 401, "{}", after.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_tokens_are_minted_by_the_admin_and_scoped() {
    let app = App::start().await;
    // Global tokens: created by the admin on /v1/tokens, listed there.
    let g = app
        .call(
            "POST",
            "/v1/tokens",
            Some(json!({"name": "ops", "permissions": ["mdm.global.organization.read"]})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let gs = g.body["data"]["secret"].as_str().unwrap();
    let orgs = app
        .send("GET", "/v1/organizations", Some(gs), &[], None)
        .await;
    assert_eq!(orgs.status, 200, "{}", orgs.text);
    let denied = app
        .send(
            "POST",
            "/v1/organizations",
            Some(gs),
            &[],
            Some("{}".into()),
        )
        .await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_deeply_nested_bodies_are_refused() {
    let app = App::start().await;
    let org = app.org("acme").await;
    let users = format!("/v1/organizations/{org}/mdm/users");
    let big = format!("{{\"username\":\"{}\"}}", "x".repeat(70 * 1024));
    let r = app
        .send("POST", &users, Some(&app.admin_token), &[], Some(big))
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.body["error"]["code"], 1003);
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let r = app
        .send("POST", &users, Some(&app.admin_token), &[], Some(deep))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("nested deeper"), "{}", r.text);
    // The fields of a user as an array, in order: serde's derived decoder would take
    // them; the API documents an object, so the body is refused and nobody is created.
    let r = app
        .call("POST", &users, Some(json!(["kim", "kim@example.com"])))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("must be a JSON object"), "{}", r.text);
    let listed = app.call("GET", &users, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(!listed.text.contains("kim@example.com"), "{}", listed.text);
    let control = app
        .call(
            "POST",
            &users,
            Some(json!({"username": "kim", "email": "kim@example.com", "firstName": "a\u{7}b"})),
        )
        .await;
    assert_eq!(control.status, 400, "{}", control.text);
    assert!(control.text.contains("firstName"), "{}", control.text);
    let unknown = app
        .call(
            "POST",
            &users,
            Some(json!({"username": "kim", "email": "kim@example.com", "nickname": "k"})),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.text.contains("nickname"), "{}", unknown.text);
    app.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_is_served_without_a_token_compressed_where_accepted() {
    let app = App::start().await;
    let file = std::fs::read_to_string(roster_tests::root().join("docs/openapi.json")).unwrap();
    let plain = app.send("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text, file);
    let packed = app
        .send(
            "GET",
            "/openapi.json",
            None,
            &[("accept-encoding", "gzip, deflate")],
            None,
        )
        .await;
    assert_eq!(packed.status, 200);
    assert_eq!(packed.header("content-encoding"), Some("deflate"));
    assert_eq!(packed.header("vary"), Some("accept-encoding"));
    let post = app.send("POST", "/openapi.json", None, &[], None).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = app.send("HEAD", "/openapi.json", None, &[], None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert!(head.text.is_empty(), "a HEAD answer has no body");
}
