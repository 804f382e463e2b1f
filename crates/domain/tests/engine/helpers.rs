//! What the test modules share: the clock, an organization (with a policy), a user, a
//! device and the consistency assertion.

use futures::executor::block_on;
use roster_domain::ids::ObjectId;
use roster_domain::model::{DeviceStatus, Organization, Ownership};
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
