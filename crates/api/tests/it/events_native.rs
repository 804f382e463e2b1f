//! Pushed events natively: the routes create and list subscriptions (the secret shown
//! once), the delivery route sends through the context's sender (a fake that fails and
//! then answers 202) and reports retries and deliveries, and without a sender every
//! attempt fails and is retried (nothing is lost).

use futures::executor::block_on;
use http::Method;
use roster_api::mdm::{
    EventDeliveriesRoute, EventDeliveriesRunRoute, EventSubscriptionsRoute, UserRoute,
};
use roster_api::{ApiRequest, Endpoint};
use roster_domain::MemoryStore;
use roster_domain::events::{EventSender, Outbound, SendFuture};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;

use crate::common::{self, ctx, json_of};

fn req(method: Method, params: &[(&str, &str)], query: &str, body: Option<Value>) -> ApiRequest {
    common::req(method, params, query, body)
}

/// Fails the first `fail` requests (503), then answers 202; counts what it got.
#[derive(Debug, Default)]
struct Fake {
    fail: RefCell<usize>,
    got: RefCell<Vec<Outbound>>,
}

impl EventSender for Fake {
    fn send<'a>(&'a self, req: &'a Outbound) -> SendFuture<'a> {
        self.got.borrow_mut().push(req.clone());
        let mut f = self.fail.borrow_mut();
        let status = if *f > 0 {
            *f -= 1;
            503
        } else {
            202
        };
        Box::pin(async move { Ok(status.into()) })
    }
}

const ORG: [(&str, &str); 1] = [("organizationid", "acme")];

fn setup(store: &MemoryStore) -> String {
    let id = common::acme_with_kim(store, Value::Null);
    block_on(async {
        let r = EventSubscriptionsRoute::handle(
            &req(
                Method::POST,
                &ORG,
                "",
                Some(json!({"url": "https://hooks.example.com/in", "events": ["user.removed"], "format": "set", "retryBaseSeconds": 0})),
            ),
            store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 201);
        assert!(
            json_of(&r)["data"]["secret"]
                .as_str()
                .unwrap()
                .starts_with("whsec_")
        );
        let r = UserRoute::handle(
            &req(
                Method::DELETE,
                &[ORG[0], ("mdmuserid", id.as_str())],
                "",
                None,
            ),
            store,
            &ctx(),
        )
        .await;
        assert_eq!(r.status(), 200);
        id
    })
}

#[test]
fn the_run_route_sends_through_the_contexts_sender_and_retries() {
    let store = MemoryStore::from_env();
    setup(&store);
    let fake = Rc::new(Fake {
        fail: RefCell::new(1),
        ..Fake::default()
    });
    block_on(async {
        let list =
            EventSubscriptionsRoute::handle(&req(Method::GET, &ORG, "", None), &store, &ctx())
                .await;
        assert!(!String::from_utf8_lossy(list.body()).contains("whsec_"));
        let c = ctx().with_sender(fake.clone());
        let r =
            EventDeliveriesRunRoute::handle(&req(Method::POST, &ORG, "", None), &store, &c).await;
        assert_eq!(r.status(), 200);
        assert_eq!(json_of(&r)["data"]["retrying"], 1);
        let c = ctx().with_sender(fake.clone());
        let r =
            EventDeliveriesRunRoute::handle(&req(Method::POST, &ORG, "", None), &store, &c).await;
        assert_eq!(json_of(&r)["data"]["delivered"], 1);
        assert_eq!(fake.got.borrow().len(), 2);
        let open =
            EventDeliveriesRoute::handle(&req(Method::GET, &ORG, "", None), &store, &ctx()).await;
        assert_eq!(json_of(&open)["data"]["deliveries"], json!([]));
        // Bad query parameters name themselves.
        let bad = EventDeliveriesRoute::handle(
            &req(Method::GET, &ORG, "state=lost", None),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(bad.status(), 400);
        assert!(String::from_utf8_lossy(bad.body()).contains("invalid state"));
        // A settled state is never listed: refused with why, not an empty list that
        // would read as "nothing was delivered".
        for settled in ["state=delivered", "state=dropped"] {
            let bad = EventDeliveriesRoute::handle(
                &req(Method::GET, &ORG, settled, None),
                &store,
                &ctx(),
            )
            .await;
            assert_eq!(bad.status(), 400, "{settled}");
            let text = String::from_utf8_lossy(bad.body()).into_owned();
            assert!(
                text.contains("invalid state") && text.contains("settled"),
                "{text}"
            );
        }
        let bad = EventDeliveriesRunRoute::handle(
            &req(Method::POST, &ORG, "limit=0", None),
            &store,
            &ctx(),
        )
        .await;
        assert_eq!(bad.status(), 400);
        assert!(String::from_utf8_lossy(bad.body()).contains("invalid limit"));
    });
}

#[test]
fn without_a_sender_every_attempt_fails_and_stays_pending() {
    let store = MemoryStore::from_env();
    setup(&store);
    block_on(async {
        let r = EventDeliveriesRunRoute::handle(&req(Method::POST, &ORG, "", None), &store, &ctx())
            .await;
        assert_eq!(json_of(&r)["data"]["retrying"], 1);
        let open = EventDeliveriesRoute::handle(
            &req(Method::GET, &ORG, "state=pending", None),
            &store,
            &ctx(),
        )
        .await;
        let d = &json_of(&open)["data"]["deliveries"][0];
        assert_eq!(d["attempts"], 1);
        assert!(
            d["lastError"]
                .as_str()
                .unwrap()
                .contains("no outbound HTTP")
        );
    });
}
