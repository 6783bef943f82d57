//! The event bus against the real broker and database: what the architecture promises about
//! lost, failing and repeated events.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use kazna_events::{Broker, Consumer, Envelope, Event, Handler, HandlerError, Relay, inbox};
use kazna_testkit::{TcpProxy, TestEnv, eventually};
use lapin::{
    BasicProperties,
    options::{BasicGetOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ping {
    n: u32,
}
impl Event for Ping {
    const TYPE: &'static str = "test.ping";
}

async fn database(env: &TestEnv) -> PgPool {
    let pool = kazna_kernel::db::connect(&env.settings, "bus")
        .await
        .expect("database");
    kazna_events::install(&pool).await.expect("schema");
    pool
}

async fn commit_event(pool: &PgPool, n: u32) -> uuid::Uuid {
    let mut tx = pool.begin().await.expect("tx");
    let id = kazna_events::enqueue(&mut tx, "test", &Ping { n })
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    id
}

async fn outbox_len(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
        .expect("count")
}

/// A queue on the real broker that sees every `test.*` event, declared before anything is sent.
async fn spy(env: &TestEnv, broker: &Broker) -> (lapin::Channel, String) {
    let ch = broker.channel().await.expect("channel");
    let name = format!("kt.{}.spy", env.id);
    let mut args = FieldTable::default();
    args.insert(
        "x-expires".into(),
        lapin::types::AMQPValue::LongUInt(60_000),
    );
    ch.queue_declare(name.as_str().into(), QueueDeclareOptions::default(), args)
        .await
        .expect("declare");
    ch.queue_bind(
        name.as_str().into(),
        env.settings.amqp.exchange.as_str().into(),
        "test.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    (ch, name)
}

async fn get_one(ch: &lapin::Channel, queue: &str) -> Option<Envelope> {
    let msg = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .ok()??;
    serde_json::from_slice(&msg.delivery.data).ok()
}

fn broker_addr(env: &TestEnv) -> std::net::SocketAddr {
    let url = &env.settings.amqp.url;
    let host = url.rsplit('@').next().unwrap_or(url);
    let host = host.split('/').next().unwrap_or(host);
    host.parse()
        .unwrap_or_else(|_| "127.0.0.1:5672".parse().expect("addr"))
}

/// The value of the gauge `name` for `pool`'s database, as `/metrics` would show it.
fn gauge(metrics: &PrometheusHandle, name: &str, pool: &PgPool) -> Option<f64> {
    let options = pool.connect_options();
    let line = format!("{name}{{database=\"{}\"}} ", options.get_database()?);
    let text = metrics.render();
    let value = text.lines().find_map(|l| l.strip_prefix(line.as_str()))?;
    value.trim().parse().ok()
}

#[tokio::test]
async fn an_event_committed_while_the_broker_is_unreachable_is_published_once_it_is_back() {
    // The relay runs on this test's thread, so it reports to this recorder.
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _recording = metrics::set_default_local_recorder(&recorder);
    let env = TestEnv::new().expect("env");
    let pool = database(&env).await;
    let direct = Broker::new(env.settings.amqp.clone());
    let (spy_ch, spy_q) = spy(&env, &direct).await;

    let proxy = TcpProxy::start(broker_addr(&env), false)
        .await
        .expect("proxy");
    let mut through_proxy = env.settings.amqp.clone();
    through_proxy.url = format!("amqp://guest:guest@{}/%2f", proxy.addr);
    let stop = CancellationToken::new();
    let relay =
        tokio::spawn(Relay::new(pool.clone(), Broker::new(through_proxy)).run(stop.clone()));

    let id = commit_event(&pool, 7).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        outbox_len(&pool).await,
        1,
        "the event waits in the outbox while the broker is away"
    );
    assert!(
        get_one(&spy_ch, &spy_q).await.is_none(),
        "nothing reached the broker"
    );
    // Counted at each failed retry (100 ms, then 200, 400, ... apart), not at a set moment.
    let waiting = eventually(10, || async {
        let oldest = gauge(&metrics, "kazna_outbox_oldest_seconds", &pool)?;
        (oldest > 0.2).then_some(gauge(&metrics, "kazna_outbox_backlog", &pool))
    })
    .await;
    assert_eq!(
        waiting,
        Some(Some(1.0)),
        "the waiting event shows as backlog, with the time it has waited since its commit"
    );

    proxy.up();
    let got = eventually(15, || async { get_one(&spy_ch, &spy_q).await }).await;
    let got = got.expect("the event is published once the broker is back");
    assert_eq!(got.id, id);
    assert_eq!(got.event_type, "test.ping");
    assert_eq!(got.decode::<Ping>().expect("payload"), Ping { n: 7 });
    let drained = eventually(5, || async { (outbox_len(&pool).await == 0).then_some(()) }).await;
    assert!(drained.is_some(), "a confirmed event leaves the outbox");
    assert!(get_one(&spy_ch, &spy_q).await.is_none(), "published once");
    let cleared = eventually(5, || async {
        (gauge(&metrics, "kazna_outbox_backlog", &pool) == Some(0.0)).then_some(())
    })
    .await;
    assert!(cleared.is_some(), "no backlog once it is published");
    assert_eq!(
        gauge(&metrics, "kazna_outbox_oldest_seconds", &pool),
        Some(0.0)
    );

    stop.cancel();
    let _ = relay.await;
}

/// Records every attempt; fails every attempt at event `n == 1`.
#[derive(Clone, Default)]
struct FailsOnOne {
    seen: Arc<Mutex<Vec<(u32, Instant)>>>,
}

impl Handler for FailsOnOne {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        let ping = event.decode::<Ping>()?;
        self.seen
            .lock()
            .expect("lock")
            .push((ping.n, Instant::now()));
        if ping.n == 1 {
            Err(HandlerError::Retry("refused on purpose".into()))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_failing_handler_is_retried_then_parked_without_holding_up_later_messages() {
    let env = TestEnv::new().expect("env");
    let pool = database(&env).await;
    let broker = Broker::new(env.settings.amqp.clone());
    let handler = FailsOnOne::default();
    let consumer = Consumer::new(
        broker.clone(),
        "retry-test",
        &["test.ping"],
        handler.clone(),
    );
    let dead = consumer.queues().dead;
    drop(consumer.declare().await.expect("declare"));
    let stop = CancellationToken::new();
    let worker = tokio::spawn(consumer.run(stop.clone()));
    let relay = tokio::spawn(Relay::new(pool.clone(), broker.clone()).run(stop.clone()));

    commit_event(&pool, 1).await;
    commit_event(&pool, 2).await;
    commit_event(&pool, 3).await;

    let tries = 1 + env.settings.amqp.retry_delays_ms.len();
    let ch = broker.channel().await.expect("channel");
    let parked = eventually(15, || async { get_one(&ch, &dead).await }).await;
    let parked = parked.expect("the failing event ends in the dead-letter queue");
    assert_eq!(parked.decode::<Ping>().expect("payload"), Ping { n: 1 });

    let seen = handler.seen.lock().expect("lock").clone();
    let attempts: Vec<Instant> = seen
        .iter()
        .filter(|(n, _)| *n == 1)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(
        attempts.len(),
        tries,
        "tried once, then once per retry delay"
    );
    for (i, pair) in attempts.windows(2).enumerate() {
        let waited = pair[1] - pair[0];
        let delay = Duration::from_millis(u64::from(env.settings.amqp.retry_delays_ms[i]));
        assert!(
            waited >= delay,
            "retry {i} waited {waited:?}, at least {delay:?}"
        );
    }
    for n in [2, 3] {
        let handled: Vec<Instant> = seen
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(handled.len(), 1, "event {n} handled once");
        assert!(
            handled[0] < attempts[1],
            "event {n} did not wait for the failing one's retries"
        );
    }

    stop.cancel();
    let _ = tokio::join!(worker, relay);
}

/// Applies each event through the inbox: one row in `effects` per event it applied.
#[derive(Clone)]
struct CountsEffects {
    pool: PgPool,
    calls: Arc<AtomicUsize>,
}

impl Handler for CountsEffects {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Some(mut tx) = inbox::begin(&self.pool, "effects-test", event.id).await? else {
            return Ok(());
        };
        sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
            .bind(event.id)
            .execute(&mut *tx)
            .await?;
        // Hold the transaction a moment, so concurrent copies really overlap.
        tokio::time::sleep(Duration::from_millis(30)).await;
        tx.commit().await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_redelivered_event_has_exactly_one_effect() {
    let env = TestEnv::new().expect("env");
    let pool = database(&env).await;
    sqlx::query(
        "CREATE TABLE effects (event_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&pool)
    .await
    .expect("table");
    let broker = Broker::new(env.settings.amqp.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let mut workers = Vec::new();
    // Two consumers on one queue, as two instances of a service would be, each handling
    // several messages at once.
    for _ in 0..2 {
        let handler = CountsEffects {
            pool: pool.clone(),
            calls: calls.clone(),
        };
        let consumer = Consumer::new(broker.clone(), "effects-test", &["test.ping"], handler)
            .with_concurrency(3);
        drop(consumer.declare().await.expect("declare"));
        workers.push(tokio::spawn(consumer.run(stop.clone())));
    }

    let envelope = Envelope::new("test", None, &Ping { n: 42 }).expect("envelope");
    let body = serde_json::to_vec(&envelope).expect("json");
    let ch = broker.channel().await.expect("channel");
    let copies = 6;
    for _ in 0..copies {
        ch.basic_publish(
            env.settings.amqp.exchange.as_str().into(),
            "test.ping".into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    }

    let all = eventually(15, || async {
        (calls.load(Ordering::SeqCst) >= copies).then_some(())
    })
    .await;
    assert!(all.is_some(), "every copy was delivered to a handler");
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects WHERE event_id = $1")
        .bind(envelope.id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(effects, 1, "{copies} deliveries of one event, one effect");

    stop.cancel();
    for w in workers {
        let _ = w.await;
    }
}

/// Whether a queue exists, asked on a channel of its own (a refused passive declare closes it).
async fn queue_exists(broker: &Broker, name: &str) -> bool {
    let ch = broker.channel().await.expect("channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare(name.into(), passive, FieldTable::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn queues_left_by_an_old_layout_go_unless_something_consumes_them() {
    let env = TestEnv::new().expect("env");
    let broker = Broker::new(env.settings.amqp.clone());
    let idle = Consumer::new(
        broker.clone(),
        "old-idle",
        &["test.#"],
        FailsOnOne::default(),
    );
    idle.declare().await.expect("declare");
    let busy = Consumer::new(
        broker.clone(),
        "old-busy",
        &["test.#"],
        FailsOnOne::default(),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(busy.run(stop.clone()));
    let busy_queues = Consumer::new(
        broker.clone(),
        "old-busy",
        &["test.#"],
        FailsOnOne::default(),
    )
    .queues();
    let consumed = eventually(10, || async {
        let ch = broker.channel().await.ok()?;
        let q = ch
            .queue_declare(
                busy_queues.main.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .ok()?;
        (q.consumer_count() > 0).then_some(())
    })
    .await;
    assert!(consumed.is_some(), "the busy queue has its consumer");

    broker
        .delete_unused_queues("old-idle")
        .await
        .expect("delete idle");
    let idle_queues = idle.queues();
    for name in idle_queues
        .retries
        .iter()
        .map(|(n, _)| n.as_str())
        .chain([idle_queues.main.as_str(), idle_queues.dead.as_str()])
    {
        assert!(!queue_exists(&broker, name).await, "{name} is gone");
    }
    assert!(
        broker.delete_unused_queues("old-busy").await.is_err(),
        "a queue in use is refused"
    );
    for name in busy_queues
        .retries
        .iter()
        .map(|(n, _)| n.as_str())
        .chain([busy_queues.main.as_str(), busy_queues.dead.as_str()])
    {
        assert!(
            queue_exists(&broker, name).await,
            "{name} stays with its consumer"
        );
    }
    assert!(
        broker.delete_unused_queues("never-declared").await.is_ok(),
        "missing queues are fine"
    );
    stop.cancel();
    running.await.expect("consumer stops");
}

/// With `amqp.queue_type = quorum` (a RabbitMQ cluster), the queues are quorum queues, and a
/// message failing once goes through its retry queue and back like on classic ones.
#[tokio::test]
async fn quorum_queues_carry_retries_like_classic_ones() {
    let mut env = TestEnv::new().expect("env");
    env.settings.amqp.queue_type = kazna_kernel::config::QueueType::Quorum;
    env.settings.amqp.retry_delays_ms = vec![200];
    let broker = Broker::new(env.settings.amqp.clone());
    let handler = FailsOnOne::default();
    let consumer = Consumer::new(
        broker.clone(),
        "quorum-test",
        &["test.ping"],
        handler.clone(),
    );
    drop(consumer.declare().await.expect("declare"));
    let main = format!("{}.quorum-test", env.settings.amqp.queue_prefix);
    // A queue keeps its type: declaring it classic now is refused.
    let ch = broker.channel().await.expect("channel");
    let mut classic = FieldTable::default();
    classic.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("classic".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let refused = ch
        .queue_declare(main.as_str().into(), durable, classic)
        .await;
    assert!(refused.is_err(), "{main} is a quorum queue");

    let stop = CancellationToken::new();
    let worker = tokio::spawn(consumer.run(stop.clone()));
    let ch = broker.channel().await.expect("channel");
    for n in [1, 2] {
        let envelope = Envelope::new("test", None, &Ping { n }).expect("envelope");
        ch.basic_publish(
            env.settings.amqp.exchange.as_str().into(),
            "test.ping".into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&envelope).expect("json"),
            BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    }
    // The failing one is tried again after its retry delay, then parked; the other once.
    let tried = eventually(15, || async {
        let seen = handler.seen.lock().expect("lock").clone();
        let ones = seen.iter().filter(|(n, _)| *n == 1).count();
        (ones >= 2).then_some(seen)
    })
    .await
    .expect("the failing message came back from its retry queue");
    assert_eq!(tried.iter().filter(|(n, _)| *n == 2).count(), 1);
    stop.cancel();
    let _ = worker.await;
}

#[tokio::test]
async fn instances_starting_at_once_on_a_new_database_all_install_the_bus_tables() {
    let env = TestEnv::new().expect("env");
    // Eight instances at once, as replicas and a migration job beside them would.
    let pools: Vec<PgPool> = futures_util::future::join_all(
        (0..8).map(|_| kazna_kernel::db::connect(&env.settings, "bus")),
    )
    .await
    .into_iter()
    .map(|p| p.expect("database"))
    .collect();
    let installs = pools.iter().map(kazna_events::install);
    for installed in futures_util::future::join_all(installs).await {
        installed.expect("installed");
    }
    // The tables, the trace column included, are there once.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'outbox' ORDER BY ordinal_position",
    )
    .fetch_all(&pools[0])
    .await
    .expect("columns");
    assert_eq!(
        columns,
        ["id", "event_type", "envelope", "created_at", "traceparent"]
    );
    commit_event(&pools[0], 1).await;
    assert_eq!(outbox_len(&pools[0]).await, 1);
}
