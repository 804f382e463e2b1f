//! Outbound HTTP policy: requests are refused unless the URL matches the component's
//! `allowed_outbound_hosts`.

use std::future::Future;
use std::sync::Arc;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    scheme: String,
    host: String,
    port: Option<String>,
}

/// A component's parsed `allowed_outbound_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHosts {
    /// Parses entries of the form `scheme://host[:port]`, where `scheme`, `host` and `port`
    /// may be `*` and `host` may be `*.domain`. Template entries (`"{{ event_hosts }}"`)
    /// are resolved before, each to exactly one entry, as Spin does
    /// (`Variables::resolve_app_template`); entries that cannot be parsed allow nothing.
    pub fn parse(entries: &[String]) -> Self {
        let hosts = entries
            .iter()
            .filter_map(|e| {
                let (scheme, rest) = e.split_once("://")?;
                let rest = rest.trim_end_matches('/');
                let (host, port) = match rest.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() => (h, Some(p.to_owned())),
                    _ => (rest, None),
                };
                Some(AllowedHost {
                    scheme: scheme.to_ascii_lowercase(),
                    host: host.to_ascii_lowercase(),
                    port,
                })
            })
            .collect();
        Self { hosts }
    }

    /// Whether a request to `uri` is allowed.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let Some(host) = uri.host().map(str::to_ascii_lowercase) else {
            return false;
        };
        let port = uri.port_u16().or_else(|| default_port(&scheme));
        self.hosts.iter().any(|a| {
            let scheme_ok = a.scheme == "*" || a.scheme == scheme;
            let host_ok = a.host == "*"
                || a.host == host
                || a.host
                    .strip_prefix("*.")
                    .is_some_and(|d| host.ends_with(&format!(".{d}")));
            let port_ok = match &a.port {
                Some(p) if p == "*" => true,
                Some(p) => p.parse::<u16>().ok() == port,
                None => default_port(&a.scheme) == port || default_port(&scheme) == port,
            };
            scheme_ok && host_ok && port_ok
        })
    }
}

/// The [`WasiHttpHooks`] of one instance: enforces [`AllowedHosts`] on `send_request`.
pub(crate) struct OutboundHooks {
    pub(crate) component: Arc<str>,
    pub(crate) allowed: Arc<AllowedHosts>,
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>
    {
        drop(fut);
        if !self.allowed.allows(request.uri()) {
            eprintln!(
                "A component ({}) tried to make an HTTP request to a non-allowed host: {}",
                self.component,
                request.uri()
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn matching() {
        let a = AllowedHosts::parse(&[
            "https://api.example.com".into(),
            "http://*.internal:8080".into(),
            "*://any.org:*".into(),
        ]);
        assert!(a.allows(&uri("https://api.example.com/x")));
        assert!(!a.allows(&uri("http://api.example.com/x")));
        assert!(a.allows(&uri("http://svc.internal:8080/")));
        assert!(!a.allows(&uri("http://svc.internal:8081/")));
        assert!(a.allows(&uri("http://any.org:1234/")));
        assert!(!AllowedHosts::default().allows(&uri("https://api.example.com")));
    }
}
