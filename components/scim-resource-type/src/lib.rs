//! Component `scim-resource-type`: `/v1/organizations/:organizationId/scim/v2/ResourceTypes/:resourceTypeId`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM discovery: one resource type (RFC 7644 section 4).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::ResourceTypeById>(req).await
}
