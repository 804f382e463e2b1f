//! Small request helpers the seed surfaces share (each maps their errors to its own
//! shape): boolean query flags, and the origin absolute URLs are built on.

use crate::request::{ApiRequest, ApiResponse};
use http::{HeaderValue, StatusCode, header};
use roster_domain::ValidationError;

/// A response with `status` and `body` as `application/json`.
pub fn json(status: StatusCode, body: &serde_json::Value) -> ApiResponse {
    let mut resp = http::Response::new(body.to_string().into_bytes());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A response with `status` and no body.
pub fn empty(status: StatusCode) -> ApiResponse {
    let mut resp = http::Response::new(Vec::new());
    *resp.status_mut() = status;
    resp
}

/// The boolean query parameter `name`: `None` when absent, `true` / `false` in any
/// case; any other value is invalid (so `dryRun=yes` never deletes by mistake).
pub fn flag(req: &ApiRequest, name: &str) -> Result<Option<bool>, ValidationError> {
    match req.query_param(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ValidationError::new(name, "must be true or false")),
    }
}

/// The `scheme://authority` the request was sent to, for absolute URLs in headers and
/// bodies: the authority of Spin's `spin-full-url`, else of the `Host` header; the
/// scheme that of `spin-full-url` (`http` without it), overridden by `X-Forwarded-Proto:
/// https` or `http` from a TLS-terminating proxy. Empty (URLs relative to the host) when
/// neither gives an authority of host characters (letters, digits, `.-_~:[]`: RFC 3986's
/// unreserved characters, a port and an IPv6 literal). Of several `X-Forwarded-Proto`
/// values (a chain of proxies) the first, the client's, counts.
pub fn origin(req: &ApiRequest) -> String {
    full_url_origin(req)
        .or_else(|| {
            let host = req.header("host")?;
            forwarded(req, "http", host)
        })
        .unwrap_or_default()
}

/// [`origin`] from `spin-full-url` alone (no `Host` fallback): what SCIM's resource URLs
/// use.
pub fn full_url_origin(req: &ApiRequest) -> Option<String> {
    let (scheme, rest) = req.header("spin-full-url")?.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    forwarded(req, scheme, authority)
}

/// `scheme://authority`, the scheme overridden by `X-Forwarded-Proto`; `None` unless
/// the scheme is `http` or `https` and the authority is host characters.
fn forwarded(req: &ApiRequest, scheme: &str, authority: &str) -> Option<String> {
    // Proxies in a chain append theirs: the first value is the one the client used.
    let proto = req
        .header("x-forwarded-proto")
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    let scheme = match proto {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => scheme,
    };
    (!authority.is_empty()
        && matches!(scheme, "http" | "https")
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_~:[]".contains(&b)))
    .then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn flags_and_origin() {
        let mut r = ApiRequest::new(Method::DELETE);
        r.query = "dryRun=TRUE&notify=false&x=maybe".into();
        assert_eq!(flag(&r, "dryRun"), Ok(Some(true)));
        assert_eq!(flag(&r, "notify"), Ok(Some(false)));
        assert_eq!(flag(&r, "absent"), Ok(None));
        assert_eq!(flag(&r, "x").unwrap_err().field, "x");
        assert_eq!(origin(&r), "");
        r.headers
            .insert("host", "example.test:8080".parse().unwrap());
        assert_eq!(origin(&r), "http://example.test:8080");
        r.headers.insert(
            "spin-full-url",
            "https://api.example.test/a/b?c=d".parse().unwrap(),
        );
        assert_eq!(origin(&r), "https://api.example.test");
        assert_eq!(
            full_url_origin(&r).as_deref(),
            Some("https://api.example.test")
        );
        // A TLS-terminating proxy names the scheme the client used.
        r.headers.insert(
            "spin-full-url",
            "http://api.example.test/a".parse().unwrap(),
        );
        r.headers
            .insert("x-forwarded-proto", "HTTPS".parse().unwrap());
        assert_eq!(origin(&r), "https://api.example.test");
        // Of a chain of proxies' values, the first is the client's.
        r.headers
            .insert("x-forwarded-proto", "https, http".parse().unwrap());
        assert_eq!(origin(&r), "https://api.example.test");
        r.headers.remove("spin-full-url");
        assert_eq!(origin(&r), "https://example.test:8080");
        assert_eq!(full_url_origin(&r), None);
        // Anything but a host's characters gives relative URLs, never a header
        // injected into ours.
        r.headers.insert("host", "evil.test/x".parse().unwrap());
        assert_eq!(origin(&r), "");
        // RFC 3986's unreserved characters are a host's.
        r.headers.insert("host", "a_b.example".parse().unwrap());
        assert_eq!(origin(&r), "https://a_b.example");
    }
}
