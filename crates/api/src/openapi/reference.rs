//! The human-readable API reference (issue 17): `GET /reference`, a page that renders
//! [`super::ROUTE`] (`/openapi.json`) with RapiDoc, and `GET /reference/rapidoc-min.js`,
//! RapiDoc's bundle. Both are public, served by their own components, and need nothing
//! outside the app: the bundle comes from the npm registry at build time (pinned in
//! `crates/api/reference/package-lock.json`, fetched by `scripts/reference-assets.sh`,
//! compressed by build.rs) and the page's Content-Security-Policy lets it load scripts,
//! styles, fonts and data only from its own origin (no CDN, no inline script: the page
//! has no init code, RapiDoc reads its settings from the `<rapi-doc>` element).

use crate::assets::{Asset, AssetRoute, StaticAsset};

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

/// The page as a static file.
pub struct Page;

impl StaticAsset for Page {
    const ROUTE: &'static str = PAGE_ROUTE;
    const ASSET: Asset = Asset {
        body: PAGE.as_bytes(),
        deflated: false,
        content_type: "text/html; charset=utf-8",
        csp: Some(CSP),
        cache_control: None,
    };
}

/// RapiDoc's bundle as a static file, stored compressed.
pub struct Viewer;

impl StaticAsset for Viewer {
    const ROUTE: &'static str = VIEWER_ROUTE;
    const ASSET: Asset = Asset {
        body: VIEWER_DEFLATE,
        deflated: true,
        content_type: "text/javascript; charset=utf-8",
        csp: Some(CSP),
        cache_control: None,
    };
}

/// `GET /reference`: the reference page (HTML, UTF-8), no token needed.
pub type PageRoute = AssetRoute<Page>;

/// `GET /reference/rapidoc-min.js`: RapiDoc's bundle (JavaScript), no token needed. Sent
/// `Content-Encoding: deflate` when the request's `Accept-Encoding` accepts it (every
/// browser), else inflated; `Vary: Accept-Encoding` either way.
pub type ViewerRoute = AssetRoute<Viewer>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiRequest, ApiResponse, Ctx, Endpoint};

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
    fn other_methods_answer_405_allow_get_head() {
        for resp in [
            get::<PageRoute>(http::Method::POST, None),
            get::<ViewerRoute>(http::Method::DELETE, None),
        ] {
            assert_eq!(resp.status(), http::StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(resp.headers()["allow"], "GET, HEAD");
        }
    }
}
