//! Component `scim-groups`: `/v1/organizations/:organizationId/scim/v2/Groups`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM Groups: GET lists (filter, sort, paging), POST creates a group (RFC 7644).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::Groups>(req).await
}
