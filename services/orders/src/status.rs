//! The order state machine: every allowed transition in one function.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    PendingPayment,
    Paid,
    Shipped,
    Delivered,
    Canceled,
    Refunded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingPayment => "pending_payment",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Canceled => "canceled",
            Status::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::PendingPayment,
            Status::Paid,
            Status::Shipped,
            Status::Delivered,
            Status::Canceled,
            Status::Refunded,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether an order may go from `self` to `to`. No wildcard arm: a new status must
    /// be placed here deliberately.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        match self {
            PendingPayment => matches!(to, Paid | Canceled),
            Paid => matches!(to, Shipped | Canceled),
            Shipped => matches!(to, Delivered),
            Delivered => matches!(to, Refunded),
            Canceled => false,
            Refunded => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn only_documented_transitions_are_allowed() {
        let all = [PendingPayment, Paid, Shipped, Delivered, Canceled, Refunded];
        let allowed = [
            (PendingPayment, Paid),
            (PendingPayment, Canceled),
            (Paid, Shipped),
            (Paid, Canceled),
            (Shipped, Delivered),
            (Delivered, Refunded),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }
}
