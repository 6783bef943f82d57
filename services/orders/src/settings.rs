//! The orders service's own settings: `[orders]`, `KAZNA_ORDERS__...`.

use kazna_contracts::payments::Provider;
use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersSettings {
    /// How long a buyer has to pay before an unpaid order is canceled. By default, as long
    /// as the catalog holds its stock (`catalog.reservation_ttl_secs`).
    pub payment_window_secs: Option<u64>,
}

impl Section for OrdersSettings {
    const KEY: &'static str = "orders";
}

/// The one payments setting orders reads, `payments.providers`: a payment method none of
/// them takes is refused when the order is placed, not later when it is charged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentProviders {
    pub providers: Vec<Provider>,
}

impl Default for PaymentProviders {
    fn default() -> Self {
        Self {
            providers: vec![Provider::Sandbox],
        }
    }
}

impl Section for PaymentProviders {
    const KEY: &'static str = "payments";
}
