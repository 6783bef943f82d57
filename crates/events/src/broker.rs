//! One AMQP connection per service, re-opened on demand after the broker went away.

use std::sync::Arc;

use kazna_kernel::config::AmqpSettings;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ConfirmSelectOptions, ExchangeDeclareOptions},
    types::FieldTable,
};
use tokio::sync::Mutex;

use crate::Error;

#[derive(Clone)]
pub struct Broker {
    settings: Arc<AmqpSettings>,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl Broker {
    /// Does not connect yet: the first `channel()` does, so a service starts while the broker
    /// is down and catches up when it is back.
    pub fn new(settings: AmqpSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            conn: Arc::new(Mutex::new(None)),
        }
    }

    pub fn settings(&self) -> &AmqpSettings {
        &self.settings
    }

    /// A new channel in confirm mode, with the events exchange declared.
    pub async fn channel(&self) -> Result<Channel, Error> {
        let mut guard = self.conn.lock().await;
        let conn = match guard.take() {
            Some(c) if c.status().connected() => guard.insert(c),
            _ => {
                let c = Connection::connect(&self.settings.url, ConnectionProperties::default())
                    .await?;
                guard.insert(c)
            }
        };
        let channel = conn.create_channel().await?;
        drop(guard);
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .exchange_declare(
                self.settings.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(channel)
    }

    /// Whether the broker answers now (for readiness).
    pub async fn ping(&self) -> Result<(), String> {
        let ch = self.channel().await.map_err(|e| e.to_string())?;
        let _ = ch.close(200, "ping".into()).await;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }
}

impl Broker {
    /// Deletes the queues of consumer `name`, parked messages included, unless something
    /// consumes its main queue: for queue layouts an older version left behind. The main queue
    /// goes first, so a consumer still running keeps its retry and dead-letter queues. A
    /// missing queue is fine.
    pub async fn delete_unused_queues(&self, name: &str) -> Result<(), Error> {
        let s = &self.settings;
        let q = crate::consumer::Queues::new(&s.queue_prefix, name, &s.retry_delays_ms);
        let names = [q.main.as_str()]
            .into_iter()
            .chain(q.retries.iter().map(|(n, _)| n.as_str()))
            .chain([q.dead.as_str()]);
        for queue in names {
            // A refusal closes the channel: one per queue.
            let ch = self.channel().await?;
            let opts = lapin::options::QueueDeleteOptions {
                if_unused: true,
                ..Default::default()
            };
            ch.queue_delete(queue.into(), opts).await?;
        }
        Ok(())
    }

    /// Deletes the events exchange (test clean-up).
    pub async fn delete_exchange(&self) -> Result<(), Error> {
        let ch = self.channel().await?;
        ch.exchange_delete(
            self.settings.exchange.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await?;
        Ok(())
    }
}

impl Broker {
    /// A readiness check: the broker answers.
    pub fn readiness(&self) -> kazna_kernel::health::Check {
        let b = self.clone();
        kazna_kernel::health::Check::new("rabbitmq", move || {
            let b = b.clone();
            async move { b.ping().await }
        })
    }
}
