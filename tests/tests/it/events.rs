//! Pushed lifecycle events through the real components: subscribers (a SET one and a
//! CloudEvents one) receive a removal from a local test receiver that fails and then
//! recovers; the removal itself neither waits for nor fails because of a subscriber;
//! retries, signatures that verify with the secret shown once, the events' fields;
//! the personal data gone once acknowledged; dead-lettering after 8 failures and
//! replay; a host the operator did not allow (`event_hosts`); validation naming the
//! field; permissions. Every test ends with the invariants checker.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use roster_tests::{App, assert_error};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// The test receiver: answers 503 to the first `fail_first` requests of each path
/// (`/set`, `/ce`), always 500 on `/dead` while `dead_fails`, 400 with RFC 8935's JSON
/// error on `/reject`, never on `/hang` (it keeps the connection open), 202 otherwise;
/// each answer after `delay_ms`.
#[derive(Debug, Default)]
struct Receiver {
    got: Vec<Received>,
    fail_first: usize,
    dead_fails: bool,
    delay_ms: u64,
}

type Shared = Arc<Mutex<Receiver>>;

async fn start_receiver(fail_first: usize) -> (Shared, u16) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        fail_first,
        dead_fails: true,
        ..Receiver::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = shared.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                })
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                            if path == "/hang" {
                                state.lock().unwrap().got.push(Received {
                                    path,
                                    headers,
                                    body,
                                });
                                std::future::pending::<()>().await;
                                unreachable!();
                            }
                            let delay = state.lock().unwrap().delay_ms;
                            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                            if path == "/reject" {
                                state.lock().unwrap().got.push(Received {
                                    path,
                                    headers,
                                    body,
                                });
                                return Ok(hyper::Response::builder()
                                    .status(400)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(
                                        br#"{"err":"invalid_audience","description":"not for us"}"#,
                                    )))
                                    .unwrap());
                            }
                            let status = {
                                let mut r = state.lock().unwrap();
                                let seen = r.got.iter().filter(|g| g.path == path).count();
                                r.got.push(Received {
                                    path: path.clone(),
                                    headers,
                                    body,
                                });
                                if path == "/dead" {
                                    if r.dead_fails { 500 } else { 202 }
                                } else if seen < r.fail_first {
                                    503
                                } else {
                                    202
                                }
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (shared, port)
}

fn base(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

async fn subscribe(app: &App, org: &str, body: Value) -> Value {
    let r = app
        .call(
            "POST",
            &format!("{}/event-subscriptions", base(org)),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(r.body["data"]["id"].as_str().unwrap())
    );
    r.body["data"].clone()
}

async fn run(app: &App, org: &str) -> Value {
    let r = app
        .call("POST", &format!("{}/event-deliveries/run", base(org)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].clone()
}

async fn deliveries(app: &App, org: &str, query: &str) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            &format!("{}/event-deliveries{query}", base(org)),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]["deliveries"].as_array().unwrap().clone()
}

fn key(secret: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn store_text(app: &App) -> String {
    app.snapshot()
        .values()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_removal_is_pushed_to_subscribers_that_fail_then_recover() {
    let (rx, port) = start_receiver(1).await;
    let allowed = format!("http://127.0.0.1:{port}");
    let app = App::start_with_variables(&[("event_hosts", &allowed)]).await;
    let org = app.org("events").await;
    let set = subscribe(
        &app,
        &org,
        json!({"url": format!("{allowed}/set"), "events": ["user.removed"], "format": "set", "retryBaseSeconds": 0}),
    )
    .await;
    let ce = subscribe(
        &app,
        &org,
        json!({"url": format!("{allowed}/ce"), "events": ["user.removed", "user.restored"], "format": "cloudevents", "retryBaseSeconds": 0}),
    )
    .await;
    assert!(set["secret"].as_str().unwrap().starts_with("whsec_"));
    // The secret is shown once: never in a list or a read.
    let list = app
        .call("GET", &format!("{}/event-subscriptions", base(&org)), None)
        .await;
    assert_eq!(
        list.body["data"]["subscriptions"].as_array().unwrap().len(),
        2
    );
    assert!(!list.text.contains("whsec_"), "{}", list.text);
    let one = app
        .call(
            "GET",
            &format!(
                "{}/event-subscriptions/{}",
                base(&org),
                ce["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(one.body["data"]["format"], "cloudevents");
    assert!(one.body["data"].get("secret").is_none());

    let id = app.user(&org, "kim").await;
    let removed = app
        .call("DELETE", &format!("{}/mdm/users/{id}", base(&org)), None)
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    // The removal sent nothing itself: delivery happens only when the scheduler runs.
    assert!(rx.lock().unwrap().got.is_empty());
    let pending = deliveries(&app, &org, "?state=pending").await;
    assert_eq!(pending.len(), 2, "{pending:?}");

    // First run: the receiver fails both (503); retried.
    let r = run(&app, &org).await;
    assert_eq!(
        (r["attempted"].as_u64(), r["retrying"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    let open = deliveries(&app, &org, "").await;
    assert!(
        open.iter()
            .all(|d| d["attempts"] == 1 && d["lastStatus"] == 503),
        "{open:?}"
    );
    // Until acknowledged, the queued event holds the address (documented).
    assert!(store_text(&app).contains("kim@example.com"));

    // Second run: the receiver recovered.
    let r = run(&app, &org).await;
    assert_eq!(
        (r["attempted"].as_u64(), r["delivered"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert!(deliveries(&app, &org, "").await.is_empty());
    let r = run(&app, &org).await;
    assert_eq!(r["attempted"], 0, "{r}");
    // Acknowledged: no value in the store holds the user's username or email.
    let text = store_text(&app);
    assert!(!text.contains("kim@example.com") && !text.contains("\"kim\""));

    let got = rx.lock().unwrap().got.clone();
    assert_eq!(got.len(), 4);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    // Every request carried a Content-Length (RFC 8935 receivers expect one), never
    // a chunked body.
    for g in &got {
        assert_eq!(
            g.headers.get("content-length").map(String::as_str),
            Some(g.body.len().to_string().as_str()),
            "{:?}",
            g.headers
        );
        assert!(
            !g.headers.contains_key("transfer-encoding"),
            "{:?}",
            g.headers
        );
    }
    let last_set = got.iter().rev().find(|g| g.path == "/set").unwrap();
    assert_eq!(last_set.headers["content-type"], "application/secevent+jwt");
    let jwt = String::from_utf8(last_set.body.clone()).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let sig = hmac(
        &key(set["secret"].as_str().unwrap()),
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
    );
    assert_eq!(
        b64.encode(sig),
        parts[2],
        "the SET's HS256 signature verifies"
    );
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["sub_id"],
        json!({"format": "scim", "uri": format!("/Users/{id}")})
    );
    assert_eq!(claims["aud"], format!("{allowed}/set"));
    let event = &claims["events"]["urn:ietf:params:scim:event:prov:delete"]["resource"];
    assert_eq!(event["action"], "user.removed");
    assert_eq!(event["user"]["userName"], "kim");
    assert_eq!(event["user"]["email"], "kim@example.com");
    assert_eq!(event["organizationId"], org);
    assert!(event["subject"].as_str().unwrap().starts_with("psn_"));

    let last_ce = got.iter().rev().find(|g| g.path == "/ce").unwrap();
    assert_eq!(
        last_ce.headers["content-type"],
        "application/cloudevents+json"
    );
    let body: Value = serde_json::from_slice(&last_ce.body).unwrap();
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["type"], "dev.roster.user.removed");
    assert_eq!(body["source"], format!("/v1/organizations/{org}"));
    assert_eq!(body["data"]["user"]["userId"], id);
    let signed = format!(
        "{}.{}.{}",
        last_ce.headers["webhook-id"],
        last_ce.headers["webhook-timestamp"],
        String::from_utf8(last_ce.body.clone()).unwrap()
    );
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac(
        &key(ce["secret"].as_str().unwrap()),
        signed.as_bytes(),
    ));
    assert_eq!(last_ce.headers["webhook-signature"], format!("v1,{sig}"));
    // The same event both times (at-least-once: a receiver dedupes by id).
    let first_ce = got.iter().find(|g| g.path == "/ce").unwrap();
    assert_eq!(
        first_ce.headers["webhook-id"],
        last_ce.headers["webhook-id"]
    );
    app.assert_consistent();
}

#[tokio::test]
async fn a_subscriber_that_keeps_failing_is_dead_lettered_and_replayed() {
    let (rx, port) = start_receiver(0).await;
    let allowed = format!("http://127.0.0.1:{port}");
    let app = App::start_with_variables(&[("event_hosts", &allowed)]).await;
    let org = app.org("deadletters").await;
    let sub = subscribe(
        &app,
        &org,
        json!({"url": format!("{allowed}/dead"), "events": ["user.hold_placed"], "format": "cloudevents", "retryBaseSeconds": 0}),
    )
    .await;
    let id = app.user(&org, "lee").await;
    let r = app
        .call(
            "PUT",
            &format!("{}/mdm/users/{id}/hold", base(&org)),
            Some(json!({"reason": "matter 9"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for attempt in 1..=8 {
        let r = run(&app, &org).await;
        assert_eq!(r["attempted"], 1, "attempt {attempt}: {r}");
        if attempt < 8 {
            assert_eq!(r["retrying"], 1, "attempt {attempt}: {r}");
        } else {
            assert_eq!(r["dead"], 1, "{r}");
        }
    }
    assert_eq!(run(&app, &org).await["attempted"], 0);
    let dead = deliveries(&app, &org, "?state=dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 8);
    assert_eq!(dead[0]["lastStatus"], 500);
    assert_eq!(dead[0]["eventType"], "user.hold_placed");
    assert_eq!(dead[0]["subscriptionId"], sub["id"]);
    assert!(deliveries(&app, &org, "?state=pending").await.is_empty());
    // The reason of a hold never travels (like the audit).
    assert!(
        rx.lock()
            .unwrap()
            .got
            .iter()
            .all(|g| !String::from_utf8_lossy(&g.body).contains("matter 9"))
    );

    // Replay once the receiver recovered.
    rx.lock().unwrap().dead_fails = false;
    let replay_path = format!(
        "{}/event-deliveries/{}/replay",
        base(&org),
        dead[0]["id"].as_str().unwrap()
    );
    let r = app.call("POST", &replay_path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["state"], "pending");
    assert_eq!(r.body["data"]["attempts"], 0);
    // A delivery that is not dead-lettered is not replayed: 400 naming deliveryId.
    let again = app.call("POST", &replay_path, None).await;
    assert_error(&again, 400, 1001);
    assert!(again.text.contains("deliveryId"), "{}", again.text);
    let r = run(&app, &org).await;
    assert_eq!(r["delivered"], 1, "{r}");
    assert!(deliveries(&app, &org, "").await.is_empty());
    assert_eq!(rx.lock().unwrap().got.len(), 9);
    app.assert_consistent();
}

#[tokio::test]
async fn a_host_the_operator_did_not_allow_is_never_reached_and_the_removal_goes_on() {
    let (rx, port) = start_receiver(0).await;
    // Nothing set: `event_hosts` keeps its default, which allows no real host.
    let app = App::start().await;
    assert_eq!(
        app.host.variable("event_hosts"),
        Some("https://events.invalid")
    );
    let org = app.org("nohosts").await;
    subscribe(
        &app,
        &org,
        json!({"url": format!("http://127.0.0.1:{port}/set"), "events": ["user.removed", "user.soft_removed"], "format": "set"}),
    )
    .await;
    let id = app.user(&org, "ana").await;
    let removed = app
        .call("DELETE", &format!("{}/mdm/users/{id}", base(&org)), None)
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let r = run(&app, &org).await;
    assert_eq!(
        (r["attempted"].as_u64(), r["retrying"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let open = deliveries(&app, &org, "").await;
    assert_eq!(open[0]["lastStatus"], Value::Null, "{open:?}");
    // The host's HttpRequestDenied (as Spin answers it), in words.
    assert_eq!(
        open[0]["lastError"],
        "destination not allowed by event_hosts (spin.toml allowed_outbound_hosts)",
        "{open:?}"
    );
    // The default backoff (30 s): not due at the next run.
    assert_eq!(run(&app, &org).await["attempted"], 0);
    assert!(rx.lock().unwrap().got.is_empty());
    app.assert_consistent();
}

#[tokio::test]
async fn subscriptions_are_validated_and_need_their_permission() {
    let app = App::start().await;
    let org = app.org("eventperms").await;
    let path = format!("{}/event-subscriptions", base(&org));
    for (body, field) in [
        (
            json!({"url": "http://hooks.example.com/x", "events": ["user.removed"], "format": "set"}),
            "url",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": [], "format": "set"}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["user.renamed"], "format": "set"}),
            "events[0]",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["user.removed"], "format": "xml"}),
            "format",
        ),
    ] {
        let r = app.call("POST", &path, Some(body)).await;
        assert_error(&r, 400, 1001);
        assert!(r.text.contains(&format!("invalid {field}")), "{}", r.text);
    }
    let reader = app
        .org_token(&org, json!(["mdm.global.eventSubscription.read"]), None)
        .await;
    let body =
        json!({"url": "https://hooks.example.com/x", "events": ["user.removed"], "format": "set"})
            .to_string();
    let r = app
        .send("POST", &path, Some(&reader), &[], Some(body.clone()))
        .await;
    assert_error(&r, 403, 4003);
    let r = app.send("GET", &path, Some(&reader), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let run_path = format!("{}/event-deliveries/run", base(&org));
    let r = app.send("POST", &run_path, Some(&reader), &[], None).await;
    assert_error(&r, 403, 4003);
    // mdm.global.mdmUser.* (what removes users) manages no subscriber.
    let remover = app
        .org_token(&org, json!(["mdm.global.mdmUser.*"]), None)
        .await;
    let r = app
        .send("POST", &path, Some(&remover), &[], Some(body))
        .await;
    assert_error(&r, 403, 4003);
    let r = app
        .call("DELETE", &format!("{path}/0123456789abcdef01234567"), None)
        .await;
    assert_error(&r, 404, 3001);
    app.assert_consistent();
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_retried() {
    let (rx, port) = start_receiver(0).await;
    let allowed = format!("http://127.0.0.1:{port}");
    let app = App::start_with_variables(&[("event_hosts", &allowed)]).await;
    let org = app.org("hangs").await;
    subscribe(
        &app,
        &org,
        json!({"url": format!("{allowed}/hang"), "events": ["user.removed"], "format": "set", "retryBaseSeconds": 0}),
    )
    .await;
    let id = app.user(&org, "ivo").await;
    let removed = app
        .call("DELETE", &format!("{}/mdm/users/{id}", base(&org)), None)
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    // The receiver reads the request and never answers: the run ends after the
    // first-byte timeout (10 s), not when the connection ends.
    let started = std::time::Instant::now();
    let r = run(&app, &org).await;
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(9) && took < std::time::Duration::from_secs(25),
        "{took:?}"
    );
    assert_eq!(
        (r["attempted"].as_u64(), r["retrying"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let open = deliveries(&app, &org, "").await;
    assert_eq!(open[0]["state"], "pending", "{open:?}");
    assert_eq!(open[0]["lastStatus"], Value::Null, "{open:?}");
    assert_eq!(
        open[0]["lastError"], "timed out waiting for the first byte (after 10 s)",
        "{open:?}"
    );
    // Retried at the next run (retryBaseSeconds 0), and so on until it answers.
    let r = run(&app, &org).await;
    assert_eq!(r["attempted"], 1, "{r}");
    assert_eq!(deliveries(&app, &org, "").await[0]["attempts"], 2);
    assert_eq!(rx.lock().unwrap().got.len(), 2);
    app.assert_consistent();
}

#[tokio::test]
async fn concurrent_runs_send_each_event_once() {
    let (rx, port) = start_receiver(0).await;
    // Slow answers, so that the runs overlap.
    rx.lock().unwrap().delay_ms = 150;
    let allowed = format!("http://127.0.0.1:{port}");
    let app = App::start_with_variables(&[("event_hosts", &allowed)]).await;
    let org = app.org("overlaps").await;
    subscribe(
        &app,
        &org,
        json!({"url": format!("{allowed}/set"), "events": ["user.removed"], "format": "set", "retryBaseSeconds": 0}),
    )
    .await;
    for i in 0..10 {
        let id = app.user(&org, &format!("user{i}")).await;
        let removed = app
            .call("DELETE", &format!("{}/mdm/users/{id}", base(&org)), None)
            .await;
        assert_eq!(removed.status, 200, "{}", removed.text);
    }
    let (a, b, c, d) = tokio::join!(
        run(&app, &org),
        run(&app, &org),
        run(&app, &org),
        run(&app, &org)
    );
    let reports = [a, b, c, d];
    let attempted: u64 = reports
        .iter()
        .map(|r| r["attempted"].as_u64().unwrap())
        .sum();
    let got = rx.lock().unwrap().got.clone();
    let mut ids: Vec<String> = got
        .iter()
        .map(|g| {
            let jwt = String::from_utf8(g.body.clone()).unwrap();
            let claims = jwt.split('.').nth(1).unwrap().to_owned();
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(claims)
                    .unwrap(),
            )
            .unwrap();
            claims["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (got.len(), ids.len(), attempted),
        (10, 10, 10),
        "{reports:?}"
    );
    // The runs did overlap: some skipped deliveries another run held.
    assert!(
        reports.iter().any(|r| r["leased"].as_u64().unwrap() > 0),
        "{reports:?}"
    );
    assert!(deliveries(&app, &org, "").await.is_empty());
    app.assert_consistent();
}

#[tokio::test]
async fn refused_connections_and_rejected_sets_say_why() {
    let (rx, port) = start_receiver(0).await;
    // A loopback port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = App::start_with_variables(&[("event_hosts", "http://127.0.0.1:*")]).await;
    let org = app.org("refusals").await;
    let refused = subscribe(
        &app,
        &org,
        json!({"url": format!("http://127.0.0.1:{closed}/in"), "events": ["user.removed"], "format": "cloudevents", "retryBaseSeconds": 0}),
    )
    .await;
    let rejecting = subscribe(
        &app,
        &org,
        json!({"url": format!("http://127.0.0.1:{port}/reject"), "events": ["user.removed"], "format": "set", "retryBaseSeconds": 0}),
    )
    .await;
    let id = app.user(&org, "eve").await;
    let removed = app
        .call("DELETE", &format!("{}/mdm/users/{id}", base(&org)), None)
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let r = run(&app, &org).await;
    // The SET answered 400 with a JSON error: dead at once (RFC 8935 §2.4); the
    // refused connection: retried.
    assert_eq!(
        (
            r["attempted"].as_u64(),
            r["dead"].as_u64(),
            r["retrying"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{r}"
    );
    let open = deliveries(&app, &org, "").await;
    let of = |sub: &Value| {
        open.iter()
            .find(|d| d["subscriptionId"] == sub["id"])
            .unwrap()
            .clone()
    };
    let d = of(&refused);
    assert_eq!(
        (d["state"].as_str(), d["lastError"].as_str()),
        (Some("pending"), Some("connection refused")),
        "{d}"
    );
    let d = of(&rejecting);
    assert_eq!(d["state"], "dead", "{d}");
    assert_eq!(d["lastStatus"], 400, "{d}");
    let why = d["lastError"].as_str().unwrap();
    assert!(
        why.contains("invalid_audience") && !why.contains("not for us"),
        "{why}"
    );
    // Not retried: the next run sends only the refused one again.
    let r = run(&app, &org).await;
    assert_eq!(r["attempted"], 1, "{r}");
    assert_eq!(rx.lock().unwrap().got.len(), 1);
    app.assert_consistent();
}

#[tokio::test]
async fn the_21st_subscription_is_refused_naming_the_list() {
    let app = App::start().await;
    let org = app.org("manysubs").await;
    let body =
        json!({"url": "https://hooks.example.com/x", "events": ["user.removed"], "format": "set"});
    for _ in 0..20 {
        subscribe(&app, &org, body.clone()).await;
    }
    let r = app
        .call(
            "POST",
            &format!("{}/event-subscriptions", base(&org)),
            Some(body),
        )
        .await;
    assert_error(&r, 400, 1001);
    assert!(
        r.text
            .contains("invalid subscriptions: an organization has at most 20 event subscriptions"),
        "{}",
        r.text
    );
    app.assert_consistent();
}
