//! Component `mdm-user-restore`: `/v1/organizations/:organizationId/mdm/users/:mdmUserId/restore`.

use spin_sdk::http::{IntoResponse, Request};

/// POST restores a softly removed user.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UserRestore>(req).await
}
