//! Component `mdm-user-groups`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/groups`.

use spin_sdk::http::{IntoResponse, Request};

/// GET a user's groups; PUT replaces them.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserGroups>(req).await
}
