//! Component `org-token`: `/v1/organizations/:organizationId/tokens/:tokenId`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// GET one of the organization's API tokens; DELETE revokes it.
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::OrgToken>(req).await
}
