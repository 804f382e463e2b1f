//! Pushed lifecycle events (issue 19, part 4): subscribers of an organization receive
//! its removal, soft removal, purge, restore and hold events as Security Event Tokens
//! (RFC 8417, SCIM profile RFC 9967, pushed as RFC 8935 says) or as CloudEvents 1.0,
//! signed with the subscriber's secret, at least once, from a queue that an external
//! scheduler drains ([`run`]).
//!
//! - **Born with the audit event.** An event is queued where its audit event is
//!   written ([`record`] for one-shot actions; [`queue`] from the removal engine, before
//!   the audit event, under the audit event's reserved number). The queue entry of
//!   audit event `n` is one record `o/{org}/events/{n}` holding the event, the personal
//!   data a subscriber needs (the user's id, username, email, external id) and one
//!   delivery per matching subscriber. It is written only when absent, so a removal
//!   resumed after a failure at any key-value call queues each event exactly once.
//!   Nothing a subscriber does can fail or slow a removal: queuing is two or three
//!   key-value calls, sending happens only in [`run`].
//! - **Personal data lives only until acknowledged.** Once every delivery of an event
//!   is acknowledged (2xx) or dropped (its subscription deleted, or discarded), the
//!   record's personal data is erased; what stays is pseudonymous, as the audit log.
//! - **Retries.** A failed attempt is retried after `retryBaseSeconds · 2^(attempts-1)`
//!   (capped at [`MAX_BACKOFF_SECS`]); after [`MAX_ATTEMPTS`] failures the delivery is
//!   dead-lettered; [`replay`] requeues it.
//! - **Pending index.** `o/{org}/events/pending` lists the numbers of events with a
//!   delivery pending or dead, so [`run`] never scans the log. A number is added before
//!   its record is written and removed once the record is settled (or, for a number
//!   whose record was never written — a request that failed between the two — after
//!   a day).
//!
//! Adding an event type is one line in [`event_types!`]'s list below.

use crate::audit::{self, AuditEvent};
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{Organization, User};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Failures after which a delivery is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest wait between two attempts (six hours).
pub const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// The default base of the backoff (`retryBaseSeconds`).
pub const DEFAULT_RETRY_BASE_SECS: i64 = 30;
/// Most subscriptions an organization may have.
pub const MAX_SUBSCRIPTIONS: usize = 20;
/// Most deliveries one [`run`] attempts.
pub const MAX_RUN: usize = 100;
/// How long a pending number without a record stays in the index (a day).
const ORPHAN_MS: i64 = 86_400_000;
/// The outbound request's connect timeout (wasi:http `request-options`), 5 s: a host
/// that does not accept the connection by then is a failed attempt.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// The outbound request's first-byte timeout, 10 s: a receiver that accepted the
/// connection and does not begin its answer by then is a failed attempt ("timed out").
pub const FIRST_BYTE_TIMEOUT_MS: u64 = 10_000;
/// The outbound request's between-bytes timeout, 10 s (the run reads an answer's body
/// only to tell a SET's rejection, and at most [`MAX_ANSWER_BODY`] bytes of it).
pub const BETWEEN_BYTES_TIMEOUT_MS: u64 = 10_000;
/// The longest one attempt can take: a connect and a handshake (each bounded by the
/// connect timeout, as Spin 3 and roster-host bound them), the first byte, one read of
/// the answer's body.
pub const SEND_BOUND_MS: i64 =
    (2 * CONNECT_TIMEOUT_MS + FIRST_BYTE_TIMEOUT_MS + BETWEEN_BYTES_TIMEOUT_MS) as i64;
/// Added to every lease for the run's key-value calls (one minute).
pub const LEASE_MARGIN_MS: i64 = 60_000;
/// The most of an answer's body a sender reads (the JSON error of a SET rejected
/// with 400, RFC 8935 §2.4).
pub const MAX_ANSWER_BODY: usize = 1024;

macro_rules! event_types {
    ($($(#[$doc:meta])* $variant:ident => $action:literal, $set:literal;)*) => {
        /// The kinds of event a subscriber may ask for: exactly the audit actions of
        /// the lifecycle (one line each in `events.rs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum EventType {
            $($(#[$doc])* #[serde(rename = $action)] $variant,)*
        }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// Its name: the audit action, e.g. `user.removed`.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $action,)* }
            }

            /// The event URI of its Security Event Token.
            pub fn set_uri(self) -> &'static str {
                match self { $(EventType::$variant => $set,)* }
            }

            /// The event type of audit action `action`, if it is one.
            pub fn from_action(action: &str) -> Option<Self> {
                match action { $($action => Some(EventType::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    /// A user was removed permanently (any surface).
    UserRemoved => "user.removed", "urn:ietf:params:scim:event:prov:delete";
    /// A user was removed softly (restorable until the retention ends).
    UserSoftRemoved => "user.soft_removed", "urn:ietf:params:scim:event:prov:deactivate";
    /// A softly removed user was purged (removed permanently) after its retention.
    UserPurged => "user.purged", "urn:ietf:params:scim:event:prov:delete";
    /// A softly removed user was restored.
    UserRestored => "user.restored", "urn:ietf:params:scim:event:prov:activate";
    /// A legal hold was placed on a user.
    UserHoldPlaced => "user.hold_placed", "urn:roster:event:user.hold_placed";
    /// A user's legal hold was lifted.
    UserHoldLifted => "user.hold_lifted", "urn:roster:event:user.hold_lifted";
    /// An organization-wide legal hold was placed.
    OrganizationHoldPlaced => "organization.hold_placed", "urn:roster:event:organization.hold_placed";
    /// The organization-wide legal hold was lifted.
    OrganizationHoldLifted => "organization.hold_lifted", "urn:roster:event:organization.hold_lifted";
    /// A user's removal was scheduled (or rescheduled).
    UserRemovalScheduled => "user.removal_scheduled", "urn:roster:event:user.removal_scheduled";
    /// A user's scheduled removal was cancelled (by the route, or by a re-activation).
    UserRemovalScheduleCancelled => "user.removal_schedule_cancelled", "urn:roster:event:user.removal_schedule_cancelled";
    /// The warning of a user's scheduled removal was queued to the outbox.
    UserRemovalWarningQueued => "user.removal_warning_queued", "urn:roster:event:user.removal_warning_queued";
}

/// How a subscriber receives events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A Security Event Token (RFC 8417), a JWT signed HS256 with the subscriber's
    /// secret, pushed as `application/secevent+jwt` (RFC 8935).
    Set,
    /// A CloudEvent 1.0 in structured JSON mode (`application/cloudevents+json`),
    /// signed by Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`).
    Cloudevents,
}

/// One subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSubscription {
    /// Its id.
    pub id: ObjectId,
    /// Where events are POSTed (`https://…`; `http://` only to a loopback host).
    pub url: String,
    /// The event types it receives.
    pub events: Vec<EventType>,
    /// How.
    pub format: Format,
    /// The signing secret, `whsec_` + base64 of 32 random bytes (the key is those
    /// bytes). Shown once, when created.
    pub secret: String,
    /// The base of the retry backoff, in seconds (0: retry at every run).
    pub retry_base_seconds: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// Who created it (token id or `admin`).
    pub created_by: String,
}

/// The organization's subscriptions (`o/{org}/event-subscriptions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// Oldest first.
    pub subscriptions: Vec<EventSubscription>,
}

/// What a new subscription asks for (validated by [`NewSubscription::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// The URL.
    pub url: String,
    /// The event types (at least one, no repeats).
    pub events: Vec<EventType>,
    /// The format.
    pub format: Format,
    /// The backoff base.
    pub retry_base_seconds: i64,
}

impl NewSubscription {
    /// Validates a request; each error names its field.
    pub fn parse(
        url: &str,
        events: &[String],
        format: &str,
        retry_base_seconds: Option<i64>,
    ) -> Result<Self, ValidationError> {
        let url = parse_url(url)?;
        if events.is_empty() {
            return Err(ValidationError::new(
                "events",
                "must name at least one event type",
            ));
        }
        let mut types = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let t = EventType::from_action(e).ok_or_else(|| {
                ValidationError::new(
                    format!("events[{i}]"),
                    format!(
                        "must be one of {}",
                        EventType::ALL
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        let format = match format {
            "set" => Format::Set,
            "cloudevents" => Format::Cloudevents,
            _ => return Err(ValidationError::new("format", "must be set or cloudevents")),
        };
        let retry_base_seconds = retry_base_seconds.unwrap_or(DEFAULT_RETRY_BASE_SECS);
        if !(0..=3600).contains(&retry_base_seconds) {
            return Err(ValidationError::new(
                "retryBaseSeconds",
                "must be between 0 and 3600",
            ));
        }
        Ok(Self {
            url,
            events: types,
            format,
            retry_base_seconds,
        })
    }
}

/// Validates a subscriber URL: absolute `https://host[:port]/path`, or `http://` to a
/// loopback host (`localhost`, `127.0.0.1`, `[::1]`: for tests and sidecars); no user
/// info, no fragment, at most 2,000 characters.
pub fn parse_url(raw: &str) -> Result<String, ValidationError> {
    let bad = |why: &str| ValidationError::new("url", why);
    if raw.len() > 2000 {
        return Err(bad("must be at most 2000 characters"));
    }
    if raw.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(bad(
            "must not contain spaces or control or non-ASCII characters",
        ));
    }
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("must be an absolute https:// URL"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad("must name a host"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry user info"));
    }
    if raw.contains('#') {
        return Err(bad("must not carry a fragment"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(bad("has an invalid port"));
    }
    if host.is_empty() {
        return Err(bad("must name a host"));
    }
    let loopback = matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    );
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(raw.to_owned()),
        "http" if loopback => Ok(raw.to_owned()),
        "http" => Err(bad("must use https (http only to a loopback host)")),
        _ => Err(bad("must be an absolute https:// URL")),
    }
}

/// The personal data an event carries to its subscribers, erased once delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Personal {
    /// The user's id.
    pub user_id: ObjectId,
    /// The username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The primary email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The external id (SCIM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Personal {
    /// What an event about `user` carries.
    pub fn of(user: &User) -> Self {
        Self {
            user_id: user.id.clone(),
            user_name: Some(user.username.clone()),
            email: user.email.clone(),
            external_id: user.external_id.clone(),
        }
    }

    /// Only the id (events about a user whose record is not at hand).
    pub fn id_only(user_id: &ObjectId) -> Self {
        Self {
            user_id: user_id.clone(),
            user_name: None,
            email: None,
            external_id: None,
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Acknowledged by the subscriber (a 2xx answer).
    Delivered,
    /// Failed [`MAX_ATTEMPTS`] times; waits for a replay.
    Dead,
    /// Its subscription was deleted before it was delivered (never sent again).
    Dropped,
}

impl DeliveryState {
    /// Parses the `state` filter of the deliveries list, which lists only deliveries
    /// not yet settled: `pending` or `dead`. `delivered` and `dropped` are refused with
    /// their own reason (settled deliveries are not kept listable), any other value as
    /// not a state; both errors name `state`.
    pub fn parse_open(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "pending" => Ok(Self::Pending),
            "dead" => Ok(Self::Dead),
            "delivered" | "dropped" => Err(ValidationError::new(
                "state",
                "must be pending or dead: delivered and dropped deliveries are settled \
                 and not listed (the audit log keeps the event)",
            )),
            _ => Err(ValidationError::new("state", "must be pending or dead")),
        }
    }

    fn open(self) -> bool {
        matches!(self, Self::Pending | Self::Dead)
    }
}

/// One subscriber's delivery of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The subscription.
    pub subscription_id: ObjectId,
    /// Where it stands.
    pub state: DeliveryState,
    /// Failed attempts so far (since the last replay).
    pub attempts: u32,
    /// When it is next due (pending deliveries).
    pub next_attempt_at: Timestamp,
    /// The HTTP status of the last attempt, if it got an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Why the last attempt failed, without the answer's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// While a run is sending it: until when that run holds it (its lease, see
    /// [`run`]); another run skips it until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leased_until: Option<Timestamp>,
}

impl Delivery {
    /// Whether a run at `now` may send it: pending, due, and not leased by another run
    /// (or its lease has run out: that run died mid-send).
    fn claimable(&self, now: Timestamp) -> bool {
        self.state == DeliveryState::Pending
            && self.next_attempt_at <= now
            && self.leased_until.is_none_or(|t| t <= now)
    }
}

/// The queue entry of one event (`o/{org}/events/{n}`, `n` its audit number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedEvent {
    /// Its audit event's number (also the event's `jti` / CloudEvents `id` suffix).
    pub number: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When.
    pub at: Timestamp,
    /// The surface the request came through.
    pub surface: String,
    /// The audit subject (pseudonym, or `organization:<id>`).
    pub subject: String,
    /// The removal operation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<ObjectId>,
    /// The audit event's details (counts, hold scope and dates).
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The personal data for subscribers; `None` once no delivery needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<Personal>,
    /// One delivery per subscriber that asked for the event type.
    pub deliveries: Vec<Delivery>,
}

impl QueuedEvent {
    /// Erases the personal data once no delivery is pending or dead.
    fn settle(&mut self) {
        if !self.deliveries.iter().any(|d| d.state.open()) {
            self.personal = None;
        }
    }
}

/// The pending index (`o/{org}/events/pending`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingIndex {
    /// `(number, when added)`, in order of addition.
    pub numbers: Vec<(i64, Timestamp)>,
}

// ---------------------------------------------------------------------------------
// Subscriptions

/// The organization's subscriptions (none when never written).
pub async fn subscriptions<S: Store>(
    store: &S,
    org: &ObjectId,
) -> Result<Vec<EventSubscription>, DomainError> {
    Ok(
        records::read::<S, Subscriptions>(store, &keys::event_subscriptions(org))
            .await?
            .unwrap_or_default()
            .subscriptions,
    )
}

/// A fresh signing secret: `whsec_` + base64 (standard) of 32 random bytes.
pub fn new_secret() -> String {
    let bytes = ids::random_bytes::<32>();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The HMAC key of a secret (the bytes after `whsec_`, base64-decoded; the text as
/// it is for a secret in another form).
pub fn secret_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// Adds a subscription (a conditional write of the list); at most
/// [`MAX_SUBSCRIPTIONS`] (`Invalid` naming `subscriptions`, the organization's list,
/// beyond: nothing in the request is at fault, the list is full).
pub async fn create_subscription<S: Store>(
    store: &S,
    org: &Organization,
    new: NewSubscription,
    actor: &str,
    now: Timestamp,
) -> Result<EventSubscription, DomainError> {
    let sub = EventSubscription {
        id: ObjectId::generate(now),
        url: new.url,
        events: new.events,
        format: new.format,
        secret: new_secret(),
        retry_base_seconds: new.retry_base_seconds,
        created_at: now,
        created_by: actor.to_owned(),
    };
    let key = keys::event_subscriptions(&org.id);
    for _ in 0..records::CAS_ATTEMPTS {
        let (cas, current) = store.cas(&key).await?;
        let mut list: Subscriptions = match &current {
            Some(bytes) => records::decode(&key, bytes)?,
            None => Subscriptions::default(),
        };
        if list.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(ValidationError::new(
                "subscriptions",
                format!(
                    "an organization has at most {MAX_SUBSCRIPTIONS} event subscriptions \
                     and this one has {}: delete one before adding another",
                    list.subscriptions.len()
                ),
            )
            .into());
        }
        list.subscriptions.push(sub.clone());
        if records::swap(store, &key, cas, &list).await? {
            return Ok(sub);
        }
    }
    Err(contention(&key))
}

fn contention(key: &str) -> DomainError {
    DomainError::Store(crate::store::StoreError::new(format!(
        "too much contention updating {key}"
    )))
}

/// One subscription.
pub async fn subscription<S: Store>(
    store: &S,
    org: &ObjectId,
    id: &ObjectId,
) -> Result<EventSubscription, DomainError> {
    subscriptions(store, org)
        .await?
        .into_iter()
        .find(|s| &s.id == id)
        .ok_or(DomainError::NotFound {
            entity: Entity::EventSubscription,
        })
}

/// Deletes a subscription; its undelivered deliveries are dropped by the next
/// [`run`] (and their personal data erased with them).
pub async fn delete_subscription<S: Store>(
    store: &S,
    org: &ObjectId,
    id: &ObjectId,
) -> Result<(), DomainError> {
    let updated = records::update(
        store,
        &keys::event_subscriptions(org),
        |list: &mut Subscriptions| {
            let before = list.subscriptions.len();
            list.subscriptions.retain(|s| &s.id != id);
            if list.subscriptions.len() == before {
                return Err(DomainError::NotFound {
                    entity: Entity::EventSubscription,
                });
            }
            Ok(true)
        },
    )
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::EventSubscription,
        }),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------
// Queuing

/// What [`queue`] reads of `o/{org}/event-subscriptions`: each subscriber's id and
/// event types, as text (the other fields are ignored, so no decoder for them is
/// linked into the components that only queue).
#[derive(Default, Deserialize)]
struct Subscribers {
    subscriptions: Vec<Subscriber>,
}

#[derive(Deserialize)]
struct Subscriber {
    id: ObjectId,
    events: Vec<String>,
}

/// Queues `event` (its number already reserved) for every subscriber that asked for
/// its type, unless it is queued already. Call it before writing the audit event, so
/// that an audit event that exists has its queue entry. Returns whether anything was
/// queued now. Events of actions that are no [`EventType`] queue nothing.
pub async fn queue<S: Store>(
    store: &S,
    org: &Organization,
    event: &AuditEvent,
    personal: Option<Personal>,
) -> Result<bool, DomainError> {
    let Some(event_type) = EventType::from_action(&event.action) else {
        return Ok(false);
    };
    // Only the ids and event types: the removal path decodes nothing else of a
    // subscription (its URL, secret and format are the delivery run's).
    let subs: Subscribers = records::read(store, &keys::event_subscriptions(&org.id))
        .await?
        .unwrap_or_default();
    let deliveries: Vec<Delivery> = subs
        .subscriptions
        .iter()
        .filter(|s| s.events.iter().any(|e| e == event_type.as_str()))
        .map(|s| Delivery {
            subscription_id: s.id.clone(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: event.at,
            last_status: None,
            last_error: None,
            delivered_at: None,
            leased_until: None,
        })
        .collect();
    if deliveries.is_empty() {
        return Ok(false);
    }
    let key = keys::queued_event(&org.id, event.number);
    if store.exists(&key).await? {
        return Ok(false);
    }
    add_pending(store, &org.id, event.number, event.at).await?;
    let queued = QueuedEvent {
        number: event.number,
        event_type,
        at: event.at,
        surface: event.surface.clone(),
        subject: event.subject.clone(),
        operation_id: event.operation_id.clone(),
        details: event.details.clone(),
        personal,
        deliveries,
    };
    records::write(store, &key, &queued).await?;
    Ok(true)
}

/// Reserves an audit number, queues the event for subscribers, then writes the audit
/// event: [`audit::record`] for the lifecycle's one-shot actions (restore, holds).
pub async fn record<S: Store>(
    store: &S,
    org: &Organization,
    mut event: AuditEvent,
    personal: Option<Personal>,
) -> Result<AuditEvent, DomainError> {
    event.number = audit::reserve(store, &org.id).await?;
    queue(store, org, &event, personal).await?;
    audit::write(store, &org.id, &event).await?;
    Ok(event)
}

async fn add_pending<S: Store>(
    store: &S,
    org: &ObjectId,
    n: i64,
    now: Timestamp,
) -> Result<(), DomainError> {
    let key = keys::events_pending(org);
    // The records' read-swap loop (compiled once), creating the index when absent.
    let mut failed = None;
    records::update_bytes(store, &key, &mut |current| {
        let decoded = match current {
            Some(bytes) => records::decode(&key, bytes),
            None => Ok(PendingIndex::default()),
        };
        let mut index = match decoded {
            Ok(index) => index,
            Err(e) => {
                failed = Some(e);
                return None;
            }
        };
        if index.numbers.iter().any(|(m, _)| *m == n) {
            return None;
        }
        index.numbers.push((n, now));
        match records::encode(&key, &index) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                failed = Some(e);
                None
            }
        }
    })
    .await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn remove_pending<S: Store>(
    store: &S,
    org: &ObjectId,
    settled: &[i64],
) -> Result<(), DomainError> {
    if settled.is_empty() {
        return Ok(());
    }
    records::update(
        store,
        &keys::events_pending(org),
        |index: &mut PendingIndex| {
            let before = index.numbers.len();
            index.numbers.retain(|(n, _)| !settled.contains(n));
            Ok::<bool, DomainError>(index.numbers.len() != before)
        },
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Delivery

/// One outbound HTTP request of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// The subscriber's URL.
    pub url: String,
    /// Headers (`content-type` first).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A receiver's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Its HTTP status.
    pub status: u16,
    /// The first bytes of its body (at most [`MAX_ANSWER_BODY`]), read only for a 400
    /// (a SET's rejection, RFC 8935 §2.4); empty otherwise.
    pub body: Vec<u8>,
}

impl From<u16> for Answer {
    /// An answer of `status` with no body read.
    fn from(status: u16) -> Self {
        Self {
            status,
            body: Vec::new(),
        }
    }
}

/// What [`EventSender::send`] returns: the answer, or why no answer came.
pub type SendFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, String>> + 'a>>;

/// The sending port: POSTs one request with a `Content-Length` and answers the HTTP
/// status (`Ok` for any answer; the body's first [`MAX_ANSWER_BODY`] bytes for a 400),
/// or why nothing came back (`Err`, in words: "timed out …", "destination not allowed
/// …"). An implementation bounds every attempt by [`CONNECT_TIMEOUT_MS`],
/// [`FIRST_BYTE_TIMEOUT_MS`] and [`BETWEEN_BYTES_TIMEOUT_MS`] (so by [`SEND_BOUND_MS`]),
/// which the run's leases rely on. Implemented by the Spin adapter (outbound HTTP) and
/// by test fakes; object-safe, so a request context can carry one.
pub trait EventSender: std::fmt::Debug {
    /// Sends `req`.
    fn send<'a>(&'a self, req: &'a Outbound) -> SendFuture<'a>;
}

/// A sender that sends nothing: every attempt fails with its reason (a host that
/// gave the request no sender).
#[derive(Debug, Clone)]
pub struct NoSender(pub &'static str);

impl EventSender for NoSender {
    fn send<'a>(&'a self, _: &'a Outbound) -> SendFuture<'a> {
        Box::pin(async move { Err(self.0.to_owned()) })
    }
}

/// The id of a delivery: `{number}-{subscriptionId}`.
pub fn delivery_id(number: i64, subscription: &ObjectId) -> String {
    format!("{number}-{subscription}")
}

/// Parses a delivery id (naming `deliveryId` when invalid).
pub fn parse_delivery_id(raw: &str) -> Result<(i64, ObjectId), ValidationError> {
    let bad = || ValidationError::new("deliveryId", "must be <number>-<subscriptionId>");
    let (n, sub) = raw.split_once('-').ok_or_else(bad)?;
    let n: i64 = n.parse().map_err(|_| bad())?;
    if n < 1 {
        return Err(bad());
    }
    let sub = ObjectId::parse("deliveryId", sub).map_err(|_| bad())?;
    Ok((n, sub))
}

/// The wait after the `attempts`-th failure: `base · 2^(attempts-1)` seconds, capped.
pub fn backoff_ms(base_secs: i64, attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(30);
    base_secs
        .saturating_mul(1_i64 << exp)
        .min(MAX_BACKOFF_SECS)
        .saturating_mul(1000)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The event's data as both formats carry it.
fn event_data(org: &ObjectId, e: &QueuedEvent) -> serde_json::Value {
    let mut data = serde_json::json!({
        "organizationId": org,
        "action": e.event_type.as_str(),
        "surface": e.surface,
        "subject": e.subject,
        "auditNumber": e.number,
        "details": e.details,
    });
    if let Some(op) = &e.operation_id {
        data["operationId"] = serde_json::json!(op);
    }
    if let Some(p) = &e.personal {
        data["user"] = serde_json::json!(p);
    }
    data
}

/// The request that delivers `e` to `sub`, signed: a SET (RFC 8417 JWT, HS256 with the
/// secret's key) or a CloudEvent with Standard Webhooks signature headers.
pub fn build_request(
    org: &ObjectId,
    sub: &EventSubscription,
    e: &QueuedEvent,
    now: Timestamp,
) -> Outbound {
    let key = secret_key(&sub.secret);
    let id = format!("{org}-{}", e.number);
    let data = event_data(org, e);
    match sub.format {
        Format::Set => {
            let header = serde_json::json!({"alg": "HS256", "typ": "secevent+jwt"});
            let mut payload = serde_json::Map::new();
            payload.insert("resource".into(), data);
            let sub_id = match &e.personal {
                Some(p) => {
                    serde_json::json!({"format": "scim", "uri": format!("/Users/{}", p.user_id)})
                }
                None => serde_json::json!({"format": "opaque", "id": e.subject}),
            };
            let claims = serde_json::json!({
                "iss": format!("roster:organization:{org}"),
                "aud": sub.url,
                "iat": now.0 / 1000,
                "toe": e.at.0 / 1000,
                "jti": id,
                "txn": e.operation_id,
                "sub_id": sub_id,
                "events": { e.event_type.set_uri(): serde_json::Value::Object(payload) },
            });
            let signing_input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let sig = b64url(&hmac_sha256(&key, signing_input.as_bytes()));
            Outbound {
                url: sub.url.clone(),
                headers: vec![
                    ("content-type".into(), "application/secevent+jwt".into()),
                    ("accept".into(), "application/json".into()),
                ],
                body: format!("{signing_input}.{sig}").into_bytes(),
            }
        }
        Format::Cloudevents => {
            let body = serde_json::json!({
                "specversion": "1.0",
                "id": id,
                "source": format!("/v1/organizations/{org}"),
                "type": format!("dev.roster.{}", e.event_type.as_str()),
                "subject": e.subject,
                "time": e.at.to_rfc3339(),
                "datacontenttype": "application/json",
                "data": data,
            })
            .to_string();
            let ts = now.0 / 1000;
            let signed = format!("{id}.{ts}.{body}");
            let sig = base64::engine::general_purpose::STANDARD
                .encode(hmac_sha256(&key, signed.as_bytes()));
            Outbound {
                url: sub.url.clone(),
                headers: vec![
                    ("content-type".into(), "application/cloudevents+json".into()),
                    ("webhook-id".into(), id),
                    ("webhook-timestamp".into(), ts.to_string()),
                    ("webhook-signature".into(), format!("v1,{sig}")),
                ],
                body: body.into_bytes(),
            }
        }
    }
}

/// What one [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Requests sent.
    pub attempted: usize,
    /// Acknowledged now.
    pub delivered: usize,
    /// Failed now and to be retried.
    pub retrying: usize,
    /// Failed for the last time now, or rejected for good (a SET refused with 400 and
    /// a JSON error, RFC 8935 §2.4): dead-lettered.
    pub dead: usize,
    /// Dropped now (their subscription is gone).
    pub dropped: usize,
    /// Deliveries still pending after this run (due later, beyond `limit`, or leased).
    pub pending: usize,
    /// Of those, due but leased by another run that is sending them (skipped).
    pub leased: usize,
}

enum Outcome {
    Delivered,
    Failed(Option<u16>, String),
    Rejected(u16, String),
    Dropped,
}

/// Sends up to `limit` due deliveries (oldest events first) through `sender` and
/// records each outcome with a conditional write: a 2xx marks it delivered; anything
/// else (or no answer, a timeout included) counts a failure and schedules the next
/// attempt, or dead-letters it after [`MAX_ATTEMPTS`]; a SET answered 400 with a JSON
/// error object is dead-lettered at once (RFC 8935 §2.4: the receiver will not take
/// it). A delivery (pending or dead) whose subscription is gone is dropped. Settled
/// events lose their personal data and leave the pending index.
///
/// **Leases.** Before sending an event's due deliveries the run claims them with a
/// conditional write of the event's record (`leasedUntil`); a concurrent run reads the
/// lease and skips them (counted in `leased`), so overlapping runs send each delivery
/// once. The lease lasts longer than the run can still take to send them: `now +
/// (sent before + claimed) · SEND_BOUND_MS + LEASE_MARGIN_MS`, every attempt being
/// bounded by the sender's timeouts. A run that dies mid-send leaves its lease, which
/// runs out; the next run then sends the delivery again (at least once).
pub async fn run<S: Store>(
    store: &S,
    org: &Organization,
    sender: &dyn EventSender,
    limit: usize,
    now: Timestamp,
) -> Result<RunReport, DomainError> {
    let limit = limit.clamp(1, MAX_RUN);
    let subs = subscriptions(store, &org.id).await?;
    let index: PendingIndex = records::read(store, &keys::events_pending(&org.id))
        .await?
        .unwrap_or_default();
    let mut report = RunReport::default();
    let mut settled = Vec::new();
    let keys: Vec<String> = index
        .numbers
        .iter()
        .map(|(n, _)| keys::queued_event(&org.id, *n))
        .collect();
    let values = store.get_many(&keys).await?;
    for (((n, added), key), value) in index.numbers.iter().zip(&keys).zip(values) {
        let Some(bytes) = value else {
            if now.0 - added.0 > ORPHAN_MS {
                settled.push(*n);
            }
            continue;
        };
        let e: QueuedEvent = records::decode(key, &bytes)?;
        let mut outcomes: Vec<(ObjectId, Outcome)> = Vec::new();
        let mut due: Vec<ObjectId> = Vec::new();
        for d in e.deliveries.iter().filter(|d| d.state.open()) {
            if !subs.iter().any(|s| s.id == d.subscription_id) {
                // Pending or dead, its subscription is gone: dropped (with the event's
                // personal data once nothing else needs it).
                outcomes.push((d.subscription_id.clone(), Outcome::Dropped));
            } else if d.state == DeliveryState::Dead {
                continue;
            } else if !d.claimable(now) || report.attempted + due.len() >= limit {
                report.pending += 1;
                if d.next_attempt_at <= now && !d.claimable(now) {
                    report.leased += 1;
                }
            } else {
                due.push(d.subscription_id.clone());
            }
        }
        let (e, claimed) = if due.is_empty() {
            (e, Vec::new())
        } else {
            let bound = i64::try_from(report.attempted + due.len()).unwrap_or(i64::MAX);
            let until = now
                .plus_millis(bound.saturating_mul(SEND_BOUND_MS))
                .plus_millis(LEASE_MARGIN_MS);
            let (claimed_event, claimed) = claim(store, key, &due, until, now).await?;
            // Claimed by another run between our read and our write: skipped.
            let lost = due.len() - claimed.len();
            report.pending += lost;
            report.leased += lost;
            (claimed_event.unwrap_or(e), claimed)
        };
        for sub_id in claimed {
            let Some(sub) = subs.iter().find(|s| s.id == sub_id) else {
                continue;
            };
            report.attempted += 1;
            let req = build_request(&org.id, sub, &e, now);
            let outcome = match sender.send(&req).await {
                Ok(a) if (200..300).contains(&a.status) => Outcome::Delivered,
                Ok(a) => match (sub.format, set_rejection(&a)) {
                    (Format::Set, Some(err)) => Outcome::Rejected(a.status, err),
                    _ => Outcome::Failed(Some(a.status), format!("HTTP {}", a.status)),
                },
                Err(why) => Outcome::Failed(None, why.chars().take(200).collect()),
            };
            outcomes.push((sub_id, outcome));
        }
        let written = apply(store, key, &subs, &outcomes, now, &mut report).await?;
        if let Some(e) = written
            && !e.deliveries.iter().any(|d| d.state.open())
        {
            settled.push(*n);
        }
    }
    remove_pending(store, &org.id, &settled).await?;
    Ok(report)
}

/// A SET receiver's permanent rejection (RFC 8935 §2.4): a 400 whose body is a JSON
/// object with a string `err`. Its text for `lastError`: the `err` code only (at most
/// 64 characters of `[A-Za-z0-9_.-]`), never the receiver's `description`.
fn set_rejection(a: &Answer) -> Option<String> {
    if a.status != 400 {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
    let err = body.get("err")?.as_str()?;
    let err: String = err
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(64)
        .collect();
    Some(format!(
        "HTTP 400: the receiver rejected the SET (RFC 8935 err: {err}); not retried"
    ))
}

/// Claims the deliveries of `due` that are still claimable in the record, with one
/// conditional write: their `leasedUntil` becomes `until`. Returns the record as written
/// and the subscriptions claimed (none when another run claimed them first).
async fn claim<S: Store>(
    store: &S,
    key: &str,
    due: &[ObjectId],
    until: Timestamp,
    now: Timestamp,
) -> Result<(Option<QueuedEvent>, Vec<ObjectId>), DomainError> {
    let mut claimed = Vec::new();
    let updated = records::update(store, key, |e: &mut QueuedEvent| {
        claimed.clear();
        for d in e.deliveries.iter_mut() {
            if due.contains(&d.subscription_id) && d.claimable(now) {
                d.leased_until = Some(until);
                claimed.push(d.subscription_id.clone());
            }
        }
        Ok::<bool, DomainError>(!claimed.is_empty())
    })
    .await?;
    Ok(match updated {
        Updated::Written(e) => (Some(e), claimed),
        Updated::Missing | Updated::Unchanged(_) => (None, Vec::new()),
    })
}

async fn apply<S: Store>(
    store: &S,
    key: &str,
    subs: &[EventSubscription],
    outcomes: &[(ObjectId, Outcome)],
    now: Timestamp,
    report: &mut RunReport,
) -> Result<Option<QueuedEvent>, DomainError> {
    let mut counts = RunReport::default();
    let updated = records::update(store, key, |e: &mut QueuedEvent| {
        counts = RunReport::default();
        for (sub_id, outcome) in outcomes {
            let Some(d) = e.deliveries.iter_mut().find(|d| {
                &d.subscription_id == sub_id
                    && (d.state == DeliveryState::Pending
                        || (d.state == DeliveryState::Dead && matches!(outcome, Outcome::Dropped)))
            }) else {
                continue;
            };
            d.leased_until = None;
            match outcome {
                Outcome::Delivered => {
                    d.state = DeliveryState::Delivered;
                    d.delivered_at = Some(now);
                    d.last_status = None;
                    d.last_error = None;
                    counts.delivered += 1;
                }
                Outcome::Dropped => {
                    d.state = DeliveryState::Dropped;
                    counts.dropped += 1;
                }
                Outcome::Rejected(status, why) => {
                    d.attempts += 1;
                    d.last_status = Some(*status);
                    d.last_error = Some(why.clone());
                    d.state = DeliveryState::Dead;
                    counts.dead += 1;
                }
                Outcome::Failed(status, why) => {
                    d.attempts += 1;
                    d.last_status = *status;
                    d.last_error = Some(why.clone());
                    if d.attempts >= MAX_ATTEMPTS {
                        d.state = DeliveryState::Dead;
                        counts.dead += 1;
                    } else {
                        let base = subs
                            .iter()
                            .find(|s| &s.id == sub_id)
                            .map_or(DEFAULT_RETRY_BASE_SECS, |s| s.retry_base_seconds);
                        d.next_attempt_at = now.plus_millis(backoff_ms(base, d.attempts));
                        counts.retrying += 1;
                    }
                }
            }
        }
        let had = e.personal.is_some();
        e.settle();
        Ok::<bool, DomainError>(!outcomes.is_empty() || had != e.personal.is_some())
    })
    .await?;
    report.delivered += counts.delivered;
    report.retrying += counts.retrying;
    report.dead += counts.dead;
    report.dropped += counts.dropped;
    report.pending += counts.retrying;
    Ok(match updated {
        Updated::Missing => None,
        Updated::Unchanged(e) | Updated::Written(e) => Some(e),
    })
}

/// One delivery as listed: its id, the event's number, type and time, and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// `{number}-{subscriptionId}`.
    pub id: String,
    /// The event (audit) number.
    pub event_number: i64,
    /// The event type.
    pub event_type: EventType,
    /// When the event happened.
    pub event_at: Timestamp,
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// The deliveries of events still in the pending index (pending or dead), optionally
/// only those in `state`, oldest first, at most `limit`.
pub async fn list_open<S: Store>(
    store: &S,
    org: &ObjectId,
    state: Option<DeliveryState>,
    limit: usize,
) -> Result<Vec<DeliveryView>, DomainError> {
    let index: PendingIndex = records::read(store, &keys::events_pending(org))
        .await?
        .unwrap_or_default();
    let keys: Vec<String> = index
        .numbers
        .iter()
        .map(|(n, _)| keys::queued_event(org, *n))
        .collect();
    let mut out = Vec::new();
    for (key, value) in keys.iter().zip(store.get_many(&keys).await?) {
        let Some(bytes) = value else { continue };
        let e: QueuedEvent = records::decode(key, &bytes)?;
        for d in &e.deliveries {
            // Settled deliveries of an event still open (one subscriber delivered,
            // another pending) are not listed either.
            if !d.state.open() || state.is_some_and(|s| s != d.state) {
                continue;
            }
            out.push(DeliveryView {
                id: delivery_id(e.number, &d.subscription_id),
                event_number: e.number,
                event_type: e.event_type,
                event_at: e.at,
                delivery: d.clone(),
            });
            if out.len() == limit {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// One delivery by id (any state, while its event's record exists).
pub async fn delivery<S: Store>(
    store: &S,
    org: &ObjectId,
    number: i64,
    sub: &ObjectId,
) -> Result<(QueuedEvent, Delivery), DomainError> {
    let not_found = || DomainError::NotFound {
        entity: Entity::EventDelivery,
    };
    let e: QueuedEvent = records::read(store, &keys::queued_event(org, number))
        .await?
        .ok_or_else(not_found)?;
    let d = e
        .deliveries
        .iter()
        .find(|d| &d.subscription_id == sub)
        .cloned()
        .ok_or_else(not_found)?;
    Ok((e, d))
}

/// Requeues a dead-lettered delivery: pending again, due now, its attempts reset, and
/// its event back in the pending index (first, so a run never misses it). `Invalid`
/// naming `deliveryId` when it is not dead-lettered.
pub async fn replay<S: Store>(
    store: &S,
    org: &ObjectId,
    number: i64,
    sub: &ObjectId,
    now: Timestamp,
) -> Result<Delivery, DomainError> {
    let (_, d) = delivery(store, org, number, sub).await?;
    if d.state != DeliveryState::Dead {
        return Err(not_dead(d.state).into());
    }
    add_pending(store, org, number, now).await?;
    let mut out = None;
    let updated = records::update(
        store,
        &keys::queued_event(org, number),
        |e: &mut QueuedEvent| {
            let Some(d) = e.deliveries.iter_mut().find(|d| &d.subscription_id == sub) else {
                return Err(DomainError::NotFound {
                    entity: Entity::EventDelivery,
                });
            };
            if d.state != DeliveryState::Dead {
                return Err(not_dead(d.state).into());
            }
            d.state = DeliveryState::Pending;
            d.attempts = 0;
            d.next_attempt_at = now;
            d.leased_until = None;
            out = Some(d.clone());
            Ok(true)
        },
    )
    .await?;
    match (updated, out) {
        (Updated::Written(_), Some(d)) => Ok(d),
        _ => Err(DomainError::NotFound {
            entity: Entity::EventDelivery,
        }),
    }
}

fn not_dead(state: DeliveryState) -> ValidationError {
    let state = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    ValidationError::new(
        "deliveryId",
        format!("only a dead-lettered delivery can be replayed (this one is {state})"),
    )
}
