//! Component `cas-user`: `/AdminInterface/restapi/v1/users/:userId`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// DELETE deletes a disabled user now with all their devices and information (seed 001, Cloud Access Service).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::cas::UserRoute>(req).await
}
