//! The request and response types every surface works with.

use http::{HeaderMap, Method};
use roster_domain::Timestamp;

/// The request body as the adapter read it.
#[derive(Debug, Clone)]
pub enum Body {
    /// The whole body (at most [`crate::MAX_BODY_BYTES`]).
    Bytes(Vec<u8>),
    /// The body exceeded [`crate::MAX_BODY_BYTES`]; it was not read further.
    TooLarge,
}

/// An HTTP request, reduced to what the surfaces need.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// Path parameters by route name (Spin's `spin-path-match-<name>` headers), raw.
    pub params: Vec<(String, String)>,
    /// The raw query string, without `?`.
    pub query: String,
    /// All request headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Body,
}

impl ApiRequest {
    /// A request with no parameters, query, headers or body.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            params: Vec::new(),
            query: String::new(),
            headers: HeaderMap::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// The path parameter `name` (matched case-insensitively, as HTTP header names
    /// are), percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    }

    /// The first value of query parameter `name`, percent-decoded (`+` as space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k) == name).then(|| decode_component(v))
        })
    }

    /// The header `name` as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A response: status, headers, body bytes.
pub type ApiResponse = http::Response<Vec<u8>>;

/// What the platform provides to a request besides the store.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `admin_token` application variable, when set.
    pub admin_token: Option<String>,
    /// The time the request is handled at.
    pub now: Timestamp,
    /// The rate-limit verdict of this request, once counted (for the `X-RateLimit-*`
    /// headers [`Ctx::finish`] adds).
    pub rate: std::cell::Cell<Option<roster_domain::ratelimit::Verdict>>,
}

impl Ctx {
    /// A context for one request at `now`.
    pub fn new(admin_token: Option<String>, now: Timestamp) -> Self {
        Self {
            admin_token,
            now,
            rate: std::cell::Cell::new(None),
        }
    }

    /// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
    /// (seconds until the window resets) when the request was counted, and
    /// `Retry-After` to a 429. Every adapter calls this on every response.
    pub fn finish(&self, mut resp: ApiResponse) -> ApiResponse {
        if let Some(v) = self.rate.get() {
            let h = resp.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", v.limit),
                ("x-ratelimit-remaining", v.remaining),
                ("x-ratelimit-reset", v.reset_secs),
            ] {
                h.insert(name, http::HeaderValue::from(value));
            }
            if resp.status() == http::StatusCode::TOO_MANY_REQUESTS {
                resp.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(v.reset_secs),
                );
            }
        }
        resp
    }
}
