//! Public static files, each served by its own component: the API description
//! (`/openapi.json`), the reference page and RapiDoc's bundle (`/reference…`), the admin
//! console's page, script and style sheet (`/console…`). One [`Endpoint`] serves them
//! all, [`AssetRoute`], from a [`StaticAsset`] that says what the file is; so every one
//! of them answers the same way:
//!
//! - `GET`: no token needed; the body with its `Content-Type`,
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and the file's
//!   Content-Security-Policy and `Cache-Control` when it has them. A file stored zlib
//!   compressed (by build.rs) is sent `Content-Encoding: deflate` when the request's
//!   `Accept-Encoding` accepts it, else inflated; `Vary: Accept-Encoding` either way.
//! - `HEAD` (RFC 9110 §9.3.2): the headers `GET` would send, without the body (and
//!   so without `Content-Length`, which §9.3.2 lets a server leave out).
//! - any other method: the canonical surface's 405 with `Allow: GET, HEAD`, carrying
//!   the same security headers (a browser shown the error page gets the same policy).

use crate::auth::Requirement;
use crate::openapi::accepts_deflate;
use crate::{ApiRequest, ApiResponse, Ctx, Endpoint};
use http::{HeaderValue, header};
use std::marker::PhantomData;

/// What a static file is.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The bytes: the file itself, or its zlib stream when [`Asset::deflated`].
    pub body: &'static [u8],
    /// Whether [`Asset::body`] is zlib compressed (RFC 1950, HTTP's `deflate` coding).
    pub deflated: bool,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its `Content-Security-Policy`, if any (pages, and the scripts they load).
    pub csp: Option<&'static str>,
    /// Its `Cache-Control`, if any.
    pub cache_control: Option<&'static str>,
}

/// A static file at a route.
pub trait StaticAsset {
    /// The route as spin.toml declares it.
    const ROUTE: &'static str;
    /// The file.
    const ASSET: Asset;
}

/// The [`Endpoint`] serving the static file `A` (see the module's documentation).
pub struct AssetRoute<A>(PhantomData<A>);

/// The headers every answer of `asset` carries, the 405 included.
fn security_headers(resp: &mut ApiResponse, asset: &Asset) {
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(csp) = asset.csp {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
}

impl<A: StaticAsset> Endpoint for AssetRoute<A> {
    const ROUTE: &'static str = A::ROUTE;
    const ALLOW: &'static str = "GET, HEAD";

    fn requirement(method: &str) -> Option<Requirement> {
        matches!(method, "GET" | "HEAD").then(Requirement::public)
    }

    async fn handle<S: roster_domain::Store>(req: &ApiRequest, _: &S, _: &Ctx) -> ApiResponse {
        let asset = A::ASSET;
        let head = req.method == http::Method::HEAD;
        if req.method != http::Method::GET && !head {
            let mut resp = crate::respond::<crate::mdm::Error>(Err(
                crate::Refusal::MethodNotAllowed(Self::ALLOW).into(),
            ));
            security_headers(&mut resp, &asset);
            return resp;
        }
        let send_deflated = asset.deflated
            && matches!(req.header_list("accept-encoding"), Some(Ok(v)) if accepts_deflate(&v));
        let body = if head {
            Vec::new()
        } else if asset.deflated && !send_deflated {
            // The build compressed it with the same library: inflating cannot fail.
            miniz_oxide::inflate::decompress_to_vec_zlib(asset.body).unwrap_or_default()
        } else {
            asset.body.to_vec()
        };
        let mut resp = ApiResponse::new(body);
        security_headers(&mut resp, &asset);
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if let Some(cache) = asset.cache_control {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        }
        if asset.deflated {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if send_deflated {
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static("deflate"),
            );
        }
        resp
    }
}
