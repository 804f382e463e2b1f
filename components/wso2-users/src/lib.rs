//! Component `wso2-users`: `/mdm-admin/users`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// WSO2 (seed 003): POST adds a user, GET lists all, PUT ?username= updates, DELETE ?username= removes (also /mdm-admin/users/: Spin ignores one trailing slash).
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::Users>(req).await
}
