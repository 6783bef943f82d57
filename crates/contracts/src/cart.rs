//! A cart as the cart service prices it: the public `GET /api/v1/cart` answer, and what
//! orders reads through `GET /internal/carts/{user_id}` to place an order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Currency, Event, Money, labels, orders::OrderLine};

/// The header a guest's cart session travels in, and the cookie that holds it.
pub const SESSION_HEADER: &str = "x-cart-session";
pub const SESSION_COOKIE: &str = "kazna_cart";

/// A guest's cart session from a request: the header's, else the cookie's (`cookies` is the
/// `Cookie` header's value).
pub fn guest_session(header: Option<&str>, cookies: Option<&str>) -> Option<Uuid> {
    header
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .or_else(|| {
            cookies?.split(';').find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == SESSION_COOKIE)
                    .then(|| Uuid::parse_str(v).ok())
                    .flatten()
            })
        })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub items: Vec<CartLine>,
    /// The lines that can be bought, at today's prices.
    pub subtotal: Money,
    pub currency: Currency,
}

/// A line of the cart: the order line it would become, its total and what is in stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    #[serde(flatten)]
    pub line: OrderLine,
    pub line_total: Money,
    /// Units the catalog can sell now (it may lag the catalog by the event delay).
    pub available: i64,
    /// What changed since the line was added; an order is refused while a line is hidden,
    /// deleted or repriced (see [`Cart::flagged`]).
    #[serde(default)]
    pub flags: Vec<LineFlag>,
    /// The unit price when the shopper last set the line, when today's differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_when_added: Option<Money>,
}

impl Cart {
    /// The lines an order cannot be placed with until the shopper looks at them: off sale,
    /// deleted or repriced. Stock is for the reservation to decide, which is the authority
    /// (what the cart shows may lag it).
    pub fn flagged(&self) -> impl Iterator<Item = &CartLine> {
        self.items
            .iter()
            .filter(|l| l.flags.iter().any(|f| *f != LineFlag::OutOfStock))
    }
}

/// Why a line needs the shopper's look before it can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineFlag {
    /// A moderator took the product off sale.
    Hidden,
    /// The product or the variant was deleted.
    Deleted,
    /// Fewer units are available than the line holds.
    OutOfStock,
    /// The price is not what it was when the line was set (see `price_when_added`).
    PriceChanged,
}
labels!(LineFlag {
    Hidden = "hidden",
    Deleted = "deleted",
    OutOfStock = "out_of_stock",
    PriceChanged = "price_changed",
});

/// An order was placed from a user's cart; its lines leave the cart once the order is
/// accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutStarted {
    pub user_id: Uuid,
    pub order_id: Uuid,
    pub lines: Vec<OrderLine>,
}
impl Event for CheckoutStarted {
    const TYPE: &'static str = "cart.checkout_started";
}

#[cfg(test)]
mod tests {
    use super::LineFlag;

    #[test]
    fn a_session_comes_from_the_header_else_the_cookie() {
        let id = uuid::Uuid::new_v4();
        let cookie = format!("a=1; {}={id}", super::SESSION_COOKIE);
        assert_eq!(super::guest_session(None, Some(&cookie)), Some(id));
        assert_eq!(
            super::guest_session(Some(&format!(" {id} ")), None),
            Some(id)
        );
        assert_eq!(
            super::guest_session(Some("nope"), Some("kazna_cart=x")),
            None
        );
    }

    #[test]
    fn line_flag_labels_are_what_serde_writes() {
        crate::label::assert_labels_match_serde(LineFlag::ALL, |f| f.as_str());
    }
}
