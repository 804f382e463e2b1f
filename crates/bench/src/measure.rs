//! Load generation and statistics: `concurrency` clients each send one request at a
//! time, back to back, until the time budget or the request budget is spent. Latency is
//! measured per request from just before sending to the last byte of the answer.

use crate::native::{KvStore, block_on};
use crate::scenarios::Call;
use roster_api::{ApiRequest, Body, Ctx};
use roster_domain::Timestamp;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long and how hard one measurement runs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Clients sending at once.
    pub concurrency: usize,
    /// Stop starting requests after this long.
    pub duration: Duration,
}

/// The latencies and failures of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Latencies in nanoseconds, sorted.
    pub latencies_ns: Vec<u64>,
    /// Answers with an unexpected status (or transport failures).
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Wall time from the first request started to the last answered.
    pub wall: Duration,
}

impl Sample {
    /// Requests answered.
    pub fn n(&self) -> usize {
        self.latencies_ns.len()
    }

    /// The `q`-quantile latency (nearest rank), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_ns.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_ns.len());
        self.latencies_ns[rank - 1] as f64 / 1e6
    }

    /// Median latency in milliseconds.
    pub fn p50_ms(&self) -> f64 {
        self.quantile_ms(0.50)
    }

    /// 99th percentile latency in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    /// Requests answered per second of wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 && self.n() > 0 {
            self.n() as f64 / secs
        } else {
            f64::NAN
        }
    }

    /// Adds `other`'s requests (left unsorted: sort once all are in).
    pub fn absorb(&mut self, other: Sample) {
        self.latencies_ns.extend(other.latencies_ns);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.wall += other.wall;
    }

    fn merge(parts: Vec<Worker>, wall: Duration) -> Self {
        let mut s = Sample {
            wall,
            ..Sample::default()
        };
        for p in parts {
            s.latencies_ns.extend(p.latencies_ns);
            s.errors += p.errors;
            if s.first_error.is_none() {
                s.first_error = p.first_error;
            }
        }
        s.latencies_ns.sort_unstable();
        s
    }
}

#[derive(Default)]
struct Worker {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Worker {
    fn record(&mut self, started: Instant, outcome: Result<(), String>) {
        self.latencies_ns
            .push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if let Err(e) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }
}

/// Makes request number `i`.
pub type MakeCall = Arc<dyn Fn(usize) -> Call + Send + Sync>;

/// Hands out request numbers `start..end` until the deadline.
struct Tickets {
    next: AtomicUsize,
    end: usize,
    deadline: Instant,
}

impl Tickets {
    fn new(start: usize, end: usize, duration: Duration) -> Self {
        Self {
            next: AtomicUsize::new(start),
            end,
            deadline: Instant::now() + duration,
        }
    }

    fn take(&self) -> Option<usize> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.end).then_some(i)
    }

    fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.end)
    }
}

/// The answer to a call.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The (last) status.
    pub status: u16,
    /// The (last) body.
    pub body: Vec<u8>,
    /// Requests the call took: 1, or more when it followed `Location` while answered
    /// 202 (an asynchronous operation, polled to its end).
    pub requests: u32,
}

/// Most polls of one asynchronous operation before the call counts as failed.
const MAX_POLLS: u32 = 100_000;

/// Sends `call` over HTTP (following `Location` while answered 202 when the call asks
/// to); its answer, or why there is none.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    bearer: &str,
    call: &Call,
) -> Result<Answer, String> {
    let url = if call.query.is_empty() {
        format!("{base}{}", call.path)
    } else {
        format!("{base}{}?{}", call.path, call.query)
    };
    let mut req = client.request(call.method.clone(), url);
    if call.authenticated {
        req = req.bearer_auth(bearer);
    }
    for (k, v) in &call.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &call.body {
        req = req.body(b.clone());
    }
    let mut resp = req.send().await.map_err(|e| e.to_string())?;
    let mut requests = 1;
    while call.follow_location && resp.status() == reqwest::StatusCode::ACCEPTED {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("202 without Location")?;
        let url = if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{base}{location}")
        };
        if requests > MAX_POLLS {
            return Err(format!("still 202 after {MAX_POLLS} polls"));
        }
        let mut poll = client.get(url);
        if call.authenticated {
            poll = poll.bearer_auth(bearer);
        }
        resp = poll.send().await.map_err(|e| e.to_string())?;
        requests += 1;
    }
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok(Answer {
        status,
        body: body.to_vec(),
        requests,
    })
}

fn judge(call: &Call, answer: Result<Answer, String>) -> Result<(), String> {
    match answer {
        Ok(a) if a.status == call.expect => Ok(()),
        Ok(a) => Err(format!(
            "{} {} answered {} (expected {}): {}",
            call.method,
            call.path,
            a.status,
            call.expect,
            String::from_utf8_lossy(&a.body)
        )),
        Err(e) => Err(format!("{} {} failed: {e}", call.method, call.path)),
    }
}

/// Mode (a) and (c): `budget.concurrency` tokio tasks send requests `start..end` to
/// `base` until the budget is spent. Returns the sample and the next unused number.
pub async fn drive_http(
    client: reqwest::Client,
    base: Arc<str>,
    bearer: Arc<str>,
    make: MakeCall,
    start: usize,
    end: usize,
    budget: Budget,
) -> (Sample, usize) {
    let tickets = Arc::new(Tickets::new(start, end, budget.duration));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..budget.concurrency.max(1) {
        let (client, base, bearer, make, tickets) = (
            client.clone(),
            base.clone(),
            bearer.clone(),
            make.clone(),
            tickets.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut w = Worker::default();
            while let Some(i) = tickets.take() {
                let call = make(i);
                let t = Instant::now();
                let answer = send(&client, &base, &bearer, &call).await;
                w.record(t, judge(&call, answer));
            }
            w
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        match t.await {
            Ok(w) => parts.push(w),
            Err(e) => parts.push(Worker {
                errors: 1,
                first_error: Some(format!("client task failed: {e}")),
                ..Worker::default()
            }),
        }
    }
    let wall = began.elapsed();
    (Sample::merge(parts, wall), tickets.used())
}

/// Turns a [`Call`] into the request a component's adapter would hand the endpoint.
pub fn api_request(call: &Call, bearer: &str) -> ApiRequest {
    let mut req = ApiRequest::new(call.method.clone());
    req.params = call.params.clone();
    req.query = call.query.clone();
    if let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {bearer}"))
        && call.authenticated
    {
        req.headers.insert(http::header::AUTHORIZATION, v);
    }
    for (k, v) in &call.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            req.headers.insert(name, value);
        }
    }
    req.body = Body::Bytes(call.body.clone().unwrap_or_default());
    req
}

/// Handles `call` natively with the endpoint of `component` (following `Location`
/// while answered 202 when the call asks to, as the HTTP client does).
pub fn handle_native(
    store: &KvStore,
    component: &str,
    admin_token: Option<&str>,
    bearer: &str,
    call: &Call,
) -> Answer {
    let mut req = api_request(call, bearer);
    let mut requests = 0;
    loop {
        // As the component's adapter does: a context per request, and `finish` (the
        // rate-limit headers) on every response.
        let ctx = Ctx::new(admin_token.map(str::to_owned), Timestamp::now());
        requests += 1;
        let Some(resp) = block_on(roster_api::routes::dispatch(component, &req, store, &ctx))
        else {
            return Answer {
                status: 404,
                body: format!("no component {component:?}").into_bytes(),
                requests,
            };
        };
        let resp = ctx.finish(resp);
        // A poll goes to the same route (the user's path) with the query `Location`
        // names.
        let next_query = (call.follow_location
            && resp.status() == http::StatusCode::ACCEPTED
            && requests <= MAX_POLLS)
            .then(|| resp.headers().get(http::header::LOCATION))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.split_once('?'))
            .map(|(_, q)| q.to_owned());
        match next_query {
            Some(query) => {
                let poll = Call {
                    method: http::Method::GET,
                    query,
                    headers: Vec::new(),
                    body: None,
                    ..call.clone()
                };
                req = api_request(&poll, bearer);
            }
            None => {
                return Answer {
                    status: resp.status().as_u16(),
                    body: resp.into_body(),
                    requests,
                };
            }
        }
    }
}

/// Mode (b): `budget.concurrency` threads run the endpoint's handler natively on
/// requests `start..end` until the budget is spent (blocking). Each request is built,
/// handled and its response serialized as a component would, minus HTTP and wasm.
#[allow(clippy::too_many_arguments)]
pub fn drive_native(
    store: Arc<KvStore>,
    component: &'static str,
    admin_token: Option<String>,
    bearer: Arc<str>,
    make: MakeCall,
    start: usize,
    end: usize,
    budget: Budget,
) -> (Sample, usize) {
    let tickets = Tickets::new(start, end, budget.duration);
    let parts = Mutex::new(Vec::new());
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..budget.concurrency.max(1) {
            scope.spawn(|| {
                let mut w = Worker::default();
                while let Some(i) = tickets.take() {
                    let call = make(i);
                    let t = Instant::now();
                    let answer =
                        handle_native(&store, component, admin_token.as_deref(), &bearer, &call);
                    w.record(t, judge(&call, Ok(answer)));
                }
                parts.lock().unwrap_or_else(|p| p.into_inner()).push(w);
            });
        }
    });
    let wall = began.elapsed();
    let parts = parts.into_inner().unwrap_or_else(|p| p.into_inner());
    (Sample::merge(parts, wall), tickets.used())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let s = Sample {
            latencies_ns: (1..=100).map(|ms| ms * 1_000_000).collect(),
            wall: Duration::from_secs(2),
            ..Sample::default()
        };
        assert_eq!(s.p50_ms(), 50.0);
        assert_eq!(s.p99_ms(), 99.0);
        assert_eq!(s.throughput(), 50.0);
        assert!(Sample::default().p50_ms().is_nan());
    }
}
