//! Pushed lifecycle events on the canonical surface (issue 19, part 4): subscriptions
//! (`…/event-subscriptions`, `mdm.global.eventSubscription.create|read|remove`) and
//! their deliveries (`…/event-deliveries`: list with `read`; run and replay with
//! `update`). `docs/lifecycle.md` has the rules; `roster_domain::events` the engine.

use super::{Error, enter, json_body, object_id, ok, path_param};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::StatusCode;
use roster_domain::Store;
use roster_domain::ValidationError;
use roster_domain::events::{self, DeliveryState, EventSubscription, NewSubscription, NoSender};
use serde::Deserialize;

/// `POST …/event-subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSubscriptionRequest {
    /// Where events are POSTed.
    pub url: String,
    /// The event types (audit action names).
    pub events: Vec<String>,
    /// `set` or `cloudevents`.
    pub format: String,
    /// The backoff base in seconds (0 to 3600; default 30).
    pub retry_base_seconds: Option<i64>,
}

/// A subscription as answered (the secret only when `with_secret`).
pub fn subscription_response(s: &EventSubscription, with_secret: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": s.id,
        "url": s.url,
        "events": s.events,
        "format": s.format,
        "retryBaseSeconds": s.retry_base_seconds,
        "createdAt": s.created_at.to_rfc3339(),
        "createdBy": s.created_by,
    });
    if with_secret {
        v["secret"] = serde_json::json!(s.secret);
    }
    v
}

crate::endpoint! {
    /// `…/event-subscriptions`: GET lists the organization's subscribers, POST adds one
    /// (its signing secret is answered once).
    pub struct EventSubscriptionsRoute {
        route: "/v1/organizations/:organizationId/event-subscriptions",
        error: Error,
        GET need(EventSubscription, Read) => list_subscriptions,
        POST need(EventSubscription, Create) => create_subscription,
    }
}

async fn list_subscriptions<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventSubscriptionsRoute, S>(req, store, ctx).await?;
    let subs = events::subscriptions(store, &org.id).await?;
    let list: Vec<_> = subs
        .iter()
        .map(|s| subscription_response(s, false))
        .collect();
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "subscriptions": list }),
    ))
}

async fn create_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<EventSubscriptionsRoute, S>(req, store, ctx).await?;
    let body: NewSubscriptionRequest = json_body(req)?;
    let new = NewSubscription::parse(
        &body.url,
        &body.events,
        &body.format,
        body.retry_base_seconds,
    )?;
    let sub = events::create_subscription(store, &org, new, &caller.actor(), ctx.now).await?;
    let location = format!(
        "/v1/organizations/{}/event-subscriptions/{}",
        org.id, sub.id
    );
    Ok(super::with_location(
        ok(StatusCode::CREATED, &subscription_response(&sub, true)),
        &location,
    ))
}

crate::endpoint! {
    /// `…/event-subscriptions/:subscriptionId`: GET one subscriber (without its
    /// secret), DELETE removes it (its undelivered deliveries are dropped).
    pub struct EventSubscriptionRoute {
        route: "/v1/organizations/:organizationId/event-subscriptions/:subscriptionId",
        error: Error,
        GET need(EventSubscription, Read) => get_subscription,
        DELETE need(EventSubscription, Remove) => delete_subscription,
    }
}

async fn get_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventSubscriptionRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "subscriptionId")?;
    let sub = events::subscription(store, &org.id, &id).await?;
    Ok(ok(StatusCode::OK, &subscription_response(&sub, false)))
}

async fn delete_subscription<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventSubscriptionRoute, S>(req, store, ctx).await?;
    let id = object_id(req, "subscriptionId")?;
    events::delete_subscription(store, &org.id, &id).await?;
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "deleted": true }),
    ))
}

fn limit(req: &ApiRequest, max: usize, default: usize) -> Result<usize, Error> {
    match req.query_param("limit") {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ValidationError::new("limit", format!("must be an integer from 1 to {max}")).into()
            }),
    }
}

crate::endpoint! {
    /// `…/event-deliveries`: GET lists the deliveries not yet settled (pending and
    /// dead-lettered; `?state=` filters).
    pub struct EventDeliveriesRoute {
        route: "/v1/organizations/:organizationId/event-deliveries",
        error: Error,
        GET need(EventSubscription, Read) => list_deliveries,
    }
}

async fn list_deliveries<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventDeliveriesRoute, S>(req, store, ctx).await?;
    let state = req
        .query_param("state")
        .map(|s| DeliveryState::parse_open(&s))
        .transpose()?;
    let limit = limit(req, 200, 50)?;
    let list = events::list_open(store, &org.id, state, limit).await?;
    let list: Vec<_> = list.iter().map(delivery_response).collect();
    Ok(ok(
        StatusCode::OK,
        &serde_json::json!({ "deliveries": list }),
    ))
}

fn delivery_response(v: &events::DeliveryView) -> serde_json::Value {
    let d = &v.delivery;
    serde_json::json!({
        "id": v.id,
        "eventNumber": v.event_number,
        "eventType": v.event_type,
        "eventAt": v.event_at.to_rfc3339(),
        "subscriptionId": d.subscription_id,
        "state": d.state,
        "attempts": d.attempts,
        "nextAttemptAt": (d.state == DeliveryState::Pending).then(|| d.next_attempt_at.to_rfc3339()),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "deliveredAt": d.delivered_at.map(|t| t.to_rfc3339()),
    })
}

crate::endpoint! {
    /// `…/event-deliveries/run`: POST sends the due deliveries (`?limit=`, 1 to 100,
    /// default 25) — what an external scheduler calls every minute or so.
    pub struct EventDeliveriesRunRoute {
        route: "/v1/organizations/:organizationId/event-deliveries/run",
        error: Error,
        POST need(EventSubscription, Update) => run_deliveries,
    }
}

async fn run_deliveries<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventDeliveriesRunRoute, S>(req, store, ctx).await?;
    let limit = limit(req, events::MAX_RUN, 25)?;
    let none = NoSender("this host gave the request no outbound HTTP");
    let sender = ctx.sender().unwrap_or(&none);
    let report = events::run(store, &org, sender, limit, ctx.now).await?;
    Ok(ok(StatusCode::OK, &report))
}

crate::endpoint! {
    /// `…/event-deliveries/:deliveryId/replay`: POST requeues a dead-lettered delivery
    /// (due at the next run, its attempts reset).
    pub struct EventDeliveryReplayRoute {
        route: "/v1/organizations/:organizationId/event-deliveries/:deliveryId/replay",
        error: Error,
        POST need(EventSubscription, Update) => replay_delivery,
    }
}

async fn replay_delivery<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, _) = enter::<EventDeliveryReplayRoute, S>(req, store, ctx).await?;
    let (n, sub) = path_param(req, "deliveryId", |_, raw| events::parse_delivery_id(raw))?;
    let d = events::replay(store, &org.id, n, &sub, ctx.now).await?;
    let (e, _) = events::delivery(store, &org.id, n, &sub).await?;
    Ok(ok(
        StatusCode::OK,
        &delivery_response(&events::DeliveryView {
            id: events::delivery_id(n, &sub),
            event_number: n,
            event_type: e.event_type,
            event_at: e.at,
            delivery: d,
        }),
    ))
}
