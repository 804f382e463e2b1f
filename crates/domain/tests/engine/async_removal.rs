//! Asynchronous removals (seed 004's policy) that crash: whatever call the crash hits,
//! a retry either finishes the removal or answers "in progress" with an operation that
//! polls can find and drive to the end.

use crate::helpers::{NOW, device};
use futures::executor::block_on;
use roster_domain::model::{DeviceStatus, OrgPolicy, Organization};
use roster_domain::operations::{self, OperationStatus};
use roster_domain::removal::{self, RemovalOutcome, RemovalPolicy, remove_user};
use roster_domain::store::MemoryCas;
use roster_domain::{MemoryStore, Store, StoreError, Swap};
use roster_domain::{devices, orgs, users};
use std::sync::atomic::{AtomicU64, Ordering};

/// A store whose calls all fail from the `from`-th on: a request that crashed (a trap
/// kills the instance; nothing after it runs, not even the lease release).
struct Crashing<'a> {
    inner: &'a MemoryStore,
    from: u64,
    calls: AtomicU64,
}

impl Crashing<'_> {
    fn tick(&self) -> Result<(), StoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.from {
            Err(StoreError::new("crashed"))
        } else {
            Ok(())
        }
    }
}

impl Store for Crashing<'_> {
    type Cas = MemoryCas;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.tick()?;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.tick()?;
        self.inner.exists(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.tick()?;
        self.inner.increment(key, delta).await
    }
    async fn cas(&self, key: &str) -> Result<(MemoryCas, Option<Vec<u8>>), StoreError> {
        self.tick()?;
        self.inner.cas(key).await
    }
    async fn swap(&self, cas: MemoryCas, value: &[u8]) -> Result<Swap, StoreError> {
        self.tick()?;
        self.inner.swap(cas, value).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.tick()?;
        self.inner.get_many(keys).await
    }
    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.delete_many(keys).await
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.tick()?;
        self.inner.set_many(pairs).await
    }
}

fn org(store: &MemoryStore, batch: u32) -> Organization {
    let mut new = orgs::NewOrganization::parse("Acme", "acme").unwrap();
    new.policy = OrgPolicy {
        removal_batch: batch,
        ..OrgPolicy::default()
    };
    block_on(orgs::create(store, new, NOW)).unwrap()
}

async fn user_with_devices(
    s: &MemoryStore,
    o: &Organization,
    n: usize,
) -> roster_domain::ids::ObjectId {
    let u = users::create(
        s,
        o,
        users::NewUser::parse("kim", Some("kim@example.com"), None, None).unwrap(),
        NOW,
    )
    .await
    .unwrap();
    for i in 0..n {
        devices::enroll(s, o, &u.id, device(i, DeviceStatus::Active), NOW)
            .await
            .unwrap();
    }
    u.id
}

#[test]
fn a_crashed_asynchronous_removal_is_always_pollable_to_the_end() {
    let policy = RemovalPolicy::apim(true, true);
    // The calls of an undisturbed first request (it stops after one batch).
    let calls = {
        let s = MemoryStore::from_env();
        let o = org(&s, 2);
        let kim = block_on(user_with_devices(&s, &o, 5));
        s.clear_faults();
        let first = block_on(remove_user(&s, &o, &kim, &policy, NOW)).unwrap();
        assert!(matches!(first, RemovalOutcome::InProgress { .. }));
        s.calls()
    };
    assert!(calls > 10, "the first request makes {calls} calls");
    for n in 1..=calls {
        let s = MemoryStore::from_env();
        let o = org(&s, 2);
        let kim = block_on(user_with_devices(&s, &o, 5));
        let crashing = Crashing {
            inner: &s,
            from: n,
            calls: AtomicU64::new(0),
        };
        assert!(
            block_on(remove_user(&crashing, &o, &kim, &policy, NOW)).is_err(),
            "call {n}: the crash did not surface"
        );
        // A retry at once, while the crashed request's lease still holds.
        let retry = block_on(remove_user(&s, &o, &kim, &policy, NOW)).unwrap();
        let op = match retry {
            RemovalOutcome::Finished(r) => r.operation,
            RemovalOutcome::InProgress { operation, .. } => {
                // The operation it names is recorded: a poll finds it.
                assert_eq!(
                    block_on(operations::get(&s, &o.id, &operation.id))
                        .unwrap()
                        .id,
                    operation.id,
                    "call {n}: 202 names an operation no poll can find"
                );
                operation
            }
        };
        // Polls (after the lease) drive it to the end.
        let mut at = NOW.plus_millis(removal::LEASE_MS + 1);
        let mut status = op.status;
        for _ in 0..10 {
            if status == OperationStatus::Succeeded {
                break;
            }
            status = block_on(removal::poll(&s, &o, &op.id, at)).unwrap().status;
            at = at.plus_millis(1);
        }
        assert_eq!(status, OperationStatus::Succeeded, "call {n}");
        assert!(
            block_on(users::get_any(&s, &o, &kim)).is_err(),
            "call {n}: user left"
        );
        let snap = s.snapshot();
        assert_eq!(roster_domain::invariants::check(&snap), vec![], "call {n}");
        assert!(
            snap.keys().all(|k| !k.contains(kim.as_str())),
            "call {n}: leftover key"
        );
    }
}

/// One client's removal: a DELETE (repeated while it fails), then polls of its
/// operation (repeated while they fail) until it succeeds. Requests run on `first`
/// until one fails, on `rest` after that; each one a little later than the last.
async fn delete_then_poll<A: Store, B: Store>(
    first: &A,
    rest: &B,
    o: &Organization,
    kim: &roster_domain::ids::ObjectId,
) -> u32 {
    let policy = RemovalPolicy::apim(true, false);
    let mut failed = false;
    let mut at = NOW;
    let mut tick = || {
        at = at.plus_millis(removal::LEASE_MS + 1);
        at
    };
    let op = loop {
        let now = tick();
        let r = if failed {
            remove_user(rest, o, kim, &policy, now).await
        } else {
            remove_user(first, o, kim, &policy, now).await
        };
        match r {
            Ok(RemovalOutcome::Finished(r)) => break r.operation.id,
            Ok(RemovalOutcome::InProgress { operation, .. }) => break operation.id,
            Err(_) => failed = true,
        }
    };
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 20, "the polls do not finish");
        let now = tick();
        let r = if failed {
            removal::poll(rest, o, &op, now).await
        } else {
            removal::poll(first, o, &op, now).await
        };
        match r {
            Ok(op) if op.status == OperationStatus::Succeeded => return polls,
            Ok(_) => {}
            Err(_) => failed = true,
        }
    }
}

fn polls_alone_finish(crash: bool) {
    let calls = {
        let s = MemoryStore::from_env();
        let o = org(&s, 2);
        let kim = block_on(user_with_devices(&s, &o, 5));
        s.clear_faults();
        assert!(block_on(delete_then_poll(&s, &s, &o, &kim)) >= 2);
        s.calls()
    };
    for n in 1..=calls {
        let s = MemoryStore::from_env();
        let o = org(&s, 2);
        let kim = block_on(user_with_devices(&s, &o, 5));
        let crashing = Crashing {
            inner: &s,
            from: n,
            calls: AtomicU64::new(0),
        };
        if crash {
            block_on(delete_then_poll(&crashing, &s, &o, &kim));
        } else {
            s.fail_nth(n);
            block_on(delete_then_poll(&s, &s, &o, &kim));
            s.clear_faults();
        }
        // The operation said "succeeded": the user is fully gone.
        assert!(
            block_on(users::get_any(&s, &o, &kim)).is_err(),
            "call {n}: the user record is left"
        );
        let snap = s.snapshot();
        assert_eq!(roster_domain::invariants::check(&snap), vec![], "call {n}");
        assert!(
            snap.keys().all(|k| !k.contains(kim.as_str())),
            "call {n}: leftover key"
        );
    }
}

#[test]
fn polls_alone_finish_a_removal_that_failed_at_any_call() {
    polls_alone_finish(false);
}

#[test]
fn polls_alone_finish_a_removal_that_crashed_at_any_call() {
    polls_alone_finish(true);
}
