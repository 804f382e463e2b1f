//! The headers of Roster's answers against `docs/openapi.json`. Every answer any
//! integration test gets through `App::send` is already held to the description
//! (`roster_tests::openapi::headers_broken`); this module proves that check can fail,
//! and sends the answers a break test found undescribed — the bearer challenge of each
//! surface's 401, the rate-limit headers (on every counted answer, never on a 401), a
//! device's `ETag`, SCIM's 304, the static files' security headers — asserting them
//! one by one.

use roster_tests::openapi::headers_broken;
use roster_tests::{App, Reply};
use serde_json::{Value, json};

/// A reply with `status` and `headers`, as if Roster had sent it.
fn reply(status: u16, headers: &[(&'static str, &str)]) -> Reply {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().unwrap());
    }
    Reply {
        status,
        headers: map,
        body: Value::Null,
        text: String::new(),
    }
}

const RATE: [(&str, &str); 3] = [
    ("x-ratelimit-limit", "600"),
    ("x-ratelimit-remaining", "599"),
    ("x-ratelimit-reset", "42"),
];

const USER: &str = "/v1/organizations/acme/mdm/users/0123456789abcdef01234567";

#[test]
fn the_check_reports_what_the_description_does_not_say() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h = RATE.to_vec();
        h.extend_from_slice(extra);
        h
    };
    // A user as described: its ETag and the rate limit.
    let ok = reply(
        200,
        &with(&[("etag", "\"3\""), ("content-type", "application/json")]),
    );
    assert_eq!(headers_broken("GET", USER, &ok), Vec::<String>::new());
    // A header nobody describes.
    let extra = reply(200, &with(&[("etag", "\"3\""), ("x-debug", "1")]));
    assert_eq!(
        headers_broken("GET", USER, &extra),
        vec!["x-debug: sent, not described".to_owned()]
    );
    // A required header missing, and a value of the wrong type.
    let mut h = with(&[]);
    h[1] = ("x-ratelimit-remaining", "many");
    let broken = headers_broken("GET", USER, &reply(200, &h));
    assert_eq!(broken.len(), 2, "{broken:#?}");
    assert!(
        broken
            .iter()
            .any(|b| b.starts_with("etag: described as required"))
    );
    assert!(broken.iter().any(|b| b.contains("\"many\"")));
    // A 401 carries no rate-limit headers, and its surface's challenge.
    let counted_401 = reply(401, &RATE);
    let broken = headers_broken("GET", USER, &counted_401);
    assert_eq!(broken.len(), 4, "{broken:#?}");
    assert!(broken.contains(&"www-authenticate: described as required, not sent".to_owned()));
    let scim = "/v1/organizations/acme/scim/v2/Users";
    let bare_401 = reply(401, &[]);
    assert_eq!(
        headers_broken("GET", scim, &bare_401),
        vec!["www-authenticate: described as required, not sent".to_owned()]
    );
    // A status the operation does not document.
    assert_eq!(
        headers_broken("GET", USER, &reply(418, &[])),
        vec![
            "GET /v1/organizations/{organizationId}/mdm/users/{mdmUserId} does not document 418"
                .to_owned()
        ]
    );
    // What no operation describes is not checked: the host's 404, a method not served.
    assert!(headers_broken("GET", "/nowhere/at/all", &reply(404, &[("x-debug", "1")])).is_empty());
    assert!(headers_broken("POST", USER, &reply(405, &[("allow", "GET")])).is_empty());
    // The literal route wins over the template it also matches.
    assert!(
        headers_broken(
            "GET",
            "/v1/organizations/acme/mdm/users/count",
            &reply(200, &RATE)
        )
        .is_empty()
    );
}

/// Asserts `r` carries no `X-RateLimit-*` header.
fn assert_uncounted(r: &Reply) {
    for (name, _) in RATE {
        assert!(
            r.header(name).is_none(),
            "{name} on {}: {:?}",
            r.status,
            r.headers
        );
    }
}

/// Asserts `r` carries every `X-RateLimit-*` header.
fn assert_counted(r: &Reply) {
    for (name, _) in RATE {
        assert!(
            r.header(name).is_some(),
            "no {name} on {}: {:?}",
            r.status,
            r.headers
        );
    }
}

#[tokio::test]
async fn each_surface_sends_the_challenge_and_rate_headers_it_describes() {
    let app = App::start().await;
    let org = app.org("hdr-org").await;
    let user = app.user(&org, "hdr-user").await;
    let bad = Some("rst_0000000000000000000000000000000000000000000000000000000000000000");

    // The canonical surface, WSO2 and Dynatrace: 401 with the bearer challenge RFC 9110
    // §11.6.1 asks for (their seeds show none; `error="invalid_token"` for a bad token,
    // RFC 6750 §3.1), and no rate-limit headers.
    for (method, path) in [
        ("GET", format!("/v1/organizations/{org}/mdm/users/{user}")),
        ("GET", "/mdm-admin/users".to_owned()),
        (
            "DELETE",
            "/v1/accounts/0b7c1d1e-7a40-4a1e-9d57-0c0dbe8a7f3e/users/a@example.com".to_owned(),
        ),
    ] {
        for (token, challenge) in [
            (None, "Bearer realm=\"roster\""),
            (bad, "Bearer realm=\"roster\", error=\"invalid_token\""),
        ] {
            let r = app.send(method, &path, token, &[], None).await;
            assert_eq!(r.status, 401, "{path}: {}", r.text);
            assert_eq!(r.header("www-authenticate"), Some(challenge), "{path}");
            assert_uncounted(&r);
        }
    }
    // CAS refuses a missing or bad token with 403, uncounted.
    let cas = format!("/AdminInterface/restapi/v1/users/{user}");
    for token in [None, bad] {
        let r = app.send("DELETE", &cas, token, &[], None).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_uncounted(&r);
    }
    // SCIM: RFC 6750's challenge, with `error="invalid_token"` for a bad token.
    let scim = format!("/v1/organizations/{org}/scim/v2/Users");
    let none = app.send("GET", &scim, None, &[], None).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"roster-scim\"")
    );
    assert_uncounted(&none);
    let invalid = app.send("GET", &scim, bad, &[], None).await;
    assert_eq!(
        invalid.header("www-authenticate"),
        Some("Bearer realm=\"roster-scim\", error=\"invalid_token\"")
    );
    assert_uncounted(&invalid);
    // API Management: `Bearer`.
    let apim = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apimService1/users/u1?api-version=2024-05-01";
    for token in [None, bad] {
        let r = app.send("GET", apim, token, &[], None).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_uncounted(&r);
    }

    // A counted request carries the rate-limit headers, errors included; the one over
    // the limit also Retry-After.
    let secret = app.org_token(&org, json!(["*"]), Some(2)).await;
    let path = format!("/v1/organizations/{org}/mdm/users/{user}");
    let first = app
        .send("GET", &path, Some(secret.as_str()), &[], None)
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_counted(&first);
    let missing = format!("/v1/organizations/{org}/mdm/users/0123456789abcdef01234567");
    let not_found = app
        .send("GET", &missing, Some(secret.as_str()), &[], None)
        .await;
    assert_eq!(not_found.status, 404, "{}", not_found.text);
    assert_counted(&not_found);
    // Two per minute: within a few requests one is refused, whatever minute they
    // straddle.
    let mut limited = None;
    for _ in 0..6 {
        let r = app
            .send("GET", &path, Some(secret.as_str()), &[], None)
            .await;
        assert_counted(&r);
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("a request over the limit is refused");
    assert!(limited.header("retry-after").is_some());
    app.assert_consistent();
}

#[tokio::test]
async fn a_device_and_a_scim_user_carry_their_etags() {
    let app = App::start().await;
    let org = app.org("etag-org").await;
    let user = app.user(&org, "etag-user").await;
    let devices = format!("/v1/organizations/{org}/mdm/users/{user}/devices");
    let enrolled = app
        .call(
            "POST",
            &devices,
            Some(json!({"name": "Pixel 8", "type": "android", "deviceIdentifier": "356938035643809"})),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.text);
    let device = enrolled.body["data"]["id"].as_str().unwrap();
    let location = enrolled.header("location").unwrap();
    assert!(
        location.ends_with(&format!("/devices/{device}")),
        "{location}"
    );
    let path = format!("{devices}/{device}");
    let got = app.call("GET", &path, None).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let etag = got.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let head = app.call("HEAD", &path, None).await;
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    let patched = app
        .call("PATCH", &path, Some(json!({"status": "INACTIVE"})))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_ne!(
        patched.header("etag"),
        Some(etag.as_str()),
        "a change moves the ETag"
    );

    // SCIM: a weak ETag and Location on 200, and again on 304.
    let created = app
        .call(
            "POST",
            &format!("/v1/organizations/{org}/scim/v2/Users"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "scim-etag",
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let scim_user = created.header("location").unwrap();
    let scim_path = &scim_user[scim_user.find("/v1/").unwrap()..];
    let one = app.call("GET", scim_path, None).await;
    let weak = one.header("etag").unwrap().to_owned();
    assert!(weak.starts_with("W/\""), "{weak}");
    let same = app
        .send(
            "GET",
            scim_path,
            Some(&app.admin_token),
            &[("if-none-match", &weak)],
            None,
        )
        .await;
    assert_eq!(same.status, 304, "{}", same.text);
    assert_eq!(same.header("etag"), Some(weak.as_str()));
    assert_eq!(same.header("location"), one.header("location"));
    app.assert_consistent();
}

#[tokio::test]
async fn static_files_carry_their_security_headers() {
    let app = App::start().await;
    for path in [
        "/openapi.json",
        "/reference",
        "/reference/rapidoc-min.js",
        "/console",
        "/console/console.js",
        "/console/console.css",
    ] {
        for method in ["GET", "HEAD"] {
            for encoding in [None, Some("gzip, deflate")] {
                let headers: Vec<(&str, &str)> = encoding
                    .map(|e| ("accept-encoding", e))
                    .into_iter()
                    .collect();
                let r = app.send(method, path, None, &headers, None).await;
                assert_eq!(r.status, 200, "{method} {path}");
                assert_eq!(
                    r.header("x-content-type-options"),
                    Some("nosniff"),
                    "{path}"
                );
                assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
                assert_uncounted(&r);
                let page = !path.ends_with(".json");
                assert_eq!(
                    r.header("content-security-policy").is_some(),
                    page,
                    "{path}"
                );
                assert_eq!(
                    r.header("cache-control"),
                    path.starts_with("/console").then_some("no-cache"),
                    "{path}"
                );
                let deflated = r.header("vary").is_some();
                assert_eq!(
                    r.header("content-encoding").is_some(),
                    deflated && encoding.is_some(),
                    "{method} {path}"
                );
            }
        }
    }
    // The user export's answer may not be kept by any cache.
    let org = app.org("export-org").await;
    let user = app.user(&org, "export-user").await;
    let export = app
        .call(
            "GET",
            &format!("/v1/organizations/{org}/mdm/users/{user}/export"),
            None,
        )
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.header("cache-control"), Some("no-store"));
    app.assert_consistent();
}
