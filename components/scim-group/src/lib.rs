//! Component `scim-group`: `/v1/organizations/:organizationId/scim/v2/Groups/:groupId`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM Group: GET, PUT, PATCH (members), DELETE (RFC 7644).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::Group>(req).await
}
