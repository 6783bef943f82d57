//! The notifications service: messages rendered from templates when events arrive, queued
//! in a delivery log that tells the truth, and sent by a worker through the file outbox,
//! SendGrid (email) or Twilio (SMS), with retries.

pub mod channel;
mod consumer;
pub mod deliveries;
pub mod error;
mod http;
pub mod message;
pub mod outbox;
pub mod recipients;
pub mod render;
pub mod sendgrid;
pub mod settings;
pub mod smtp;
pub mod templates;
pub mod twilio;
pub mod worker;

pub use settings::{EmailBackend, NotificationsSettings, SmsBackend};

use std::{sync::Arc, time::Duration};

use kazna_events::{Broker, Consumer};
use kazna_kernel::{Context, health::Check, server::App};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub const NAME: &str = "notifications";

#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub pool: PgPool,
    /// Wakes the worker after a change that queued a message.
    pub kick: worker::Kick,
}
kazna_kernel::impl_context!(AppState);

#[derive(OpenApi)]
#[openapi(info(
    title = "Kazna notifications",
    description = "Templates and the delivery log"
))]
struct ApiDoc;

/// The migrations of this service's database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn database(ctx: &Context) -> Result<PgPool, kazna_kernel::Error> {
    kazna_events::database(&ctx.settings, NAME, &MIGRATOR).await
}

pub async fn build(
    ctx: Context,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<App, kazna_kernel::Error> {
    let cfg: NotificationsSettings = ctx.settings.section()?;
    cfg.check()?;
    let pool = database(&ctx).await?;
    let kick = worker::Kick::default();
    let broker = Broker::new(ctx.settings.amqp.clone());
    let consumer = Consumer::new(
        broker.clone(),
        NAME,
        &consumer::routing_keys(),
        consumer::Notify {
            pool: pool.clone(),
            kick: kick.clone(),
            shop_url: ctx.settings.gateway.public_url.clone(),
        },
    )
    .with_concurrency(8);
    consumer.declare_or_warn().await;
    let worker = worker::Worker {
        pool: pool.clone(),
        email: email_sender(&cfg)?,
        sms: sms_sender(&cfg),
        kick: kick.clone(),
        max_attempts: cfg.max_attempts,
        retry_base: Duration::from_millis(cfg.retry_base_ms),
    };
    let state = AppState {
        ctx,
        pool: pool.clone(),
        kick,
    };
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(http::router())
        .split_for_parts();
    let checks = vec![Check::postgres(pool), broker.readiness()];
    let router = kazna_kernel::server::finish(NAME, api.with_state(state), openapi, checks);
    Ok(App::new(NAME, listener, router)
        .worker(worker.run(shutdown.clone()))
        .worker(consumer.run(shutdown)))
}

fn outbox(cfg: &NotificationsSettings) -> outbox::FileOutbox {
    outbox::FileOutbox {
        dir: cfg.outbox_dir.clone(),
        from: cfg.from.clone(),
    }
}

/// What carries email, as configured.
pub fn email_sender(
    cfg: &NotificationsSettings,
) -> Result<Arc<dyn message::Sender>, kazna_kernel::Error> {
    let timeout = Duration::from_millis(cfg.timeout_ms);
    Ok(match cfg.email_backend {
        EmailBackend::File => Arc::new(outbox(cfg)),
        EmailBackend::Smtp => Arc::new(
            smtp::Smtp::new(cfg.smtp.url.expose(), &cfg.from, timeout)
                .map_err(kazna_kernel::Error::Config)?,
        ),
        EmailBackend::Sendgrid => Arc::new(sendgrid::SendGrid::new(
            &cfg.sendgrid.api_base,
            cfg.sendgrid.api_key.clone(),
            &cfg.from,
            timeout,
        )),
    })
}

/// What carries SMS, as configured.
pub fn sms_sender(cfg: &NotificationsSettings) -> Arc<dyn message::Sender> {
    let timeout = Duration::from_millis(cfg.timeout_ms);
    match cfg.sms_backend {
        SmsBackend::File => Arc::new(outbox(cfg)),
        SmsBackend::Twilio => Arc::new(twilio::Twilio::new(
            &cfg.twilio.api_base,
            &cfg.twilio.account_sid,
            cfg.twilio.auth_token.clone(),
            &cfg.twilio.from,
            timeout,
        )),
    }
}
