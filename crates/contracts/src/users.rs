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
