//! Component `wso2-users`: `/mdm-admin/users`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): POST adds a user, GET lists all, PUT ?username= updates, DELETE ?username= removes (also /mdm-admin/users/: Spin ignores one trailing slash).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::Users>(req).await
}
