//! Component `wso2-users-view-users`: `/mdm-admin/users/view-users`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET ?username= details of users whose username contains the text.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersViewUsers>(req).await
}
