//! Component `dynatrace-user`: `/v1/accounts/:accountUuid/users/:email`.

use spin_sdk::http::{IntoResponse, Request};

/// DELETE removes a person from a Dynatrace account (seed 002).
#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    roster_spin::serve::<roster_api::dynatrace::User>(req).await
}
