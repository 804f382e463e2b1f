//! Passwords: Argon2id with OWASP's recommended parameters (19 MiB memory, 2
//! iterations, 1 lane), stored as a PHC string in the user record and never returned.

use crate::error::ValidationError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest accepted password.
pub const MIN_LEN: usize = 8;
/// Longest accepted password (bounds hashing work).
pub const MAX_LEN: usize = 256;

fn hasher() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1. The parameters are
    // constants within Argon2's bounds, so `Params::new` cannot fail here.
    #[allow(clippy::expect_used)]
    let params = Params::new(19_456, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length and characters; the error names `field`.
pub fn validate(field: &str, password: &str) -> Result<(), ValidationError> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(ValidationError::new(field, "must be 8 to 256 characters"));
    }
    if password.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Hashes a (validated) password into a PHC string.
pub fn hash(password: &str) -> Result<String, ValidationError> {
    let salt = SaltString::encode_b64(&crate::ids::random_bytes::<16>())
        .map_err(|e| ValidationError::new("password", e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ValidationError::new("password", e.to_string()))
}

/// Whether `password` matches the stored PHC string (constant-time comparison).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
        assert!(!verify("correct horse", "not a hash"));
        assert!(validate("newPassword", "short").is_err());
        assert!(validate("newPassword", "long enough").is_ok());
    }
}
