//! Component `cas-user`: `/AdminInterface/restapi/v1/users/:userId`.

use spin_sdk::http::{IntoResponse, Request};

/// DELETE deletes a disabled user now with all their devices and information (seed 001, Cloud Access Service).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::cas::User>(req).await
}
