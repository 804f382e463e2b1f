//! What the test modules share: the clock, an organization, a device and the
//! consistency assertion.

use futures::executor::block_on;
use roster_domain::model::{DeviceStatus, Organization, Ownership};
use roster_domain::{MemoryStore, Timestamp, devices, orgs};

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
