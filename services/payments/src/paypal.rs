//! PayPal Checkout through Orders v2: an order is created with `intent=CAPTURE`, the buyer
//! approves it at PayPal (the payment shows the approval link), and payments captures it once
//! PayPal says it was approved (the `CHECKOUT.ORDER.APPROVED` webhook, or reconciliation
//! finding it approved). Refunds go back against the capture.
//!
//! Calls are authorised with an OAuth2 client-credentials token, cached until shortly before
//! it expires; every POST carries a `PayPal-Request-Id` derived from the order and attempt.
//! Webhooks are verified by PayPal's own verify-webhook-signature call.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use kazna_contracts::{Currency, Money, payments::Provider};
use kazna_kernel::Secret;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{
    api::{Answer, Api, Body, form},
    audit::Transcript,
    gateway::{
        Action, Call, Charge, Charged, Gateway, GatewayError, Notice, Reading, Ref, RefundCall,
        Refunded, Remote, State, Voided, Webhook, WebhookError,
    },
    settings::PayPalSettings,
};

pub struct PayPal {
    api: Api,
    client_id: String,
    client_secret: Secret,
    webhook_id: String,
    return_url: String,
    cancel_url: String,
    token: Mutex<Option<(Secret, Instant)>>,
}

/// A token is renewed this long before PayPal says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

impl PayPal {
    pub fn new(cfg: &PayPalSettings, public_url: &str) -> Self {
        let public = public_url.trim_end_matches('/');
        Self {
            api: Api::new(&cfg.api_base, cfg.timeout_ms),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            webhook_id: cfg.webhook_id.clone(),
            return_url: cfg
                .return_url
                .clone()
                .unwrap_or_else(|| format!("{public}/checkout/paypal/return")),
            cancel_url: cfg
                .cancel_url
                .clone()
                .unwrap_or_else(|| format!("{public}/checkout/paypal/cancel")),
            token: Mutex::new(None),
        }
    }

    /// An access token: the cached one while it is good, else a new one.
    async fn token(&self, log: &mut Transcript) -> Result<Secret, GatewayError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() + TOKEN_MARGIN < *until
        {
            return Ok(token.clone());
        }
        let body = form(&[("grant_type", "client_credentials".into())]);
        let a = self
            .api
            .send(log, Method::POST, "/v1/oauth2/token", body, |r| {
                r.basic_auth(&self.client_id, Some(self.client_secret.expose()))
            })
            .await?;
        let token = a.body["access_token"].as_str().filter(|_| a.ok());
        let Some(token) = token else {
            tracing::error!(
                status = a.status,
                "paypal refused the client credentials: check payments.paypal"
            );
            return Err(GatewayError::Unavailable(format!(
                "paypal token: {}",
                a.status
            )));
        };
        let expires_in = a.body["expires_in"].as_u64().unwrap_or(0);
        let token = Secret::new(token);
        *cached = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        ));
        Ok(token)
    }

    async fn call(
        &self,
        log: &mut Transcript,
        method: Method,
        path: &str,
        request_id: Option<&str>,
        body: Body,
    ) -> Result<Answer, GatewayError> {
        let token = self.token(log).await?;
        let a = self
            .api
            .send(log, method, path, body, |r| {
                let r = r.bearer_auth(token.expose());
                match request_id {
                    Some(id) => r.header("paypal-request-id", id),
                    None => r,
                }
            })
            .await?;
        if a.status == 401 {
            // The token went stale early: the next try gets a new one.
            *self.token.lock().await = None;
            return Err(GatewayError::Unavailable("paypal: token expired".into()));
        }
        Ok(a)
    }

    async fn create(&self, c: &Charge, log: &mut Transcript) -> Result<Charged, GatewayError> {
        let body = json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": c.order_id,
                "custom_id": c.payment_id,
                "invoice_id": format!("{}-{}", c.order_id, c.attempt),
                "amount": amount(c.amount),
            }],
            "payment_source": {"paypal": {"experience_context": {
                "user_action": "PAY_NOW",
                "return_url": format!("{}?payment={}", self.return_url, c.payment_id),
                "cancel_url": format!("{}?payment={}", self.cancel_url, c.payment_id),
            }}},
        });
        let a = self
            .call(
                log,
                Method::POST,
                "/v2/checkout/orders",
                Some(&c.idempotency_key),
                Body::Json(body),
            )
            .await?;
        if !a.ok() {
            return Ok(Charged {
                intent: None,
                state: State::Failed {
                    reason: issue_of(&a.body),
                },
            });
        }
        Ok(Charged {
            intent: a.body["id"].as_str().map(str::to_owned),
            state: order_state(&a.body, c.amount.currency).0,
        })
    }

    async fn order(&self, p: &Ref, log: &mut Transcript) -> Result<Value, GatewayError> {
        let path = format!("/v2/checkout/orders/{}", p.intent);
        let a = self
            .call(log, Method::GET, &path, None, Body::Empty)
            .await?;
        match a.ok() {
            true => Ok(a.body),
            false => Err(GatewayError::Refused(issue_of(&a.body))),
        }
    }

    /// Where the order stands; one the buyer approved is captured now.
    async fn look(&self, p: &Ref, log: &mut Transcript) -> Result<Remote, GatewayError> {
        let mut order = self.order(p, log).await?;
        if order["status"] == "APPROVED" {
            let path = format!("/v2/checkout/orders/{}/capture", p.intent);
            let a = self
                .call(
                    log,
                    Method::POST,
                    &path,
                    Some(&p.key("capture")),
                    Body::Json(json!({})),
                )
                .await?;
            if a.ok() {
                order = a.body;
            } else {
                let issue = issue_of(&a.body);
                return match issue.as_str() {
                    // Captured meanwhile (by an earlier try whose answer was lost): look again.
                    "order_already_captured" => {
                        let order = self.order(p, log).await?;
                        Ok(remote(&order, p.amount.currency))
                    }
                    _ => Ok(Remote {
                        state: State::Failed { reason: issue },
                        captured: 0,
                        refunded: 0,
                    }),
                };
            }
        }
        Ok(remote(&order, p.amount.currency))
    }

    /// An order that was never captured just lapses: nothing to call, once it is certain no
    /// capture happened.
    async fn drop_order(&self, p: &Ref, log: &mut Transcript) -> Result<Voided, GatewayError> {
        let order = self.order(p, log).await?;
        Ok(match order["status"].as_str() {
            Some("COMPLETED") => Voided::AlreadySettled,
            _ => Voided::Voided,
        })
    }

    async fn give_back(
        &self,
        r: &RefundCall,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let order = self.order(&r.payment, log).await?;
        let capture = captures(&order)
            .find(|c| c["status"] == "COMPLETED" || c["status"] == "PARTIALLY_REFUNDED")
            .and_then(|c| c["id"].as_str().map(str::to_owned));
        let Some(capture) = capture else {
            return Ok(Refunded::Refused {
                reason: "no_capture".into(),
            });
        };
        let body = json!({"amount": amount(r.amount), "custom_id": r.refund_id});
        let path = format!("/v2/payments/captures/{capture}/refund");
        let a = self
            .call(
                log,
                Method::POST,
                &path,
                Some(&r.idempotency_key),
                Body::Json(body),
            )
            .await?;
        if !a.ok() {
            return Ok(Refunded::Refused {
                reason: issue_of(&a.body),
            });
        }
        Ok(refund_answer(&a.body))
    }

    async fn refund_now(
        &self,
        reference: &str,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let path = format!("/v2/payments/refunds/{reference}");
        let a = self
            .call(log, Method::GET, &path, None, Body::Empty)
            .await?;
        match a.ok() {
            true => Ok(refund_answer(&a.body)),
            false => Err(GatewayError::Refused(issue_of(&a.body))),
        }
    }

    async fn read(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        log: &mut Transcript,
    ) -> Result<Webhook, WebhookError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or(WebhookError::BadSignature)
        };
        let check = json!({
            "auth_algo": header("paypal-auth-algo")?,
            "cert_url": header("paypal-cert-url")?,
            "transmission_id": header("paypal-transmission-id")?,
            "transmission_sig": header("paypal-transmission-sig")?,
            "transmission_time": header("paypal-transmission-time")?,
            "webhook_id": self.webhook_id,
            "webhook_event": serde_json::from_slice::<Value>(body).map_err(|_| WebhookError::Malformed)?,
        });
        let path = "/v1/notifications/verify-webhook-signature";
        let request_id = format!("kazna-verify-{}", header("paypal-transmission-id")?);
        let a = self
            .call(
                log,
                Method::POST,
                path,
                Some(&request_id),
                Body::Json(check),
            )
            .await?;
        if !a.ok() {
            return Err(WebhookError::Gateway(GatewayError::Unavailable(format!(
                "paypal verify: {}",
                a.status
            ))));
        }
        if a.body["verification_status"] != "SUCCESS" {
            return Err(WebhookError::BadSignature);
        }
        read_event(body)
    }
}

/// Money as PayPal writes it: a decimal string in the currency's minor-unit digits.
pub fn amount(m: Money) -> Value {
    let digits = m.currency.minor_digits();
    let unit = 10_i64.pow(digits);
    let (whole, part) = (m.amount_minor / unit, m.amount_minor % unit);
    let value = match digits {
        0 => whole.to_string(),
        d => format!("{whole}.{part:0width$}", width = d as usize),
    };
    json!({"currency_code": m.currency.code(), "value": value})
}

/// Minor units of a PayPal amount (`{"value": "19.99"}`), when it is in `currency`.
pub fn minor(v: &Value, currency: Currency) -> Option<i64> {
    if v["currency_code"].as_str()? != currency.code() {
        return None;
    }
    let digits = currency.minor_digits() as usize;
    let s = v["value"].as_str()?;
    let (whole, part) = s.split_once('.').unwrap_or((s, ""));
    if part.len() > digits
        || whole.is_empty()
        || !(whole
            .bytes()
            .chain(part.bytes())
            .all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let part = format!("{part:0<digits$}");
    format!("{whole}{part}").parse().ok()
}

/// An order's payments of one kind (`captures`, `refunds`), across its purchase units.
fn payments_of<'a>(order: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    order["purchase_units"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(move |u| u["payments"][kind].as_array().into_iter().flatten())
}

fn captures(order: &Value) -> impl Iterator<Item = &Value> {
    payments_of(order, "captures")
}

/// An order's state, and the link the buyer approves it at.
fn order_state(order: &Value, currency: Currency) -> (State, i64) {
    let captured: i64 = captures(order)
        .filter(|c| {
            c["status"] != "DECLINED" && c["status"] != "FAILED" && c["status"] != "PENDING"
        })
        .filter_map(|c| minor(&c["amount"], currency))
        .sum();
    let state = match order["status"].as_str() {
        Some("CREATED" | "PAYER_ACTION_REQUIRED") => {
            let link = order["links"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["rel"] == "payer-action" || l["rel"] == "approve");
            State::RequiresAction(Action {
                kind: "approve".into(),
                url: link.and_then(|l| l["href"].as_str().map(str::to_owned)),
                client_secret: None,
                next_action: None,
            })
        }
        Some("COMPLETED") => {
            let c = captures(order).next();
            match c.and_then(|c| c["status"].as_str()) {
                Some("COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED") => State::Succeeded,
                Some("DECLINED" | "FAILED") => State::Failed {
                    reason: "capture_declined".into(),
                },
                _ => State::Processing,
            }
        }
        Some("VOIDED") => State::Canceled,
        _ => State::Processing,
    };
    (state, captured)
}

fn remote(order: &Value, currency: Currency) -> Remote {
    let (state, captured) = order_state(order, currency);
    let refunded = payments_of(order, "refunds")
        .filter(|r| r["status"] == "COMPLETED")
        .filter_map(|r| minor(&r["amount"], currency))
        .sum();
    Remote {
        state,
        captured,
        refunded,
    }
}

/// A PayPal refund, in payments' terms.
fn refund_answer(refund: &Value) -> Refunded {
    let reference = refund["id"].as_str().unwrap_or_default().to_owned();
    match refund["status"].as_str() {
        Some("COMPLETED") => Refunded::Succeeded { reference },
        Some("FAILED" | "CANCELLED") => Refunded::Refused {
            reason: "refund_failed".into(),
        },
        _ => Refunded::Pending { reference },
    }
}

/// PayPal's reason for refusing a call: the first detail's issue, else the error's name.
fn issue_of(body: &Value) -> String {
    body["details"][0]["issue"]
        .as_str()
        .or_else(|| body["name"].as_str())
        .unwrap_or("refused")
        .to_ascii_lowercase()
}

fn uuid_at(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

/// Reads a verified PayPal event (`{id, event_type, resource}`).
fn read_event(body: &[u8]) -> Result<Webhook, WebhookError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["event_type"].as_str()) else {
        return Err(WebhookError::Malformed);
    };
    let r = &event["resource"];
    let capture_of = |state: State| -> Option<Notice> {
        Some(Notice::Charge {
            intent: r["supplementary_data"]["related_ids"]["order_id"]
                .as_str()?
                .to_owned(),
            payment_id: uuid_at(&r["custom_id"]),
            state,
        })
    };
    let notice = match kind {
        "CHECKOUT.ORDER.APPROVED" => r["id"].as_str().map(|intent| Notice::Check {
            intent: intent.to_owned(),
            payment_id: uuid_at(&r["purchase_units"][0]["custom_id"]),
        }),
        "PAYMENT.CAPTURE.COMPLETED" => capture_of(State::Succeeded),
        "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => capture_of(State::Failed {
            reason: "capture_denied".into(),
        }),
        "PAYMENT.CAPTURE.REFUNDED" => r["id"].as_str().map(|reference| Notice::Refund {
            reference: reference.to_owned(),
            refund_id: uuid_at(&r["custom_id"]),
            succeeded: r["status"] == "COMPLETED",
            reason: None,
        }),
        _ => None,
    };
    Ok(Webhook {
        id: id.to_owned(),
        kind: kind.to_owned(),
        body: event.clone(),
        notices: notice.into_iter().collect(),
    })
}

impl Gateway for PayPal {
    fn provider(&self) -> Provider {
        Provider::PayPal
    }

    fn charge<'a>(&'a self, charge: &'a Charge, log: &'a mut Transcript) -> Call<'a, Charged> {
        Box::pin(self.create(charge, log))
    }

    fn void<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Voided> {
        Box::pin(self.drop_order(payment, log))
    }

    fn refund<'a>(&'a self, refund: &'a RefundCall, log: &'a mut Transcript) -> Call<'a, Refunded> {
        Box::pin(self.give_back(refund, log))
    }

    fn refund_status<'a>(
        &'a self,
        _refund: &'a RefundCall,
        reference: &'a str,
        log: &'a mut Transcript,
    ) -> Call<'a, Refunded> {
        Box::pin(self.refund_now(reference, log))
    }

    fn retrieve<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Remote> {
        Box::pin(self.look(payment, log))
    }

    fn webhook<'a>(
        &'a self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        log: &'a mut Transcript,
    ) -> Reading<'a> {
        Box::pin(self.read(headers, body, log))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_the_currencys_digits_and_read_back() {
        for (minor_units, code, text) in [
            (1999, "EUR", "19.99"),
            (5, "EUR", "0.05"),
            (1000, "JPY", "1000"),
            (1234, "KWD", "1.234"),
        ] {
            let c = Currency::parse(code).expect("currency");
            let v = amount(Money::new(minor_units, c));
            assert_eq!(v["value"], text);
            assert_eq!(minor(&v, c), Some(minor_units));
        }
        let eur = Currency::parse("EUR").expect("EUR");
        assert_eq!(
            minor(&json!({"currency_code": "EUR", "value": "19.9"}), eur),
            Some(1990)
        );
        assert_eq!(
            minor(&json!({"currency_code": "USD", "value": "1.00"}), eur),
            None
        );
        assert_eq!(
            minor(&json!({"currency_code": "EUR", "value": "1.001"}), eur),
            None
        );
        assert_eq!(
            minor(&json!({"currency_code": "EUR", "value": "-1"}), eur),
            None
        );
    }
}
