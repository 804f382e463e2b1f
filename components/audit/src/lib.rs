//! Component `audit`: `/v1/organizations/:organizationId/audit`.

use spin_sdk::http::{IntoResponse, Request};

/// GET the organization's audit log.
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::mdm::Audit>(req).await
}
