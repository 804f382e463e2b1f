//! Component `mdm-user-password`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/password`.

use spin_sdk::http::{IntoResponse, Request};

/// POST changes a user's password (old + new).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserPassword>(req).await
}
