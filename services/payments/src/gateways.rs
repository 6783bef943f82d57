//! The gateways that are on (`payments.providers`), by provider: each payment goes through
//! the one its payment method picked.

use std::sync::Arc;

use kazna_contracts::payments::Provider;
use kazna_kernel::Settings;
use tokio_util::sync::CancellationToken;

use crate::{PaymentsSettings, gateway::Gateway, paypal::PayPal, sandbox::Sandbox, stripe::Stripe};

#[derive(Clone, Default)]
pub struct Gateways {
    on: Vec<Arc<dyn Gateway>>,
}

impl Gateways {
    /// The gateways `cfg` turns on.
    pub fn from_settings(
        pool: &sqlx::PgPool,
        cfg: &PaymentsSettings,
        shared: &Settings,
        shutdown: &CancellationToken,
    ) -> Self {
        let mut gateways = Gateways::default();
        for provider in &cfg.providers {
            let gateway: Arc<dyn Gateway> = match provider {
                Provider::Sandbox => Arc::new(Sandbox::new(
                    pool.clone(),
                    cfg,
                    cfg.sandbox_webhook_url(shared),
                    shutdown.clone(),
                )),
                Provider::Stripe => Arc::new(Stripe::new(&cfg.stripe)),
                Provider::PayPal => Arc::new(PayPal::new(&cfg.paypal, &shared.gateway.public_url)),
            };
            gateways = gateways.with(gateway);
        }
        gateways
    }

    /// These gateways and `gateway` (in place of one for the same provider).
    pub fn with(mut self, gateway: Arc<dyn Gateway>) -> Self {
        self.on.retain(|g| g.provider() != gateway.provider());
        self.on.push(gateway);
        self
    }

    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Gateway>> {
        self.on.iter().find(|g| g.provider() == provider)
    }

    pub fn providers(&self) -> Vec<Provider> {
        self.on.iter().map(|g| g.provider()).collect()
    }
}
