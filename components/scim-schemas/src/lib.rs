//! Component `scim-schemas`: `/v1/organizations/:organizationId/scim/v2/Schemas`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM discovery: the schemas (RFC 7644 section 4).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::Schemas>(req).await
}
