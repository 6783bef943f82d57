//! A queue of the test's own on the events exchange: what services published, as they
//! published it.

use std::time::Duration;

use futures_util::StreamExt;
use kazna_events::{Broker, Envelope};
use kazna_kernel::Settings;
use lapin::{
    options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

pub struct Spy {
    consumer: lapin::Consumer,
    _channel: lapin::Channel,
}

impl Spy {
    /// Listens to events whose type matches `pattern` (`user.#`), from now on.
    pub async fn new(settings: &Settings, pattern: &str) -> Result<Self, kazna_events::Error> {
        let broker = Broker::new(settings.amqp.clone());
        let ch = broker.channel().await?;
        let q = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        ch.queue_bind(
            q.name().clone(),
            settings.amqp.exchange.as_str().into(),
            pattern.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        let consumer = ch
            .basic_consume(
                q.name().clone(),
                "spy".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Self {
            consumer,
            _channel: ch,
        })
    }

    /// The next event of type `event_type`, waiting up to `secs` seconds.
    pub async fn next(&mut self, event_type: &str, secs: u64) -> Option<Envelope> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
            let delivery = tokio::time::timeout(left, self.consumer.next())
                .await
                .ok()??
                .ok()?;
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            if let Ok(e) = serde_json::from_slice::<Envelope>(&delivery.data)
                && e.event_type == event_type
            {
                return Some(e);
            }
        }
    }
}
