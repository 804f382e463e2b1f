//! Component `wso2-users-devices`: `/mdm-admin/users/devices`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET ?username= the user's devices (a bare array).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersDevices>(req).await
}
