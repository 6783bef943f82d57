use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Money};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub name: String,
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
