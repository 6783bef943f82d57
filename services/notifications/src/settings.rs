//! The notifications service's own settings: `[notifications]`, `KAZNA_NOTIFICATIONS__...`.

use std::path::PathBuf;

use kazna_kernel::config::Section;
use serde::{Deserialize, Serialize};

/// How email leaves the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailBackend {
    /// Each message written as a `.eml` file under `outbox_dir`; needs no account.
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsSettings {
    pub email_backend: EmailBackend,
    pub outbox_dir: PathBuf,
    /// The sender of every email.
    pub from: String,
}

impl Default for NotificationsSettings {
    fn default() -> Self {
        Self {
            email_backend: EmailBackend::File,
            outbox_dir: PathBuf::from("data/outbox"),
            from: "Kazna <shop@kazna.local>".into(),
        }
    }
}

impl Section for NotificationsSettings {
    const KEY: &'static str = "notifications";
}
