//! The seam to a payment provider: what payments asks of one, and what it answers. The
//! built-in sandbox is the first implementation; Stripe and PayPal go behind the same trait.
//!
//! Every call carries an idempotency key, so a call retried after a time-out never charges or
//! refunds twice. Final outcomes arrive later as signed webhooks.

use std::{future::Future, pin::Pin};

use kazna_contracts::{Money, payments::Provider};
use uuid::Uuid;

/// A gateway call in flight.
pub type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

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

pub struct Charge {
    pub idempotency_key: String,
    pub amount: Money,
    pub payment_method: String,
    pub payment_id: Uuid,
    pub order_id: Uuid,
}

/// What the gateway said to a charge at once.
pub enum Charged {
    /// Accepted; the outcome arrives by webhook.
    Processing { intent: String },
    /// Refused at once (an unknown payment method, a card declined up front).
    Declined { reason: String },
}

/// What the gateway said to a void.
pub enum Voided {
    /// The charge is being canceled; the webhook confirms it.
    Voiding,
    /// Too late: the charge already has its outcome (if it succeeded, refund it).
    AlreadySettled,
}

pub struct RefundCall {
    pub idempotency_key: String,
    pub intent: String,
    pub amount: Money,
    pub refund_id: Uuid,
    pub payment_id: Uuid,
}

/// What the gateway said to a refund at once.
pub enum Refunded {
    /// Accepted; the webhook confirms it.
    Pending { reference: String },
    /// Refused: nothing went back.
    Refused { reason: String },
}

/// A charge as the gateway sees it now, for reconciling when a webhook never came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentState {
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

pub trait Gateway: Send + Sync + 'static {
    fn provider(&self) -> Provider;
    fn charge<'a>(&'a self, charge: &'a Charge) -> Call<'a, Charged>;
    fn void<'a>(&'a self, intent: &'a str) -> Call<'a, Voided>;
    fn refund<'a>(&'a self, refund: &'a RefundCall) -> Call<'a, Refunded>;
    fn retrieve<'a>(&'a self, intent: &'a str) -> Call<'a, IntentState>;
}
