//! The payments service's own settings: `[payments]`, `KAZNA_PAYMENTS__...`.

use kazna_contracts::payments::Provider;
use kazna_kernel::{Secret, Settings, config::Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsSettings {
    /// The providers that are on. The payment method picks one: `paypal` is PayPal, a card
    /// (`pm_...`) goes through Stripe when it is on, else the sandbox.
    pub providers: Vec<Provider>,
    /// The secret the sandbox signs its webhooks with.
    pub webhook_secret: Secret,
    /// Where the sandbox delivers its webhooks; by default the gateway's
    /// `/webhooks/payments/sandbox` at `gateway.public_url`.
    pub sandbox_webhook_url: Option<String>,
    /// How long the sandbox takes to decide a charge (until then it can be voided).
    pub sandbox_delay_ms: u64,
    /// How much later than it decides the sandbox sends its webhook (a provider's webhooks
    /// can be late).
    pub sandbox_webhook_delay_ms: u64,
    /// Faults the sandbox can be told to make, for tests and drills.
    pub sandbox_faults: SandboxFaults,
    /// A payment still processing this long after its last news is asked about at the
    /// provider, as a webhook may never come.
    pub reconcile_after_secs: u64,
    /// How many seconds between comparisons of captured and refunded sums with the
    /// providers, over twice that window (0: only `kazna payments reconcile`).
    pub compare_every_secs: u64,
    pub stripe: StripeSettings,
    pub paypal: PayPalSettings,
}

/// What the sandbox gets wrong on purpose.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxFaults {
    /// Every webhook is sent twice.
    pub duplicate_webhooks: bool,
    /// Webhooks go out in pairs, the later first.
    pub reorder_webhooks: bool,
    /// Every n-th webhook is never sent (1: none is; 0: off).
    pub drop_every_nth_webhook: u32,
    /// The first answer to every charge is lost: the charge is made, the caller sees a
    /// time-out and must retry with the same idempotency key.
    pub lose_first_charge_answer: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeSettings {
    /// `sk_live_...` or `sk_test_...`.
    pub secret_key: Secret,
    pub api_base: String,
    /// The signing secrets of the webhook endpoint (`whsec_...`); several while rotating.
    pub webhook_secrets: Vec<Secret>,
    /// How long a call may take before it counts as lost and is retried.
    pub timeout_ms: u64,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            secret_key: Secret::new(""),
            api_base: "https://api.stripe.com".into(),
            webhook_secrets: vec![],
            timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PayPalSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub api_base: String,
    /// The id PayPal gave the webhook endpoint; its events are verified against it.
    pub webhook_id: String,
    /// Where PayPal sends the buyer after approving; by default the storefront's
    /// `/checkout/paypal/return` at `gateway.public_url`.
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub timeout_ms: u64,
}

impl Default for PayPalSettings {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: Secret::new(""),
            api_base: "https://api-m.paypal.com".into(),
            webhook_id: String::new(),
            return_url: None,
            cancel_url: None,
            timeout_ms: 10_000,
        }
    }
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            providers: vec![Provider::Sandbox],
            webhook_secret: Secret::new("whsec_change_me"),
            sandbox_webhook_url: None,
            sandbox_delay_ms: 50,
            sandbox_webhook_delay_ms: 0,
            sandbox_faults: SandboxFaults::default(),
            reconcile_after_secs: 600,
            compare_every_secs: 3600,
            stripe: StripeSettings::default(),
            paypal: PayPalSettings::default(),
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

    /// Fails naming the first setting a provider that is on cannot work without.
    pub fn check(&self) -> Result<(), kazna_kernel::Error> {
        let missing = |key: &str| {
            Err(kazna_kernel::Error::Config(format!(
                "payments.{key} must be set while its provider is in payments.providers"
            )))
        };
        if self.providers.is_empty() {
            return Err(kazna_kernel::Error::Config(
                "payments.providers: turn at least one provider on".into(),
            ));
        }
        if self.providers.contains(&Provider::Stripe) {
            if self.stripe.secret_key.expose().is_empty() {
                return missing("stripe.secret_key");
            }
            if self.stripe.webhook_secrets.is_empty() {
                return missing("stripe.webhook_secrets");
            }
        }
        if self.providers.contains(&Provider::PayPal) {
            if self.paypal.client_id.is_empty() {
                return missing("paypal.client_id");
            }
            if self.paypal.client_secret.expose().is_empty() {
                return missing("paypal.client_secret");
            }
            if self.paypal.webhook_id.is_empty() {
                return missing("paypal.webhook_id");
            }
        }
        Ok(())
    }
}
