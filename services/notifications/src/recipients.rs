//! What notifications knows of each user (their phone, whether SMS is on, their language),
//! kept from `user.contact_changed` in version order: a late, older change is ignored.

use kazna_contracts::users::ContactChanged;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recipient {
    pub phone: Option<String>,
    pub sms: bool,
    pub language: String,
}

impl Recipient {
    /// Where an SMS goes, when this user gets them.
    pub fn sms_to(&self) -> Option<&str> {
        self.phone.as_deref().filter(|_| self.sms)
    }
}

/// Records a change, unless a newer one is already known.
pub async fn apply(pool: &PgPool, c: &ContactChanged) -> Result<()> {
    sqlx::query(
        "INSERT INTO recipients (user_id, phone, sms, language, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
         SET phone = $2, sms = $3, language = $4, version = $5, updated_at = now()
         WHERE recipients.version < $5",
    )
    .bind(c.user_id)
    .bind(&c.phone)
    .bind(c.sms)
    .bind(&c.language)
    .bind(c.version)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, user_id: Uuid) -> Result<Option<Recipient>> {
    Ok(
        sqlx::query_as("SELECT phone, sms, language FROM recipients WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?,
    )
}
