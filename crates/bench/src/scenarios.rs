//! The scenario table: one entry per thing a user of Roster does, each able to say
//! what request it sends (for HTTP and for the native handler alike), what it needs
//! prepared beforehand (untimed), and how to check an answer.

use crate::measure::Answer;
use crate::native::{KvStore, Overlay, block_on};
use anyhow::Context as _;
use http::Method;
use roster_api::mdm;
use roster_domain::ids::ObjectId;
use roster_domain::model::{DeviceStatus, Organization, Ownership};
use roster_domain::{Timestamp, devices, users};
use serde_json::Value;
use std::sync::Arc;

/// Devices of each user the asynchronous removal removes: more than the default
/// `policy.removalBatch` (100), so the removal answers 202 and finishes on polls.
pub const DEVICES_PER_HEAVY_VICTIM: usize = 200;

/// The `api-version` of the API Management requests.
pub const APIM_API_VERSION: &str = "2024-05-01";

/// What a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `GET …/mdm/users/:id` without a token: refused (401) before any read, so it
    /// costs what every Roster request costs before its route's work (instantiating a
    /// Roster component, opening the store, reading the admin variable, answering).
    NoToken,
    /// `GET …/mdm/users/:id` of a random seeded user.
    GetUser,
    /// `GET …/mdm/users?limit=50&cursor=…` from a random position.
    ListPage,
    /// `GET …/mdm/users?q=…&limit=50` for a text only one user has (a full scan).
    Search,
    /// `GET …/mdm/users/count`.
    Count,
    /// `POST …/mdm/users` of a new user.
    Create,
    /// `PATCH …/mdm/users/:id` with `If-Match` of the user's current version.
    PatchIfMatch,
    /// `DELETE …/mdm/users/:id` (canonical surface) of a user without dependents.
    RemoveNoDependents,
    /// Azure APIM `DELETE …/users/:userId?api-version=2024-05-01` with `If-Match: *` of
    /// a user with 200 active devices: more than `policy.removalBatch`, so answered 202
    /// and `Location`, which the client polls until 204. The latency is the whole
    /// removal, from the DELETE to the 204.
    RemoveWith200Devices,
    /// WSO2 `GET /mdm-admin/users/view?username=…` of a random seeded user (the
    /// organization is the token's): a lookup by username, O(1) like get.
    Wso2View,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Short identifier (`--scenarios` takes these).
    pub id: &'static str,
    /// What it measures, for the report.
    pub title: &'static str,
    /// What it does.
    pub kind: Kind,
}

/// Every scenario, in the order they run: reads first, so that writes (which add
/// users) cannot change what the reads see.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "no-token",
        title: "refused: no token (401)",
        kind: Kind::NoToken,
    },
    Scenario {
        id: "get",
        title: "get user",
        kind: Kind::GetUser,
    },
    Scenario {
        id: "list",
        title: "list page (50)",
        kind: Kind::ListPage,
    },
    Scenario {
        id: "search",
        title: "`q` search (1 hit)",
        kind: Kind::Search,
    },
    Scenario {
        id: "count",
        title: "count",
        kind: Kind::Count,
    },
    Scenario {
        id: "wso2-view",
        title: "WSO2 user view",
        kind: Kind::Wso2View,
    },
    Scenario {
        id: "create",
        title: "create user",
        kind: Kind::Create,
    },
    Scenario {
        id: "patch",
        title: "PATCH with If-Match",
        kind: Kind::PatchIfMatch,
    },
    Scenario {
        id: "remove",
        title: "remove, no dependents",
        kind: Kind::RemoveNoDependents,
    },
    Scenario {
        id: "remove-200-devices",
        title: "remove, 200 devices (APIM, async, to the end)",
        kind: Kind::RemoveWith200Devices,
    },
];

/// A request, in the terms both transports need.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method, sent as is over HTTP and natively.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// The route's path parameters, as Spin hands them to the component.
    pub params: Vec<(String, String)>,
    /// Request headers besides `Authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    /// Whether to send the fixture's bearer token.
    pub authenticated: bool,
    /// Whether to poll `Location` while answered 202 (an asynchronous operation): the
    /// call then lasts until the operation's end.
    pub follow_location: bool,
    /// The status a correct answer has.
    pub expect: u16,
}

impl Call {
    /// An authenticated `GET path` answered 200, without route parameters (for a server
    /// other than roster-host's components, or over HTTP only).
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path.to_owned(), 200)
    }

    fn new(method: Method, path: String, expect: u16) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            params: Vec::new(),
            headers: Vec::new(),
            body: None,
            authenticated: true,
            follow_location: false,
            expect,
        }
    }

    fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.headers
            .push(("content-type", "application/json".to_owned()));
        self
    }
}

/// What the scenarios of one size work on: the seeded organization, seen through the
/// store the host serves.
#[derive(Debug)]
pub struct Fixture {
    /// The seeded organization.
    pub org: Organization,
    /// Users the organization had when the fixture was read.
    pub users: i64,
    /// Random users of the organization (ids), for reads.
    pub sample: Vec<ObjectId>,
    /// Highest user sequence number.
    pub top: i64,
    /// A search text exactly one user matches.
    pub needle: String,
    /// The bearer token every request carries.
    pub bearer: String,
    /// The `admin_token` the native handlers see (as the components read it).
    pub admin_token: Option<String>,
    /// A tag making names created by this run unique (a reused store keeps earlier
    /// runs' users).
    pub run_tag: String,
    /// The store, natively (for preparation and mode b).
    pub store: Arc<KvStore>,
}

/// A small deterministic generator (splitmix64), so runs pick the same users.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Fixture {
    /// Reads the fixture of the organization `slug` from `store`: its record, user
    /// count, and `sample` random users.
    pub fn read(
        store: Arc<KvStore>,
        slug: &str,
        sample: usize,
        bearer: String,
        admin_token: Option<String>,
    ) -> anyhow::Result<Self> {
        let reference = roster_domain::ids::OrgRef::parse("organizationId", slug)?;
        let org = block_on(roster_domain::orgs::resolve(&*store, &reference))
            .context("the seeded organization")?;
        let users = block_on(roster_domain::count::total(&*store, &org.id))?;
        let top = block_on(roster_domain::records::read_counter(
            &*store,
            &roster_domain::keys::user_seq_counter(&org.id),
        ))?;
        anyhow::ensure!(top > 0, "the seeded organization has no users");
        let mut ids = Vec::new();
        let mut k = 0u64;
        while ids.len() < sample && k < (sample as u64) * 4 {
            let n = i64::try_from(mix(k) % top as u64).unwrap_or(0) + 1;
            k += 1;
            let entry: Option<users::IndexEntry> = block_on(roster_domain::records::read(
                &*store,
                &roster_domain::keys::user_seq(&org.id, n),
            ))?;
            if let Some(e) = entry {
                ids.push(e.id);
            }
        }
        anyhow::ensure!(!ids.is_empty(), "no user found in the seeded organization");
        // The last seeded user: `u` and seven digits match nothing else.
        let seeded = u64::try_from(top).unwrap_or(1);
        let needle = crate::seed::username(seeded.saturating_sub(1));
        Ok(Self {
            org,
            users,
            sample: ids,
            top,
            needle,
            bearer,
            admin_token,
            run_tag: format!("{:x}", Timestamp::now().0),
            store,
        })
    }

    fn users_path(&self) -> String {
        format!("/v1/organizations/{}/mdm/users", self.org.id)
    }

    fn user_call(&self, method: Method, id: &ObjectId, expect: u16) -> Call {
        Call::new(method, format!("{}/{id}", self.users_path()), expect)
            .param("organizationId", self.org.id.as_str())
            .param("mdmUserId", id.as_str())
    }
}

/// What a scenario prepared (untimed) for one measurement.
#[derive(Debug, Default)]
pub enum Prepared {
    /// Nothing.
    #[default]
    Nothing,
    /// Users to patch, one per request, with their current versions.
    Versions(Vec<(ObjectId, u64)>),
    /// Users to remove, one per request.
    Victims(Vec<ObjectId>),
}

impl Kind {
    /// The spin.toml component serving the scenario's route; mode (b) runs the same
    /// endpoint natively through [`roster_api::routes::dispatch`].
    pub fn component(self) -> Option<&'static str> {
        Some(match self {
            Kind::NoToken | Kind::GetUser | Kind::PatchIfMatch | Kind::RemoveNoDependents => {
                "mdm-user"
            }
            Kind::ListPage | Kind::Search | Kind::Create => "mdm-users",
            Kind::Count => "mdm-users-count",
            Kind::RemoveWith200Devices => "apim-user",
            Kind::Wso2View => "wso2-users-view",
        })
    }

    /// Whether each request uses up something prepared (so the number of requests is
    /// fixed in advance rather than bounded by time).
    pub fn consumes(self) -> bool {
        matches!(self, Kind::RemoveNoDependents | Kind::RemoveWith200Devices)
    }

    /// Prepares (untimed, natively, through the domain) what `want` requests need;
    /// `tag` tells apart the preparations of one run. Returns what was prepared and how
    /// many requests it allows (`usize::MAX`: unbounded).
    pub fn prepare(
        self,
        fx: &Fixture,
        tag: &str,
        want: usize,
    ) -> anyhow::Result<(Prepared, usize)> {
        let store = &*fx.store;
        match self {
            Kind::PatchIfMatch => {
                // Each mode patches its own half of the users: the modes are measured
                // in interleaved rounds, and a user patched by one would fail the
                // other's If-Match.
                let half = usize::try_from(fx.top / 2).unwrap_or(0);
                let want = want.min(half);
                let mut out = Vec::with_capacity(want);
                let mut after = if tag == "a" { 0 } else { fx.top / 2 };
                while out.len() < want {
                    let q = users::ListQuery {
                        after,
                        limit: 200,
                        status: None,
                        group: None,
                        q: None,
                    };
                    let page = block_on(users::list(store, &fx.org, &q))?;
                    out.extend(page.users.iter().map(|u| (u.id.clone(), u.version)));
                    match page.next {
                        Some(n) => after = n,
                        None => break,
                    }
                }
                out.truncate(want);
                let n = out.len();
                Ok((Prepared::Versions(out), n))
            }
            Kind::RemoveNoDependents | Kind::RemoveWith200Devices => {
                let devices = if self == Kind::RemoveWith200Devices {
                    DEVICES_PER_HEAVY_VICTIM
                } else {
                    0
                };
                // Through the domain, written in one transaction at the end.
                let overlay = Overlay::new(store);
                let now = Timestamp::now();
                let mut out = Vec::with_capacity(want);
                for i in 0..want {
                    let name = format!("victim-{}-{tag}-{devices}-{i}", fx.run_tag);
                    let new = users::NewUser::parse(
                        &name,
                        Some(&format!("{name}@example.com")),
                        Some("Victim"),
                        Some("Bench"),
                    )?;
                    let u = block_on(users::create(&overlay, &fx.org, new, now))?;
                    for d in 0..devices {
                        let new = devices::NewDevice::parse(
                            "Pixel",
                            "android",
                            None,
                            &format!("{name}-{d}"),
                            Ownership::Byod,
                            DeviceStatus::Active,
                            Vec::new(),
                        )?;
                        block_on(devices::enroll(&overlay, &fx.org, &u.id, new, now))?;
                    }
                    out.push(u.id);
                }
                overlay.flush()?;
                Ok((Prepared::Victims(out), want))
            }
            _ => Ok((Prepared::Nothing, usize::MAX)),
        }
    }

    /// Request number `i` of a measurement (`tag` as given to [`Kind::prepare`]).
    pub fn call(self, fx: &Fixture, prepared: &Prepared, tag: &str, i: usize) -> Call {
        let org = fx.org.id.as_str();
        let list = || Call::new(Method::GET, fx.users_path(), 200).param("organizationId", org);
        match (self, prepared) {
            (Kind::NoToken, _) => {
                let mut c = fx.user_call(Method::GET, &fx.sample[i % fx.sample.len()], 401);
                c.authenticated = false;
                c
            }
            (Kind::GetUser, _) => {
                let id = &fx.sample[i % fx.sample.len()];
                fx.user_call(Method::GET, id, 200)
            }
            (Kind::ListPage, _) => {
                let span = u64::try_from((fx.top - 50).max(1)).unwrap_or(1);
                let after = i64::try_from(mix(i as u64 ^ 0x5eed) % span).unwrap_or(0);
                let mut c = list();
                c.query = format!("limit=50&cursor={}", mdm::encode_cursor(after));
                c
            }
            (Kind::Search, _) => {
                let mut c = list();
                c.query = format!("q={}&limit=50", fx.needle);
                c
            }
            (Kind::Count, _) => Call::new(Method::GET, format!("{}/count", fx.users_path()), 200)
                .param("organizationId", org),
            (Kind::Create, _) => {
                let name = format!("new-{}-{tag}-{i}", fx.run_tag);
                let mut c = list().json(&serde_json::json!({
                    "username": name,
                    "email": format!("{name}@example.com"),
                    "firstName": "New",
                    "lastName": "Hire",
                }));
                c.method = Method::POST;
                c.expect = 201;
                c
            }
            (Kind::PatchIfMatch, Prepared::Versions(v)) => {
                let (id, version) = &v[i % v.len()];
                let mut c = fx
                    .user_call(Method::PATCH, id, 200)
                    .json(&serde_json::json!({ "firstName": format!("Patched-{tag}-{i}") }));
                c.headers.push(("if-match", format!("\"{version}\"")));
                c
            }
            (Kind::Wso2View, _) => {
                // A random seeded user, by username; the organization is the token's.
                let n = mix(i as u64 ^ 0x3003) % u64::try_from(fx.top).unwrap_or(1).max(1);
                let mut c = Call::new(Method::GET, "/mdm-admin/users/view".to_owned(), 200);
                c.query = format!("username={}", crate::seed::username(n));
                c
            }
            (Kind::RemoveNoDependents, Prepared::Victims(v)) => {
                fx.user_call(Method::DELETE, &v[i % v.len()], 200)
            }
            (Kind::RemoveWith200Devices, Prepared::Victims(v)) => {
                let (subscription, group, service) = fx
                    .org
                    .apim
                    .as_ref()
                    .map(|b| {
                        (
                            b.subscription_id.as_str(),
                            b.resource_group_name.as_str(),
                            b.service_name.as_str(),
                        )
                    })
                    .unwrap_or_default();
                let id = v[i % v.len()].as_str();
                let mut c = Call::new(
                    Method::DELETE,
                    format!(
                        "/subscriptions/{subscription}/resourceGroups/{group}/providers/\
                         Microsoft.ApiManagement/service/{service}/users/{id}"
                    ),
                    204,
                )
                .param("subscriptionId", subscription)
                .param("resourceGroupName", group)
                .param("serviceName", service)
                .param("userId", id);
                c.query = format!("api-version={APIM_API_VERSION}");
                c.headers.push(("if-match", "*".to_owned()));
                c.follow_location = true;
                c
            }
            // A preparation that does not fit its scenario (a bug in this table): a
            // request that cannot succeed, so the untimed probe's check reports it.
            _ => Call::new(Method::GET, "/mismatched-preparation".to_owned(), 200),
        }
    }

    /// Checks the body of an answer beyond its status (done on the untimed probe
    /// request only).
    pub fn check(self, fx: &Fixture, call: &Call, answer: &Answer) -> Result<(), String> {
        if self == Kind::RemoveWith200Devices {
            // 204 at the end of polls: the removal went the asynchronous way.
            return if answer.requests > 1 {
                Ok(())
            } else {
                Err(format!(
                    "the removal of a user with {DEVICES_PER_HEAVY_VICTIM} devices finished \
                     in its first request: not the asynchronous path"
                ))
            };
        }
        let body = answer.body.as_slice();
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
        let data = &v["data"];
        let ok = match self {
            Kind::NoToken => v["error"]["code"].is_u64(),
            Kind::GetUser => call.path.ends_with(data["id"].as_str().unwrap_or("-")),
            Kind::ListPage => data["users"].as_array().is_some_and(|u| !u.is_empty()),
            Kind::Search => data["users"].as_array().is_some_and(|u| {
                u.len() == 1 && u[0]["username"].as_str() == Some(fx.needle.as_str())
            }),
            Kind::Count => data["count"].as_i64() == Some(fx.users),
            Kind::Create => data["id"].is_string(),
            // A real change (a PATCH that changes nothing writes nothing).
            Kind::PatchIfMatch => {
                let sent: Value = call
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or_default();
                data["id"].is_string() && data["firstName"] == sent["firstName"]
            }
            Kind::RemoveNoDependents => data["delete"].is_string(),
            Kind::Wso2View => call
                .query
                .strip_prefix("username=")
                .is_some_and(|u| v["responseContent"]["username"].as_str() == Some(u)),
            Kind::RemoveWith200Devices => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "unexpected answer to {} {}?{}: {}",
                call.method,
                call.path,
                call.query,
                String::from_utf8_lossy(body)
            ))
        }
    }
}
