//! The catalog's own settings: `[catalog]`, `KAZNA_CATALOG__...`.

use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// How long stock stays reserved for an unpaid order.
    pub reservation_ttl_secs: u64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            reservation_ttl_secs: 900,
        }
    }
}

impl Section for CatalogSettings {
    const KEY: &'static str = "catalog";
}
