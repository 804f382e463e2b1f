//! Component `mdm-user-password-reset`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/password-reset`.

use spin_sdk::http::{IntoResponse, Request};

/// POST resets a user's password (administrator).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserPasswordReset>(req).await
}
