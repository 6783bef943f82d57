//! How a message reaches someone, and what became of it.

use kazna_contracts::labels;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}
labels!(Channel {
    Email = "email",
    Sms = "sms",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first try.
    Queued,
    Sent,
    /// A try failed; another follows (`next_attempt_at`).
    Retrying,
    /// Every try failed, or it can never succeed; an admin may send it again.
    Failed,
}
labels!(DeliveryStatus {
    Queued = "queued",
    Sent = "sent",
    Retrying = "retrying",
    Failed = "failed",
});

#[cfg(test)]
mod tests {
    use super::*;
    use kazna_contracts::label::assert_labels_match_serde;

    #[test]
    fn labels_are_the_wire_names() {
        assert_labels_match_serde(Channel::ALL, |c| c.as_str());
        assert_labels_match_serde(DeliveryStatus::ALL, |s| s.as_str());
    }
}
