//! Component `mdm-user-removals`: `/v1/organizations/:organizationId/mdm/users/removals`.

use spin_sdk::http::{IntoResponse, Request};

/// POST removes many users (seed 000's rules), a result per user.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserRemovals>(req).await
}
