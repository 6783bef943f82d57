//! Consumers: one durable queue per service bound to the event types it wants, manual
//! acks, and for failures a retry queue per delay (messages come back to the main queue
//! when their TTL runs out) and a dead-letter queue after the last try. A failing message
//! is moved aside at once, so it never holds up the ones behind it.

use std::{future::Future, sync::Arc, time::Duration};

use futures_util::StreamExt;
use kazna_contracts::Envelope;
use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio_util::sync::CancellationToken;

use kazna_kernel::{config::QueueType, trace};

use crate::{Broker, Error};

const ATTEMPT_HEADER: &str = "x-kazna-attempt";
const ERROR_HEADER: &str = "x-kazna-error";

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (a dependency was down, a conflict).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (a payload that does not decode): straight to the dead letters.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Retry(e.to_string())
    }
}

impl From<serde_json::Error> for HandlerError {
    fn from(e: serde_json::Error) -> Self {
        HandlerError::Permanent(format!("payload does not decode: {e}"))
    }
}

/// Applies one event. Handlers must tolerate redelivery: use the inbox, or be idempotent.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, event: &Envelope) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

pub struct Consumer<H> {
    broker: Broker,
    name: String,
    /// The service consuming, for its spans: `search` for the queue `search.<instance>`.
    service: String,
    routing_keys: Vec<String>,
    handler: Arc<H>,
    concurrency: usize,
    expires_ms: Option<u32>,
}

/// The queue names of one consuming service.
pub struct Queues {
    pub main: String,
    pub dead: String,
    pub retries: Vec<(String, u32)>,
}

impl Queues {
    pub fn new(prefix: &str, service: &str, delays: &[u32]) -> Self {
        let main = format!("{prefix}.{service}");
        Self {
            dead: format!("{main}.dead"),
            retries: delays
                .iter()
                .map(|ms| (format!("{main}.retry.{ms}ms"), *ms))
                .collect(),
            main,
        }
    }
}

impl<H: Handler> Consumer<H> {
    pub fn new(broker: Broker, name: &str, routing_keys: &[&str], handler: H) -> Self {
        Self {
            broker,
            name: name.to_owned(),
            service: name.split('.').next().unwrap_or(name).to_owned(),
            routing_keys: routing_keys.iter().map(|k| (*k).to_owned()).collect(),
            handler: Arc::new(handler),
            concurrency: 1,
            expires_ms: None,
        }
    }

    /// Lets the broker delete this consumer's queues once unused for `ms`: for queues of one
    /// instance, which a replaced instance leaves behind.
    pub fn expire_when_unused(mut self, ms: u32) -> Self {
        self.expires_ms = Some(ms);
        self
    }

    /// Handles up to `n` messages at once (default 1). Handlers must then tolerate events
    /// arriving out of order, as they must anyway after a retry.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn queues(&self) -> Queues {
        let s = self.broker.settings();
        Queues::new(&s.queue_prefix, &self.name, &s.retry_delays_ms)
    }

    /// Declares the queues and bindings (also done by `run`); lets a caller make sure
    /// nothing published from now on is missed.
    pub async fn declare(&self) -> Result<Channel, Error> {
        let ch = self.broker.channel().await?;
        let s = self.broker.settings();
        let q = self.queues();
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let mut base = FieldTable::default();
        let expires = match (self.expires_ms, s.queue_expires_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(ms) = expires {
            base.insert("x-expires".into(), AMQPValue::LongUInt(ms));
        }
        if s.queue_type == QueueType::Quorum {
            base.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        ch.queue_declare(q.main.as_str().into(), durable, base.clone())
            .await?;
        ch.queue_declare(q.dead.as_str().into(), durable, base.clone())
            .await?;
        for (name, ms) in &q.retries {
            let mut args = base.clone();
            args.insert("x-message-ttl".into(), AMQPValue::LongUInt(*ms));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString("".into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(q.main.as_str().into()),
            );
            ch.queue_declare(name.as_str().into(), durable, args)
                .await?;
        }
        for key in &self.routing_keys {
            ch.queue_bind(
                q.main.as_str().into(),
                s.exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        Ok(ch)
    }

    /// Consumes until `shutdown`, reconnecting after broker failures; reports how many
    /// messages wait in its queue and its dead letters every [`DEPTH_EVERY`].
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match this.clone().session(&shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(consumer = %this.name, error = %e, "consumer lost the broker; reconnecting");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn session(self: Arc<Self>, shutdown: &CancellationToken) -> Result<(), Error> {
        let ch = self.declare().await?;
        let prefetch = self.broker.settings().prefetch.max(self.concurrency as u16);
        ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let q = Arc::new(self.queues());
        let mut deliveries = ch
            .basic_consume(
                q.main.as_str().into(),
                format!("{}-{}", self.name, uuid::Uuid::now_v7()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut inflight = tokio::task::JoinSet::new();
        let mut depth = tokio::time::interval(DEPTH_EVERY);
        let outcome = loop {
            tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = depth.tick() => report_depth(&ch, &q).await,
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    match done {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => break Err(e),
                        Err(e) => break Err(Error::Task(e.to_string())),
                    }
                }
                next = deliveries.next(), if inflight.len() < self.concurrency => match next {
                    Some(Ok(delivery)) => {
                        let (this, ch, q) = (self.clone(), ch.clone(), q.clone());
                        inflight.spawn(async move { this.process(&ch, &q, delivery).await });
                    }
                    Some(Err(e)) => break Err(e.into()),
                    None => break Err(Error::Broker(lapin::Error::from(
                        lapin::ErrorKind::InvalidChannelState(lapin::ChannelState::Closed, "consumer stream ended"),
                    ))),
                }
            }
        };
        // Finish what is in hand before letting go of the channel.
        while inflight.join_next().await.is_some() {}
        let _ = ch.close(200, "shutdown".into()).await;
        outcome
    }

    async fn process(&self, ch: &Channel, q: &Queues, delivery: Delivery) -> Result<(), Error> {
        let attempt = attempt_of(&delivery);
        let kind = delivery.properties.kind().as_ref().map(|k| k.as_str());
        let mut span = trace::Span::start(
            self.service.clone(),
            trace::Kind::Consumer,
            format!("{} process", kind.unwrap_or("event")),
            traceparent_of(&delivery),
        );
        span.set("messaging.system", "rabbitmq");
        span.set("messaging.destination.name", q.main.as_str());
        span.set("messaging.rabbitmq.attempt", i64::from(attempt));
        let outcome = match serde_json::from_slice::<Envelope>(&delivery.data) {
            Ok(envelope) => {
                span.set("messaging.message.id", envelope.id.to_string());
                let rid = envelope
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| envelope.id.to_string());
                let handled = kazna_kernel::request_id::scope(rid, self.handler.handle(&envelope));
                span.scope(handled).await
            }
            Err(e) => Err(HandlerError::Permanent(format!(
                "not an event envelope: {e}"
            ))),
        };
        if let Err(e) = &outcome {
            span.fail(e.to_string());
        }
        drop(span);
        let target = match &outcome {
            Ok(()) => None,
            Err(HandlerError::Retry(_)) if (attempt as usize) < q.retries.len() => {
                Some(q.retries[attempt as usize].0.as_str())
            }
            Err(_) => Some(q.dead.as_str()),
        };
        let counted = match target {
            None => "handled",
            Some(t) if t == q.dead => "dead_lettered",
            Some(_) => "retried",
        };
        metrics::counter!("kazna_events_consumed_total", "queue" => q.main.clone(), "outcome" => counted)
            .increment(1);
        if let (Some(queue), Err(e)) = (target, &outcome) {
            tracing::warn!(consumer = %self.name, attempt, queue, error = %e, "event handling failed");
            let moved = self
                .forward(ch, queue, &delivery, attempt + 1, &e.to_string())
                .await;
            if let Err(err) = moved {
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await?;
                return Err(err);
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    async fn forward(
        &self,
        ch: &Channel,
        queue: &str,
        delivery: &Delivery,
        attempt: u32,
        error: &str,
    ) -> Result<(), Error> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(attempt));
        let short: String = error.chars().take(500).collect();
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(short.as_str().into()),
        );
        let props: BasicProperties = delivery.properties.clone().with_headers(headers);
        let confirm = ch
            .basic_publish(
                ShortString::from(""),
                queue.into(),
                BasicPublishOptions::default(),
                &delivery.data,
                props,
            )
            .await?
            .await?;
        if confirm.is_nack() {
            return Err(Error::Nacked(uuid::Uuid::nil()));
        }
        Ok(())
    }
}

/// The context of the span that published the event, carried in its headers.
fn traceparent_of(delivery: &Delivery) -> Option<trace::Context> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(trace::HEADER)? {
        AMQPValue::LongString(s) => trace::Context::parse(std::str::from_utf8(s.as_bytes()).ok()?),
        _ => None,
    }
}

fn attempt_of(delivery: &Delivery) -> u32 {
    let Some(headers) = delivery.properties.headers() else {
        return 0;
    };
    match headers.inner().get(ATTEMPT_HEADER) {
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

impl<H: Handler> Consumer<H> {
    /// Declares the queues now, so that nothing published from here on is missed; when the
    /// broker is away, `run` declares them once it is back.
    pub async fn declare_or_warn(&self) {
        match self.declare().await {
            Ok(ch) => {
                let _ = ch.close(200, "declared".into()).await;
            }
            Err(e) => {
                tracing::warn!(consumer = %self.name, error = %e, "could not declare queues yet")
            }
        }
    }
}

/// How often a consumer reports the depth of its queues.
const DEPTH_EVERY: Duration = Duration::from_secs(15);

/// Messages waiting in the main queue (the consumer's lag) and in its dead letters, as gauges
/// per queue. The queues exist (this session declared them), so a passive declare only reads.
async fn report_depth(ch: &Channel, q: &Queues) {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    for (queue, gauge) in [
        (&q.main, "kazna_events_queue_messages"),
        (&q.dead, "kazna_events_dead_letters"),
    ] {
        if let Ok(found) = ch
            .queue_declare(queue.as_str().into(), passive, FieldTable::default())
            .await
        {
            metrics::gauge!(gauge, "queue" => q.main.clone()).set(f64::from(found.message_count()));
        }
    }
}
