//! Component `wso2-users-roles`: `/mdm-admin/users/roles`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET ?username= the user's roles.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersRoles>(req).await
}
