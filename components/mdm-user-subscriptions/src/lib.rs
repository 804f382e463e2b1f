//! Component `mdm-user-subscriptions`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/subscriptions`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists a user's API subscriptions; POST adds one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserSubscriptions>(req).await
}
