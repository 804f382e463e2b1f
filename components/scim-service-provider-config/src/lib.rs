//! Component `scim-service-provider-config`: `/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig`.

use spin_sdk::http::{IntoResponse, Request};

/// SCIM discovery: the ServiceProviderConfig (RFC 7644 section 4).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::ServiceProviderConfig>(req).await
}
