//! Component `wso2-users-reset-password`: `/mdm-admin/users/reset-password`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): POST sets a password (base64) without the old one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersResetPassword>(req).await
}
