//! roster-spin: runs roster-api endpoints inside Spin components.
//!
//! - [`SpinStore`]: the [`Store`] port over the host's key-value store, all through
//!   `wasi:keyvalue@0.2.0-draft2` (store: get, set, delete, exists; atomics:
//!   increment, compare-and-swap; batch reads/deletes), one bucket per label, opened
//!   on first use. The rate-limit counters ([`Store::rate_limits`]) go to their own
//!   label, [`RATE_LIMIT_LABEL`]. Built with spin-sdk 5.2 for WASIp2, so every Spin
//!   from 3.0 on runs it (README, "Supported Spin versions").
//! - [`serve`]: turns a Spin HTTP request into an [`ApiRequest`] (the body read up to
//!   [`roster_api::MAX_BODY_BYTES`]; headers, and path parameters from Spin's
//!   `spin-path-match-*` headers, read from the host only when the route asks for them),
//!   runs the endpoint, and sends its response through the `wasi:http` outparam.
//!
//! A component is then one line: `roster_spin::serve::<roster_api::mdm::UserRoute>(req, out).await`,
//! written by `cargo xtask gen` from the route catalogue ([`outbound::serve`] for
//! the pushed events' delivery run, the one route that sends outbound HTTP).

#![deny(missing_docs)]

use roster_api::{ApiRequest, Body, Ctx, Endpoint};
use roster_domain::{Store, StoreError, Swap, Timestamp};
use spin_sdk::http::{Fields, IncomingRequest, ResponseOutparam};
use spin_sdk::wit::wasi::http0_2_0::types::IncomingBody;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store as wasi_store};

/// The label of the store holding Roster's data (granted in spin.toml).
pub const STORE_LABEL: &str = "default";

/// The label of the store holding the rate-limit counters ([`Store::rate_limits`]):
/// written by every authenticated request, worthless after a restart, so kept apart from
/// the durable data. Spin defines no label but `default` by itself: the runtime config
/// must define this one (runtime-config.toml puts it in memory,
/// deploy/runtime-config.redis.toml on Redis), or Spin refuses to start the app.
pub const RATE_LIMIT_LABEL: &str = "ratelimit";

/// The name of the application variable holding the global admin token.
pub const ADMIN_TOKEN_VARIABLE: &str = "admin_token";

/// The [`Store`] port over one label of Spin's key-value stores. The bucket is opened on
/// the first call that needs it (a request refused before it reads opens nothing); if
/// opening fails, every operation reports that failure, so the surface answers it in its
/// own envelope.
pub struct SpinStore {
    label: &'static str,
    bucket: std::cell::OnceCell<Result<wasi_store::Bucket, StoreError>>,
    /// Whether `get-many` is worth trying: false after the host failed one.
    batch_reads: std::cell::Cell<bool>,
    /// The [`RATE_LIMIT_LABEL`] store, for the [`STORE_LABEL`] one (opened on first use).
    rate_limits: std::cell::OnceCell<Box<SpinStore>>,
}

fn kv_error(e: impl std::fmt::Debug) -> StoreError {
    StoreError::new(format!("{e:?}"))
}

impl SpinStore {
    /// The [`STORE_LABEL`] store, its rate-limit counters in [`RATE_LIMIT_LABEL`].
    /// Opens nothing yet.
    pub fn open() -> Self {
        Self::label(STORE_LABEL)
    }

    fn label(label: &'static str) -> Self {
        Self {
            label,
            bucket: std::cell::OnceCell::new(),
            batch_reads: std::cell::Cell::new(true),
            rate_limits: std::cell::OnceCell::new(),
        }
    }

    fn bucket(&self) -> Result<&wasi_store::Bucket, StoreError> {
        self.bucket
            .get_or_init(|| wasi_store::open(self.label).map_err(kv_error))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads `keys` one `get` at a time.
    fn get_each(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let bucket = self.bucket()?;
        keys.iter()
            .map(|k| bucket.get(k).map_err(kv_error))
            .collect()
    }
}

impl Store for SpinStore {
    type Cas = atomics::Cas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket()?.get(key).map_err(kv_error)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bucket()?.set(key, value).map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket()?.delete(key).map_err(kv_error)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.bucket()?.exists(key).map_err(kv_error)
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, delta).map_err(kv_error)
    }

    async fn cas(&self, key: &str) -> Result<(atomics::Cas, Option<Vec<u8>>), StoreError> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(kv_error)?;
        let current = cas.current().map_err(kv_error)?;
        Ok((cas, current))
    }

    /// `Done` only when the host says the swap wrote (Spin's SQLite store tells the
    /// truth); `cas-failed` is `Unconfirmed`, never a conflict: Spin's Redis store
    /// reports it after every swap, also one that wrote (docs/storage.md).
    async fn swap(&self, cas: atomics::Cas, value: &[u8]) -> Result<Swap, StoreError> {
        match atomics::swap(cas, value) {
            Ok(()) => Ok(Swap::Done),
            Err(atomics::CasError::CasFailed(_)) => Ok(Swap::Unconfirmed),
            Err(atomics::CasError::StoreError(e)) => Err(kv_error(e)),
        }
    }

    /// One `get-many` call when the host can answer it; otherwise one `get` per key.
    /// Spin's Redis store sends `get-many` as `KEYS k1 … kn`, which Redis refuses for two
    /// keys or more (and which kills the request for one present key), so a single key is
    /// always read with `get`, and once Redis refused a batch this instance reads key by
    /// key. Any other failure is the store's and is returned as it is.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        match keys {
            [] => Ok(Vec::new()),
            [key] => Ok(vec![self.bucket()?.get(key).map_err(kv_error)?]),
            _ if self.batch_reads.get() => match batch::get_many(self.bucket()?, keys) {
                Ok(found) => Ok(roster_domain::store::in_key_order(keys, found)),
                Err(e) if is_redis_keys_refusal(&e) => {
                    self.batch_reads.set(false);
                    self.get_each(keys)
                }
                Err(e) => Err(kv_error(e)),
            },
            _ => self.get_each(keys),
        }
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        batch::delete_many(self.bucket()?, keys).map_err(kv_error)
    }

    /// One `set-many` call (Spin: one SQLite transaction, or one Redis `MSET`); none
    /// for an empty batch.
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        batch::set_many(self.bucket()?, pairs).map_err(kv_error)
    }

    /// The [`RATE_LIMIT_LABEL`] store (itself, for a store of another label).
    fn rate_limits(&self) -> &Self {
        if self.label != STORE_LABEL {
            return self;
        }
        self.rate_limits
            .get_or_init(|| Box::new(Self::label(RATE_LIMIT_LABEL)))
    }
}

/// Whether a failed `get-many` is Redis refusing the `KEYS k1 … kn` that Spin's Redis
/// store sends for it ("wrong number of arguments for 'keys' command", Redis and
/// Valkey alike), as opposed to a failure of the store.
fn is_redis_keys_refusal(e: &impl std::fmt::Debug) -> bool {
    format!("{e:?}").contains("'keys'")
}

/// Reads a request body up to [`roster_api::MAX_BODY_BYTES`]: a longer body is
/// [`Body::TooLarge`] (read no further); a body the host fails to deliver to its end
/// (the client's connection broke, or closed before the length it declared) is
/// [`Body::Incomplete`], so no route acts on the part that came.
fn read_body(req: &IncomingRequest) -> Body {
    use wasi::io::streams::StreamError;
    const READ_SIZE: u64 = 16 * 1024;
    let Ok(incoming) = req.consume() else {
        return Body::Bytes(Vec::new());
    };
    let mut body = Vec::new();
    let outcome = match incoming.stream() {
        // Blocks the component until bytes come (or the end), as nothing else runs.
        Ok(stream) => loop {
            match stream.blocking_read(READ_SIZE) {
                Ok(chunk) if body.len() + chunk.len() > roster_api::MAX_BODY_BYTES => {
                    break Body::TooLarge;
                }
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break Body::Bytes(std::mem::take(&mut body)),
                Err(StreamError::LastOperationFailed(_)) => break Body::Incomplete,
            }
        },
        Err(()) => Body::Incomplete,
    };
    drop(IncomingBody::finish(incoming));
    outcome
}

/// The request's headers, kept for [`ApiRequest::on_demand`]: the fields are a child of
/// the request, so they are declared (and dropped) first.
struct RequestHeaders {
    fields: Fields,
    _request: IncomingRequest,
}

/// Serves one request with endpoint `E`: the request's method and query as the host
/// gave them, the body read up to [`roster_api::MAX_BODY_BYTES`], and the headers (path
/// parameters from Spin's `spin-path-match-*` headers) asked of the host when the route
/// first reads each ([`ApiRequest::on_demand`]).
///
/// The context has no event sender: a component that serves any other route than the
/// delivery run links no outbound HTTP ([`outbound::serve`] is that route's).
pub async fn serve<E: Endpoint>(req: IncomingRequest, out: ResponseOutparam) {
    respond(out, serve_with::<E>(req, None).await);
}

/// Serving the one route that sends outbound HTTP.
pub mod outbound {
    use super::{Endpoint, IncomingRequest, ResponseOutparam, SpinSender, respond};

    /// [`super::serve`], with [`SpinSender`] as the context's event sender: for the pushed
    /// events' delivery run, the one component allowed outbound hosts (`cargo xtask gen`
    /// writes it for the components whose `allowed_outbound_hosts` is not empty).
    pub async fn serve<E: Endpoint>(req: IncomingRequest, out: ResponseOutparam) {
        respond(
            out,
            super::serve_with::<E>(req, Some(std::rc::Rc::new(SpinSender))).await,
        );
    }
}

async fn serve_with<E: Endpoint>(
    req: IncomingRequest,
    sender: Option<std::rc::Rc<dyn roster_domain::events::EventSender>>,
) -> http::Response<Vec<u8>> {
    let mut api_req = ApiRequest::new(method(req.method()));
    api_req.query = req
        .path_with_query()
        .and_then(|p| p.split_once('?').map(|(_, q)| q.to_owned()))
        .unwrap_or_default();
    api_req.body = read_body(&req);
    // Headers and path parameters cross from the host only when a route reads them (a
    // 401 reads one): one `get` each instead of every header, Spin's `spin-*` included.
    let headers = RequestHeaders {
        fields: req.headers(),
        _request: req,
    };
    let api_req = api_req.on_demand(std::rc::Rc::new(move |name: &str| headers.fields.get(name)));
    let store = SpinStore::open();
    // The variable is read only by a request that carries a token.
    let mut ctx = Ctx::lazy(
        || spin_sdk::variables::get(ADMIN_TOKEN_VARIABLE).ok(),
        Timestamp::now(),
    );
    if let Some(sender) = sender {
        ctx = ctx.with_sender(sender);
    }
    ctx.finish(E::handle(&api_req, &store, &ctx).await)
}

/// Sends `response` through Spin's `wasi:http` response outparam: its status, its headers
/// in the order the endpoint set them (a name set twice sent twice), then its body in
/// writes of at most 4,096 bytes (what `blocking-write-and-flush` accepts), the body
/// finished so the host knows it is whole.
///
/// Written here rather than left to spin-sdk's `IntoResponse` glue, which goes through
/// its `Response` type: that keeps headers in a hash map (one value per name, in no set
/// order) and links `anyhow` and its error printing into every component for a conversion
/// that cannot fail on the responses Roster builds. If the host refuses the headers (a
/// name `wasi:http` forbids in a response), the cause is logged and the answer is a bare
/// 500; if the client is gone mid-body, the log says so and the rest is dropped.
fn respond(out: ResponseOutparam, response: http::Response<Vec<u8>>) {
    use spin_sdk::http::{OutgoingBody, OutgoingResponse};
    let (parts, body) = response.into_parts();
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let (outgoing, body) = match Fields::from_list(&entries) {
        Ok(fields) => {
            let outgoing = OutgoingResponse::new(fields);
            // Every status `http::StatusCode` holds (100-999) is one wasi:http takes.
            let _ = outgoing.set_status_code(parts.status.as_u16());
            (outgoing, body)
        }
        Err(e) => {
            eprintln!("roster: the host refused the response headers ({e:?}): answering 500");
            let outgoing = OutgoingResponse::new(Fields::new());
            let _ = outgoing.set_status_code(500);
            (outgoing, Vec::new())
        }
    };
    // The body is taken before the response goes to the host, which then owns it.
    let Ok(sink) = outgoing.body() else {
        // A fresh response's body is always there to take; answer without one if not.
        out.set(outgoing);
        return;
    };
    out.set(outgoing);
    // The causes are named in words: the `Debug` of wasi:http's `error-code` alone
    // would add ~4 KB to every component.
    let written = sink
        .write()
        .map_err(|()| "no output stream")
        .and_then(|stream| {
            for chunk in body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|_| "the client is gone or the host refused a write")?;
            }
            Ok(())
        });
    match written {
        Ok(()) => {
            if OutgoingBody::finish(sink, None).is_err() {
                eprintln!("roster: the host refused to finish the response body");
            }
        }
        Err(why) => eprintln!("roster: the response body was not sent whole: {why}"),
    }
}

/// The request's method as `http` names it (an extension method by its name; one
/// `http` cannot hold reads as GET).
fn method(m: spin_sdk::http::Method) -> http::Method {
    use spin_sdk::http::Method as M;
    match m {
        M::Get => http::Method::GET,
        M::Head => http::Method::HEAD,
        M::Post => http::Method::POST,
        M::Put => http::Method::PUT,
        M::Delete => http::Method::DELETE,
        M::Patch => http::Method::PATCH,
        M::Options => http::Method::OPTIONS,
        M::Connect => http::Method::CONNECT,
        M::Trace => http::Method::TRACE,
        M::Other(o) => http::Method::from_bytes(o.as_bytes()).unwrap_or(http::Method::GET),
    }
}

/// Sends pushed events with Spin's outbound HTTP (`wasi:http/outgoing-handler@0.2.0`):
/// a POST of the delivery's body and headers with a `Content-Length` (never chunked:
/// RFC 8935 receivers and many webhook receivers expect one), under the request options
/// [`roster_domain::events::CONNECT_TIMEOUT_MS`] (connect),
/// [`roster_domain::events::FIRST_BYTE_TIMEOUT_MS`] (first byte) and
/// [`roster_domain::events::BETWEEN_BYTES_TIMEOUT_MS`] (between bytes), which Spin
/// applies (its own defaults are 600 s each). Answers the status (and the first bytes of a
/// 400's body), or the host's error code in words ([`describe`]): a subscriber's host not
/// in the component's `allowed_outbound_hosts` (the `event_hosts` variable) is Spin's
/// `HttpRequestDenied`, "destination not allowed by event_hosts …".
#[derive(Debug, Clone, Copy)]
pub struct SpinSender;

impl roster_domain::events::EventSender for SpinSender {
    fn send<'a>(
        &'a self,
        req: &'a roster_domain::events::Outbound,
    ) -> roster_domain::events::SendFuture<'a> {
        Box::pin(async move { send_event(req) })
    }
}

/// Sends one delivery; blocks the component on the host's pollables, which is all a
/// delivery run does meanwhile.
fn send_event(
    req: &roster_domain::events::Outbound,
) -> Result<roster_domain::events::Answer, String> {
    use roster_domain::events::{
        Answer, BETWEEN_BYTES_TIMEOUT_MS, CONNECT_TIMEOUT_MS, FIRST_BYTE_TIMEOUT_MS,
        MAX_ANSWER_BODY,
    };
    use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types as wt};

    let uri: http::Uri = req.url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some("http") => wt::Scheme::Http,
        _ => wt::Scheme::Https,
    };
    let mut fields: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    fields.push((
        "content-length".into(),
        req.body.len().to_string().into_bytes(),
    ));
    let headers = wt::Fields::from_list(&fields).map_err(|e| format!("bad header: {e:?}"))?;
    let out = wt::OutgoingRequest::new(headers);
    let invalid = |what: &str| format!("invalid URL: {what}");
    out.set_method(&wt::Method::Post)
        .map_err(|()| invalid("method"))?;
    out.set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    out.set_authority(uri.authority().map(|a| a.as_str()))
        .map_err(|()| invalid("host"))?;
    out.set_path_with_query(uri.path_and_query().map(|p| p.as_str()))
        .map_err(|()| invalid("path"))?;
    let body = out.body().map_err(|()| "no request body".to_owned())?;
    let options = wt::RequestOptions::new();
    let ns = |ms: u64| ms * 1_000_000;
    // A host that does not support an option refuses to set it; Spin sets all three.
    let _ = options.set_connect_timeout(Some(ns(CONNECT_TIMEOUT_MS)));
    let _ = options.set_first_byte_timeout(Some(ns(FIRST_BYTE_TIMEOUT_MS)));
    let _ = options.set_between_bytes_timeout(Some(ns(BETWEEN_BYTES_TIMEOUT_MS)));
    let pending = outgoing_handler::handle(out, Some(options)).map_err(|e| describe(&e))?;
    // The body goes out as the host sends the request; if the host gave up on the
    // request (denied, refused, timed out), the stream is closed and the response's
    // error code says why.
    let written = (|| {
        let stream = body.write()?;
        for chunk in req.body.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|_| ())?;
        }
        drop(stream);
        wt::OutgoingBody::finish(body, None).map_err(|_| ())
    })();
    pending.subscribe().block();
    let resp = match pending.get() {
        Some(Ok(Ok(resp))) => resp,
        Some(Ok(Err(e))) => return Err(describe(&e)),
        Some(Err(())) | None => return Err("no answer from the host".to_owned()),
    };
    if written.is_err() {
        return Err("the request body could not be sent".to_owned());
    }
    let status = resp.status();
    let mut answer = Answer::from(status);
    if status == 400 {
        // One read of at most MAX_ANSWER_BODY bytes (bounded by the between-bytes
        // timeout): enough for RFC 8935's JSON error object.
        if let Ok(incoming) = resp.consume()
            && let Ok(stream) = incoming.stream()
            && let Ok(bytes) = stream.blocking_read(MAX_ANSWER_BODY as u64)
        {
            answer.body = bytes;
        }
    }
    Ok(answer)
}

/// A wasi:http error code in words, for a delivery's `lastError`; the timeouts say
/// "timed out" and name the one that ran out.
pub fn describe(e: &spin_sdk::wit::wasi::http0_2_0::types::ErrorCode) -> String {
    use roster_domain::events::{CONNECT_TIMEOUT_MS, FIRST_BYTE_TIMEOUT_MS};
    use spin_sdk::wit::wasi::http0_2_0::types::ErrorCode as E;
    match e {
        E::HttpRequestDenied => {
            "destination not allowed by event_hosts (spin.toml allowed_outbound_hosts)".into()
        }
        E::ConnectionTimeout => format!(
            "timed out connecting (after {} s)",
            CONNECT_TIMEOUT_MS / 1000
        ),
        E::ConnectionReadTimeout => format!(
            "timed out waiting for the first byte (after {} s)",
            FIRST_BYTE_TIMEOUT_MS / 1000
        ),
        E::HttpResponseTimeout => "timed out waiting for the answer".into(),
        E::ConnectionWriteTimeout => "timed out sending the request".into(),
        E::ConnectionRefused => "connection refused".into(),
        E::ConnectionTerminated => "connection closed before an answer".into(),
        E::ConnectionLimitReached => "too many outbound connections".into(),
        E::DnsTimeout => "timed out resolving the host".into(),
        E::DnsError(p) => format!(
            "DNS lookup failed ({})",
            p.rcode.as_deref().unwrap_or("no such host")
        ),
        E::DestinationNotFound => "destination not found".into(),
        E::DestinationUnavailable => "destination unavailable".into(),
        E::DestinationIpProhibited => "destination IP address prohibited".into(),
        E::DestinationIpUnroutable => "destination IP address unroutable".into(),
        E::TlsProtocolError => "TLS handshake failed".into(),
        E::TlsCertificateError => "TLS certificate rejected".into(),
        E::TlsAlertReceived(a) => format!(
            "TLS alert from the receiver ({})",
            a.alert_message.as_deref().unwrap_or("no message")
        ),
        E::HttpProtocolError => "HTTP protocol error".into(),
        E::HttpResponseIncomplete => "incomplete answer".into(),
        other => format!("no answer: {other:?}"),
    }
}
