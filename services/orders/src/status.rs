//! The order state machine: every allowed transition in one function.

use kazna_contracts::labels;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
