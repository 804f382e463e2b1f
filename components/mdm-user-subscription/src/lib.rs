//! Component `mdm-user-subscription`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions/:subscriptionId`.

use spin_sdk::http::{IntoResponse, Request};

/// PATCH a subscription's state; DELETE removes it.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserSubscription>(req).await
}
