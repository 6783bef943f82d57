//! The orders service's own settings: `[orders]`, `KAZNA_ORDERS__...`.

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
