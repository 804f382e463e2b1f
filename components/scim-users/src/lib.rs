//! Component `scim-users`: `/v1/organizations/:organizationId/scim/v2/Users`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM Users: GET lists (filter, sort, paging), POST creates a user (RFC 7644).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::Users>(req).await
}
