//! Component `mdm-users-count`: `/v1/organizations/:organizationId/mdm/users/count`.

use spin_sdk::http::{IntoResponse, Request};

/// GET the number of users in O(1) reads.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UsersCount>(req).await
}
