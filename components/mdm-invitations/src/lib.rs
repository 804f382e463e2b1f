//! Component `mdm-invitations`: `/v1/organizations/:organizationId/mdm/invitations`.

use spin_sdk::http::{IntoResponse, Request};

/// POST invites users by username: an enrollment token and an outbox message each.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Invitations>(req).await
}
