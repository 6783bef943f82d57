//! Account operations: plain async functions over the pool.

use chrono::{DateTime, Duration, Utc};
use kazna_contracts::users::{
    ContactChanged, PasswordResetRequested, UserRegistered, VerificationRequested,
};
use kazna_kernel::{Role, auth::Claims};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::{Email, NewAccount},
    error::{Error, Result},
    keys::Keys,
    password,
};

pub const SOURCE: &str = "users";
const REFRESH_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    #[sqlx(try_from = "Vec<String>")]
    #[schema(value_type = Vec<Role>)]
    pub roles: Roles,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// An account's roles, read from the database through `TryFrom`: a role this build does not
/// know is an error, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Roles(pub Vec<Role>);

impl TryFrom<Vec<String>> for Roles {
    type Error = UnknownRole;
    fn try_from(names: Vec<String>) -> Result<Self, UnknownRole> {
        names
            .into_iter()
            .map(|n| Role::parse(&n).ok_or(UnknownRole(n)))
            .collect::<Result<_, _>>()
            .map(Roles)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a role")]
pub struct UnknownRole(String);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates an account and asks for its verification email, in one transaction.
pub async fn create(pool: &PgPool, account: NewAccount, public_url: &str) -> Result<Profile> {
    let hash = password::hash(account.password.expose().to_owned()).await?;
    let id = Uuid::now_v7();
    let roles: Vec<String> = account
        .roles
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query_as::<_, Profile>(
        "INSERT INTO users (id, email, name, password_hash, roles) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, email, name, phone, roles, email_verified, created_at",
    )
    .bind(id)
    .bind(account.email.as_str())
    .bind(&account.name)
    .bind(&hash)
    .bind(&roles)
    .fetch_one(&mut *tx)
    .await;
    let profile = match inserted {
        Ok(p) => p,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("users_email_key") => {
            return Err(Error::EmailTaken);
        }
        Err(e) => return Err(e.into()),
    };
    let token = random_token();
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(id)
    .bind(Utc::now() + Duration::hours(24))
    .execute(&mut *tx)
    .await?;
    let registered = UserRegistered {
        user_id: id,
        email: profile.email.clone(),
        name: profile.name.clone(),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &registered).await?;
    let verify = VerificationRequested {
        user_id: id,
        email: profile.email.clone(),
        name: profile.name.clone(),
        verify_url: format!(
            "{}/verify-email?token={token}",
            public_url.trim_end_matches('/')
        ),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &verify).await?;
    tx.commit().await?;
    Ok(profile)
}

/// Checks the credentials; an unknown email and a wrong password look and cost the same.
/// A hash made with weaker settings than today's is redone while the password is at hand.
pub async fn authenticate(pool: &PgPool, email: &str, password: &str) -> Result<Profile> {
    let email = Email::parse(email).ok();
    let row: Option<(Uuid, String)> = match &email {
        Some(e) => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(e.as_str())
                .fetch_optional(pool)
                .await?
        }
        None => None,
    };
    let ok = password::verify(password.to_owned(), row.as_ref().map(|r| r.1.clone())).await?;
    let (Some(e), Some((id, stored)), true) = (email, row, ok) else {
        return Err(Error::InvalidCredentials);
    };
    if password::needs_rehash(&stored) {
        let fresh = password::hash(password.to_owned()).await?;
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(fresh)
            .execute(pool)
            .await?;
        tracing::info!(user.id = %id, "password hash upgraded");
    }
    profile_by_email(pool, &e).await
}

async fn profile_by_email(pool: &PgPool, email: &Email) -> Result<Profile> {
    sqlx::query_as::<_, Profile>(
        "SELECT id, email, name, phone, roles, email_verified, created_at FROM users WHERE email = $1",
    )
    .bind(email.as_str())
    .fetch_optional(pool)
    .await?
    .ok_or(Error::InvalidCredentials)
}

pub async fn profile(pool: &PgPool, id: Uuid) -> Result<Profile> {
    sqlx::query_as::<_, Profile>(
        "SELECT id, email, name, phone, roles, email_verified, created_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound)
}

/// Issues an access token, signed with the key that signs now, and a new refresh token (in
/// `family`, or a new family).
pub async fn issue_tokens(
    pool: &PgPool,
    keys: &Keys,
    settings: &kazna_kernel::config::AuthSettings,
    user: &Profile,
    family: Option<Uuid>,
) -> Result<TokenPair> {
    let key = keys.current().await?;
    let now = Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        sub: user.id,
        email: user.email.clone(),
        roles: user.roles.0.clone(),
        exp: now + settings.access_token_ttl_secs,
        iat: now,
        jti: Uuid::now_v7(),
    };
    let access_token = key.sign(&claims)?;
    let refresh_token = random_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&refresh_token))
    .bind(user.id)
    .bind(family.unwrap_or_else(Uuid::now_v7))
    .bind(Utc::now() + Duration::days(REFRESH_TTL_DAYS))
    .execute(pool)
    .await?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: settings.access_token_ttl_secs,
    })
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    spent_at: Option<DateTime<Utc>>,
}

/// Spends a refresh token and returns its owner and family. Presenting a spent token
/// revokes its whole family (it was stolen, or replayed).
pub async fn spend_refresh(pool: &PgPool, token: &str) -> Result<(Profile, Uuid)> {
    let hash = token_hash(token);
    let mut tx = pool.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT user_id, family_id, expires_at, spent_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(RefreshRow {
        user_id,
        family_id: family,
        expires_at,
        spent_at,
    }) = row
    else {
        return Err(Error::InvalidToken);
    };
    if spent_at.is_some() {
        sqlx::query("UPDATE refresh_tokens SET spent_at = coalesce(spent_at, now()), expires_at = now(), updated_at = now() WHERE family_id = $1")
            .bind(family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(user.id = %user_id, "a spent refresh token was presented; family revoked");
        return Err(Error::InvalidToken);
    }
    if expires_at <= Utc::now() {
        return Err(Error::InvalidToken);
    }
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = now(), updated_at = now() WHERE token_hash = $1",
    )
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((profile(pool, user_id).await?, family))
}

/// Revokes the family of the presented refresh token.
pub async fn logout(pool: &PgPool, user_id: Uuid, token: &str) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = coalesce(spent_at, now()), expires_at = now(), updated_at = now()
         WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)",
    )
    .bind(token_hash(token))
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the email of the token's account verified; the token works once. Returns the user.
pub async fn verify_email(pool: &PgPool, token: &str) -> Result<Uuid> {
    let mut tx = pool.begin().await?;
    let user: Option<(Uuid,)> = sqlx::query_as(
        "UPDATE email_verifications SET used_at = now(), updated_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id,)) = user else {
        return Err(Error::InvalidToken);
    };
    sqlx::query("UPDATE users SET email_verified = true, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Revokes every refresh token of a user (after a password change or reset).
async fn revoke_all(conn: &mut sqlx::PgConnection, user_id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET spent_at = coalesce(spent_at, now()), expires_at = now(), updated_at = now()
         WHERE user_id = $1 AND expires_at > now()",
    )
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Starts a password reset. Says nothing of whether the email exists: the caller answers the
/// same either way, and only an existing account gets the email.
pub async fn request_password_reset(pool: &PgPool, email: &str, public_url: &str) -> Result<()> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let user: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?;
    let Some((user_id, name)) = user else {
        return Ok(());
    };
    let token = random_token();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(Utc::now() + Duration::minutes(30))
    .execute(&mut *tx)
    .await?;
    let event = PasswordResetRequested {
        user_id,
        email: email.as_str().to_owned(),
        name,
        reset_url: format!(
            "{}/reset-password?token={token}",
            public_url.trim_end_matches('/')
        ),
    };
    kazna_events::enqueue(&mut tx, SOURCE, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token (which works once) and signs the user out
/// everywhere. Returns the user's id.
pub async fn confirm_password_reset(
    pool: &PgPool,
    token: &str,
    new_password: &str,
) -> Result<Uuid> {
    let mut tx = pool.begin().await?;
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT r.user_id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() FOR UPDATE OF r",
    )
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, email)) = row else {
        return Err(Error::InvalidToken);
    };
    let email = Email::parse(&email).ok();
    let password = crate::domain::Password::parse(new_password, email.as_ref())
        .map_err(|m| Error::Validation(vec![kazna_kernel::FieldError::new("new_password", m)]))?;
    let hash = password::hash(password.expose().to_owned()).await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE password_resets SET used_at = now(), updated_at = now() WHERE token_hash = $1",
    )
    .bind(token_hash(token))
    .execute(&mut *tx)
    .await?;
    revoke_all(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Changes the name and/or phone (`Some(None)` clears the phone); a new phone is announced.
pub async fn update_profile(
    pool: &PgPool,
    id: Uuid,
    name: Option<String>,
    phone: Option<Option<String>>,
) -> Result<Profile> {
    let mut tx = pool.begin().await?;
    let before: Option<Option<String>> =
        sqlx::query_scalar("SELECT phone FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let before = before.ok_or(Error::NotFound)?;
    let profile = sqlx::query_as::<_, Profile>(
        "UPDATE users SET name = coalesce($2, name),
                          phone = CASE WHEN $3 THEN $4 ELSE phone END,
                          updated_at = now()
         WHERE id = $1 RETURNING id, email, name, phone, roles, email_verified, created_at",
    )
    .bind(id)
    .bind(name)
    .bind(phone.is_some())
    .bind(phone.flatten())
    .fetch_one(&mut *tx)
    .await?;
    if profile.phone != before {
        contact_changed(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(profile)
}

/// How a user wants to be told things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Preferences {
    /// SMS for shipped, delivered and declined payments, when the profile has a phone number.
    /// Transactional email cannot be turned off.
    pub sms: bool,
    /// The language messages are written in, e.g. `en` or `de-AT` (English when the shop has
    /// no template in it).
    pub language: String,
}

pub async fn preferences(pool: &PgPool, id: Uuid) -> Result<Preferences> {
    sqlx::query_as("SELECT sms_notifications AS sms, language FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn set_preferences(pool: &PgPool, id: Uuid, p: &Preferences) -> Result<Preferences> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE users SET sms_notifications = $2, language = $3, updated_at = now()
         WHERE id = $1 AND (sms_notifications, language) IS DISTINCT FROM ($2, $3)",
    )
    .bind(id)
    .bind(p.sms)
    .bind(&p.language)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 1 {
        contact_changed(&mut tx, id).await?;
    }
    let now = sqlx::query_as("SELECT sms_notifications AS sms, language FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(now)
}

/// Announces the user's contact details and preferences as they now are, with a new version.
async fn contact_changed(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<()> {
    let (phone, sms, language, version): (Option<String>, bool, String, i64) = sqlx::query_as(
        "UPDATE users SET contact_version = contact_version + 1 WHERE id = $1
         RETURNING phone, sms_notifications, language, contact_version",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let e = ContactChanged {
        user_id: id,
        phone,
        sms,
        language,
        version,
    };
    kazna_events::enqueue(conn, SOURCE, &e).await?;
    Ok(())
}

/// Accounts, newest first, optionally those whose email starts with `email_prefix`.
pub async fn list(
    pool: &PgPool,
    email_prefix: Option<&str>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Profile>> {
    let pattern = email_prefix.map(|p| {
        let escaped = p
            .trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    });
    Ok(sqlx::query_as::<_, Profile>(
        "SELECT id, email, name, phone, roles, email_verified, created_at FROM users
         WHERE ($1::text IS NULL OR email LIKE $1) AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(pattern)
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?)
}

/// Replaces a user's roles and records who did it.
pub async fn set_roles(
    pool: &PgPool,
    actor: Uuid,
    user_id: Uuid,
    roles: &[Role],
) -> Result<Profile> {
    let mut names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    let mut tx = pool.begin().await?;
    let old: Option<Vec<String>> =
        sqlx::query_scalar("SELECT roles FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let old = old.ok_or(Error::NotFound)?;
    let profile = sqlx::query_as::<_, Profile>(
        "UPDATE users SET roles = $2, updated_at = now() WHERE id = $1
         RETURNING id, email, name, phone, roles, email_verified, created_at",
    )
    .bind(user_id)
    .bind(&names)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO role_changes (id, actor_id, user_id, old_roles, new_roles) VALUES ($1, $2, $3, $4, $5)")
        .bind(Uuid::now_v7())
        .bind(actor)
        .bind(user_id)
        .bind(&old)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(actor.id = %actor, user.id = %user_id, ?old, new = ?names, "roles changed");
    Ok(profile)
}
