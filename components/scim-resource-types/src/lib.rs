//! Component `scim-resource-types`: `/v1/organizations/:organizationId/scim/v2/ResourceTypes`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM discovery: the resource types (RFC 7644 section 4).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::ResourceTypes>(req).await
}
