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

/// The `scheme://authority` the request was sent to, for absolute URLs in headers:
/// taken from Spin's `spin-full-url`, else `http://` and the `Host` header; empty
/// (relative URLs) when neither is usable.
pub fn origin(req: &ApiRequest) -> String {
    if let Some(full) = req.header("spin-full-url")
        && let Some((scheme, rest)) = full.split_once("://")
    {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !authority.is_empty() && (scheme == "http" || scheme == "https") {
            return format!("{scheme}://{authority}");
        }
    }
    match req.header("host") {
        Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()) => {
            format!("http://{h}")
        }
        _ => String::new(),
    }
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
    }
}
