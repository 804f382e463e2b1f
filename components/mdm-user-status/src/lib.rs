//! Component `mdm-user-status`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/status`.

use spin_sdk::http::{IntoResponse, Request};

/// POST enables or disables a user.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserStatus>(req).await
}
