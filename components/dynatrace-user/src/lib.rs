//! Component `dynatrace-user`: `/v1/accounts/:accountUuid/users/:email`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// DELETE removes a person from a Dynatrace account (seed 002).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::dynatrace::User>(req).await
}
