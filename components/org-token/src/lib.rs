//! Component `org-token`: `/v1/organizations/:organizationId/tokens/:tokenId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET one of the organization's API tokens; DELETE revokes it.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::OrgToken>(req).await
}
