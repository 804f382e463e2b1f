//! The numeric error codes of the canonical surface (documented in `docs/api.md`),
//! answered by [`super::Error`]. 3001, 4001, 4002, 5054 and 5055 are seed 000's; the
//! rest follow its style.

/// 400: a field or path parameter failed validation.
pub const VALIDATION: u32 = 1001;
/// 400: the body is not valid JSON for this route.
pub const INVALID_JSON: u32 = 1002;
/// 413: the body is larger than the limit.
pub const BODY_TOO_LARGE: u32 = 1003;
/// 405: the route does not serve this method.
pub const METHOD_NOT_ALLOWED: u32 = 1005;
/// 400: a password change was refused (wrong old password, or none set: one answer).
pub const PASSWORD_REFUSED: u32 = 2001;
/// 404: "Entity not found" (seed 000).
pub const NOT_FOUND: u32 = 3001;
/// 409: a unique field is taken, or the entity is in a state that refuses the change.
pub const CONFLICT: u32 = 3002;
/// 412: `If-Match` does not match.
pub const PRECONDITION_FAILED: u32 = 3003;
/// 409: another request is removing the user right now.
pub const REMOVAL_IN_PROGRESS: u32 = 3004;
/// 401: "Unauthorized" — the token is not valid (seed 000).
pub const UNAUTHORIZED: u32 = 4001;
/// 401: "No auth token" (seed 000).
pub const NO_AUTH_TOKEN: u32 = 4002;
/// 403: the token lacks the route's permission (or the route is for global tokens).
pub const FORBIDDEN: u32 = 4003;
/// 429: the token's requests for this minute are used up.
pub const RATE_LIMITED: u32 = 4029;
/// 500: an internal error (the store failed); the operation can be retried.
pub const INTERNAL: u32 = 5000;
/// 400: the user has ACTIVE devices (seed 000).
pub const ACTIVE_DEVICES: u32 = 5054;
/// 400: the user has pending enrollment tokens (seed 000).
pub const PENDING_TOKENS: u32 = 5055;
/// 409: the user has subscriptions the removal may not take.
pub const HAS_SUBSCRIPTIONS: u32 = 5056;
/// 409: the user is mastered by an identity provider or directory.
pub const EXTERNALLY_MANAGED: u32 = 5057;
/// 409: the user must be disabled first.
pub const USER_ENABLED: u32 = 5058;
/// 400: a legal hold (the user's or the organization's) protects the user: every
/// removal is refused until it is lifted or ends (seed 000's 400, as 5054 and 5055).
pub const LEGAL_HOLD: u32 = 5059;
/// 400: the organization requires a fresh export of the user's data before its removal
/// (`requireExportBeforeRemoval`) and the user has none (seed 000's 400, as 5059).
pub const EXPORT_REQUIRED: u32 = 5060;
