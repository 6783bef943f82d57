//! Templates: a default for every event and channel, built into the binary (`templates/`),
//! which an admin may override, per language. Every event has sample data built from its
//! contract type, so a preview shows a real message and a template that uses a variable its
//! event does not have is refused when saved, naming the line.

use kazna_contracts::{
    Currency, Money,
    orders::{
        OrderCanceled, OrderDelivered, OrderLine, OrderPaid, OrderPaymentFailed, OrderPlaced,
        OrderRefunded, OrderShipped, Parcel,
    },
    users::{PasswordResetRequested, VerificationRequested},
};
use kazna_kernel::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{channel::Channel, error::Result, render};

/// The events a message goes out for.
pub const EVENTS: &[&str] = &[
    "user.verification_requested",
    "user.password_reset_requested",
    "order.placed",
    "order.paid",
    "order.payment_failed",
    "order.shipped",
    "order.delivered",
    "order.canceled",
    "order.refunded",
];

/// The language of the built-in templates, and the one a message falls back to.
pub const FALLBACK_LANGUAGE: &str = "en";

/// A template: minijinja, with an HTML part for email (autoescaped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The subject of an email (empty for SMS), 0 to 200 characters.
    #[schema(max_length = 200)]
    #[serde(default)]
    pub subject: String,
    /// The text part of an email, or the SMS, 1 to 20000 characters.
    #[schema(min_length = 1, max_length = 20_000, pattern = "\\S")]
    pub body: String,
    /// The HTML part of an email, up to 50000 characters.
    #[schema(max_length = 50_000)]
    #[serde(default)]
    pub html: Option<String>,
}

macro_rules! builtin {
    ($event:literal) => {
        Template {
            subject: include_str!(concat!("../templates/", $event, ".subject")).to_owned(),
            body: include_str!(concat!("../templates/", $event, ".txt")).to_owned(),
            html: Some(include_str!(concat!("../templates/", $event, ".html")).to_owned()),
        }
    };
    ($event:literal, sms) => {
        Template {
            subject: String::new(),
            body: include_str!(concat!("../templates/", $event, ".sms")).to_owned(),
            html: None,
        }
    };
}

/// The built-in template of an event and channel, if the event goes out on that channel.
pub fn builtin(event: &str, channel: Channel) -> Option<Template> {
    Some(match (event, channel) {
        ("user.verification_requested", Channel::Email) => builtin!("user.verification_requested"),
        ("user.password_reset_requested", Channel::Email) => {
            builtin!("user.password_reset_requested")
        }
        ("order.placed", Channel::Email) => builtin!("order.placed"),
        ("order.paid", Channel::Email) => builtin!("order.paid"),
        ("order.payment_failed", Channel::Email) => builtin!("order.payment_failed"),
        ("order.payment_failed", Channel::Sms) => builtin!("order.payment_failed", sms),
        ("order.shipped", Channel::Email) => builtin!("order.shipped"),
        ("order.shipped", Channel::Sms) => builtin!("order.shipped", sms),
        ("order.delivered", Channel::Email) => builtin!("order.delivered"),
        ("order.delivered", Channel::Sms) => builtin!("order.delivered", sms),
        ("order.canceled", Channel::Email) => builtin!("order.canceled"),
        ("order.refunded", Channel::Email) => builtin!("order.refunded"),
        _ => return None,
    })
}

/// The template a message of `event` in `language` uses: the admin's for that language, else
/// the admin's in the fallback language, else the built-in one.
pub async fn resolve(
    conn: &mut PgConnection,
    event: &str,
    channel: Channel,
    language: &str,
) -> Result<Option<Template>> {
    let custom: Option<Template> = sqlx::query_as(
        "SELECT subject, body, html FROM templates
         WHERE event = $1 AND channel = $2 AND language IN ($3, $4)
         ORDER BY (language = $3) DESC LIMIT 1",
    )
    .bind(event)
    .bind(channel.as_str())
    .bind(language)
    .bind(FALLBACK_LANGUAGE)
    .fetch_optional(conn)
    .await?;
    Ok(custom.or_else(|| builtin(event, channel)))
}

/// Keeps an admin's template for an event, channel and language (checked with [`check`]).
pub async fn save(
    pool: &sqlx::PgPool,
    event: &str,
    channel: Channel,
    language: &str,
    t: &Template,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO templates (event, channel, language, subject, body, html) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (event, channel, language)
         DO UPDATE SET subject = $4, body = $5, html = $6, updated_at = now()",
    )
    .bind(event)
    .bind(channel.as_str())
    .bind(language)
    .bind(&t.subject)
    .bind(&t.body)
    .bind(&t.html)
    .execute(pool)
    .await?;
    Ok(())
}

fn money(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn line() -> OrderLine {
    OrderLine {
        variant_id: Uuid::nil(),
        product_id: Uuid::nil(),
        seller_id: Uuid::nil(),
        name: "Desk lamp, brass".into(),
        sku: "LAMP-BRASS".into(),
        quantity: 2,
        unit_price: money(4999),
    }
}

/// What an event of this kind carries, as an example (the data a template is rendered with,
/// less `shop_url`, which every message has).
pub fn sample(event: &str) -> Option<Value> {
    let (order_id, user_id, email) = (Uuid::nil(), Uuid::nil(), "ada@example.com".to_owned());
    let value = match event {
        "user.verification_requested" => serde_json::to_value(VerificationRequested {
            user_id,
            email,
            name: "Ada Lovelace".into(),
            verify_url: "https://shop.example/verify-email?token=sample".into(),
        }),
        "user.password_reset_requested" => serde_json::to_value(PasswordResetRequested {
            user_id,
            email,
            name: "Ada Lovelace".into(),
            reset_url: "https://shop.example/reset-password?token=sample".into(),
        }),
        "order.placed" => serde_json::to_value(OrderPlaced {
            order_id,
            user_id,
            email,
            total: money(9998),
            payment_method: "pm_card_visa".into(),
            payment_id: Uuid::nil(),
            attempt: 1,
            lines: vec![line()],
        }),
        "order.paid" => serde_json::to_value(OrderPaid {
            order_id,
            user_id,
            email,
            total: money(9998),
            payment_id: Uuid::nil(),
            lines: vec![line()],
        }),
        "order.payment_failed" => serde_json::to_value(OrderPaymentFailed {
            order_id,
            user_id,
            email,
            total: money(9998),
            attempt: 1,
            reason: "card_declined".into(),
        }),
        "order.shipped" => serde_json::to_value(OrderShipped {
            order_id,
            user_id,
            email,
            parcels: vec![Parcel {
                seller_id: Uuid::nil(),
                carrier: Some("DHL".into()),
                tracking_number: Some("JD014600006281230745".into()),
            }],
        }),
        "order.delivered" => serde_json::to_value(OrderDelivered {
            order_id,
            user_id,
            email,
        }),
        "order.canceled" => serde_json::to_value(OrderCanceled {
            order_id,
            user_id,
            email,
            total: money(9998),
            by: "system".into(),
            reason: "not paid in time".into(),
            refund: true,
        }),
        "order.refunded" => serde_json::to_value(OrderRefunded {
            order_id,
            user_id,
            email,
            amount: money(4999),
            refunded: money(4999),
            full: false,
        }),
        _ => return None,
    };
    value.ok()
}

/// The data a message is rendered with: the event's, and where the shop is.
pub fn context(data: &Value, shop_url: &str) -> Value {
    let mut ctx = data.clone();
    if let Some(map) = ctx.as_object_mut() {
        map.insert(
            "shop_url".into(),
            Value::String(shop_url.trim_end_matches('/').to_owned()),
        );
    }
    ctx
}

/// A message as it will go out.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// What may surprise: an SMS longer than one message.
    pub warnings: Vec<String>,
}

pub fn render(
    t: &Template,
    channel: Channel,
    ctx: &Value,
) -> std::result::Result<Rendered, minijinja::Error> {
    let subject = render::render_named("subject.txt", &t.subject, ctx)?;
    let text = render::render_named("body.txt", &t.body, ctx)?;
    let html = t
        .html
        .as_deref()
        .filter(|_| channel == Channel::Email)
        .map(|h| render::render_named("body.html", h, ctx))
        .transpose()?;
    let warnings = match channel {
        Channel::Sms => sms_length(&text).into_iter().collect(),
        Channel::Email => vec![],
    };
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        text,
        html,
        warnings,
    })
}

/// GSM 03.38's basic character set: one SMS holds 160 of these, or 70 of anything else.
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// A warning when `text` takes more than one SMS.
pub fn sms_length(text: &str) -> Option<String> {
    let chars = text.trim_end().chars().count();
    let gsm = text.chars().all(|c| GSM7.contains(c));
    let limit = if gsm { 160 } else { 70 };
    (chars > limit).then(|| {
        let set = if gsm { "GSM-7" } else { "non-GSM-7 (UCS-2)" };
        format!("{chars} {set} characters: longer than one SMS ({limit})")
    })
}

/// What is wrong with `t` as the template of `event` on `channel`, field by field: a part
/// that does not compile, or uses a variable the event does not have, is named with its line.
pub fn check(event: &str, channel: Channel, t: &Template) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(sample) = sample(event) else {
        errors.push(FieldError::new(
            "event",
            format!("one of {}", EVENTS.join(", ")),
        ));
        return errors;
    };
    let ctx = context(&sample, "https://shop.example");
    let html = t.html.as_deref();
    for (field, text, name, min, max) in [
        (
            "subject",
            Some(t.subject.as_str()),
            "subject.txt",
            usize::from(channel == Channel::Email),
            200,
        ),
        ("body", Some(t.body.as_str()), "body.txt", 1, 20_000),
        ("html", html, "body.html", 0, 50_000),
    ] {
        let Some(text) = text else { continue };
        if text.trim().chars().count() < min || text.len() > max {
            errors.push(FieldError::new(field, format!("{min} to {max} characters")));
        } else if text.contains('\0') {
            errors.push(FieldError::new(field, "must not contain NUL characters"));
        } else if let Err(e) = render::check_with(name, text, &ctx) {
            errors.push(FieldError::new(field, e));
        }
    }
    if channel == Channel::Sms && html.is_some() {
        errors.push(FieldError::new("html", "an SMS has no HTML part"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_renders_its_events_sample_strictly() {
        for event in EVENTS {
            let email =
                builtin(event, Channel::Email).unwrap_or_else(|| panic!("{event} has an email"));
            assert_eq!(check(event, Channel::Email, &email), vec![], "{event}");
            if let Some(sms) = builtin(event, Channel::Sms) {
                assert_eq!(check(event, Channel::Sms, &sms), vec![], "{event} sms");
                let ctx = context(&sample(event).unwrap_or_default(), "https://shop.example");
                let out =
                    render(&sms, Channel::Sms, &ctx).unwrap_or_else(|e| panic!("{event}: {e}"));
                assert_eq!(out.warnings, Vec::<String>::new(), "{event}: {}", out.text);
            }
        }
    }

    #[test]
    fn the_shipped_email_names_the_carrier_and_tracking_number() {
        let t = builtin("order.shipped", Channel::Email).unwrap_or_else(|| panic!("shipped"));
        let ctx = context(
            &sample("order.shipped").unwrap_or_default(),
            "https://shop.example/",
        );
        let out = render(&t, Channel::Email, &ctx).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.text
                .contains("DHL, tracking number JD014600006281230745"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("https://shop.example/account/orders/"),
            "{}",
            out.text
        );
        assert!(
            out.html
                .unwrap_or_default()
                .contains("<strong>JD014600006281230745</strong>")
        );
    }

    #[test]
    fn a_long_sms_is_warned_about() {
        assert_eq!(sms_length(&"a".repeat(160)), None);
        assert!(
            sms_length(&"a".repeat(161)).is_some_and(|w| w.contains("GSM-7") && w.contains("160"))
        );
        assert!(sms_length(&"ü€".repeat(40)).is_some_and(|w| w.contains("(70)")));
    }

    #[test]
    fn an_unknown_variable_or_event_is_refused() {
        let bad = Template {
            subject: "Shipped".into(),
            body: "Hello\n{{ tracking }}".into(),
            html: None,
        };
        let errors = check("order.shipped", Channel::Email, &bad);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "body");
        assert!(
            errors[0].message.starts_with("line 2:"),
            "{}",
            errors[0].message
        );
        assert_eq!(check("order.lost", Channel::Email, &bad)[0].field, "event");
    }
}
