//! The payments service's own settings: `[payments]`, `KAZNA_PAYMENTS__...`.

use kazna_contracts::payments::Provider;
use kazna_kernel::{Secret, Settings, config::Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsSettings {
    /// The gateway new payments go through.
    pub provider: Provider,
    /// The secret webhooks are signed with.
    pub webhook_secret: Secret,
    /// Where the sandbox delivers its webhooks; by default the gateway's
    /// `/webhooks/payments/sandbox` at `gateway.public_url`.
    pub sandbox_webhook_url: Option<String>,
    /// How long the sandbox takes to decide a charge (until then it can be voided).
    pub sandbox_delay_ms: u64,
    /// How much later than it decides the sandbox sends its webhook (a provider's webhooks
    /// can be late).
    pub sandbox_webhook_delay_ms: u64,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            provider: Provider::Sandbox,
            webhook_secret: Secret::new("whsec_change_me"),
            sandbox_webhook_url: None,
            sandbox_delay_ms: 50,
            sandbox_webhook_delay_ms: 0,
        }
    }
}

impl Section for PaymentsSettings {
    const KEY: &'static str = "payments";
}

impl PaymentsSettings {
    pub fn sandbox_webhook_url(&self, shared: &Settings) -> String {
        self.sandbox_webhook_url.clone().unwrap_or_else(|| {
            format!(
                "{}/webhooks/payments/sandbox",
                shared.gateway.public_url.trim_end_matches('/')
            )
        })
    }
}
