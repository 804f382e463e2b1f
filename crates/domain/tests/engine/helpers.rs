//! What the test modules share: the clock, an organization (with a policy), a user, a
//! device and the consistency assertion.

use futures::executor::block_on;
use roster_domain::ids::ObjectId;
use roster_domain::model::{DeviceStatus, Organization, Ownership, UserStatus};
use roster_domain::{MemoryStore, Timestamp, devices, orgs, users};

/// The instant every test runs at (tests that need time to pass add to it).
pub const NOW: Timestamp = Timestamp(1_795_331_760_000);

/// One day in milliseconds.
pub const DAY: i64 = 24 * 3600 * 1000;

/// An organization `acme` with the default policy.
pub fn org(store: &MemoryStore) -> Organization {
    block_on(orgs::create(
        store,
        orgs::NewOrganization::parse("Acme", "acme").unwrap(),
        NOW,
    ))
    .unwrap()
}

/// An organization `acme` whose policy is `policy` (set by an update after the
/// creation, as the API does).
pub fn org_with_policy(store: &MemoryStore, policy: orgs::PolicyChanges) -> Organization {
    let o = org(store);
    let changes = orgs::OrgChanges {
        policy,
        ..orgs::OrgChanges::default()
    };
    block_on(orgs::update(store, &o.id, None, changes, NOW)).unwrap()
}

/// An organization `acme` with a retention of `retention` days (soft removal when
/// set) and a removal batch of `batch` dependents.
pub fn org_with(store: &MemoryStore, retention: Option<i64>, batch: Option<i64>) -> Organization {
    org_with_policy(
        store,
        orgs::PolicyChanges::parse(retention, None, batch).unwrap(),
    )
}

/// Creates the user `name` (email `{name}@example.com`, names `Given Family`) at
/// [`NOW`]; returns its id.
pub async fn user(store: &MemoryStore, o: &Organization, name: &str) -> ObjectId {
    let new = users::NewUser::parse(
        name,
        Some(&format!("{name}@example.com")),
        Some("Given"),
        Some("Family"),
    )
    .unwrap();
    users::create(store, o, new, NOW).await.unwrap().id
}

/// Disables user `id` (CAS removes only disabled users).
pub async fn disable(store: &MemoryStore, o: &Organization, id: &ObjectId) {
    let disabled = users::UserChanges {
        status: Some(UserStatus::Disabled),
        ..users::UserChanges::default()
    };
    users::update(store, o, id, None, disabled, NOW)
        .await
        .unwrap();
}

/// A BYOD Android device whose identifier is `imei-{imei}`.
pub fn device(imei: usize, status: DeviceStatus) -> devices::NewDevice {
    devices::NewDevice::parse(
        "Pixel",
        "android",
        None,
        &format!("imei-{imei}"),
        Ownership::Byod,
        status,
        vec![],
    )
    .unwrap()
}

/// The invariants checker finds nothing wrong (`at` says where, on failure).
pub fn consistent(s: &MemoryStore, at: &str) {
    assert_eq!(
        roster_domain::invariants::check(&s.snapshot()),
        vec![],
        "{at}"
    );
}

// Two runs at once, one store call at a time (the concurrency tests).

use roster_domain::Store;
use std::cell::RefCell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

/// A store over a [`MemoryStore`] that pauses before every call (so a driver decides
/// which of two runs makes the next call) and logs every write: `(key, value)`.
pub struct Stepped<'a> {
    inner: &'a MemoryStore,
    /// Every write, in order: `(key, value)`.
    pub writes: RefCell<Vec<(String, String)>>,
}

impl<'a> Stepped<'a> {
    /// A stepped view of `inner`.
    pub fn new(inner: &'a MemoryStore) -> Self {
        Self {
            inner,
            writes: RefCell::new(Vec::new()),
        }
    }

    fn log(&self, key: &str, value: &[u8]) {
        self.writes
            .borrow_mut()
            .push((key.to_owned(), String::from_utf8_lossy(value).into_owned()));
    }
}

/// Pending once, then ready: a point where the driver may switch runs.
struct Pause(bool);

impl Future for Pause {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Store for Stepped<'_> {
    type Cas = <MemoryStore as Store>::Cas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, roster_domain::StoreError> {
        Pause(false).await;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), roster_domain::StoreError> {
        Pause(false).await;
        self.log(key, value);
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), roster_domain::StoreError> {
        Pause(false).await;
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, roster_domain::StoreError> {
        Pause(false).await;
        self.inner.exists(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, roster_domain::StoreError> {
        Pause(false).await;
        self.inner.increment(key, delta).await
    }
    async fn cas(
        &self,
        key: &str,
    ) -> Result<(Self::Cas, Option<Vec<u8>>), roster_domain::StoreError> {
        Pause(false).await;
        self.inner.cas(key).await
    }
    async fn swap(
        &self,
        cas: Self::Cas,
        value: &[u8],
    ) -> Result<roster_domain::Swap, roster_domain::StoreError> {
        Pause(false).await;
        // The key is not in the handle: log the value alone (it names the record).
        self.log("(swap)", value);
        self.inner.swap(cas, value).await
    }
    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, roster_domain::StoreError> {
        Pause(false).await;
        self.inner.get_many(keys).await
    }
    async fn delete_many(&self, keys: &[String]) -> Result<(), roster_domain::StoreError> {
        Pause(false).await;
        self.inner.delete_many(keys).await
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), roster_domain::StoreError> {
        Pause(false).await;
        for (k, v) in pairs {
            self.log(k, v);
        }
        self.inner.set_many(pairs).await
    }
}

/// Runs `a` and `b` together, one store call at a time: `pick(step)` says whether `a`
/// makes the next one (once either has finished, the other goes on alone).
pub fn interleave<A: Future, B: Future>(
    a: A,
    b: B,
    mut pick: impl FnMut(usize) -> bool,
) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let (mut ra, mut rb) = (None, None);
    let mut step = 0;
    while ra.is_none() || rb.is_none() {
        let go_a = ra.is_none() && (rb.is_some() || pick(step));
        step += 1;
        if go_a {
            if let Poll::Ready(x) = a.as_mut().poll(&mut cx) {
                ra = Some(x);
            }
        } else if let Poll::Ready(x) = b.as_mut().poll(&mut cx) {
            rb = Some(x);
        }
    }
    (ra.unwrap(), rb.unwrap())
}

/// A run of [`interleave_all`]: a boxed future over the stepped store.
pub type Run<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Runs every future of `runs` together, one store call at a time: `pick(step)` ranks
/// the runs for the next call (indices into `runs`), and the first unfinished one in
/// that ranking makes it. Returns each run's output, in `runs`' order.
pub fn interleave_all<T>(
    mut runs: Vec<Run<'_, T>>,
    mut pick: impl FnMut(usize) -> [usize; 3],
) -> Vec<T> {
    let mut out: Vec<Option<T>> = runs.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut step = 0;
    while out.iter().any(Option::is_none) {
        let ranking = pick(step);
        step += 1;
        let i = ranking
            .into_iter()
            .chain(0..runs.len())
            .find(|i| *i < runs.len() && out[*i].is_none())
            .expect("one run is unfinished");
        if let Poll::Ready(x) = runs[i].as_mut().poll(&mut cx) {
            out[i] = Some(x);
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// The interleavings of three runs, as rankings for [`interleave_all`]: for each order
/// of the three (`first`, `second`, `third`) and each `k` below 40, `first` makes its
/// first `k` calls, then `second` runs to its end, then `third`, then `first` finishes;
/// then 150 random orders (a fixed seed).
pub fn orders3() -> Vec<Box<dyn FnMut(usize) -> [usize; 3]>> {
    const PERMUTATIONS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut out: Vec<Box<dyn FnMut(usize) -> [usize; 3]>> = Vec::new();
    for [first, second, third] in PERMUTATIONS {
        for k in 0..40 {
            out.push(Box::new(move |step| {
                if step < k {
                    [first, second, third]
                } else {
                    [second, third, first]
                }
            }));
        }
    }
    for seed in 1..=150u64 {
        let mut next = xorshift(seed);
        out.push(Box::new(move |_| {
            let r = (next() % 3) as usize;
            [r, (r + 1) % 3, (r + 2) % 3]
        }));
    }
    out
}

/// The interleavings every concurrency test goes through: one run makes its first `k`
/// calls, then the other runs to its end, then the first finishes (for every `k`, each
/// run first); then 150 random orders (a fixed seed).
pub fn orders() -> Vec<Box<dyn FnMut(usize) -> bool>> {
    let mut out: Vec<Box<dyn FnMut(usize) -> bool>> = Vec::new();
    for k in 0..90 {
        out.push(Box::new(move |step| step < k));
        out.push(Box::new(move |step| step >= k));
    }
    for seed in 1..=150u64 {
        let mut next = xorshift(seed);
        out.push(Box::new(move |_| next() & 1 == 0));
    }
    out
}

/// A xorshift64 generator from `seed` (the random orders' fixed sequences).
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
