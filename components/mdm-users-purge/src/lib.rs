//! Component `mdm-users-purge`: `/v1/organizations/:organizationId/mdm/users/purge`.

use spin_sdk::http::{IntoResponse, Request};

/// POST purges softly removed users whose retention ended.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::UsersPurge>(req).await
}
