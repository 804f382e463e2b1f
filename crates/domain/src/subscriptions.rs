//! Subscriptions of users to API products (the API Management surface's dependents):
//! create, list, get, cancel, delete. A removal cascades them (or, on seed 004 without
//! `deleteSubscriptions=true`, is refused while the user has live ones).

use crate::dependents;
use crate::error::{DomainError, Entity, ValidationError};
use crate::ids::{self, ObjectId};
use crate::keys;
use crate::model::{Organization, Subscription, SubscriptionState};
use crate::records::{self, Updated};
use crate::store::Store;
use crate::time::Timestamp;
use crate::users;

/// Validates a subscription's scope (`/products/<id>`, `/apis/<id>` or `/apis`) and
/// display name.
pub fn parse(scope: &str, display_name: Option<&str>) -> Result<(String, String), ValidationError> {
    let scope = ids::text("scope", scope, ids::MAX_TEXT_LEN)?;
    let ok = scope == "/apis"
        || ["/products/", "/apis/"].iter().any(|p| {
            scope.strip_prefix(p).is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            })
        });
    if !ok {
        return Err(ValidationError::new(
            "scope",
            "must be /apis, /apis/<apiId> or /products/<productId>",
        ));
    }
    let display_name = ids::text("displayName", display_name.unwrap_or(""), ids::MAX_TEXT_LEN)?;
    Ok((scope, display_name))
}

/// Subscribes a live user (record first, then the user's list; a closed list means the
/// user is being removed: the record is deleted again and the answer is `NotFound`).
pub async fn create<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    scope: String,
    display_name: String,
    now: Timestamp,
) -> Result<Subscription, DomainError> {
    users::get_live(store, org, user_id).await?;
    let sub = Subscription {
        id: ObjectId::generate(now),
        org_id: org.id.clone(),
        user_id: user_id.clone(),
        scope,
        display_name,
        state: SubscriptionState::Active,
        created_at: now,
    };
    dependents::attach(
        store,
        &keys::subscription(&org.id, &sub.id),
        &sub,
        &keys::user_subscriptions(&org.id, user_id),
        &sub.id,
    )
    .await?;
    Ok(sub)
}

/// The user's subscriptions, oldest first.
pub async fn list<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
) -> Result<Vec<Subscription>, DomainError> {
    users::get(store, org, user_id).await?;
    let ids = dependents::read(store, &keys::user_subscriptions(&org.id, user_id)).await?;
    dependents::load(store, &ids, |id| keys::subscription(&org.id, id)).await
}

/// Changes a subscription's state (a conditional write).
pub async fn set_state<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    id: &ObjectId,
    state: SubscriptionState,
) -> Result<Subscription, DomainError> {
    let updated = records::update(
        store,
        &keys::subscription(&org.id, id),
        |s: &mut Subscription| {
            if &s.user_id != user_id {
                return Err(DomainError::NotFound {
                    entity: Entity::Subscription,
                });
            }
            if s.state == state {
                return Ok(false);
            }
            s.state = state;
            Ok(true)
        },
    )
    .await?;
    match updated {
        Updated::Missing => Err(DomainError::NotFound {
            entity: Entity::Subscription,
        }),
        Updated::Unchanged(s) | Updated::Written(s) => Ok(s),
    }
}

/// Deletes a subscription: the record, then its entry in the user's list (idempotent).
pub async fn delete<S: Store>(
    store: &S,
    org: &Organization,
    user_id: &ObjectId,
    id: &ObjectId,
) -> Result<(), DomainError> {
    let key = keys::subscription(&org.id, id);
    let found = match records::read::<S, Subscription>(store, &key).await? {
        Some(s) if &s.user_id == user_id => true,
        Some(_) => {
            return Err(DomainError::NotFound {
                entity: Entity::Subscription,
            });
        }
        None => false,
    };
    if found {
        store.delete(&key).await?;
    }
    dependents::remove(store, &keys::user_subscriptions(&org.id, user_id), id).await?;
    if found {
        Ok(())
    } else {
        Err(DomainError::NotFound {
            entity: Entity::Subscription,
        })
    }
}
