//! Idempotency keys for order placement: the first request with a key runs; a retry with
//! the same key and body gets the stored answer; the same key with another body is refused.

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{Error, Result};

pub fn hash(body: &serde_json::Value) -> Vec<u8> {
    Sha256::digest(body.to_string().as_bytes()).to_vec()
}

pub enum Claim {
    /// This request owns the key and must do the work.
    Fresh,
    /// An earlier request with this key finished with this answer.
    Done(u16, serde_json::Value),
}

pub async fn claim(pool: &PgPool, user: Uuid, key: &str, hash: &[u8]) -> Result<Claim> {
    // A key claimed long ago that never got an answer belongs to a request that died (a
    // crashed instance): it may be taken over.
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO UPDATE SET created_at = now(), updated_at = now()
         WHERE idempotency_keys.response_status IS NULL
           AND idempotency_keys.request_hash = EXCLUDED.request_hash
           AND idempotency_keys.updated_at < now() - interval '60 seconds'",
    )
    .bind(user)
    .bind(key)
    .bind(hash)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (stored_hash, status, body): (Vec<u8>, Option<i16>, Option<serde_json::Value>) =
        sqlx::query_as(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys
             WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .fetch_one(pool)
        .await?;
    if stored_hash != hash {
        return Err(Error::IdempotencyKeyReused);
    }
    match (status, body) {
        (Some(s), Some(b)) => Ok(Claim::Done(s as u16, b)),
        _ => Err(Error::IdempotencyInProgress),
    }
}

/// Stores the answer, in the transaction that made it.
pub async fn complete(
    conn: &mut PgConnection,
    user: Uuid,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4, updated_at = now()
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(key)
    .bind(status as i16)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees a key whose request failed before doing anything, so the client may retry with it.
pub async fn release(pool: &PgPool, user: Uuid, key: &str) {
    let freed = sqlx::query(
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND response_status IS NULL",
    )
    .bind(user)
    .bind(key)
    .execute(pool)
    .await;
    if let Err(e) = freed {
        tracing::warn!(error = %e, "could not free an idempotency key");
    }
}
