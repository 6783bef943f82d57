use axum::{extract::State, http::StatusCode};
use kazna_kernel::{
    Admin, FieldError, Json, Path, Problem, Query, Require,
    page::{Page, PageQuery},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    channel::{Channel, DeliveryStatus},
    deliveries::{self, Delivery},
    error::{Error, Result},
    templates::{self, Rendered, Template},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(get_template, put_template))
        .routes(routes!(preview_template))
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

fn parse_channel(raw: &str) -> Result<Channel> {
    raw.parse()
        .map_err(|_| Error::Validation(vec![FieldError::new("channel", "email or sms")]))
}

#[derive(Debug, Deserialize, IntoParams)]
struct LanguageQuery {
    /// The language of the template, e.g. `en` or `de-AT`; `en` when left out.
    #[param(pattern = "^[a-z]{2}(-[A-Z]{2})?$")]
    language: Option<String>,
}

impl LanguageQuery {
    fn language(&self) -> Result<&str> {
        let lang = self
            .language
            .as_deref()
            .unwrap_or(templates::FALLBACK_LANGUAGE);
        match kazna_contracts::users::is_language_code(lang) {
            true => Ok(lang),
            false => Err(Error::Validation(vec![FieldError::new(
                "language",
                "a language code such as en or de-AT",
            )])),
        }
    }
}

/// The event and channel of a template path, checked.
fn template_of(event: &str, channel: &str) -> Result<Channel> {
    let channel = parse_channel(channel)?;
    if !templates::EVENTS.contains(&event) {
        return Err(Error::Validation(vec![FieldError::new(
            "event",
            format!("one of {}", templates::EVENTS.join(", ")),
        )]));
    }
    Ok(channel)
}

/// The template a message uses: the admin's, else the built-in one.
#[utoipa::path(get, path = "/api/v1/notifications/templates/{event}/{channel}", tag = "notifications",
    params(("event" = String, Path, description = "The event the template is for, e.g. `order.paid`"),
           ("channel" = Channel, Path, description = "How the message goes out"),
           LanguageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Template),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 404, description = "This event sends nothing on this channel", body = Problem),
              (status = 422, body = Problem)))]
async fn get_template(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path((event, channel)): Path<(String, String)>,
    Query(q): Query<LanguageQuery>,
) -> Result<Json<Template>> {
    let channel = template_of(&event, &channel)?;
    let mut conn = s.pool.acquire().await?;
    templates::resolve(&mut conn, &event, channel, q.language()?)
        .await?
        .map(Json)
        .ok_or(Error::NotFound("Template"))
}

/// Overrides the template of an event, channel and language. One that does not compile, or
/// uses a variable the event does not have, is refused naming the part and the line.
#[utoipa::path(put, path = "/api/v1/notifications/templates/{event}/{channel}", tag = "notifications",
    params(("event" = String, Path, description = "The event the template is for, e.g. `order.paid`"),
           ("channel" = Channel, Path, description = "How the message goes out"),
           LanguageQuery),
    request_body = Template,
    security(("bearer" = [])),
    responses((status = 200, body = Template),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 422, body = Problem)))]
async fn put_template(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path((event, channel)): Path<(String, String)>,
    Query(q): Query<LanguageQuery>,
    Json(t): Json<Template>,
) -> Result<Json<Template>> {
    let channel = template_of(&event, &channel)?;
    let language = q.language()?;
    let errors = templates::check(&event, channel, &t);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    templates::save(&s.pool, &event, channel, language, &t).await?;
    Ok(Json(t))
}

/// Renders a template with the event's sample data: the one sent in the body (a draft), or
/// the one in use.
#[utoipa::path(post, path = "/api/v1/notifications/templates/{event}/{channel}/preview", tag = "notifications",
    params(("event" = String, Path, description = "The event the template is for, e.g. `order.paid`"),
           ("channel" = Channel, Path, description = "How the message goes out"),
           LanguageQuery),
    request_body(content = Option<Template>, description = "A draft to render; the template in use when empty"),
    security(("bearer" = [])),
    responses((status = 200, body = Rendered),
              (status = 403, description = "forbidden: admins only", body = Problem),
              (status = 404, description = "This event sends nothing on this channel", body = Problem),
              (status = 422, body = Problem)))]
async fn preview_template(
    State(s): State<AppState>,
    _: Require<Admin>,
    Path((event, channel)): Path<(String, String)>,
    Query(q): Query<LanguageQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Rendered>> {
    let channel = template_of(&event, &channel)?;
    let language = q.language()?;
    let draft: Option<Template> = match body.iter().all(u8::is_ascii_whitespace) {
        true => None,
        false => Some(serde_json::from_slice(&body).map_err(|e| {
            Error::Problem(Problem::new(kazna_kernel::Code::InvalidBody).with_detail(e.to_string()))
        })?),
    };
    let t = match draft {
        Some(t) => {
            let errors = templates::check(&event, channel, &t);
            if !errors.is_empty() {
                return Err(Error::Validation(errors));
            }
            t
        }
        None => {
            let mut conn = s.pool.acquire().await?;
            templates::resolve(&mut conn, &event, channel, language)
                .await?
                .ok_or(Error::NotFound("Template"))?
        }
    };
    let sample = templates::sample(&event).unwrap_or_default();
    let ctx = templates::context(&sample, &s.ctx.settings.gateway.public_url);
    Ok(Json(templates::render(&t, channel, &ctx)?))
}
