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
    /// Cards through Stripe's PaymentIntents.
    Stripe,
    /// PayPal Checkout through PayPal's Orders v2.
    #[serde(rename = "paypal")]
    PayPal,
}
labels!(Provider {
    Sandbox = "sandbox",
    Stripe = "stripe",
    PayPal = "paypal",
});

/// Why a payment method cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// The method belongs to a provider this shop has not turned on.
    #[error("{0} payments are not offered here (payments.providers)")]
    ProviderOff(Provider),
    /// Neither a card payment method (`pm_...`) nor `paypal`.
    #[error("a card payment method (pm_...) or paypal")]
    Unknown,
}

impl Provider {
    /// The provider a payment method goes through, of those turned on: `paypal` is PayPal;
    /// a card payment method (`pm_...`) goes through Stripe when it is on, else the sandbox.
    pub fn for_method(method: &str, on: &[Provider]) -> Result<Provider, MethodError> {
        let wanted = if method == "paypal" {
            Provider::PayPal
        } else if method.starts_with("pm_") {
            match on.contains(&Provider::Stripe) {
                true => Provider::Stripe,
                false => Provider::Sandbox,
            }
        } else {
            return Err(MethodError::Unknown);
        };
        match on.contains(&wanted) {
            true => Ok(wanted),
            // The sandbox stands in for Stripe: a shop with neither offers no cards.
            false if wanted == Provider::Sandbox => Err(MethodError::ProviderOff(Provider::Stripe)),
            false => Err(MethodError::ProviderOff(wanted)),
        }
    }
}

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
    }

    #[test]
    fn a_payment_method_picks_one_of_the_providers_that_are_on() {
        use Provider::*;
        assert_eq!(
            Provider::for_method("pm_card_visa", &[Sandbox]),
            Ok(Sandbox)
        );
        assert_eq!(
            Provider::for_method("pm_card_visa", &[Sandbox, Stripe]),
            Ok(Stripe)
        );
        assert_eq!(
            Provider::for_method("paypal", &[Stripe, PayPal]),
            Ok(PayPal)
        );
        assert_eq!(
            Provider::for_method("paypal", &[Sandbox]),
            Err(MethodError::ProviderOff(PayPal))
        );
        assert_eq!(
            Provider::for_method("pm_card_visa", &[PayPal]),
            Err(MethodError::ProviderOff(Stripe))
        );
        assert_eq!(
            Provider::for_method("visa", &[Sandbox]),
            Err(MethodError::Unknown)
        );
        assert_eq!(
            Provider::for_method("PAYPAL", &[PayPal]),
            Err(MethodError::Unknown)
        );
        crate::label::assert_labels_match_serde(PaymentStatus::ALL, |s| s.as_str());
    }
}
