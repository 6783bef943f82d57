//! The users service's own settings: `[users]`, `KAZNA_USERS__...`.

use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersSettings {
    /// Failed sign-ins allowed per account and per client address in one window.
    pub login_attempts: u32,
    pub login_window_secs: u64,
    /// How long a profile stays in the Redis cache.
    pub profile_cache_secs: u64,
    /// How often a running service looks for a newer signing key.
    pub signing_key_refresh_secs: u64,
}

impl Default for UsersSettings {
    fn default() -> Self {
        Self {
            login_attempts: 10,
            login_window_secs: 60,
            profile_cache_secs: 300,
            signing_key_refresh_secs: 30,
        }
    }
}

impl Section for UsersSettings {
    const KEY: &'static str = "users";
}
