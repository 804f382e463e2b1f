//! Component `scim-schema`: `/v1/organizations/:organizationId/scim/v2/Schemas/:schemaId`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM discovery: one schema by URN (RFC 7644 section 4).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::SchemaById>(req).await
}
