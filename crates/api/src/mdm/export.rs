//! Export before erase on the canonical surface: `GET …/mdm/users/:mdmUserId/export`
//! (`mdm.global.userExport.read`) answers everything Roster holds about a user as one
//! JSON document, made for this answer and kept nowhere (`Cache-Control: no-store`);
//! the export is audited (`user.exported`) and its time recorded in the user record,
//! which an organization's `requireExportBeforeRemoval` policy asks of every removal.
//! A `HEAD` answers GET's status and headers without making an export (nothing audited
//! or recorded). `docs/lifecycle.md` has the rules and the document's shape.

use super::{Error, enter, object_id, ok};
use crate::request::{ApiRequest, ApiResponse, Ctx};
use http::{HeaderValue, StatusCode, header};
use roster_domain::Store;
use roster_domain::export;

crate::endpoint! {
    /// `…/mdm/users/:mdmUserId/export`: GET exports the user's data.
    pub struct UserExportRoute {
        route: "/v1/organizations/:organizationId/mdm/users/:mdmUserId/export",
        error: Error,
        GET need(UserExport, Read) => export_user,
    }
}

async fn export_user<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
) -> Result<ApiResponse, Error> {
    let (org, caller) = enter::<UserExportRoute, S>(req, store, ctx).await?;
    let user_id = object_id(req, "mdmUserId")?;
    let mut resp = if req.method == http::Method::HEAD {
        // HEAD is safe (RFC 9110 §9.2.1): GET's status and headers, but no export is
        // made, audited or recorded — it must not count for `requireExportBeforeRemoval`.
        export::exportable(store, &org, &user_id).await?;
        ok(StatusCode::OK, &serde_json::Value::Null)
    } else {
        let made = export::export_user(store, &org, &user_id, &caller.actor(), ctx.now).await?;
        ok(StatusCode::OK, &made.document)
    };
    // The document holds personal data: no cache (shared or private) may keep it.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
