//! Messages leaving through SendGrid and Twilio, against a local stand-in for their APIs that
//! checks each request; the queue's retries, give-ups and one message per event.

// A test that cannot go on should stop loudly, helpers included.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{sync::Arc, time::Duration};

use kazna_contracts::Envelope;
use kazna_kernel::Secret;
use kazna_notifications::{
    NotificationsSettings,
    channel::{Channel, DeliveryStatus},
    deliveries::{self, Delivery, Filter},
    message::{Message, SendError, Sender},
    outbox::FileOutbox,
    sendgrid::SendGrid,
    twilio::Twilio,
    worker::{Kick, Worker},
};
use kazna_testkit::{MockServer, Reply, TestEnv};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

const SHOP: &str = "https://shop.example";
const SENDGRID_KEY: &str = "SG.kazna-test.key";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-auth-token";

fn email(to: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        channel: Channel::Email,
        to: to.into(),
        subject: "Order confirmed".into(),
        text: "Thank you.".into(),
        html: Some("<p>Thank you.</p>".into()),
    }
}

#[tokio::test]
async fn sendgrid_gets_the_documented_mail_send_request() {
    let mock = MockServer::start().await;
    mock.on(
        "POST",
        "/v3/mail/send",
        vec![Reply::json(202, json!(null)).header("x-message-id", "W3rQmoEtSpqq4yXkKx3zzA")],
    );
    let sg = SendGrid::new(
        &mock.url,
        Secret::new(SENDGRID_KEY),
        "Kazna <shop@kazna.local>",
        Duration::from_secs(5),
    );
    let m = email("ada@example.com");
    let sent = sg.send(&m).await.expect("sent");
    assert_eq!(
        sent.provider_message_id.as_deref(),
        Some("W3rQmoEtSpqq4yXkKx3zzA")
    );
    let r = &mock.requests_to("POST", "/v3/mail/send")[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {SENDGRID_KEY}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "shop@kazna.local", "name": "Kazna"},
            "subject": "Order confirmed",
            "content": [
                {"type": "text/plain", "value": "Thank you."},
                {"type": "text/html", "value": "<p>Thank you.</p>"},
            ],
            "custom_args": {"delivery_id": m.id.to_string()},
        })
    );

    // SendGrid's documented refusals: an invalid address can never succeed; a rate limit
    // comes back after what it asked.
    mock.on("POST", "/v3/mail/send", vec![Reply::json(400, json!({"errors": [{
        "message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email",
        "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"}]}))]);
    let refused = sg.send(&email("not-an-address")).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(e)) if e.contains("valid address")),
        "{refused:?}"
    );
    mock.on(
        "POST",
        "/v3/mail/send",
        vec![
            Reply::json(429, json!({"errors": [{"message": "too many requests"}]}))
                .header("retry-after", "7"),
        ],
    );
    let limited = sg.send(&email("ada@example.com")).await;
    assert_eq!(
        limited,
        Err(SendError::Retry {
            error: "429: sendgrid: too many requests".into(),
            after: Some(Duration::from_secs(7))
        })
    );
}

#[tokio::test]
async fn twilio_gets_the_documented_messages_request() {
    let mock = MockServer::start().await;
    let path = format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json");
    mock.on("POST", &path, vec![Reply::json(201, json!({
        "account_sid": TWILIO_SID, "api_version": "2010-04-01", "body": "Your parcel is on its way",
        "direction": "outbound-api", "from": "+15017122661", "to": "+15558675310",
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f", "status": "queued", "num_segments": "1",
    }))]);
    let twilio = Twilio::new(
        &mock.url,
        TWILIO_SID,
        Secret::new(TWILIO_TOKEN),
        "+15017122661",
        Duration::from_secs(5),
    );
    let sms = Message {
        id: Uuid::now_v7(),
        channel: Channel::Sms,
        to: "+15558675310".into(),
        subject: String::new(),
        text: "Your parcel is on its way & due Friday".into(),
        html: None,
    };
    let sent = twilio.send(&sms).await.expect("sent");
    assert_eq!(
        sent.provider_message_id.as_deref(),
        Some("SM1f0e8ae6ade43cb3c0ce4525424e404f")
    );
    let r = &mock.requests_to("POST", &path)[0];
    // Basic base64("AC0123456789abcdef0123456789abcdef:twilio-auth-token")
    assert_eq!(
        r.header("authorization"),
        Some("Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tYXV0aC10b2tlbg==")
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        r.form(),
        vec![
            ("To".to_owned(), "+15558675310".to_owned()),
            ("From".into(), "+15017122661".into()),
            (
                "Body".into(),
                "Your parcel is on its way & due Friday".into()
            ),
        ]
    );
    mock.on(
        "POST",
        &path,
        vec![Reply::json(
            400,
            json!({
        "code": 21211, "message": "The 'To' number 12345 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        )],
    );
    let refused = twilio.send(&sms).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(e)) if e.contains("21211")),
        "{refused:?}"
    );
}

struct Queue {
    _env: TestEnv,
    pool: PgPool,
    mock: MockServer,
    worker: Worker,
}

/// The notifications database and a worker sending email through SendGrid's stand-in, with
/// short pauses between tries.
async fn queue() -> Queue {
    let mock = MockServer::start().await;
    let env = TestEnv::new().expect("env");
    env.databases(&["notifications"]).await.expect("database");
    let mut settings = env.settings.clone();
    settings
        .update::<NotificationsSettings>(|n| n.sendgrid.api_base = mock.url.clone())
        .expect("settings");
    let ctx = kazna_kernel::Context::new(Arc::new(settings));
    let pool = kazna_notifications::database(&ctx).await.expect("db");
    let cfg: NotificationsSettings = ctx.settings.section().expect("settings");
    let worker = Worker {
        pool: pool.clone(),
        email: Arc::new(SendGrid::new(
            &mock.url,
            Secret::new(SENDGRID_KEY),
            &cfg.from,
            Duration::from_secs(2),
        )),
        sms: Arc::new(FileOutbox {
            dir: cfg.outbox_dir.clone(),
            from: cfg.from.clone(),
        }),
        kick: Kick::default(),
        max_attempts: 5,
        retry_base: Duration::from_millis(30),
    };
    Queue {
        _env: env,
        pool,
        mock,
        worker,
    }
}

fn paid(to: &str) -> Envelope {
    Envelope {
        id: Uuid::now_v7(),
        event_type: "order.paid".into(),
        version: 1,
        occurred_at: chrono::Utc::now(),
        source: "orders".into(),
        correlation_id: None,
        data: json!({"email": to, "order_id": Uuid::now_v7(), "total": {"amount": 1999, "currency": "EUR"}}),
    }
}

impl Queue {
    async fn log(&self) -> Vec<Delivery> {
        deliveries::list(&self.pool, &Filter::default(), None, 100)
            .await
            .expect("log")
    }

    /// Works the queue until nothing is left to try (within 15 s).
    async fn drain(&self) -> Vec<Delivery> {
        let until = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            self.worker.once().await.expect("worked");
            let log = self.log().await;
            if log
                .iter()
                .all(|d| matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Failed))
            {
                return log;
            }
            assert!(std::time::Instant::now() < until, "still trying: {log:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_a_duplicated_event_is_one_message() {
    let q = queue().await;
    q.mock.on(
        "POST",
        "/v3/mail/send",
        vec![
            Reply::json(429, json!({"errors": [{"message": "too many requests"}]}))
                .header("retry-after", "1"),
            Reply::json(202, json!(null)).header("x-message-id", "msg-1"),
        ],
    );
    let event = paid("ada@example.com");
    for _ in 0..3 {
        deliveries::queue(&q.pool, &event, SHOP)
            .await
            .expect("queued");
    }
    let started = std::time::Instant::now();
    let log = q.drain().await;
    assert_eq!(log.len(), 1, "one message however often the event came");
    let d = &log[0];
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Sent, 2));
    assert_eq!(d.provider.as_deref(), Some("sendgrid"));
    assert_eq!(d.provider_message_id.as_deref(), Some("msg-1"));
    assert!(
        d.last_error.as_deref().is_some_and(|e| e.contains("429")),
        "{d:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(q.mock.requests_to("POST", "/v3/mail/send").len(), 2);
}

#[tokio::test]
async fn a_message_that_cannot_succeed_fails_while_the_others_go_out() {
    let q = queue().await;
    q.mock.on(
        "POST",
        "/v3/mail/send",
        vec![
            Reply::json(
                400,
                json!({"errors": [{"message": "Does not contain a valid address."}]}),
            ),
            Reply::json(202, json!(null)),
        ],
    );
    for to in ["one@example.com", "two@example.com", "three@example.com"] {
        deliveries::queue(&q.pool, &paid(to), SHOP)
            .await
            .expect("queued");
    }
    let log = q.drain().await;
    let failed: Vec<&Delivery> = log
        .iter()
        .filter(|d| d.status == DeliveryStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{log:?}");
    assert_eq!(failed[0].attempts, 1, "not retried");
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("valid address"))
    );
    assert_eq!(
        log.iter()
            .filter(|d| d.status == DeliveryStatus::Sent)
            .count(),
        2
    );

    // An admin sends it again once the address is fixed at the provider's end.
    let again = deliveries::retry(&q.pool, failed[0].id)
        .await
        .expect("queued again");
    assert_eq!((again.status, again.attempts), (DeliveryStatus::Queued, 0));
    let log = q.drain().await;
    assert!(
        log.iter().all(|d| d.status == DeliveryStatus::Sent),
        "{log:?}"
    );
    let sent = log.iter().find(|d| d.id == failed[0].id).expect("it");
    assert!(matches!(
        deliveries::retry(&q.pool, sent.id).await,
        Err(kazna_notifications::error::Error::NotRetryable(_))
    ));
}

#[tokio::test]
async fn a_provider_that_keeps_failing_is_tried_five_times_then_the_message_fails() {
    let q = queue().await;
    q.mock.on(
        "POST",
        "/v3/mail/send",
        vec![Reply::json(
            503,
            json!({"errors": [{"message": "unavailable"}]}),
        )],
    );
    deliveries::queue(&q.pool, &paid("ada@example.com"), SHOP)
        .await
        .expect("queued");
    let log = q.drain().await;
    assert_eq!(
        (log[0].status, log[0].attempts),
        (DeliveryStatus::Failed, 5)
    );
    assert!(
        log[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503"))
    );
    assert_eq!(q.mock.requests_to("POST", "/v3/mail/send").len(), 5);
}
