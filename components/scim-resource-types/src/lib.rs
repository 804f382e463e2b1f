//! Component `scim-resource-types`: `/v1/organizations/:organizationId/scim/v2/ResourceTypes`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// SCIM discovery: the resource types (RFC 7644 section 4).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::scim::service::ResourceTypes>(req).await
}
