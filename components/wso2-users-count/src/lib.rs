//! Component `wso2-users-count`: `/mdm-admin/users/count`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET the number of users (a bare integer).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersCount>(req).await
}
