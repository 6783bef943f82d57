//! A cart as the cart service prices it: the public `GET /api/v1/cart` answer, and what
//! orders reads through `GET /internal/carts/{user_id}` to place an order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub items: Vec<CartLine>,
    pub subtotal: Money,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
    /// Units the catalog can sell now.
    pub available: i64,
}
