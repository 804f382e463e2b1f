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

/// A JSON response of a value serialized straight from its type (no `Value` built):
/// `Content-Type: application/json`. A type whose serialization fails (a map with
/// non-string keys) answers an empty object, never a panic.
pub fn json_of<T: serde::Serialize>(status: StatusCode, body: &T) -> ApiResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = http::Response::new(bytes);
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

/// The entity tags of an `If-Match` / `If-None-Match` header (RFC 9110 §13.1.1–2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EntityTags {
    /// `*`.
    Any,
    /// The versions listed (`None` for a tag this service never issued: it matches
    /// nothing).
    Versions(Vec<Option<u64>>),
}

impl EntityTags {
    /// The tags of header `name` (a lowercase name of `READ_HEADERS`), sent on one line
    /// or several (one list, RFC 9110 §5.3); `None` when absent. A line that is not
    /// text (bytes that are not UTF-8) is a tag this service never issued, which
    /// matches nothing.
    pub(crate) fn of(req: &ApiRequest, name: &str) -> Option<Self> {
        Some(match req.header_list(name)? {
            Ok(raw) => Self::parse(&raw),
            Err(_) => Self::Versions(vec![None]),
        })
    }

    /// A list of tags, or `*` among them; empty list elements are ignored (RFC 9110
    /// §5.6.1), so a list of none matches nothing.
    pub(crate) fn parse(raw: &str) -> Self {
        let tags = crate::request::list_elements(raw);
        if tags.clone().any(|t| t == "*") {
            return Self::Any;
        }
        Self::Versions(
            tags.map(|t| quoted_version(t.strip_prefix("W/").unwrap_or(t)))
                .collect(),
        )
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): `W/"3"` and `"3"` both name version 3.
    pub(crate) fn matches(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(v) => v.contains(&Some(version)),
        }
    }
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

/// The version an ETag names, from the text between its quotes, only when written as
/// this API writes it: decimal digits, no sign, no leading zero. Entity tags compare as
/// text (RFC 9110 §8.8.3.2), so `"05"` or `"+5"` is a tag never issued and names no
/// version, though it would parse as 5.
pub fn etag_version(opaque: &str) -> Option<u64> {
    let canonical = !opaque.is_empty()
        && opaque.bytes().all(|b| b.is_ascii_digit())
        && (opaque == "0" || !opaque.starts_with('0'));
    canonical.then(|| opaque.parse().ok()).flatten()
}

/// The version a strong entity tag `"n"` names ([`etag_version`] of the text between
/// the quotes); `None` for an unquoted or weak (`W/"n"`) tag or one never issued.
pub fn quoted_version(tag: &str) -> Option<u64> {
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(etag_version)
}

/// The `scheme://authority` the request was sent to, for absolute URLs in headers and
/// bodies: the authority of Spin's `spin-full-url`, else of the `Host` header; the
/// scheme that of `spin-full-url` (`http` without it), overridden by `X-Forwarded-Proto:
/// https` or `http` from a TLS-terminating proxy. Empty (URLs relative to the host) when
/// neither gives an authority that is `host[:port]` (`is_authority`: a name of RFC 3986's
/// unreserved characters or an IPv6 address in brackets, a port of digits). Of several
/// `X-Forwarded-Proto` values (a chain of proxies) the first, the client's, counts.
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
    let listed = req.header_list("x-forwarded-proto").and_then(Result::ok);
    let proto = listed
        .as_deref()
        .and_then(|v| crate::request::list_elements(v).next());
    let scheme = match proto {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => scheme,
    };
    (matches!(scheme, "http" | "https") && is_authority(authority))
        .then(|| format!("{scheme}://{authority}"))
}

/// Whether `authority` is `host[:port]` as this API echoes it (RFC 3986 §3.2.2–3.2.3):
/// a host of letters, digits and `.-_~` or an IPv6 address in brackets (`[::1]`; no
/// `IPvFuture`); a port of digits up to 65535 (a URL parser refuses a larger one).
/// Anything else (`a.example:abc`, `a/b`, a user info) is not echoed into an absolute
/// URL.
fn is_authority(authority: &str) -> bool {
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((literal, after)) => (literal.parse::<std::net::Ipv6Addr>().is_ok(), after),
            None => (false, ""),
        },
        None => {
            let end = authority.find(':').unwrap_or(authority.len());
            let host = &authority[..end];
            (
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-_~".contains(&b)),
                &authority[end..],
            )
        }
    };
    host_ok
        && (port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_version_reads_only_strong_tags_as_issued() {
        assert_eq!(quoted_version("\"7\""), Some(7));
        for not_one in ["7", "W/\"7\"", "\"07\"", "\"7", "7\"", "\"\"", "\""] {
            assert_eq!(quoted_version(not_one), None, "{not_one:?}");
        }
    }
    use http::Method;

    #[test]
    fn an_etag_names_a_version_only_as_issued() {
        assert_eq!(etag_version("5"), Some(5));
        assert_eq!(etag_version("0"), Some(0));
        assert_eq!(etag_version("18446744073709551615"), Some(u64::MAX));
        for never_issued in [
            "05",
            "+5",
            "-5",
            " 5",
            "5 ",
            "",
            "5a",
            "18446744073709551616",
        ] {
            assert_eq!(etag_version(never_issued), None, "{never_issued:?}");
        }
    }

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
        // Empty list elements are ignored (RFC 9110 §5.6.1), on one line or several.
        r.headers
            .insert("x-forwarded-proto", " , https".parse().unwrap());
        assert_eq!(origin(&r), "https://api.example.test");
        r.headers.insert("x-forwarded-proto", "".parse().unwrap());
        r.headers
            .append("x-forwarded-proto", "https".parse().unwrap());
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
        // A port is digits up to 65535; a bracketed host is an IPv6 address.
        r.headers.insert("host", "[::1]:8080".parse().unwrap());
        assert_eq!(origin(&r), "https://[::1]:8080");
        for odd in [
            "a.example:abc",
            "a.example:",
            "a.example:123456",
            "a.example:65536",
            "a.example:+80",
            "[::1",
            "[]",
            "[x]:1",
            "[abc]",
            "[.]",
            "[:]",
            "[1.2.3.4]",
            "u@a.example",
            ":80",
        ] {
            r.headers.insert("host", odd.parse().unwrap());
            assert_eq!(origin(&r), "", "{odd}");
        }
    }
}
