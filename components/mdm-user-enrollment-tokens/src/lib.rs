//! Component `mdm-user-enrollment-tokens`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/enrollment-tokens`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// GET lists the user's enrollment tokens; POST issues one.
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::EnrollmentTokens>(req).await
}
