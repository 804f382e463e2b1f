//! Component `wso2-users-change-password`: `/mdm-admin/users/change-password`.

// `http_component` expands to the wasi:http export glue (an `export_name`d, unsafe
// ABI shim), so this crate alone allows what the workspace denies.
#![allow(unsafe_code)]

use spin_sdk::http::{IncomingRequest, IntoResponse};

/// WSO2 (seed 003): POST changes a password (base64) after checking the old one.
#[spin_sdk::http_component]
async fn handle(req: IncomingRequest) -> impl IntoResponse {
    roster_spin::serve::<roster_api::wso2::UsersChangePassword>(req).await
}
