//! Component `token`: `/v1/tokens/:tokenId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET one global API token; DELETE revokes it.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::GlobalToken>(req).await
}
