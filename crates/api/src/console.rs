//! The admin console (issue 18): `GET /console`, a page for administrators, with its
//! script `GET /console/console.js` and style sheet `GET /console/console.css`, each
//! served by its own public component. The console is plain modern JavaScript (one ES
//! module, no framework, no npm dependency) that speaks only the canonical API
//! (`/v1/…`) with the API token the administrator pastes, kept in the tab's
//! `sessionStorage` and sent as `Authorization: Bearer` — never in a URL, a cookie or a
//! log. So it works the same on Spin and on roster-host.
//!
//! The three files are `crates/api/console/*`, embedded at build time. Every answer
//! carries a strict Content-Security-Policy ([`CSP`]): scripts, styles and requests only
//! from this origin, no inline script or style, no frames, forms or `<base>`.

use crate::assets::{Asset, AssetRoute, StaticAsset};

/// The page (`crates/api/console/index.html`): markup only, no inline script or style.
pub const PAGE: &str = include_str!("../console/index.html");

/// The console's code (`crates/api/console/console.js`), an ES module.
pub const SCRIPT: &str = include_str!("../console/console.js");

/// The console's style sheet (`crates/api/console/console.css`).
pub const STYLE: &str = include_str!("../console/console.css");

/// The route of the page.
pub const PAGE_ROUTE: &str = "/console";

/// The route of the script, as the page's `<script src>` names it.
pub const SCRIPT_ROUTE: &str = "/console/console.js";

/// The route of the style sheet, as the page's `<link href>` names it.
pub const STYLE_ROUTE: &str = "/console/console.css";

/// The Content-Security-Policy of every console answer: script and style only from this
/// origin (no inline script, no `style` attribute, no `eval`), requests only to this
/// origin (the canonical API), images only from it or `data:`; no fonts, frames,
/// plugins, form submissions or `<base>`, and no framing by another page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; \
base-uri 'none'";

/// Every console file: its type, the [`CSP`], and `Cache-Control: no-cache` (a browser
/// revalidates, so a new build is seen at once).
const fn file(body: &'static str, content_type: &'static str) -> Asset {
    Asset {
        body: body.as_bytes(),
        deflated: false,
        content_type,
        csp: Some(CSP),
        cache_control: Some("no-cache"),
    }
}

/// The page as a static file.
pub struct Page;

impl StaticAsset for Page {
    const ROUTE: &'static str = PAGE_ROUTE;
    const ASSET: Asset = file(PAGE, "text/html; charset=utf-8");
}

/// The script as a static file.
pub struct Script;

impl StaticAsset for Script {
    const ROUTE: &'static str = SCRIPT_ROUTE;
    const ASSET: Asset = file(SCRIPT, "text/javascript; charset=utf-8");
}

/// The style sheet as a static file.
pub struct Style;

impl StaticAsset for Style {
    const ROUTE: &'static str = STYLE_ROUTE;
    const ASSET: Asset = file(STYLE, "text/css; charset=utf-8");
}

/// `GET /console`: the console's page (HTML, UTF-8), no token needed.
pub type PageRoute = AssetRoute<Page>;

/// `GET /console/console.js`: the console's script (JavaScript), no token needed.
pub type ScriptRoute = AssetRoute<Script>;

/// `GET /console/console.css`: the console's style sheet (CSS), no token needed.
pub type StyleRoute = AssetRoute<Style>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiRequest, ApiResponse, Ctx, Endpoint};

    fn get<E: Endpoint>(method: http::Method) -> ApiResponse {
        let store = roster_domain::MemoryStore::default();
        let ctx = Ctx::new(None, roster_domain::Timestamp(0));
        futures::executor::block_on(E::handle(&ApiRequest::new(method), &store, &ctx))
    }

    #[test]
    fn the_page_loads_only_its_own_script_and_style() {
        // No inline script: the one <script> has a src, the console's.
        let scripts: Vec<&str> = PAGE.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 1);
        assert!(scripts[0].starts_with(&format!(
            " type=\"module\" src=\"{SCRIPT_ROUTE}\"></script>"
        )));
        assert!(PAGE.contains(&format!("<link rel=\"stylesheet\" href=\"{STYLE_ROUTE}\">")));
        // No inline style, nothing from another origin.
        assert!(!PAGE.contains("style=") && !PAGE.contains("<style"));
        for text in [PAGE, SCRIPT, STYLE] {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
        // The token lives in sessionStorage only: never localStorage or a cookie.
        assert!(SCRIPT.contains("sessionStorage"));
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("document.cookie"));
        // Only the canonical API.
        assert!(!SCRIPT.contains("/scim/") && !SCRIPT.contains("/mdm-admin/"));
    }

    #[test]
    fn every_file_is_served_with_its_type_and_the_csp() {
        for (resp, body, content_type) in [
            (
                get::<PageRoute>(http::Method::GET),
                PAGE,
                "text/html; charset=utf-8",
            ),
            (
                get::<ScriptRoute>(http::Method::GET),
                SCRIPT,
                "text/javascript; charset=utf-8",
            ),
            (
                get::<StyleRoute>(http::Method::GET),
                STYLE,
                "text/css; charset=utf-8",
            ),
        ] {
            assert_eq!(resp.status(), http::StatusCode::OK);
            assert_eq!(resp.headers()["content-type"], content_type);
            assert_eq!(resp.headers()["content-security-policy"], CSP);
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
            assert_eq!(resp.body().as_slice(), body.as_bytes());
        }
    }

    #[test]
    fn head_answers_gets_headers_without_the_body() {
        let get_ = get::<PageRoute>(http::Method::GET);
        let head = get::<PageRoute>(http::Method::HEAD);
        assert_eq!(head.status(), http::StatusCode::OK);
        assert!(head.body().is_empty());
        assert_eq!(head.headers(), get_.headers());
    }

    #[test]
    fn other_methods_answer_405_allow_get_head() {
        for resp in [
            get::<PageRoute>(http::Method::POST),
            get::<ScriptRoute>(http::Method::DELETE),
            get::<StyleRoute>(http::Method::PUT),
        ] {
            assert_eq!(resp.status(), http::StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(resp.headers()["allow"], "GET, HEAD");
            // The error page is held to the same policy as the page.
            assert_eq!(resp.headers()["content-security-policy"], CSP);
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        }
    }
}
