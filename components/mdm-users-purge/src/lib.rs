//! Component `mdm-users-purge`: `/v1/organizations/:organizationId/mdm/users/purge`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// POST purges softly removed users whose retention ended.
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UsersPurge>(req).await
}
