//! Component `mdm-group`: `/v1/organizations/:organizationId/mdm/groups/:groupId`.

use spin_sdk::http::{IntoResponse, Request};

/// GET or DELETE a group.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Group>(req).await
}
