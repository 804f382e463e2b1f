//! Component `wso2-users-by-username`: `/mdm-admin/users/users-by-username`.

use spin_sdk::http::{IntoResponse, Request};

/// WSO2 (seed 003): GET ?username= names of users whose username contains the text.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersByUsername>(req).await
}
