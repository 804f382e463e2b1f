//! The human-readable API reference (issue 17): `GET /reference`, a page that renders
//! [`super::ROUTE`] (`/openapi.json`) with RapiDoc, and `GET /reference/rapidoc-min.js`,
//! RapiDoc's bundle. Both are public, served by their own components, and need nothing
//! outside the app: the bundle comes from the npm registry at build time (pinned in
//! `crates/api/reference/package-lock.json`, fetched by `scripts/reference-assets.sh`,
//! compressed by build.rs) and the page's Content-Security-Policy lets it load scripts,
//! styles, fonts and data only from its own origin (no CDN, no inline script: the page
//! has no init code, RapiDoc reads its settings from the `<rapi-doc>` element).

use super::accepts_deflate;
use crate::auth::Requirement;
use crate::{ApiRequest, ApiResponse, Ctx, Endpoint};

/// The page (`crates/api/reference/index.html`).
pub const PAGE: &str = include_str!("../../reference/index.html");

/// RapiDoc's `rapidoc-min.js` (npm package `rapidoc`, the version pinned in
/// `crates/api/reference/package-lock.json`), zlib compressed by build.rs.
pub const VIEWER_DEFLATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rapidoc-min.js.zz"));

/// The route of the page.
pub const PAGE_ROUTE: &str = "/reference";

/// The route of RapiDoc's bundle, as the page's `<script src>` names it.
pub const VIEWER_ROUTE: &str = "/reference/rapidoc-min.js";

/// The Content-Security-Policy of both answers: scripts only from this origin, none
/// inline and no `eval`; the description fetched from this origin (`connect-src`, which
/// also serves the page's "try it" requests); no frames, forms, plugins or `<base>`.
/// Inline styles are allowed: RapiDoc's templates set `style` attributes.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A static answer of the reference: `body` with `content_type`, the [`CSP`] and
/// `X-Content-Type-Options: nosniff`; sent `Content-Encoding: deflate` when `deflated`.
fn answer(body: Vec<u8>, content_type: &'static str, deflated: bool) -> ApiResponse {
    let mut resp = ApiResponse::new(body);
    let headers = resp.headers_mut();
    for (name, value) in [
        (http::header::CONTENT_TYPE, content_type),
        (http::header::CONTENT_SECURITY_POLICY, CSP),
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (http::header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    if deflated {
        headers.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static("deflate"),
        );
    }
    resp
}

/// The canonical surface's 405 with `Allow: GET`, for any other method.
fn only_get(allow: &'static str) -> ApiResponse {
    crate::respond::<crate::mdm::Error>(Err(crate::Refusal::MethodNotAllowed(allow).into()))
}

/// `GET /reference`: the reference page (HTML, UTF-8), no token needed.
pub struct PageRoute;

impl Endpoint for PageRoute {
    const ROUTE: &'static str = PAGE_ROUTE;
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        (method == "GET").then(Requirement::public)
    }

    async fn handle<S: roster_domain::Store>(req: &ApiRequest, _: &S, _: &Ctx) -> ApiResponse {
        if req.method != http::Method::GET {
            return only_get(Self::ALLOW);
        }
        answer(PAGE.as_bytes().to_vec(), "text/html; charset=utf-8", false)
    }
}

/// `GET /reference/rapidoc-min.js`: RapiDoc's bundle (JavaScript), no token needed. Sent
/// `Content-Encoding: deflate` when the request's `Accept-Encoding` accepts it (every
/// browser), else inflated; `Vary: Accept-Encoding` either way.
pub struct ViewerRoute;

impl Endpoint for ViewerRoute {
    const ROUTE: &'static str = VIEWER_ROUTE;
    const ALLOW: &'static str = "GET";

    fn requirement(method: &str) -> Option<Requirement> {
        (method == "GET").then(Requirement::public)
    }

    async fn handle<S: roster_domain::Store>(req: &ApiRequest, _: &S, _: &Ctx) -> ApiResponse {
        if req.method != http::Method::GET {
            return only_get(Self::ALLOW);
        }
        let deflate = req.header("accept-encoding").is_some_and(accepts_deflate);
        let body = if deflate {
            VIEWER_DEFLATE.to_vec()
        } else {
            // The build compressed it with the same library: inflating cannot fail.
            miniz_oxide::inflate::decompress_to_vec_zlib(VIEWER_DEFLATE).unwrap_or_default()
        };
        let mut resp = answer(body, "text/javascript; charset=utf-8", deflate);
        resp.headers_mut().insert(
            http::header::VARY,
            http::HeaderValue::from_static("accept-encoding"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<E: Endpoint>(method: http::Method, encoding: Option<&str>) -> ApiResponse {
        let store = roster_domain::MemoryStore::default();
        let ctx = Ctx::new(Some("admin".into()), roster_domain::Timestamp(0));
        let mut req = ApiRequest::new(method);
        if let Some(e) = encoding {
            req.headers
                .insert("accept-encoding", http::HeaderValue::from_str(e).unwrap());
        }
        futures::executor::block_on(E::handle(&req, &store, &ctx))
    }

    #[test]
    fn the_page_loads_only_its_own_script_and_the_description() {
        // No inline script: every <script> has a src, and it is the viewer's route.
        let scripts: Vec<&str> = PAGE.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 1);
        assert!(scripts[0].starts_with(&format!(
            " type=\"module\" src=\"{VIEWER_ROUTE}\"></script>"
        )));
        assert!(PAGE.contains(&format!("spec-url=\"{}\"", super::super::ROUTE)));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        let resp = get::<PageRoute>(http::Method::GET, Some("deflate"));
        assert_eq!(resp.status(), http::StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(resp.headers()["content-security-policy"], CSP);
        assert!(resp.headers().get("content-encoding").is_none());
        assert_eq!(resp.body().as_slice(), PAGE.as_bytes());
    }

    #[test]
    fn the_viewer_is_rapidoc_deflated_where_accepted() {
        let plain = get::<ViewerRoute>(http::Method::GET, None);
        assert_eq!(plain.status(), http::StatusCode::OK);
        assert_eq!(
            plain.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let text = std::str::from_utf8(plain.body()).unwrap();
        assert!(text.contains("rapi-doc"), "not RapiDoc's bundle");
        let packed = get::<ViewerRoute>(http::Method::GET, Some("gzip, deflate, br"));
        assert_eq!(packed.headers()["content-encoding"], "deflate");
        assert_eq!(packed.headers()["vary"], "accept-encoding");
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec_zlib(packed.body()).unwrap(),
            plain.body().clone()
        );
    }

    #[test]
    fn other_methods_answer_405_allow_get() {
        for resp in [
            get::<PageRoute>(http::Method::POST, None),
            get::<ViewerRoute>(http::Method::DELETE, None),
        ] {
            assert_eq!(resp.status(), http::StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(resp.headers()["allow"], "GET");
        }
    }
}
