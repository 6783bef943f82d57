//! Stripe: cards through PaymentIntents, created and confirmed in one form-encoded call,
//! refunds through `/v1/refunds`, outcomes by signed webhooks (`Stripe-Signature`).
//!
//! Every POST carries an `Idempotency-Key` derived from the order and the attempt, so a call
//! retried after a time-out, a 429 or a 5xx finds the first one and never charges twice.
//! The sandbox speaks the same webhook dialect, so both read events with [`read_event`].

use axum::http::HeaderMap;
use kazna_contracts::payments::Provider;
use kazna_kernel::Secret;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    api::{Answer, Api, Body, form},
    audit::Transcript,
    gateway::{
        Action, Call, Charge, Charged, Gateway, GatewayError, Notice, Reading, Ref, RefundCall,
        Refunded, Remote, State, Voided, Webhook, WebhookError,
    },
    settings::StripeSettings,
    signature,
};

pub struct Stripe {
    api: Api,
    secret_key: Secret,
    webhook_secrets: Vec<Secret>,
}

impl Stripe {
    pub fn new(cfg: &StripeSettings) -> Self {
        Self {
            api: Api::new(&cfg.api_base, cfg.timeout_ms),
            secret_key: cfg.secret_key.clone(),
            webhook_secrets: cfg.webhook_secrets.clone(),
        }
    }

    async fn post(
        &self,
        log: &mut Transcript,
        path: &str,
        key: &str,
        body: Body,
    ) -> Result<Answer, GatewayError> {
        let answer = self
            .api
            .send(log, Method::POST, path, body, |r| {
                r.bearer_auth(self.secret_key.expose())
                    .header("idempotency-key", key)
            })
            .await?;
        unusable(&answer)?;
        Ok(answer)
    }

    async fn create(&self, c: &Charge, log: &mut Transcript) -> Result<Charged, GatewayError> {
        let body = form(&[
            ("amount", c.amount.amount_minor.to_string()),
            ("currency", c.amount.currency.code().to_lowercase()),
            ("payment_method", c.payment_method.clone()),
            ("payment_method_types[]", "card".into()),
            ("confirm", "true".into()),
            ("metadata[order_id]", c.order_id.to_string()),
            ("metadata[payment_id]", c.payment_id.to_string()),
            ("metadata[attempt]", c.attempt.to_string()),
        ]);
        let a = self
            .post(log, "/v1/payment_intents", &c.idempotency_key, body)
            .await?;
        if a.ok() {
            return Ok(Charged {
                intent: a.body["id"].as_str().map(str::to_owned),
                state: intent_state(&a.body),
            });
        }
        // A decline (402) names the intent it left behind; other 4xx refuse the call as it is.
        let error = &a.body["error"];
        Ok(Charged {
            intent: error["payment_intent"]["id"].as_str().map(str::to_owned),
            state: State::Failed {
                reason: reason_of(error),
            },
        })
    }

    async fn cancel(&self, p: &Ref, log: &mut Transcript) -> Result<Voided, GatewayError> {
        let path = format!("/v1/payment_intents/{}/cancel", p.intent);
        let a = self.post(log, &path, &p.key("cancel"), Body::Empty).await?;
        if a.ok() {
            return Ok(match intent_state(&a.body) {
                State::Canceled => Voided::Voided,
                _ => Voided::Voiding,
            });
        }
        match a.body["error"]["code"].as_str() {
            // Succeeded (or failed) already: its own webhook settles it.
            Some("payment_intent_unexpected_state") => Ok(Voided::AlreadySettled),
            _ => Err(GatewayError::Refused(reason_of(&a.body["error"]))),
        }
    }

    async fn give_back(
        &self,
        r: &RefundCall,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let body = form(&[
            ("payment_intent", r.payment.intent.clone()),
            ("amount", r.amount.amount_minor.to_string()),
            ("metadata[refund_id]", r.refund_id.to_string()),
            ("metadata[payment_id]", r.payment.payment_id.to_string()),
        ]);
        let a = self
            .post(log, "/v1/refunds", &r.idempotency_key, body)
            .await?;
        if !a.ok() {
            return Ok(Refunded::Refused {
                reason: reason_of(&a.body["error"]),
            });
        }
        Ok(refund_answer(&a.body))
    }

    async fn refund_now(
        &self,
        reference: &str,
        log: &mut Transcript,
    ) -> Result<Refunded, GatewayError> {
        let path = format!("/v1/refunds/{reference}");
        let a = self
            .api
            .send(log, Method::GET, &path, Body::Empty, |r| {
                r.bearer_auth(self.secret_key.expose())
            })
            .await?;
        unusable(&a)?;
        match a.ok() {
            true => Ok(refund_answer(&a.body)),
            false => Err(GatewayError::Refused(reason_of(&a.body["error"]))),
        }
    }

    async fn intent(&self, p: &Ref, log: &mut Transcript) -> Result<Remote, GatewayError> {
        let path = format!("/v1/payment_intents/{}?expand[]=latest_charge", p.intent);
        let a = self
            .api
            .send(log, Method::GET, &path, Body::Empty, |r| {
                r.bearer_auth(self.secret_key.expose())
            })
            .await?;
        unusable(&a)?;
        if !a.ok() {
            return Err(GatewayError::Refused(reason_of(&a.body["error"])));
        }
        Ok(Remote {
            state: intent_state(&a.body),
            captured: a.body["amount_received"].as_i64().unwrap_or(0),
            refunded: a.body["latest_charge"]["amount_refunded"]
                .as_i64()
                .unwrap_or(0),
        })
    }

    fn read(&self, headers: &HeaderMap, body: &[u8]) -> Result<Webhook, WebhookError> {
        let header = headers
            .get(signature::HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookError::BadSignature)?;
        let secrets = self.webhook_secrets.iter().map(Secret::expose);
        let now = chrono::Utc::now().timestamp();
        if !signature::verify_any(secrets, header, body, now) {
            return Err(WebhookError::BadSignature);
        }
        read_event(body)
    }
}

/// Authentication and permission failures are the shop's configuration, not the buyer's
/// card: retried (and logged loudly) until someone fixes the key, never a decline.
fn unusable(a: &Answer) -> Result<(), GatewayError> {
    if matches!(a.status, 401 | 403) {
        tracing::error!(
            status = a.status,
            "stripe refused the API key: check payments.stripe.secret_key"
        );
        return Err(GatewayError::Unavailable(format!(
            "stripe answered {}",
            a.status
        )));
    }
    Ok(())
}

/// Why Stripe declined or refused: the card's decline code, else the error code.
fn reason_of(error: &Value) -> String {
    error["decline_code"]
        .as_str()
        .or_else(|| error["code"].as_str())
        .or_else(|| error["type"].as_str())
        .unwrap_or("declined")
        .to_owned()
}

/// A Refund object, in payments' terms.
fn refund_answer(refund: &Value) -> Refunded {
    let reference = refund["id"].as_str().unwrap_or_default().to_owned();
    match refund["status"].as_str() {
        Some("succeeded") => Refunded::Succeeded { reference },
        Some("failed" | "canceled") => Refunded::Refused {
            reason: refund["failure_reason"]
                .as_str()
                .unwrap_or("refund_failed")
                .to_owned(),
        },
        _ => Refunded::Pending { reference },
    }
}

/// A PaymentIntent's status, in payments' terms.
pub(crate) fn intent_state(pi: &Value) -> State {
    match pi["status"].as_str() {
        Some("succeeded") => State::Succeeded,
        Some("canceled") => State::Canceled,
        Some("requires_action") => {
            let next = pi["next_action"].clone();
            State::RequiresAction(Action {
                kind: next["type"].as_str().unwrap_or("use_stripe_sdk").to_owned(),
                url: next["redirect_to_url"]["url"].as_str().map(str::to_owned),
                client_secret: pi["client_secret"].as_str().map(str::to_owned),
                next_action: Some(next),
            })
        }
        // A confirmation that failed sends the intent back for another payment method.
        Some("requires_payment_method") if !pi["last_payment_error"].is_null() => State::Failed {
            reason: reason_of(&pi["last_payment_error"]),
        },
        _ => State::Processing,
    }
}

fn uuid_at(v: &Value) -> Option<Uuid> {
    v.as_str().and_then(|s| Uuid::parse_str(s).ok())
}

/// Reads an event in Stripe's shape (`{id, type, data: {object}}`) whose signature was
/// checked.
pub(crate) fn read_event(body: &[u8]) -> Result<Webhook, WebhookError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Err(WebhookError::Malformed);
    };
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(WebhookError::Malformed);
    }
    let charge = |state: State| -> Result<Notice, WebhookError> {
        Ok(Notice::Charge {
            intent: object["id"]
                .as_str()
                .ok_or(WebhookError::Malformed)?
                .to_owned(),
            payment_id: uuid_at(&object["metadata"]["payment_id"]),
            state,
        })
    };
    let refund = |r: &Value| -> Option<Notice> {
        let succeeded = match r["status"].as_str()? {
            "succeeded" => true,
            "failed" | "canceled" => false,
            _ => return None,
        };
        Some(Notice::Refund {
            reference: r["id"].as_str()?.to_owned(),
            refund_id: uuid_at(&r["metadata"]["refund_id"]),
            succeeded,
            reason: r["failure_reason"].as_str().map(str::to_owned),
        })
    };
    let notices = match kind {
        "payment_intent.succeeded" => vec![charge(State::Succeeded)?],
        "payment_intent.payment_failed" => vec![charge(State::Failed {
            reason: reason_of(&object["last_payment_error"]),
        })?],
        "payment_intent.canceled" => vec![charge(State::Canceled)?],
        "payment_intent.requires_action" => vec![charge(intent_state(object))?],
        // The charge lists its refunds when the API version includes them; later versions
        // send `refund.updated` for each instead.
        "charge.refunded" => object["refunds"]["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(refund)
            .collect(),
        "refund.created" | "refund.updated" | "charge.refund.updated" => {
            refund(object).into_iter().collect()
        }
        _ => vec![],
    };
    Ok(Webhook {
        id: id.to_owned(),
        kind: kind.to_owned(),
        body: event.clone(),
        notices,
    })
}

impl Gateway for Stripe {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    fn charge<'a>(&'a self, charge: &'a Charge, log: &'a mut Transcript) -> Call<'a, Charged> {
        Box::pin(self.create(charge, log))
    }

    fn void<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Voided> {
        Box::pin(self.cancel(payment, log))
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
        Box::pin(self.intent(payment, log))
    }

    fn webhook<'a>(
        &'a self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        _log: &'a mut Transcript,
    ) -> Reading<'a> {
        Box::pin(std::future::ready(self.read(headers, body)))
    }
}
