//! Authentication, rate limiting, authorization and tenant scoping, shared by every
//! surface. Each surface maps an [`AuthFailure`] to its own answer in one place.
//!
//! Order of checks for every request: the method (405), the bearer token (401: none,
//! or not a valid token), the token's rate limit (429), the route's permission (403),
//! then the organization the request names (a token of another organization gets the
//! same answer as a missing organization: 404, so it never learns what exists).

use crate::request::{ApiRequest, ApiResponse, Ctx};
use roster_domain::ids::{ObjectId, OrgRef};
use roster_domain::model::Organization;
use roster_domain::permissions::{self, Action, Grant, Permission, Resource};
use roster_domain::ratelimit::{self, Verdict};
use roster_domain::tokens::{self, ApiToken};
use roster_domain::{DomainError, Store, orgs};
use subtle::ConstantTimeEq;

/// Requests per minute allowed to the `admin_token` variable (the operator's bootstrap
/// credential).
pub const ADMIN_RATE_LIMIT_PER_MINUTE: u32 = 60_000;
/// Requests per minute allowed to a global token that sets no limit of its own.
pub const GLOBAL_RATE_LIMIT_PER_MINUTE: u32 = 6_000;
/// The header a global token names the organization with on surfaces whose paths do
/// not (WSO2, CAS).
pub const ORGANIZATION_HEADER: &str = "x-roster-organization";

/// What a route requires of the caller for one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The permission the caller's token must grant (`resource.action`, e.g.
    /// `mdm.global.mdmUser.remove`; docs/auth.md lists them); `None` only for a public
    /// route, which reads nothing of the store and needs no token (`GET /openapi.json`,
    /// [`Requirement::public`]).
    pub permission: Option<Permission>,
    /// Only global tokens qualify (organization tokens get 403 whatever they carry).
    pub global_only: bool,
}

impl Requirement {
    /// A permission any token may hold.
    pub const fn of(permission: Permission) -> Self {
        Self {
            permission: Some(permission),
            global_only: false,
        }
    }

    /// No token needed: a public route that reads nothing of the store (the API
    /// description). [`admit`] is never called for it.
    pub const fn public() -> Self {
        Self {
            permission: None,
            global_only: false,
        }
    }

    /// A permission only global tokens may use.
    pub const fn global(permission: Permission) -> Self {
        Self {
            permission: Some(permission),
            global_only: true,
        }
    }

    /// `resource.action`, any token may hold it (what [`endpoint!`](crate::endpoint)'s
    /// `need(Resource, Action)` declares).
    pub const fn need(resource: Resource, action: Action) -> Self {
        Self::of(Permission::new(resource, action))
    }

    /// `resource.action`, global tokens only (what [`endpoint!`](crate::endpoint)'s
    /// `need_global(Resource, Action)` declares).
    pub const fn need_global(resource: Resource, action: Action) -> Self {
        Self::global(Permission::new(resource, action))
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The holder of the `admin_token` application variable: global, every permission.
    Admin,
    /// An API token (valid at the time of the request).
    Token(Box<ApiToken>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who it is.
    pub principal: Principal,
    /// The token's organization, when it has one (read once, for its policy).
    pub home: Option<Organization>,
}

impl Caller {
    /// The organization the caller is confined to (`None`: global).
    pub fn scope(&self) -> Option<&ObjectId> {
        match &self.principal {
            Principal::Admin => None,
            Principal::Token(t) => t.org_id.as_ref(),
        }
    }

    /// The grants the caller holds.
    pub fn grants(&self) -> &[Grant] {
        match &self.principal {
            Principal::Admin => &[Grant::All],
            Principal::Token(t) => &t.grants,
        }
    }

    /// Whether the caller may do `p`.
    pub fn allows(&self, p: Permission) -> bool {
        permissions::allowed(self.grants(), p)
    }

    /// Who the audit log names: the token id, or `admin`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::Admin => "admin".to_owned(),
            Principal::Token(t) => t.id.to_string(),
        }
    }

    /// The token id, when the caller is a token.
    pub fn token_id(&self) -> Option<ObjectId> {
        match &self.principal {
            Principal::Admin => None,
            Principal::Token(t) => Some(t.id.clone()),
        }
    }
}

/// The protection space of the canonical, WSO2 and Dynatrace surfaces' challenges (SCIM
/// names its own, `roster-scim`).
pub const REALM: &str = "roster";

/// `resp` (a 401) with its `WWW-Authenticate` challenge (RFC 9110 §11.6.1: a 401
/// carries at least one; RFC 6750 §3: the bearer scheme): `Bearer realm="{realm}"`,
/// plus `, error="invalid_token"` when the request sent a token that is unknown,
/// expired or revoked (RFC 6750 §3.1; none when it sent no token). The seeds of the
/// canonical surface, WSO2 and Dynatrace show no challenge; their clients ignore it.
/// `realm` is one of Roster's own constants (ASCII, no quote).
pub fn challenged(mut resp: ApiResponse, realm: &str, invalid_token: bool) -> ApiResponse {
    let value = if invalid_token {
        format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
    } else {
        format!("Bearer realm=\"{realm}\"")
    };
    if let Ok(v) = http::HeaderValue::from_str(&value) {
        resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Why a request is refused before its route runs.
#[derive(Debug)]
pub enum AuthFailure {
    /// No `Authorization: Bearer …` header (401, 4002 "No auth token").
    NoToken,
    /// A token that is unknown, expired or revoked (401, 4001 "Unauthorized").
    Unauthorized,
    /// The token lacks the route's permission, or the route is global-only (403).
    Forbidden {
        /// The permission the route requires.
        permission: Permission,
    },
    /// The token used up its requests for this minute (429).
    RateLimited(Verdict),
    /// A global token on a tenant-less surface named no organization (400).
    NoOrganization,
    /// The store failed (500).
    Store(DomainError),
}

fn bearer(req: &ApiRequest) -> Option<&str> {
    let value = req.header("authorization")?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(token.trim()).filter(|t| !t.is_empty())
        }
        _ => None,
    }
}

/// Authenticates the bearer token, counts the request against the token's rate limit
/// (recording the verdict in `ctx` for the `X-RateLimit-*` headers), and checks
/// `need`. Costs one read for a token (none for the admin variable), one for an
/// organization token's organization, and one atomic increment in the store's
/// [`Store::rate_limits`](roster_domain::Store::rate_limits) (Spin: the `ratelimit`
/// label), so a read writes nothing to the durable store.
pub async fn admit<S: Store>(
    req: &ApiRequest,
    store: &S,
    ctx: &Ctx,
    need: Requirement,
) -> Result<Caller, AuthFailure> {
    let secret = bearer(req).ok_or(AuthFailure::NoToken)?;
    let is_admin = ctx.admin_token().is_some_and(|admin| {
        !admin.is_empty() && bool::from(admin.as_bytes().ct_eq(secret.as_bytes()))
    });
    let caller = if is_admin {
        Caller {
            principal: Principal::Admin,
            home: None,
        }
    } else {
        let token = tokens::find_by_secret(store, secret)
            .await
            .map_err(AuthFailure::Store)?
            .filter(|t| t.is_valid(ctx.now))
            .ok_or(AuthFailure::Unauthorized)?;
        let home = match &token.org_id {
            Some(id) => match orgs::get(store, id).await {
                Ok(o) => Some(o),
                Err(DomainError::NotFound { .. }) => return Err(AuthFailure::Unauthorized),
                Err(e) => return Err(AuthFailure::Store(e)),
            },
            None => None,
        };
        Caller {
            principal: Principal::Token(Box::new(token)),
            home,
        }
    };
    let (subject, limit) = match &caller.principal {
        Principal::Admin => ("admin".to_owned(), ADMIN_RATE_LIMIT_PER_MINUTE),
        Principal::Token(t) => (
            t.id.to_string(),
            t.rate_limit_per_minute.unwrap_or_else(|| {
                caller
                    .home
                    .as_ref()
                    .map_or(GLOBAL_RATE_LIMIT_PER_MINUTE, |o| {
                        o.policy.rate_limit_per_minute
                    })
            }),
        ),
    };
    let verdict = ratelimit::hit(store, &subject, limit, ctx.now)
        .await
        .map_err(|e| AuthFailure::Store(e.into()))?;
    ctx.rate.set(Some(verdict));
    if !verdict.allowed {
        return Err(AuthFailure::RateLimited(verdict));
    }
    // A public requirement admits any authenticated caller (public routes do not call
    // this at all).
    if let Some(permission) = need.permission
        && (!caller.allows(permission) || (need.global_only && caller.scope().is_some()))
    {
        return Err(AuthFailure::Forbidden { permission });
    }
    Ok(caller)
}

/// Resolves the organization a path names, as the caller may see it: an organization
/// token sees only its own organization (any other reads as not found). The caller's
/// `home` is moved into the answer (taken, not copied: nothing reads it after the
/// request's organization is known).
pub async fn scoped_org<S: Store>(
    caller: &mut Caller,
    store: &S,
    reference: &OrgRef,
) -> Result<Organization, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: roster_domain::Entity::Organization,
    };
    if let Some(home) = caller.home.take() {
        let same = match reference {
            OrgRef::Id(id) => *id == home.id,
            OrgRef::Slug(s) => s.as_str() == home.slug,
        };
        return if same { Ok(home) } else { Err(not_found()) };
    }
    let org = orgs::resolve(store, reference).await?;
    match caller.scope() {
        Some(scope) if *scope != org.id => Err(not_found()),
        _ => Ok(org),
    }
}

/// Checks that an organization found by another name (an account UUID, an APIM
/// binding) is one the caller may see.
pub fn visible(caller: &Caller, org: Organization) -> Result<Organization, DomainError> {
    match caller.scope() {
        Some(scope) if *scope != org.id => Err(DomainError::NotFound {
            entity: roster_domain::Entity::Organization,
        }),
        _ => Ok(org),
    }
}

/// The organization a request on a tenant-less surface (WSO2, CAS) acts on: an
/// organization token's own, or for a global token the one named by the
/// `X-Roster-Organization` header (id or slug). The caller's `home` is moved into the
/// answer, as by [`scoped_org`].
pub async fn home_org<S: Store>(
    caller: &mut Caller,
    store: &S,
    req: &ApiRequest,
) -> Result<Organization, AuthFailure> {
    if let Some(home) = caller.home.take() {
        return Ok(home);
    }
    let raw = req
        .header(ORGANIZATION_HEADER)
        .ok_or(AuthFailure::NoOrganization)?;
    let reference = OrgRef::parse("X-Roster-Organization", raw.trim())
        .map_err(|_| AuthFailure::NoOrganization)?;
    match scoped_org(caller, store, &reference).await {
        Ok(o) => Ok(o),
        Err(DomainError::NotFound { .. }) => Err(AuthFailure::NoOrganization),
        Err(e) => Err(AuthFailure::Store(e)),
    }
}
