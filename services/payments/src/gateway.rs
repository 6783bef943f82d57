//! The seam to a payment provider: what payments asks of one, and what it answers. The
//! built-in sandbox, Stripe and PayPal implement it.
//!
//! Every call that changes something carries an idempotency key, so a call retried after a
//! time-out never charges or refunds twice. Outcomes that are not known at once arrive later
//! as webhooks, or are asked for when a webhook is late (reconciliation); both end in the same
//! [`State`], applied by one function.

use std::{future::Future, pin::Pin};

use axum::http::HeaderMap;
use kazna_contracts::{Money, payments::Provider};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::Transcript;

/// A gateway call in flight.
pub type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A webhook being checked and read.
pub type Reading<'a> = Pin<Box<dyn Future<Output = Result<Webhook, WebhookError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Worth trying again with the same idempotency key: the provider was away, slow, or
    /// asked to slow down.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    /// The provider will never accept this call as it is.
    #[error("gateway refused the call: {0}")]
    Refused(String),
}

impl From<sqlx::Error> for GatewayError {
    fn from(e: sqlx::Error) -> Self {
        GatewayError::Unavailable(e.to_string())
    }
}

/// A payment the gateway is asked about: ours, and the provider's id for it once known.
#[derive(Debug, Clone)]
pub struct Ref {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
    pub intent: String,
    pub amount: Money,
}

impl Ref {
    /// The idempotency key of one kind of call for this attempt: derived from the order and
    /// the attempt, so a retry is recognised however often it is made.
    pub fn key(&self, call: &str) -> String {
        idempotency_key(self.order_id, self.attempt, call)
    }
}

pub fn idempotency_key(order_id: Uuid, attempt: i32, call: &str) -> String {
    format!("kazna-{order_id}-{attempt}-{call}")
}

pub struct Charge {
    pub idempotency_key: String,
    pub amount: Money,
    pub payment_method: String,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
}

/// What the buyer must do before a charge can go on: confirm with their bank (3-D Secure),
/// or approve the payment at PayPal. Shown to the buyer with the payment.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Action {
    /// `use_stripe_sdk`, `redirect_to_url` (Stripe), or `approve` (PayPal).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where to send the buyer, when it is a page.
    pub url: Option<String>,
    /// What Stripe.js needs to finish a PaymentIntent in the browser.
    pub client_secret: Option<String>,
    /// The provider's own description of the step, as it sent it.
    #[schema(value_type = Option<Object>)]
    pub next_action: Option<serde_json::Value>,
}

/// Where a charge stands at the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Accepted, outcome not known yet.
    Processing,
    /// Waiting for the buyer.
    RequiresAction(Action),
    Succeeded,
    /// Declined; nothing was taken.
    Failed {
        reason: String,
    },
    /// Canceled before anything was taken.
    Canceled,
}

/// What the gateway said to a charge at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Charged {
    /// The provider's id for it, when it made one (a declined card may still have one).
    pub intent: Option<String>,
    pub state: State,
}

/// What the gateway said to a void.
pub enum Voided {
    /// The charge is being canceled; the webhook confirms it.
    Voiding,
    /// Canceled: nothing can be taken any more.
    Voided,
    /// Too late: the charge already has its outcome (if it succeeded, refund it).
    AlreadySettled,
}

pub struct RefundCall {
    pub idempotency_key: String,
    pub payment: Ref,
    pub amount: Money,
    pub refund_id: Uuid,
}

/// What the gateway said to a refund at once.
pub enum Refunded {
    /// Accepted; the webhook confirms it.
    Pending { reference: String },
    /// Done: the money is on its way back.
    Succeeded { reference: String },
    /// Refused: nothing went back.
    Refused { reason: String },
}

/// A charge as the provider sees it now: its state and what it took and gave back, for
/// settling a payment whose webhook never came and for comparing sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub state: State,
    /// Minor units taken.
    pub captured: i64,
    /// Minor units given back.
    pub refunded: i64,
}

/// A verified webhook, in the terms payments understands.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The provider's event id: an event is applied once.
    pub id: String,
    pub kind: String,
    /// The event as the provider sent it, for the audit log.
    pub body: serde_json::Value,
    /// What it says happened; nothing when it is an event payments does not act on.
    pub notices: Vec<Notice>,
}

/// What a webhook says happened.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A charge moved on.
    Charge {
        intent: String,
        payment_id: Option<Uuid>,
        state: State,
    },
    /// A refund was settled.
    Refund {
        reference: String,
        refund_id: Option<Uuid>,
        succeeded: bool,
        reason: Option<String>,
    },
    /// Something changed that payments has to ask the provider about (a buyer approved a
    /// PayPal order, which must now be captured).
    Check {
        intent: String,
        payment_id: Option<Uuid>,
    },
}

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the body is not an event this provider sends")]
    Malformed,
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

pub trait Gateway: Send + Sync + 'static {
    fn provider(&self) -> Provider;
    /// Charges: creates the provider's payment and confirms it where it can.
    fn charge<'a>(&'a self, charge: &'a Charge, log: &'a mut Transcript) -> Call<'a, Charged>;
    fn void<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Voided>;
    fn refund<'a>(&'a self, refund: &'a RefundCall, log: &'a mut Transcript) -> Call<'a, Refunded>;
    /// Asks where a refund the provider accepted (`reference`) stands, when its webhook is
    /// late.
    fn refund_status<'a>(
        &'a self,
        refund: &'a RefundCall,
        reference: &'a str,
        log: &'a mut Transcript,
    ) -> Call<'a, Refunded>;
    /// Asks where a charge stands; a PayPal order the buyer has approved is captured here.
    fn retrieve<'a>(&'a self, payment: &'a Ref, log: &'a mut Transcript) -> Call<'a, Remote>;
    /// Checks a webhook came from the provider and reads it.
    fn webhook<'a>(
        &'a self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        log: &'a mut Transcript,
    ) -> Reading<'a>;
}
