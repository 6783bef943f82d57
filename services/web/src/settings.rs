//! The storefront's own settings: `[web]`, `KAZNA_WEB__...`.

use kazna_contracts::Currency;
use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// The currency a shopper types prices in on the search page (its minor digits turn
    /// "12.50" into 1250).
    pub currency: Currency,
    /// The payment methods checkout offers, as the orders API takes them: the sandbox's
    /// test cards by default; `paypal`, or a Stripe method, when those are configured.
    pub payment_methods: Vec<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            currency: Currency::EUR,
            payment_methods: [
                "pm_card_visa",
                "pm_card_mastercard",
                "pm_card_chargeDeclined",
                "pm_card_chargeDeclinedInsufficientFunds",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Section for WebSettings {
    const KEY: &'static str = "web";
}
