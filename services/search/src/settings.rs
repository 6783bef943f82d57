//! The search service's own settings: `[search]`, `KAZNA_SEARCH__...`.

use std::path::PathBuf;

use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Where this instance keeps its index and its id.
    pub data_dir: PathBuf,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/search"),
        }
    }
}

impl Section for SearchSettings {
    const KEY: &'static str = "search";
}
