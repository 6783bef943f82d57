use axum::{extract::State, http::StatusCode};
use kazna_kernel::{
    Admin, FieldError, Json, Path, Problem, Query, Require,
    page::{Page, PageQuery},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    channel::{Channel, DeliveryStatus},
    deliveries::{self, Delivery},
    error::{Error, Result},
    render,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(get_template, put_template))
}

#[derive(Debug, Deserialize, IntoParams)]
struct LogQuery {
    /// Only messages in this state: `queued`, `sent`, `retrying` or `failed`.
    status: Option<String>,
    /// Only messages for this event, e.g. `order.paid`.
    event: Option<String>,
    /// Only messages on this channel: `email` or `sms`.
    channel: Option<String>,
    /// Only messages to this address.
    recipient: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(LogQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Delivery>),
              (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn list_deliveries(
    State(s): State<AppState>,
    _: Require<Admin>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Page<Delivery>>> {
    let mut errors = Vec::new();
    let status = match q.status.as_deref().map(str::parse::<DeliveryStatus>) {
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "status",
                "queued, sent, retrying or failed",
            ));
            None
        }
        other => other.and_then(|s| s.ok()),
    };
    let channel = match q.channel.as_deref().map(str::parse::<Channel>) {
        Some(Err(_)) => {
            errors.push(FieldError::new("channel", "email or sms"));
            None
        }
        other => other.and_then(|c| c.ok()),
    };
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let cursor = page.cursor_id()?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let filter = deliveries::Filter {
        status,
        event: q.event.as_deref(),
        channel,
        recipient: q.recipient.as_deref(),
    };
    let rows = deliveries::list(&s.pool, &filter, cursor, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |d| d.id)))
}

/// Sends a failed message again, from its first try.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 202, description = "Queued again", body = Delivery),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "not_retryable: only a failed message", body = Problem)))]
async fn retry_delivery(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<Delivery>)> {
    let d = deliveries::retry(&s.pool, id).await?;
    s.kick.now();
    Ok((StatusCode::ACCEPTED, Json(d)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Template {
    /// A minijinja template, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    subject: String,
    /// A minijinja template, 1 to 20000 characters.
    #[schema(min_length = 1, max_length = 20_000, pattern = "\\S")]
    body: String,
}

fn parse_channel(raw: &str) -> Result<Channel> {
    raw.parse()
        .map_err(|_| Error::Validation(vec![FieldError::new("channel", "email or sms")]))
}

#[utoipa::path(get, path = "/api/v1/notifications/templates/{event}/{channel}", tag = "notifications",
    params(("event" = String, Path, description = "The event the template is for, e.g. `order.paid`"),
           ("channel" = Channel, Path, description = "How the message goes out")),
    security(("bearer" = [])),
    responses((status = 200, body = Template),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 404, body = Problem)))]
async fn get_template(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path((event, channel)): Path<(String, String)>,
) -> Result<Json<Template>> {
    let channel = parse_channel(&channel)?;
    sqlx::query_as("SELECT subject, body FROM templates WHERE event = $1 AND channel = $2")
        .bind(&event)
        .bind(channel.as_str())
        .fetch_optional(&s.pool)
        .await?
        .map(Json)
        .ok_or(Error::NotFound("Template"))
}

#[utoipa::path(put, path = "/api/v1/notifications/templates/{event}/{channel}", tag = "notifications",
    params(("event" = String, Path, description = "The event the template is for, e.g. `order.paid`"),
           ("channel" = Channel, Path, description = "How the message goes out")),
    request_body = Template,
    security(("bearer" = [])),
    responses((status = 200, body = Template),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 422, body = Problem)))]
async fn put_template(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path((event, channel)): Path<(String, String)>,
    Json(t): Json<Template>,
) -> Result<Json<Template>> {
    let channel = parse_channel(&channel)?;
    let mut errors = Vec::new();
    if !deliveries::EVENTS.contains(&event.as_str()) {
        errors.push(FieldError::new(
            "event",
            format!("one of {}", deliveries::EVENTS.join(", ")),
        ));
    }
    for (field, text, max) in [("subject", &t.subject, 200), ("body", &t.body, 20_000)] {
        if text.trim().is_empty() || text.len() > max {
            errors.push(FieldError::new(field, format!("1 to {max} characters")));
        } else if let Err(e) = render::check(text) {
            errors.push(FieldError::new(field, format!("does not compile: {e}")));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    sqlx::query(
        "INSERT INTO templates (event, channel, subject, body) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event, channel) DO UPDATE SET subject = $3, body = $4, updated_at = now()",
    )
    .bind(&event)
    .bind(channel.as_str())
    .bind(&t.subject)
    .bind(&t.body)
    .execute(&s.pool)
    .await?;
    Ok(Json(t))
}
