//! The order state machine: every allowed transition in one table, and who may move an
//! order.

use std::fmt;

use kazna_contracts::{labels, payments::Provider};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Shipped,
    Delivered,
    Canceled,
    Refunded,
}
labels!(OrderStatus {
    PendingPayment = "pending_payment",
    Paid = "paid",
    Shipped = "shipped",
    Delivered = "delivered",
    Canceled = "canceled",
    Refunded = "refunded",
});

impl OrderStatus {
    /// The statuses an order may go to from `self`. No wildcard arm: a new status must be
    /// placed here deliberately.
    pub fn next(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            PendingPayment => &[Paid, Canceled],
            Paid => &[Shipped, Canceled],
            Shipped => &[Delivered],
            Delivered => &[Refunded],
            Canceled | Refunded => &[],
        }
    }

    /// Whether an order may go from `self` to `to`.
    pub fn can_become(self, to: OrderStatus) -> bool {
        self.next().contains(&to)
    }
}

/// Who changed an order: a user, Kazna itself (expiry, a sold-out line), or the payment
/// provider. Written in the history as the user's id, `system`, or the provider's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    System,
    Provider(Provider),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "{id}"),
            Actor::System => f.write_str("system"),
            Actor::Provider(p) => f.write_str(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn labels_are_the_wire_names() {
        kazna_contracts::label::assert_labels_match_serde(OrderStatus::ALL, |s| s.as_str());
        assert!(
            "lost".parse::<OrderStatus>().is_err(),
            "an unknown status is an error"
        );
    }

    #[test]
    fn only_documented_transitions_are_allowed() {
        let all = OrderStatus::ALL;
        let allowed = [
            (PendingPayment, Paid),
            (PendingPayment, Canceled),
            (Paid, Shipped),
            (Paid, Canceled),
            (Shipped, Delivered),
            (Delivered, Refunded),
        ];
        for &from in all {
            for &to in all {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }
}
