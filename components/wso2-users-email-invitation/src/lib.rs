//! Component `wso2-users-email-invitation`: `/mdm-admin/users/email-invitation`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): POST a JSON array of usernames to invite them to enroll.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersEmailInvitation>(req).await
}
