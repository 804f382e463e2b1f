//! Pushed events natively: a removal interrupted at every store call queues each
//! subscriber's delivery exactly once and never fails because of a subscriber; the
//! backoff schedule, dead-lettering after `MAX_ATTEMPTS`, replay; the signatures of
//! both formats verify with the secret; personal data is erased once acknowledged;
//! subscriptions are validated field by field.

use crate::helpers::{NOW, consistent, org};
use base64::Engine as _;
use futures::executor::block_on;
use hmac::{Hmac, Mac};
use roster_domain::events::{
    self, DeliveryState, EventSender, EventType, Format, NewSubscription, Outbound,
};
use roster_domain::ids::ObjectId;
use roster_domain::model::Organization;
use roster_domain::removal::{RemovalPolicy, remove_user};
use roster_domain::{MemoryStore, users};
use sha2::Sha256;
use std::cell::RefCell;

/// A receiver answering from a script of statuses (then `last` forever), keeping what
/// it was sent.
#[derive(Debug)]
struct Fake {
    script: RefCell<Vec<Result<u16, String>>>,
    last: u16,
    got: RefCell<Vec<Outbound>>,
}

impl Fake {
    fn new(script: Vec<Result<u16, String>>, last: u16) -> Self {
        Self {
            script: RefCell::new(script),
            last,
            got: RefCell::new(Vec::new()),
        }
    }
}

impl EventSender for Fake {
    fn send<'a>(&'a self, req: &'a Outbound) -> events::SendFuture<'a> {
        self.got.borrow_mut().push(req.clone());
        let mut s = self.script.borrow_mut();
        let answer = if s.is_empty() {
            Ok(self.last)
        } else {
            s.remove(0)
        };
        Box::pin(async move { answer.map(events::Answer::from) })
    }
}

fn subscribe(
    s: &MemoryStore,
    o: &Organization,
    events: &[&str],
    format: &str,
    base: Option<i64>,
) -> events::EventSubscription {
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    let new =
        NewSubscription::parse("https://hooks.example.com/in", &events, format, base).unwrap();
    block_on(events::create_subscription(s, o, new, "admin", NOW)).unwrap()
}

fn user(s: &MemoryStore, o: &Organization, name: &str) -> ObjectId {
    let new = users::NewUser::parse(
        name,
        Some(&format!("{name}@example.com")),
        Some("Kim"),
        Some("Lee"),
    )
    .unwrap();
    block_on(users::create(s, o, new, NOW)).unwrap().id
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn header<'a>(req: &'a Outbound, name: &str) -> &'a str {
    req.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap()
}

fn all_values(s: &MemoryStore) -> String {
    s.snapshot()
        .values()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_removal_interrupted_at_every_call_queues_each_delivery_exactly_once() {
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org(&s);
        subscribe(&s, &o, &["user.removed"], "set", None);
        subscribe(
            &s,
            &o,
            &["user.removed", "user.restored"],
            "cloudevents",
            None,
        );
        // A subscriber of other events only: nothing queued for it.
        subscribe(&s, &o, &["user.hold_placed"], "set", None);
        let id = user(&s, &o, "kim");
        (s, o, id)
    };
    let policy = RemovalPolicy::canonical();
    let calls = {
        let (s, o, id) = setup();
        s.clear_faults();
        block_on(remove_user(&s, &o, &id, &policy, NOW)).unwrap();
        s.calls()
    };
    for n in 1..=calls {
        let (s, o, id) = setup();
        s.fail_nth(n);
        let first = block_on(remove_user(&s, &o, &id, &policy, NOW));
        s.clear_faults();
        if first.is_err() {
            block_on(remove_user(&s, &o, &id, &policy, NOW.plus_millis(2_000))).unwrap();
        }
        let open = block_on(events::list_open(&s, &o.id, None, 100)).unwrap();
        assert_eq!(open.len(), 2, "call {n}: {open:?}");
        assert!(
            open.iter().all(|d| d.event_type == EventType::UserRemoved),
            "call {n}"
        );
        // Delivered once each, then nothing is left to send.
        let fake = Fake::new(vec![], 202);
        let r = block_on(events::run(&s, &o, &fake, 10, NOW.plus_millis(3_000))).unwrap();
        assert_eq!((r.attempted, r.delivered), (2, 2), "call {n}");
        let r = block_on(events::run(&s, &o, &fake, 10, NOW.plus_millis(4_000))).unwrap();
        assert_eq!(r.attempted, 0, "call {n}");
        consistent(&s, &format!("call {n}"));
        // Acknowledged: the username and email are gone from every value.
        let all = all_values(&s);
        assert!(
            !all.contains("kim@example.com") && !all.contains("\"kim\""),
            "call {n}"
        );
    }
}

#[test]
fn a_failing_subscriber_never_fails_a_removal_and_retries_back_off_then_dead_letter() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let sub = subscribe(&s, &o, &["user.removed"], "set", Some(10));
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    assert!(block_on(users::get_any(&s, &o, &id)).is_err());
    // Until delivered, the event keeps the username (documented), nothing else does.
    assert!(all_values(&s).contains("kim@example.com"));
    let fake = Fake::new(vec![], 503);
    let mut now = NOW;
    for attempt in 1..=events::MAX_ATTEMPTS {
        let r = block_on(events::run(&s, &o, &fake, 10, now)).unwrap();
        assert_eq!(r.attempted, 1, "attempt {attempt}");
        // Not due again before the backoff.
        let early = block_on(events::run(&s, &o, &fake, 10, now.plus_millis(1))).unwrap();
        assert_eq!(early.attempted, 0, "attempt {attempt}");
        let wait = events::backoff_ms(10, attempt);
        assert_eq!(
            wait,
            (10_i64 << (attempt - 1)).min(events::MAX_BACKOFF_SECS) * 1000
        );
        let views = block_on(events::list_open(&s, &o.id, None, 10)).unwrap();
        let d = &views[0].delivery;
        assert_eq!(d.attempts, attempt);
        assert_eq!(d.last_status, Some(503));
        if attempt < events::MAX_ATTEMPTS {
            assert_eq!(d.state, DeliveryState::Pending);
            assert_eq!(d.next_attempt_at, now.plus_millis(wait));
            assert_eq!(r.retrying, 1);
        } else {
            assert_eq!(d.state, DeliveryState::Dead);
            assert_eq!(r.dead, 1);
        }
        now = now.plus_millis(wait);
    }
    let far = now.plus_millis(365 * 86_400_000);
    assert_eq!(
        block_on(events::run(&s, &o, &fake, 10, far))
            .unwrap()
            .attempted,
        0
    );
    let dead = block_on(events::list_open(&s, &o.id, Some(DeliveryState::Dead), 10)).unwrap();
    assert_eq!(dead.len(), 1);
    // A dead letter keeps the personal data (it is not acknowledged) until replayed.
    assert!(all_values(&s).contains("kim@example.com"));
    let (n, sub_id) = events::parse_delivery_id(&dead[0].id).unwrap();
    assert_eq!(sub_id, sub.id);
    let d = block_on(events::replay(&s, &o.id, n, &sub_id, far)).unwrap();
    assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 0));
    // Replaying a pending delivery is refused, naming deliveryId.
    let again = block_on(events::replay(&s, &o.id, n, &sub_id, far)).unwrap_err();
    assert!(again.to_string().contains("deliveryId"), "{again}");
    let ok = Fake::new(vec![], 200);
    let r = block_on(events::run(&s, &o, &ok, 10, far)).unwrap();
    assert_eq!((r.attempted, r.delivered), (1, 1));
    assert!(
        block_on(events::list_open(&s, &o.id, None, 10))
            .unwrap()
            .is_empty()
    );
    assert!(!all_values(&s).contains("kim@example.com"));
    let (e, d) = block_on(events::delivery(&s, &o.id, n, &sub_id)).unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    assert!(e.personal.is_none());
    consistent(&s, "after replay");
}

#[test]
fn the_set_is_an_hs256_jwt_and_the_cloudevent_carries_a_standard_webhooks_signature() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let set = subscribe(&s, &o, &["user.removed"], "set", None);
    let ce = subscribe(&s, &o, &["user.removed"], "cloudevents", None);
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    let fake = Fake::new(vec![], 202);
    block_on(events::run(&s, &o, &fake, 10, NOW)).unwrap();
    let got = fake.got.borrow();
    assert_eq!(got.len(), 2);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for req in got.iter() {
        match header(req, "content-type") {
            "application/secevent+jwt" => {
                let jwt = String::from_utf8(req.body.clone()).unwrap();
                let parts: Vec<&str> = jwt.split('.').collect();
                assert_eq!(parts.len(), 3);
                let key = events::secret_key(&set.secret);
                assert_eq!(key.len(), 32);
                let sig = hmac(&key, format!("{}.{}", parts[0], parts[1]).as_bytes());
                assert_eq!(b64.encode(sig), parts[2]);
                let head: serde_json::Value =
                    serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
                assert_eq!(head["alg"], "HS256");
                assert_eq!(head["typ"], "secevent+jwt");
                let claims: serde_json::Value =
                    serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
                assert_eq!(claims["sub_id"]["uri"], format!("/Users/{id}"));
                let ev = &claims["events"]["urn:ietf:params:scim:event:prov:delete"];
                assert_eq!(ev["resource"]["user"]["userName"], "kim");
                assert_eq!(ev["resource"]["action"], "user.removed");
                assert!(claims["jti"].as_str().unwrap().starts_with(o.id.as_str()));
                // Another secret does not verify.
                let wrong = hmac(
                    &events::secret_key(&ce.secret),
                    format!("{}.{}", parts[0], parts[1]).as_bytes(),
                );
                assert_ne!(b64.encode(wrong), parts[2]);
            }
            "application/cloudevents+json" => {
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                assert_eq!(body["specversion"], "1.0");
                assert_eq!(body["type"], "dev.roster.user.removed");
                assert_eq!(body["data"]["user"]["email"], "kim@example.com");
                let msg = format!(
                    "{}.{}.{}",
                    header(req, "webhook-id"),
                    header(req, "webhook-timestamp"),
                    String::from_utf8(req.body.clone()).unwrap()
                );
                let sig = base64::engine::general_purpose::STANDARD
                    .encode(hmac(&events::secret_key(&ce.secret), msg.as_bytes()));
                assert_eq!(header(req, "webhook-signature"), format!("v1,{sig}"));
                assert_eq!(header(req, "webhook-id"), body["id"].as_str().unwrap());
            }
            other => panic!("content type {other}"),
        }
    }
}

#[test]
fn a_deleted_subscription_drops_its_deliveries_and_their_personal_data() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let sub = subscribe(&s, &o, &["user.removed"], "cloudevents", None);
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    block_on(events::delete_subscription(&s, &o.id, &sub.id)).unwrap();
    assert!(block_on(events::subscription(&s, &o.id, &sub.id)).is_err());
    let fake = Fake::new(vec![], 202);
    let r = block_on(events::run(&s, &o, &fake, 10, NOW)).unwrap();
    assert_eq!((r.attempted, r.dropped), (0, 1));
    assert!(!all_values(&s).contains("kim@example.com"));
    consistent(&s, "dropped");
}

#[test]
fn subscriptions_are_validated_field_by_field() {
    let ev = vec!["user.removed".to_owned()];
    let field = |r: Result<NewSubscription, roster_domain::ValidationError>| r.unwrap_err().field;
    assert_eq!(
        field(NewSubscription::parse(
            "http://hooks.example.com/",
            &ev,
            "set",
            None
        )),
        "url"
    );
    assert_eq!(
        field(NewSubscription::parse("ftp://x", &ev, "set", None)),
        "url"
    );
    assert_eq!(
        field(NewSubscription::parse(
            "https://u:p@x.example/",
            &ev,
            "set",
            None
        )),
        "url"
    );
    assert_eq!(
        field(NewSubscription::parse("https:///x", &ev, "set", None)),
        "url"
    );
    assert_eq!(
        field(NewSubscription::parse(
            "https://x.example/",
            &[],
            "set",
            None
        )),
        "events"
    );
    assert_eq!(
        field(NewSubscription::parse(
            "https://x.example/",
            &["user.renamed".into()],
            "set",
            None
        )),
        "events[0]"
    );
    assert_eq!(
        field(NewSubscription::parse(
            "https://x.example/",
            &ev,
            "xml",
            None
        )),
        "format"
    );
    assert_eq!(
        field(NewSubscription::parse(
            "https://x.example/",
            &ev,
            "set",
            Some(-1)
        )),
        "retryBaseSeconds"
    );
    let ok =
        NewSubscription::parse("http://127.0.0.1:8080/hook", &ev, "cloudevents", None).unwrap();
    assert_eq!(ok.format, Format::Cloudevents);
    assert_eq!(ok.retry_base_seconds, events::DEFAULT_RETRY_BASE_SECS);
    // Every event type round-trips through its audit action.
    for t in EventType::ALL {
        assert_eq!(EventType::from_action(t.as_str()), Some(*t));
    }
}

#[test]
fn restore_and_hold_events_are_queued_with_their_audit_numbers() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    subscribe(
        &s,
        &o,
        &[
            "user.hold_placed",
            "user.hold_lifted",
            "organization.hold_placed",
        ],
        "set",
        None,
    );
    let id = user(&s, &o, "kim");
    let h = roster_domain::holds::NewHold::parse("m", None).unwrap();
    block_on(roster_domain::holds::place_user_hold(
        &s,
        &o,
        &id,
        h.clone(),
        true,
        "t1",
        NOW,
    ))
    .unwrap();
    block_on(roster_domain::holds::lift_user_hold(&s, &o, &id, "t1", NOW)).unwrap();
    block_on(roster_domain::holds::place_org_hold(
        &s, &o, h, true, "t1", NOW,
    ))
    .unwrap();
    let open = block_on(events::list_open(&s, &o.id, None, 10)).unwrap();
    let types: Vec<EventType> = open.iter().map(|d| d.event_type).collect();
    assert_eq!(
        types,
        vec![
            EventType::UserHoldPlaced,
            EventType::UserHoldLifted,
            EventType::OrganizationHoldPlaced
        ]
    );
    let (audit, _) = block_on(roster_domain::audit::list(&s, &o.id, 0, 10, None)).unwrap();
    let numbers: Vec<i64> = open.iter().map(|d| d.event_number).collect();
    let audited: Vec<i64> = audit.iter().map(|e| e.number).collect();
    assert_eq!(numbers, audited);
}

#[test]
fn a_dead_letter_of_a_deleted_subscription_is_dropped_with_its_personal_data() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    let sub = subscribe(&s, &o, &["user.removed"], "set", Some(0));
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    let fake = Fake::new(vec![], 500);
    for _ in 0..events::MAX_ATTEMPTS {
        block_on(events::run(&s, &o, &fake, 10, NOW)).unwrap();
    }
    let dead = block_on(events::list_open(&s, &o.id, Some(DeliveryState::Dead), 10)).unwrap();
    assert_eq!(dead.len(), 1);
    assert!(all_values(&s).contains("kim@example.com"));
    block_on(events::delete_subscription(&s, &o.id, &sub.id)).unwrap();
    let r = block_on(events::run(&s, &o, &fake, 10, NOW)).unwrap();
    assert_eq!((r.attempted, r.dropped), (0, 1));
    assert!(
        block_on(events::list_open(&s, &o.id, None, 10))
            .unwrap()
            .is_empty()
    );
    assert!(!all_values(&s).contains("kim@example.com"));
    consistent(&s, "dead letter dropped");
}

/// A sender that, while it sends, lets a second run go over the same store (the two
/// runs interleave as concurrent requests do), then answers 202.
#[derive(Debug)]
struct Overlapping<'a> {
    store: &'a MemoryStore,
    org: &'a Organization,
    inner: Fake,
    got: RefCell<usize>,
    second: RefCell<Vec<events::RunReport>>,
}

impl EventSender for Overlapping<'_> {
    fn send<'a>(&'a self, _: &'a Outbound) -> events::SendFuture<'a> {
        *self.got.borrow_mut() += 1;
        Box::pin(async move {
            let r = events::run(self.store, self.org, &self.inner, 10, NOW.plus_millis(500))
                .await
                .unwrap();
            self.second.borrow_mut().push(r);
            Ok(events::Answer::from(202))
        })
    }
}

#[test]
fn overlapping_runs_send_each_delivery_once_and_a_dead_runs_lease_runs_out() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    subscribe(&s, &o, &["user.removed"], "set", Some(0));
    subscribe(&s, &o, &["user.removed"], "cloudevents", Some(0));
    for name in ["kim", "lee", "max"] {
        let id = user(&s, &o, name);
        block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    }
    // Run A sends 6 deliveries; during each send, run B goes over the queue: it finds
    // the event being sent leased and the later ones claimable (it sends those itself).
    let a = Overlapping {
        store: &s,
        org: &o,
        inner: Fake::new(vec![], 202),
        got: RefCell::new(0),
        second: RefCell::new(Vec::new()),
    };
    let r = block_on(events::run(&s, &o, &a, 10, NOW)).unwrap();
    let sent_by_b = a.inner.got.borrow().len();
    // Every delivery was sent exactly once, by one run or the other.
    assert_eq!(*a.got.borrow() + sent_by_b, 6, "A {r:?}, B {:?}", a.second);
    assert_eq!(r.attempted, *a.got.borrow());
    let first_b = &a.second.borrow()[0];
    // B's first pass, while A sent the first event's first delivery: that event's two
    // deliveries are leased by A.
    assert!(first_b.leased >= 2, "{first_b:?}");
    assert!(
        block_on(events::list_open(&s, &o.id, None, 10))
            .unwrap()
            .is_empty()
    );
    consistent(&s, "overlapping");

    // A run that dies between its claim and its outcome: the delivery stays leased, a
    // run within the lease skips it, a run after the lease sends it again.
    let setup = || {
        let s = MemoryStore::from_env();
        let o = org(&s);
        subscribe(&s, &o, &["user.removed"], "set", Some(0));
        let id = user(&s, &o, "kim");
        block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
        (s, o)
    };
    let mut died = None;
    for n in 1..=20 {
        let (s, o) = setup();
        let fake = Fake::new(vec![], 202);
        s.fail_nth(n);
        let r = block_on(events::run(&s, &o, &fake, 10, NOW));
        s.clear_faults();
        if r.is_err() && fake.got.borrow().len() == 1 {
            died = Some((s, o));
            break;
        }
    }
    let (s, o) = died.expect("a store call after the send fails the run");
    let views = block_on(events::list_open(&s, &o.id, None, 10)).unwrap();
    let lease = views[0].delivery.leased_until.expect("leased");
    assert_eq!(
        lease,
        NOW.plus_millis(events::SEND_BOUND_MS + events::LEASE_MARGIN_MS)
    );
    let fake = Fake::new(vec![], 202);
    let r = block_on(events::run(&s, &o, &fake, 10, lease.plus_millis(-1))).unwrap();
    assert_eq!((r.attempted, r.leased, r.pending), (0, 1, 1));
    let r = block_on(events::run(&s, &o, &fake, 10, lease)).unwrap();
    assert_eq!((r.attempted, r.delivered), (1, 1));
    consistent(&s, "lease ran out");
}

#[test]
fn a_set_rejected_with_400_and_a_json_error_is_dead_lettered_at_once() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    subscribe(&s, &o, &["user.removed"], "set", Some(0));
    subscribe(&s, &o, &["user.removed"], "cloudevents", Some(0));
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    let rejection = events::Answer {
        status: 400,
        body: br#"{"err":"invalid_key","description":"kim's key is unknown"}"#.to_vec(),
    };
    #[derive(Debug)]
    struct Rejecting(events::Answer);
    impl EventSender for Rejecting {
        fn send<'a>(&'a self, _: &'a Outbound) -> events::SendFuture<'a> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
    }
    let r = block_on(events::run(&s, &o, &Rejecting(rejection), 10, NOW)).unwrap();
    // The SET: dead at once; the CloudEvent (no such rule for webhooks): retried.
    assert_eq!((r.attempted, r.dead, r.retrying), (2, 1, 1), "{r:?}");
    let dead = block_on(events::list_open(&s, &o.id, Some(DeliveryState::Dead), 10)).unwrap();
    assert_eq!(dead.len(), 1);
    let d = &dead[0].delivery;
    assert_eq!((d.attempts, d.last_status), (1, Some(400)));
    let why = d.last_error.as_deref().unwrap();
    assert!(
        why.contains("invalid_key") && why.contains("not retried"),
        "{why}"
    );
    // The receiver's description is not kept.
    assert!(!all_values(&s).contains("key is unknown"));
    // A 400 without a JSON error is an ordinary failure, for a SET too.
    let plain = events::Answer {
        status: 400,
        body: b"bad request".to_vec(),
    };
    let r = block_on(events::run(
        &s,
        &o,
        &Rejecting(plain),
        10,
        NOW.plus_millis(1),
    ))
    .unwrap();
    assert_eq!((r.attempted, r.dead, r.retrying), (1, 0, 1), "{r:?}");
    consistent(&s, "rejected");
}

#[test]
fn the_21st_subscription_is_refused_naming_the_list() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    for _ in 0..events::MAX_SUBSCRIPTIONS {
        subscribe(&s, &o, &["user.removed"], "set", None);
    }
    let ev = vec!["user.removed".to_owned()];
    let new = NewSubscription::parse("https://hooks.example.com/in", &ev, "set", None).unwrap();
    let err = block_on(events::create_subscription(&s, &o, new, "admin", NOW)).unwrap_err();
    let roster_domain::DomainError::Invalid(v) = err else {
        panic!("{err:?}")
    };
    assert_eq!(v.field, "subscriptions");
    assert!(
        v.reason.contains("at most 20") && v.reason.contains("delete one"),
        "{v:?}"
    );
}

#[test]
fn the_open_list_leaves_out_a_delivery_settled_while_its_event_is_still_open() {
    let s = MemoryStore::from_env();
    let o = org(&s);
    subscribe(&s, &o, &["user.removed"], "set", Some(0));
    let failing = subscribe(&s, &o, &["user.removed"], "cloudevents", Some(0));
    let id = user(&s, &o, "kim");
    block_on(remove_user(&s, &o, &id, &RemovalPolicy::canonical(), NOW)).unwrap();
    // The first subscriber acknowledges, the second fails: the event stays open.
    let fake = Fake::new(vec![Ok(200)], 503);
    let r = block_on(events::run(&s, &o, &fake, 10, NOW)).unwrap();
    assert_eq!((r.attempted, r.delivered, r.retrying), (2, 1, 1));
    let open = block_on(events::list_open(&s, &o.id, None, 10)).unwrap();
    let listed: Vec<_> = open
        .iter()
        .map(|v| (v.delivery.subscription_id.clone(), v.delivery.state))
        .collect();
    assert_eq!(listed, vec![(failing.id.clone(), DeliveryState::Pending)]);
}
