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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
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
    pub amount: Money,
    pub provider: Provider,
    pub reason: String,
}
impl Event for PaymentFailed {
    const TYPE: &'static str = "payment.failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_wire_names() {
        crate::label::assert_labels_match_serde(Provider::ALL, |p| p.as_str());
    }
}
