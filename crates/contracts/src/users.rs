use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
}
impl Event for UserRegistered {
    const TYPE: &'static str = "user.registered";
}

/// Asks for the verification email; carries the link the user must follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerificationRequested {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub verify_url: String,
}
impl Event for VerificationRequested {
    const TYPE: &'static str = "user.verification_requested";
}

/// Whether `s` is a language as Kazna names them: `en` or `de-AT` (ISO 639-1, optionally with
/// an ISO 3166-1 region).
pub fn is_language_code(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        2 => b.iter().all(u8::is_ascii_lowercase),
        5 => {
            b[..2].iter().all(u8::is_ascii_lowercase)
                && b[2] == b'-'
                && b[3..].iter().all(u8::is_ascii_uppercase)
        }
        _ => false,
    }
}

/// Where and how a user wants to be told things changed: their phone (for SMS), whether SMS is
/// on, their language. `version` only grows: an older one arriving late changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactChanged {
    pub user_id: Uuid,
    pub phone: Option<String>,
    pub sms: bool,
    pub language: String,
    pub version: i64,
}
impl Event for ContactChanged {
    const TYPE: &'static str = "user.contact_changed";
}

/// Asks for the password-reset email; only emitted for an existing account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub reset_url: String,
}
impl Event for PasswordResetRequested {
    const TYPE: &'static str = "user.password_reset_requested";
}
