//! The HTTP/1.1 front end: routing, Spin's request headers, and running a component per request.

use crate::routes::RouteMatch;
use crate::{Host, Loaded};
use bytes::Bytes;
use http::header::HOST;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

type HostBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

fn full(status: StatusCode, body: &'static str) -> Response<HostBody> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

pub(crate) async fn serve(
    host: Arc<Host>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    println!("\nServing {base_url}");
    println!("Available Routes:");
    for (component, route) in host.routes() {
        println!("  {component}: {base_url}{route}");
    }
    loop {
        let (stream, client_addr) = listener.accept().await?;
        // A response goes out as its head, then body frames as the component streams
        // them; with Nagle's algorithm the first small body write waits for the ACK of
        // the head, which the client delays (40 ms on Linux). Send each write at once.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let host = host.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let host = host.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(host, req, client_addr).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("error serving HTTP connection: {e:?}");
            }
        });
    }
}

async fn handle(
    host: Arc<Host>,
    mut req: Request<Incoming>,
    client_addr: SocketAddr,
) -> Response<HostBody> {
    let path = req.uri().path().to_owned();
    if let Some(well_known) = path.strip_prefix(WELL_KNOWN_PREFIX) {
        return match well_known {
            "health" => full(StatusCode::OK, "OK"),
            _ => full(StatusCode::NOT_FOUND, ""),
        };
    }
    let Some(route_match) = host.router.route(&path) else {
        return full(StatusCode::NOT_FOUND, "");
    };
    let Some(component) = host.components.get(&route_match.component) else {
        return full(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    if let Err(e) = prepare_request(&mut req, &route_match, client_addr) {
        eprintln!("roster-host: bad request: {e}");
        return full(StatusCode::BAD_REQUEST, "Bad Request");
    }
    match run(&host, component, req).await {
        Ok(resp) => resp,
        Err(e) => {
            eprintln!(
                "roster-host: error processing request for component {:?}: {e:#}",
                route_match.component
            );
            full(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// Makes the URI absolute (scheme `http`, authority from the `Host` header) and sets Spin's
/// `spin-*` headers, as Spin's trigger-http does.
pub(crate) fn prepare_request<B>(
    req: &mut Request<B>,
    m: &RouteMatch,
    client_addr: SocketAddr,
) -> Result<(), String> {
    let host_header = req
        .headers()
        .get(HOST)
        .map(|h| {
            h.to_str()
                .map(str::to_owned)
                .map_err(|_| "'Host' header is not valid UTF-8".to_owned())
        })
        .transpose()?;
    let authority = match (&host_header, req.uri().authority()) {
        (Some(h), Some(a)) if h.as_str() != a.as_str() => {
            return Err("authority in 'Host' header does not match authority in URI".to_owned());
        }
        (Some(h), _) => h.clone(),
        (None, Some(a)) => a.as_str().to_owned(),
        (None, None) => return Err("no 'Host' header present in request".to_owned()),
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let uri = Uri::builder()
        .scheme("http")
        .authority(authority.as_str())
        .path_and_query(path_and_query.as_str())
        .build()
        .map_err(|e| format!("'Host' header contains an invalid authority: {e}"))?;
    *req.uri_mut() = uri;

    let host_for_url = host_header.unwrap_or_else(|| "localhost".to_owned());
    let mut headers: Vec<(String, String)> = vec![
        ("spin-path-info".into(), m.path_info.clone()),
        (
            "spin-full-url".into(),
            format!("http://{host_for_url}{path_and_query}"),
        ),
        ("spin-matched-route".into(), m.based_route.clone()),
        ("spin-base-path".into(), "/".into()),
        ("spin-raw-component-route".into(), m.raw_route.clone()),
        (
            "spin-component-route".into(),
            m.raw_route_or_prefix().to_owned(),
        ),
        ("spin-client-addr".into(), client_addr.to_string()),
    ];
    for (name, value) in &m.named {
        let key = format!("SPIN_PATH_MATCH_{}", name.to_ascii_uppercase())
            .replace('_', "-")
            .to_ascii_lowercase();
        headers.push((key, value.clone()));
    }
    let map = req.headers_mut();
    for (k, v) in headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) else {
            continue;
        };
        map.insert(name, value);
    }
    Ok(())
}

async fn run(
    host: &Host,
    component: &Loaded,
    req: Request<Incoming>,
) -> anyhow::Result<Response<HostBody>> {
    use wasmtime_wasi_http::WasiHttpView as _;
    use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
    let mut store = host.new_store(component);
    let (tx, rx) = oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .map_err(anyhow::Error::msg)?;
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(tx)
        .map_err(anyhow::Error::msg)?;
    let pre = component.pre.clone();
    let id = component.id.clone();
    // The instance runs in a task of its own: it keeps running (streaming the body) after
    // the response head has gone out, and is dropped when `handle` returns.
    let task = tokio::spawn(async move {
        let result = async {
            let proxy = pre
                .instantiate_async(&mut store)
                .await
                .map_err(anyhow::Error::msg)?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
                .map_err(anyhow::Error::msg)
        }
        .await;
        if let Err(e) = &result {
            eprintln!("roster-host: component {id:?} failed: {e:?}");
        }
        result
    });
    match rx.await {
        Ok(Ok(resp)) => Ok(resp.map(|b| b.boxed_unsync())),
        Ok(Err(code)) => Err(anyhow::anyhow!("component returned error code {code:?}")),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(anyhow::anyhow!(
                "component never set a response (response-outparam::set)"
            )),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(anyhow::anyhow!("component task panicked: {join}")),
        },
    }
}
