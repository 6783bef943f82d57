//! The audit log: every request to a provider and its answer, every webhook and every state
//! change of a payment, as append-only rows (a trigger refuses any other change).
//!
//! It is tamper-evident: rows are sealed into one hash chain, in the order they are sealed,
//! each row's hash covering its content and the hash of the row before it. Appending takes
//! no lock (appends come from many transactions and instances at once); one sealer at a time
//! chains what was appended since it last ran, within a fraction of a second. `verify` walks
//! the chain and names the first row that was edited, deleted or reordered.
//!
//! Nothing secret is written: request and answer bodies pass through [`redact`] first, and
//! card data never reaches payments at all (a payment method is the provider's token for it).

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::Result;

/// Appends to the audit log; a provider event already there is not appended again (returns
/// false), which is how a repeated webhook is recognised in the transaction of its effect.
pub(crate) async fn append(
    conn: &mut PgConnection,
    payment_id: Uuid,
    kind: &str,
    provider_event: Option<&str>,
    data: Value,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO payment_events (id, payment_id, kind, provider_event_id, data) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider_event_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(payment_id)
    .bind(kind)
    .bind(provider_event)
    .bind(data)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The kind of the entries that record a request to a provider and its answer.
pub const PROVIDER_REQUEST: &str = "provider_request";

/// The keys whose values never reach the log, wherever they are in a body.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "authorization",
    "password",
    "secret",
    "number",
    "cvc",
    "cvv",
    "security_code",
];

/// `value` with every secret in it replaced by `[redacted]`.
pub fn redact(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) && !v.is_null() {
                        *v = Value::String("[redacted]".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// One request to a provider and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub request: Value,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub response: Value,
    /// Why no usable answer came (a time-out, a refused connection).
    pub error: Option<String>,
    pub ms: u64,
}

/// The provider requests one gateway call made, written to the audit log with the change
/// they led to (or on their own when the call failed).
#[derive(Debug, Default)]
pub struct Transcript {
    pub exchanges: Vec<Exchange>,
}

impl Transcript {
    /// Records a request; bodies are redacted here, so nothing secret is ever kept.
    pub fn record(
        &mut self,
        method: &str,
        path: &str,
        request: Value,
        started: Instant,
        answer: std::result::Result<(u16, Value), String>,
    ) {
        let (status, response, error) = match answer {
            Ok((status, body)) => (Some(status), redact(body), None),
            Err(e) => (None, Value::Null, Some(e)),
        };
        self.exchanges.push(Exchange {
            method: method.to_owned(),
            path: path.to_owned(),
            request: redact(request),
            status,
            response,
            error,
            ms: started.elapsed().as_millis() as u64,
        });
    }

    /// Writes what was recorded as `provider_request` rows of `payment_id`.
    pub async fn write(self, conn: &mut PgConnection, payment_id: Uuid) -> Result<()> {
        for x in self.exchanges {
            let data = json!({
                "method": x.method, "path": x.path, "request": x.request,
                "status": x.status, "response": x.response, "error": x.error, "ms": x.ms,
            });
            append(&mut *conn, payment_id, PROVIDER_REQUEST, None, data).await?;
        }
        Ok(())
    }

    /// The same in a transaction of its own.
    pub async fn write_alone(self, pool: &PgPool, payment_id: Uuid) -> Result<()> {
        if self.exchanges.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        self.write(&mut tx, payment_id).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct Content {
    id: Uuid,
    payment_id: Uuid,
    kind: String,
    provider_event_id: Option<String>,
    /// jsonb's own text form, which is canonical (key order and spacing are its own).
    data: String,
    created_at: DateTime<Utc>,
}

fn hash(prev: &[u8], position: i64, c: &Content) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    for part in [
        position.to_string().as_bytes(),
        c.id.as_bytes(),
        c.payment_id.as_bytes(),
        c.kind.as_bytes(),
        c.provider_event_id.as_deref().unwrap_or("").as_bytes(),
        c.created_at.timestamp_micros().to_string().as_bytes(),
        c.data.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().to_vec()
}

const CONTENT: &str = "id, payment_id, kind, provider_event_id, data::text AS data, created_at";
const SEAL_BATCH: i64 = 500;

/// Chains the rows appended since the last seal; returns how many. Only one sealer works at a
/// time, across instances: the others find the lock taken and return 0.
pub async fn seal(pool: &PgPool) -> Result<usize> {
    let mut tx = pool.begin().await?;
    let mine: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtext('kazna.payment_events.seal'))",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !mine {
        return Ok(0);
    }
    let rows: Vec<Content> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTENT} FROM payment_events WHERE hash IS NULL ORDER BY seq LIMIT {SEAL_BATCH}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT position, hash FROM payment_events WHERE hash IS NOT NULL ORDER BY position DESC LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (mut position, mut prev) = head.unwrap_or((0, Vec::new()));
    let (mut ids, mut positions, mut prevs, mut hashes) = (vec![], vec![], vec![], vec![]);
    for row in &rows {
        position += 1;
        let h = hash(&prev, position, row);
        ids.push(row.id);
        positions.push(position);
        prevs.push(prev);
        prev = h.clone();
        hashes.push(h);
    }
    sqlx::query(
        "UPDATE payment_events e SET position = u.position, prev_hash = u.prev, hash = u.hash
         FROM unnest($1::uuid[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, position, prev, hash)
         WHERE e.id = u.id",
    )
    .bind(&ids)
    .bind(&positions)
    .bind(&prevs)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every sealed row is where it was sealed, as it was sealed. `head` is the last row's
    /// hash: written down elsewhere, it also shows later that nothing was cut off the end.
    Intact {
        rows: i64,
        head: Option<String>,
        unsealed: i64,
    },
    /// The first row that is not as it was sealed.
    Broken {
        position: i64,
        id: Option<Uuid>,
        problem: String,
    },
}

#[derive(sqlx::FromRow)]
struct Sealed {
    position: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    #[sqlx(flatten)]
    content: Content,
}

/// Walks the chain from its first row and names the first one that was edited, deleted or
/// reordered.
pub async fn verify(pool: &PgPool) -> Result<Verdict> {
    let mut expected_position = 1_i64;
    let mut prev: Vec<u8> = Vec::new();
    loop {
        let rows: Vec<Sealed> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT position, prev_hash, hash, {CONTENT} FROM payment_events
             WHERE hash IS NOT NULL AND position >= $1 ORDER BY position LIMIT 5000"
        )))
        .bind(expected_position)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let id = Some(r.content.id);
            if r.position != expected_position {
                return Ok(Verdict::Broken {
                    position: expected_position,
                    id: None,
                    problem: format!(
                        "row {expected_position} is missing (deleted); the chain goes on at row {}",
                        r.position
                    ),
                });
            }
            if r.prev_hash != prev {
                return Ok(Verdict::Broken {
                    position: r.position,
                    id,
                    problem: "does not follow the row before it (a row was deleted or the rows reordered)".into(),
                });
            }
            if hash(&prev, r.position, &r.content) != r.hash {
                return Ok(Verdict::Broken {
                    position: r.position,
                    id,
                    problem: "was edited after it was sealed".into(),
                });
            }
            prev = r.hash;
            expected_position += 1;
        }
    }
    let unsealed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payment_events WHERE hash IS NULL")
            .fetch_one(pool)
            .await?;
    Ok(Verdict::Intact {
        rows: expected_position - 1,
        head: (!prev.is_empty()).then(|| hex::encode(&prev)),
        unsealed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_wherever_they_are() {
        let body = json!({
            "id": "pi_1", "client_secret": "pi_1_secret_abc",
            "nested": [{"access_token": "A21AA", "card": {"number": "4242", "cvc": "123"}}],
            "amount": 1999,
        });
        let out = redact(body).to_string();
        for secret in ["pi_1_secret_abc", "A21AA", "4242", "\"123\""] {
            assert!(!out.contains(secret), "{secret} left in {out}");
        }
        assert!(out.contains("pi_1") && out.contains("1999"), "{out}");
    }
}
