//! Component `wso2-users-view`: `/mdm-admin/users/view`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET ?username= one user's details.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersView>(req).await
}
