//! The permission catalogue, in seed 000's style (`mdm.global.mdmUser.remove`).
//!
//! A permission is `mdm.global.<resource>.<action>`. A token carries a set of grants;
//! a grant is a permission, `mdm.global.<resource>.*` (every action on one resource) or
//! `*` (everything). Every route of every surface requires exactly one permission
//! (`roster_api::routes` lists them); `docs/auth.md` documents the catalogue.

use crate::error::ValidationError;
use std::fmt;

/// The kinds of thing a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// Organizations (tenants).
    Organization,
    /// Directory users.
    MdmUser,
    /// Users' devices.
    Device,
    /// Enrollment tokens.
    EnrollmentToken,
    /// Groups (WSO2's roles).
    Group,
    /// API tokens.
    Token,
    /// The outbox of messages for an external mailer.
    Outbox,
    /// The audit log.
    Audit,
    /// API Management subscriptions of users.
    Subscription,
    /// Asynchronous operations (removals that finish later).
    Operation,
    /// Legal holds on users and organizations (deletion protection): a resource of
    /// its own, so that `mdm.global.mdmUser.*` (what removes users) never lifts one.
    LegalHold,
    /// Exports of a user's data (`…/users/:mdmUserId/export`): a resource of its own,
    /// so that reading users (`mdm.global.mdmUser.read`) never hands out everything
    /// about a person, nor satisfies an export-before-removal policy.
    UserExport,
    /// Scheduled removals of users: a resource of its own, so that scheduling a
    /// removal is granted apart from removing.
    RemovalSchedule,
    /// Pushed-event subscriptions and their deliveries (`create`, `read`, `remove`
    /// subscriptions; `update` runs and replays deliveries).
    EventSubscription,
}

/// What is done to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Create.
    Create,
    /// Read or list.
    Read,
    /// Change.
    Update,
    /// Remove, revoke or delete.
    Remove,
    /// Invite (users only).
    Invite,
}

/// One permission: `mdm.global.<resource>.<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// What it is about.
    pub resource: Resource,
    /// What it allows.
    pub action: Action,
}

const RESOURCES: [(Resource, &str); 14] = [
    (Resource::Organization, "organization"),
    (Resource::MdmUser, "mdmUser"),
    (Resource::Device, "device"),
    (Resource::EnrollmentToken, "enrollmentToken"),
    (Resource::Group, "group"),
    (Resource::Token, "token"),
    (Resource::Outbox, "outbox"),
    (Resource::Audit, "audit"),
    (Resource::Subscription, "subscription"),
    (Resource::Operation, "operation"),
    (Resource::LegalHold, "legalHold"),
    (Resource::UserExport, "userExport"),
    (Resource::RemovalSchedule, "removalSchedule"),
    (Resource::EventSubscription, "eventSubscription"),
];

const ACTIONS: [(Action, &str); 5] = [
    (Action::Create, "create"),
    (Action::Read, "read"),
    (Action::Update, "update"),
    (Action::Remove, "remove"),
    (Action::Invite, "invite"),
];

/// The prefix every permission starts with.
pub const PREFIX: &str = "mdm.global.";

impl Resource {
    /// The name used in permission strings, e.g. `mdmUser`.
    pub fn as_str(self) -> &'static str {
        RESOURCES
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("", |(_, s)| s)
    }

    fn parse(s: &str) -> Option<Self> {
        RESOURCES.iter().find(|(_, n)| *n == s).map(|(r, _)| *r)
    }
}

impl Action {
    /// The name used in permission strings, e.g. `remove`.
    pub fn as_str(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, s)| s)
    }

    fn parse(s: &str) -> Option<Self> {
        ACTIONS.iter().find(|(_, n)| *n == s).map(|(a, _)| *a)
    }
}

impl Permission {
    /// The permission to do `action` to `resource`.
    pub const fn new(resource: Resource, action: Action) -> Self {
        Self { resource, action }
    }

    /// Every permission of the catalogue, in a stable order. `invite` exists only for
    /// users.
    pub fn catalogue() -> Vec<Permission> {
        let mut out = Vec::new();
        for (r, _) in RESOURCES {
            for (a, _) in ACTIONS {
                if a == Action::Invite && r != Resource::MdmUser {
                    continue;
                }
                out.push(Permission::new(r, a));
            }
        }
        out
    }

    /// Parses `mdm.global.<resource>.<action>`; only catalogue permissions parse.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix(PREFIX)?;
        let (r, a) = rest.split_once('.')?;
        let p = Permission::new(Resource::parse(r)?, Action::parse(a)?);
        Permission::catalogue().contains(&p).then_some(p)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}.{}",
            self.resource.as_str(),
            self.action.as_str()
        )
    }
}

/// One grant a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grant {
    /// `*`: every permission.
    All,
    /// `mdm.global.<resource>.*`: every action on one resource.
    Resource(Resource),
    /// One permission.
    One(Permission),
}

impl Grant {
    /// Parses a grant as written in a token request; the error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        if raw == "*" {
            return Ok(Grant::All);
        }
        if let Some(r) = raw
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(".*"))
            .and_then(Resource::parse)
        {
            return Ok(Grant::Resource(r));
        }
        Permission::parse(raw).map(Grant::One).ok_or_else(|| {
            ValidationError::new(
                field,
                "must be a permission of the catalogue (mdm.global.<resource>.<action>), mdm.global.<resource>.* or *",
            )
        })
    }

    /// Whether this grant allows `p`.
    pub fn allows(self, p: Permission) -> bool {
        match self {
            Grant::All => true,
            Grant::Resource(r) => r == p.resource,
            Grant::One(q) => q == p,
        }
    }

    /// Whether everything this grant allows is also allowed by `grants` (no privilege
    /// escalation when one token creates another).
    pub fn within(self, grants: &[Grant]) -> bool {
        match self {
            Grant::All => grants.contains(&Grant::All),
            Grant::Resource(r) => grants
                .iter()
                .any(|g| matches!(g, Grant::All) || *g == Grant::Resource(r)),
            Grant::One(p) => grants.iter().any(|g| g.allows(p)),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::All => f.write_str("*"),
            Grant::Resource(r) => write!(f, "{PREFIX}{}.*", r.as_str()),
            Grant::One(p) => p.fmt(f),
        }
    }
}

impl serde::Serialize for Grant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Grant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Grant::parse("permissions", &raw).map_err(serde::de::Error::custom)
    }
}

/// Whether `grants` allow `p`.
pub fn allowed(grants: &[Grant], p: Permission) -> bool {
    grants.iter().any(|g| g.allows(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_and_only_the_catalogue_parses() {
        let all = Permission::catalogue();
        assert!(all.len() > 30);
        for p in &all {
            assert_eq!(Permission::parse(&p.to_string()), Some(*p));
        }
        assert_eq!(
            Permission::parse("mdm.global.mdmUser.remove"),
            Some(Permission::new(Resource::MdmUser, Action::Remove))
        );
        assert_eq!(Permission::parse("mdm.global.device.invite"), None);
        assert_eq!(Permission::parse("mdm.global.mdmuser.remove"), None);
        assert_eq!(Permission::parse("mdm.local.mdmUser.remove"), None);
    }

    #[test]
    fn grants_allow_what_they_name_and_nothing_else() {
        let remove = Permission::new(Resource::MdmUser, Action::Remove);
        let read = Permission::new(Resource::MdmUser, Action::Read);
        let dev = Permission::new(Resource::Device, Action::Read);
        let one = Grant::parse("p", "mdm.global.mdmUser.remove").unwrap();
        let users = Grant::parse("p", "mdm.global.mdmUser.*").unwrap();
        let all = Grant::parse("p", "*").unwrap();
        assert!(one.allows(remove) && !one.allows(read));
        assert!(users.allows(remove) && users.allows(read) && !users.allows(dev));
        assert!(all.allows(dev));
        assert!(Grant::parse("permissions[0]", "mdm.global.nothing.*").is_err());
        let err = Grant::parse("permissions[2]", "admin").unwrap_err();
        assert_eq!(err.field, "permissions[2]");
        // No escalation: a user-only token cannot mint a device grant or `*`.
        assert!(one.within(&[users]));
        assert!(!users.within(&[one]));
        assert!(!all.within(&[users]));
        assert!(Grant::One(dev).within(&[all]));
    }
}
