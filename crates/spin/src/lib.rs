//! roster-spin: runs roster-api endpoints inside Spin components.
//!
//! - [`SpinStore`]: the [`Store`] port over the host's key-value store, all through
//!   `wasi:keyvalue@0.2.0-draft2` (store: get, set, delete, exists; atomics:
//!   increment, compare-and-swap; batch reads/deletes), one bucket per label, opened
//!   on first use. The rate-limit counters ([`Store::rate_limits`]) go to their own
//!   label, [`RATE_LIMIT_LABEL`]. Built with spin-sdk 5.2 for WASIp2, so every Spin
//!   from 3.0 on runs it (README, "Supported Spin versions").
//! - [`serve`]: turns a Spin HTTP request into an [`ApiRequest`] (path parameters from
//!   Spin's `spin-path-match-*` headers, the body read up to
//!   [`roster_api::MAX_BODY_BYTES`]), runs the endpoint, and returns its response.
//!
//! A component is then one line: `roster_spin::serve::<roster_api::mdm::UserRoute>(req).await`,
//! written by `cargo xtask gen` from the route catalogue.

#![deny(missing_docs)]

use roster_api::{ApiRequest, Body, Ctx, Endpoint};
use roster_domain::{Store, StoreError, Swap, Timestamp};
use spin_sdk::http::IncomingRequest;
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
/// [`Body::TooLarge`] (read no further), a body the host failed to deliver is empty.
async fn read_body(req: IncomingRequest) -> Body {
    use futures::StreamExt as _;
    let mut stream = std::pin::pin!(req.into_body_stream());
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        if body.len() + chunk.len() > roster_api::MAX_BODY_BYTES {
            return Body::TooLarge;
        }
        body.extend_from_slice(&chunk);
    }
    Body::Bytes(body)
}

/// Serves one request with endpoint `E`: the request's method, query and headers as
/// the host gave them (path parameters from Spin's `spin-path-match-*` headers), the
/// body read up to [`roster_api::MAX_BODY_BYTES`].
pub async fn serve<E: Endpoint>(req: IncomingRequest) -> http::Response<Vec<u8>> {
    let method =
        http::Method::from_bytes(req.method().to_string().as_bytes()).unwrap_or(http::Method::GET);
    let path_with_query = req.path_with_query().unwrap_or_default();
    let query = path_with_query
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    let mut params = Vec::new();
    for (name, value) in req.headers().entries() {
        if let Some(param) = name.strip_prefix("spin-path-match-")
            && let Ok(v) = std::str::from_utf8(&value)
        {
            params.push((param.to_owned(), v.to_owned()));
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    let body = read_body(req).await;
    let api_req = ApiRequest {
        method,
        params,
        query,
        headers,
        body,
    };
    let store = SpinStore::open();
    // The variable is read only by a request that carries a token.
    let ctx = Ctx::lazy(
        || spin_sdk::variables::get(ADMIN_TOKEN_VARIABLE).ok(),
        Timestamp::now(),
    )
    .with_sender(std::rc::Rc::new(SpinSender));
    ctx.finish(E::handle(&api_req, &store, &ctx).await)
}

/// Sends pushed events with Spin's outbound HTTP (`wasi:http/outgoing-handler`): a
/// POST of the delivery's body and headers; the answer's status, its body unread. A
/// host that does not allow the subscriber's host (the component's
/// `allowed_outbound_hosts`, from the `event_hosts` variable) answers an error, which
/// counts as a failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct SpinSender;

impl roster_domain::events::EventSender for SpinSender {
    fn send<'a>(
        &'a self,
        req: &'a roster_domain::events::Outbound,
    ) -> roster_domain::events::SendFuture<'a> {
        Box::pin(async move {
            let mut builder = spin_sdk::http::Request::builder();
            builder
                .method(spin_sdk::http::Method::Post)
                .uri(req.url.clone());
            for (name, value) in &req.headers {
                builder.header(name.clone(), value.clone());
            }
            builder.body(req.body.clone());
            let resp: spin_sdk::http::IncomingResponse = spin_sdk::http::send(builder.build())
                .await
                .map_err(|e| format!("no answer: {e}"))?;
            Ok(resp.status())
        })
    }
}
