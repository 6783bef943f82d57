//! What orders tells others: the lines of an order and the events of its life, from placed to
//! delivered, canceled or refunded.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Event, Money};

/// A line of an order: what was bought, from whom, at the price it was bought at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    /// Who sells it, and ships it.
    pub seller_id: Uuid,
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Money,
}

/// An order was placed, and its first payment attempt is to be made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    pub payment_method: String,
    /// The id the payment of this attempt is to have.
    pub payment_id: Uuid,
    pub attempt: i32,
    pub lines: Vec<OrderLine>,
}
impl Event for OrderPlaced {
    const TYPE: &'static str = "order.placed";
}

/// The buyer asked to pay again after a declined attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRequested {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub total: Money,
    pub payment_method: String,
    pub payment_id: Uuid,
    pub attempt: i32,
}
impl Event for PaymentRequested {
    const TYPE: &'static str = "order.payment_requested";
}

/// Money taken for an order that will not be filled goes back: the order was canceled, or
/// the payment came for an order that could no longer take it. Payments refunds what of the
/// payment is not refunded yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundRequested {
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub reason: String,
}
impl Event for RefundRequested {
    const TYPE: &'static str = "order.refund_requested";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    pub payment_id: Uuid,
    pub lines: Vec<OrderLine>,
}
impl Event for OrderPaid {
    const TYPE: &'static str = "order.paid";
}

/// One seller's parcel of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Parcel {
    pub seller_id: Uuid,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// Every seller of the order has shipped its lines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderShipped {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub parcels: Vec<Parcel>,
}
impl Event for OrderShipped {
    const TYPE: &'static str = "order.shipped";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderDelivered {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
}
impl Event for OrderDelivered {
    const TYPE: &'static str = "order.delivered";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderCanceled {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    /// Who canceled it: a user id, `system`, or a payment provider.
    pub by: String,
    pub reason: String,
    /// Whether money had been taken, and is being refunded.
    pub refund: bool,
}
impl Event for OrderCanceled {
    const TYPE: &'static str = "order.canceled";
}

/// An attempt to pay the order was declined; the buyer can pay again with another method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPaymentFailed {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub total: Money,
    pub attempt: i32,
    /// The provider's reason, e.g. `card_declined`.
    pub reason: String,
}
impl Event for OrderPaymentFailed {
    const TYPE: &'static str = "order.payment_failed";
}

/// Money went back to the buyer: once per refund, in part or in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRefunded {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub amount: Money,
    /// All refunded of the order so far.
    pub refunded: Money,
    /// Whether everything paid has now been refunded.
    pub full: bool,
}
impl Event for OrderRefunded {
    const TYPE: &'static str = "order.refunded";
}
