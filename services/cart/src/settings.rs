//! The cart's own settings: `[cart]`, `KAZNA_CART__...`.

use std::time::Duration;

use kazna_contracts::Currency;
use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CartSettings {
    /// The currency of an empty cart (a cart takes that of its first line).
    pub currency: Currency,
    /// A guest's cart goes after this many seconds without a change (7 days).
    pub guest_idle_secs: u64,
    /// A user's cart goes after this many seconds without a change (90 days).
    pub user_idle_secs: u64,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            currency: Currency::EUR,
            guest_idle_secs: 7 * 24 * 3600,
            user_idle_secs: 90 * 24 * 3600,
        }
    }
}

impl CartSettings {
    /// The lifetimes, at least a second each.
    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            guest_idle: Duration::from_secs(self.guest_idle_secs.max(1)),
            user_idle: Duration::from_secs(self.user_idle_secs.max(1)),
        }
    }
}

/// How long carts live after their last change.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub guest_idle: Duration,
    pub user_idle: Duration,
}

impl Section for CartSettings {
    const KEY: &'static str = "cart";
}
