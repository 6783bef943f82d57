use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Event, Money, labels};

/// The payment gateway a payment goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// The built-in gateway that behaves like Stripe's test mode; needs no account.
    Sandbox,
}
labels!(Provider { Sandbox = "sandbox" });

/// Where a payment attempt stands. It starts `pending` and is settled once by the gateway:
/// `succeeded`, `failed` (declined) or `voided` (canceled before it was taken); money taken
/// may then go back, `partially_refunded` and `refunded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Voided,
    PartiallyRefunded,
    Refunded,
}
labels!(PaymentStatus {
    Pending = "pending",
    Succeeded = "succeeded",
    Failed = "failed",
    Voided = "voided",
    PartiallyRefunded = "partially_refunded",
    Refunded = "refunded",
});

impl PaymentStatus {
    /// Whether the money of this payment was taken (some may have gone back since).
    pub fn captured(self) -> bool {
        match self {
            PaymentStatus::Succeeded
            | PaymentStatus::PartiallyRefunded
            | PaymentStatus::Refunded => true,
            PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Voided => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
    pub amount: Money,
    pub provider: Provider,
}
impl Event for PaymentSucceeded {
    const TYPE: &'static str = "payment.succeeded";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
    pub amount: Money,
    pub provider: Provider,
    pub reason: String,
}
impl Event for PaymentFailed {
    const TYPE: &'static str = "payment.failed";
}

/// An attempt was canceled at the gateway before any money was taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentVoided {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub attempt: i32,
}
impl Event for PaymentVoided {
    const TYPE: &'static str = "payment.voided";
}

/// A refund went through.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub refund_id: Uuid,
    pub amount: Money,
    /// All refunded of this payment so far, this refund included.
    pub refunded: Money,
    /// What was taken.
    pub captured: Money,
}
impl Event for PaymentRefunded {
    const TYPE: &'static str = "payment.refunded";
}

impl PaymentRefunded {
    pub fn full(&self) -> bool {
        self.refunded.amount_minor >= self.captured.amount_minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_wire_names() {
        crate::label::assert_labels_match_serde(Provider::ALL, |p| p.as_str());
        crate::label::assert_labels_match_serde(PaymentStatus::ALL, |s| s.as_str());
    }
}
