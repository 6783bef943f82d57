//! A cart as the cart service prices it: the public `GET /api/v1/cart` answer, and what
//! orders reads through `GET /internal/carts/{user_id}` to place an order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Currency, Money, orders::OrderLine};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub items: Vec<CartLine>,
    pub subtotal: Money,
    pub currency: Currency,
}

/// A line of the cart: the order line it would become, its total and what is in stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    #[serde(flatten)]
    pub line: OrderLine,
    pub line_total: Money,
    /// Units the catalog can sell now.
    pub available: i64,
}
