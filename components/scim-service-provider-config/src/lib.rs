//! Component `scim-service-provider-config`: `/v1/organizations/:organizationId/scim/v2/ServiceProviderConfig`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// SCIM discovery: the ServiceProviderConfig (RFC 7644 section 4).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::ServiceProviderConfig>(req).await
}
