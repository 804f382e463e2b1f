//! Component `org-tokens`: `/v1/organizations/:organizationId/tokens`.

use spin_sdk::http::{IntoResponse, Request};

/// GET lists the organization's API tokens; POST creates one.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::OrgTokens>(req).await
}
