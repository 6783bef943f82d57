use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Money};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount: Money,
    pub provider: String,
}
impl Event for PaymentSucceeded {
    const TYPE: &'static str = "payment.succeeded";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount: Money,
    pub provider: String,
    pub reason: String,
}
impl Event for PaymentFailed {
    const TYPE: &'static str = "payment.failed";
}
