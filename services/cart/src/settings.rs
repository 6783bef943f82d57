//! The cart's own settings: `[cart]`, `KAZNA_CART__...`.

use kazna_contracts::Currency;
use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CartSettings {
    /// The currency of an empty cart (a cart takes that of its first line).
    pub currency: Currency,
}

impl Default for CartSettings {
    fn default() -> Self {
        Self {
            currency: Currency::EUR,
        }
    }
}

impl Section for CartSettings {
    const KEY: &'static str = "cart";
}
