use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Event, Money};

/// A line of an order: what was bought, at the price it was bought at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    pub payment_method: String,
    pub lines: Vec<OrderLine>,
}
impl Event for OrderPlaced {
    const TYPE: &'static str = "order.placed";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    pub payment_id: Uuid,
}
impl Event for OrderPaid {
    const TYPE: &'static str = "order.paid";
}
