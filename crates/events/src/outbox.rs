//! The transactional outbox: `enqueue` writes an event in the caller's transaction, and the
//! `Relay` publishes committed events with publisher confirms, deleting each once confirmed.

use std::time::Duration;

use kazna_contracts::{Envelope, Event};
use kazna_kernel::trace;
use lapin::{
    BasicProperties, Channel,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable},
};
use sqlx::{PgConnection, PgPool, postgres::PgListener};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Broker, Error};

const CHANNEL: &str = "kazna_outbox";
const BATCH: i64 = 200;

/// Writes `event` to the outbox inside the caller's transaction; it is published only if
/// that transaction commits. The current request id becomes the correlation id, and the
/// current span's trace goes with it, so its consumers' spans join that trace.
pub async fn enqueue<E: Event>(
    tx: &mut PgConnection,
    source: &str,
    event: &E,
) -> Result<Uuid, Error> {
    let envelope = Envelope::new(source, kazna_kernel::request_id::current(), event)?;
    let mut span = trace::Span::child(trace::Kind::Producer, || format!("{} publish", E::TYPE));
    span.set("messaging.system", "rabbitmq");
    span.set("messaging.message.id", envelope.id.to_string());
    sqlx::query(
        "INSERT INTO outbox (id, event_type, envelope, traceparent) VALUES ($1, $2, $3, $4)",
    )
    .bind(envelope.id)
    .bind(&envelope.event_type)
    .bind(serde_json::to_value(&envelope)?)
    .bind(span.context().map(|c| c.header()))
    .execute(&mut *tx)
    .await?;
    // Delivered at commit: wakes the relays at once instead of at their next poll.
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(envelope.id)
}

/// Publishes what the outbox holds. Several relays (one per instance) can run at once:
/// each batch is claimed with `FOR UPDATE SKIP LOCKED`.
pub struct Relay {
    pool: PgPool,
    broker: Broker,
    poll: Duration,
}

impl Relay {
    pub fn new(pool: PgPool, broker: Broker) -> Self {
        Self {
            pool,
            broker,
            poll: Duration::from_secs(2),
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => Some(l),
                Err(_) => None,
            },
            Err(_) => None,
        };
        let mut channel: Option<Channel> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.drain(&mut channel).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay could not publish; will retry");
                    channel = None;
                    self.report_backlog().await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            }
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = tokio::time::timeout(self.poll, l.recv()).await;
                    }
                    None => tokio::time::sleep(self.poll / 8).await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wait => {}
            }
        }
    }

    async fn drain(&self, channel: &mut Option<Channel>) -> Result<(), Error> {
        while self.publish_batch(channel).await? > 0 {}
        // The last batch found nothing left: no backlog, and no need to count one. (What
        // another relay has claimed is that relay's to publish and to report.)
        self.gauges(0, 0.0);
        Ok(())
    }

    /// What waits in the outbox, and how long the oldest has waited, when a drain failed:
    /// the backlog that grows while the broker is away. Counting reads the whole table, so
    /// it is done only then, not after every drain.
    async fn report_backlog(&self) {
        let found: Result<(i64, f64), _> = sqlx::query_as(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)
             FROM outbox",
        )
        .fetch_one(&self.pool)
        .await;
        if let Ok((backlog, oldest)) = found {
            self.gauges(backlog, oldest);
        }
    }

    fn gauges(&self, backlog: i64, oldest: f64) {
        let options = self.pool.connect_options();
        let database = options.get_database().unwrap_or_default().to_owned();
        metrics::gauge!("kazna_outbox_backlog", "database" => database.clone()).set(backlog as f64);
        metrics::gauge!("kazna_outbox_oldest_seconds", "database" => database).set(oldest);
    }

    /// Publishes one batch; returns how many events went out.
    pub async fn publish_batch(&self, channel: &mut Option<Channel>) -> Result<usize, Error> {
        // Deleting what was published need not wait for the disk: lost in a crash, those
        // events are published again, and consumers apply each once.
        let mut tx = kazna_kernel::db::relaxed(&self.pool).await?;
        let rows: Vec<(Uuid, String, serde_json::Value, Option<String>)> = sqlx::query_as(
            "SELECT id, event_type, envelope, traceparent FROM outbox
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let ch = match channel {
            Some(ch) if ch.status().connected() => ch,
            _ => channel.insert(self.broker.channel().await?),
        };
        let exchange = self.broker.settings().exchange.as_str();
        let mut confirms = Vec::with_capacity(rows.len());
        for (id, event_type, envelope, traceparent) in &rows {
            let payload = serde_json::to_vec(envelope)?;
            let mut props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(id.to_string().into())
                .with_type(event_type.as_str().into());
            if let Some(value) = traceparent {
                let mut headers = FieldTable::default();
                headers.insert(
                    trace::HEADER.into(),
                    AMQPValue::LongString(value.as_str().into()),
                );
                props = props.with_headers(headers);
            }
            let confirm = ch
                .basic_publish(
                    exchange.into(),
                    event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    props,
                )
                .await?;
            confirms.push((*id, confirm));
        }
        let mut done = Vec::with_capacity(confirms.len());
        for (id, confirm) in confirms {
            if confirm.await?.is_nack() {
                return Err(Error::Nacked(id));
            }
            done.push(id);
        }
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&done)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.len())
    }
}
