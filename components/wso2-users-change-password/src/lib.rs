//! Component `wso2-users-change-password`: `/mdm-admin/users/change-password`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): POST changes a password (base64) after checking the old one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersChangePassword>(req).await
}
