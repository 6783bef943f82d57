//! The delivery log, which is also the queue: an event becomes a `queued` message (rendered
//! from its template, once per event, channel and recipient, in the event's inbox
//! transaction), which the worker sends; every try is counted with its error.

use chrono::{DateTime, Utc};
use kazna_contracts::Envelope;
use kazna_events::inbox;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    NAME,
    channel::{Channel, DeliveryStatus},
    error::{Error, Result},
    recipients, templates,
};

pub use crate::templates::EVENTS;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event: String,
    pub event_id: Uuid,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    /// Tries so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    /// What carried it (`file`, `sendgrid`, `twilio`), once tried.
    pub provider: Option<String>,
    /// The provider's id for it, once sent.
    pub provider_message_id: Option<String>,
    /// When the next try is due, while it is queued or retrying.
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "id, event, event_id, channel, recipient, subject, status, attempts, \
     last_error, provider, provider_message_id, next_attempt_at, sent_at, created_at, updated_at";

/// Queues the messages an event calls for, once each: an email to the address it names, and
/// an SMS when the event has one and the user has a phone number and SMS on. The delivery
/// rows and the inbox entry commit together. Returns how many were queued.
pub async fn queue(pool: &PgPool, event: &Envelope, shop_url: &str) -> Result<u64> {
    let Some(email) = event.data.get("email").and_then(|v| v.as_str()) else {
        return Ok(0);
    };
    let Some(mut tx) = inbox::begin(pool, NAME, event.id).await? else {
        return Ok(0);
    };
    let user = event
        .data
        .get("user_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok());
    let recipient = match user {
        Some(id) => recipients::get(&mut tx, id).await?,
        None => None,
    };
    let language = recipient
        .as_ref()
        .map_or(templates::FALLBACK_LANGUAGE, |r| r.language.as_str());
    let sms_to = recipient.as_ref().and_then(|r| r.sms_to());
    let ctx = templates::context(&event.data, shop_url);
    let mut queued = 0;
    for (channel, to) in [(Channel::Email, Some(email)), (Channel::Sms, sms_to)] {
        let Some(to) = to else { continue };
        let Some(template) =
            templates::resolve(&mut tx, &event.event_type, channel, language).await?
        else {
            continue;
        };
        let message = templates::render(&template, channel, &ctx)?;
        queued += sqlx::query(
            "INSERT INTO deliveries (id, event_id, event, channel, recipient, subject, body, html, status,
                                     traceparent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(event.id)
        .bind(&event.event_type)
        .bind(channel.as_str())
        .bind(to)
        .bind(&message.subject)
        .bind(&message.text)
        .bind(&message.html)
        .bind(DeliveryStatus::Queued.as_str())
        .bind(kazna_kernel::trace::traceparent())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(queued)
}

/// Which messages a page of the log holds.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub status: Option<DeliveryStatus>,
    pub event: Option<&'a str>,
    pub channel: Option<Channel>,
    pub recipient: Option<&'a str>,
}

pub async fn list(
    pool: &PgPool,
    f: &Filter<'_>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM deliveries
         WHERE ($1::text IS NULL OR recipient = $1) AND ($2::uuid IS NULL OR id < $2)
           AND ($4::text IS NULL OR status = $4) AND ($5::text IS NULL OR event = $5)
           AND ($6::text IS NULL OR channel = $6)
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(f.recipient)
    .bind(cursor)
    .bind(limit + 1)
    .bind(f.status.map(|s| s.as_str()))
    .bind(f.event)
    .bind(f.channel.map(|c| c.as_str()))
    .fetch_all(pool)
    .await?)
}

/// Sends a failed message again, from its first try.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<Delivery> {
    let again: Option<Delivery> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE deliveries SET status = 'queued', attempts = 0, next_attempt_at = now(),
                lease_until = NULL, updated_at = now()
         WHERE id = $1 AND status = 'failed' RETURNING {COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    if let Some(d) = again {
        return Ok(d);
    }
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match status {
        Some(status) => Err(Error::NotRetryable(status)),
        None => Err(Error::NotFound("Message")),
    }
}
