//! The OTLP exporter: finished spans queue in memory and a thread of their own posts them in
//! batches to the collector's `/v1/traces` as OTLP/HTTP JSON, so neither a slow collector
//! nor one that is away holds up a request. When the queue is full, spans are dropped and
//! counted (`kazna_trace_spans_dropped_total`).

use std::{
    sync::OnceLock,
    time::{Duration, SystemTime},
};

use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};

use super::{Finished, Value, hex};
use crate::config::TelemetrySettings;

/// Spans waiting to be sent, at most.
const QUEUE: usize = 8192;
/// Spans in one request to the collector, at most.
const BATCH: usize = 512;
/// How long a finished span waits for others to share a request.
const EVERY: Duration = Duration::from_millis(500);

enum Message {
    Span(Box<Finished>),
    Flush(oneshot::Sender<()>),
}

struct Exporter {
    queue: mpsc::Sender<Message>,
    sample_ratio: f64,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Starts exporting to `settings.otlp_endpoint`, when set; the first call in a process wins.
pub fn install(settings: &TelemetrySettings) {
    let Some(endpoint) = settings.otlp_endpoint.as_deref() else {
        return;
    };
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let sample_ratio = settings.sample_ratio.unwrap_or(1.0).clamp(0.0, 1.0);
    let _ = EXPORTER.get_or_init(|| {
        let (queue, rx) = mpsc::channel(QUEUE);
        let started = std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run(url, rx)),
                    Err(e) => tracing::warn!(error = %e, "traces cannot be exported"),
                }
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "traces cannot be exported");
        }
        Exporter {
            queue,
            sample_ratio,
        }
    });
}

/// Whether spans are recorded at all in this process.
pub(crate) fn installed() -> bool {
    EXPORTER.get().is_some()
}

/// Whether a new trace is recorded.
pub(crate) fn sample() -> bool {
    EXPORTER
        .get()
        .is_some_and(|e| e.sample_ratio >= 1.0 || rand::random::<f64>() < e.sample_ratio)
}

pub(crate) fn export(span: Finished) {
    let Some(e) = EXPORTER.get() else { return };
    if e.queue.try_send(Message::Span(Box::new(span))).is_err() {
        metrics::counter!("kazna_trace_spans_dropped_total").increment(1);
    }
}

/// Sends what has ended so far, waiting up to `within` for the collector (at shutdown).
pub async fn flush(within: Duration) {
    let Some(e) = EXPORTER.get() else { return };
    let (done, sent) = oneshot::channel();
    if e.queue.send(Message::Flush(done)).await.is_ok() {
        let _ = tokio::time::timeout(within, sent).await;
    }
}

async fn run(url: String, mut rx: mpsc::Receiver<Message>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut batch: Vec<Finished> = Vec::with_capacity(BATCH);
    let mut failing = false;
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let flushed = tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Span(span)) => {
                    batch.push(*span);
                    if batch.len() < BATCH {
                        continue;
                    }
                    None
                }
                Some(Message::Flush(done)) => Some(done),
                None => return,
            },
            _ = tick.tick() => None,
        };
        if !batch.is_empty() {
            let body = encode(&batch);
            let sent = http.post(&url).json(&body).send().await;
            let ok = match sent {
                Ok(res) if res.status().is_success() => true,
                Ok(res) => {
                    warn_once(
                        &mut failing,
                        &format!("the collector answered {}", res.status()),
                    );
                    false
                }
                Err(e) => {
                    warn_once(&mut failing, &e.to_string());
                    false
                }
            };
            let outcome = if ok { "exported" } else { "lost" };
            metrics::counter!("kazna_trace_spans_total", "outcome" => outcome)
                .increment(batch.len() as u64);
            failing &= !ok;
            batch.clear();
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
    }
}

/// One warning per spell of failures, not one per batch.
fn warn_once(failing: &mut bool, error: &str) {
    if !*failing {
        tracing::warn!(
            error,
            "spans could not be exported; dropping them until the collector answers"
        );
    }
    *failing = true;
}

/// The OTLP/HTTP JSON body for `spans`: one resource per service, ids in hex, times in
/// nanoseconds since the epoch as strings.
pub fn encode(spans: &[Finished]) -> Json {
    let mut services: Vec<&str> = Vec::new();
    for s in spans {
        if !services.contains(&s.service.as_ref()) {
            services.push(&s.service);
        }
    }
    let resources: Vec<Json> = services
        .iter()
        .map(|service| {
            let of_service: Vec<Json> = spans
                .iter()
                .filter(|s| s.service == *service)
                .map(span)
                .collect();
            json!({
                "resource": {"attributes": [
                    attribute("service.name", &Value::Str((*service).to_owned())),
                    attribute("service.namespace", &Value::Str("kazna".into())),
                    attribute("service.version", &Value::Str(env!("CARGO_PKG_VERSION").into())),
                ]},
                "scopeSpans": [{
                    "scope": {"name": "kazna", "version": env!("CARGO_PKG_VERSION")},
                    "spans": of_service,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resources })
}

fn span(s: &Finished) -> Json {
    let mut out = json!({
        "traceId": hex(&s.context.trace_id),
        "spanId": hex(&s.context.span_id),
        "name": s.name,
        "kind": s.kind as u8,
        "startTimeUnixNano": nanos(s.start),
        "endTimeUnixNano": nanos(s.end),
        "attributes": s.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
        "status": match &s.error {
            Some(message) => json!({"code": 2, "message": message}),
            None => json!({"code": 0}),
        },
    });
    if let Some(parent) = s.parent {
        out["parentSpanId"] = hex(&parent).into();
    }
    if !s.links.is_empty() {
        out["links"] = s
            .links
            .iter()
            .map(|l| json!({"traceId": hex(&l.trace_id), "spanId": hex(&l.span_id)}))
            .collect();
    }
    out
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Str(s) => json!({ "stringValue": s }),
        // OTLP's JSON writes 64-bit integers as strings.
        Value::Int(n) => json!({ "intValue": n.to_string() }),
    };
    json!({ "key": key, "value": value })
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Context, Kind};

    #[test]
    fn spans_are_written_as_otlp_json_one_resource_per_service() {
        let root =
            Context::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let server = Finished {
            service: "gateway".into(),
            name: "POST /api/v1/orders".into(),
            kind: Kind::Server,
            context: root,
            parent: None,
            start: at,
            end: at + Duration::from_millis(2),
            attributes: vec![("http.response.status_code", Value::Int(201))],
            links: vec![],
            error: None,
        };
        let consumer = Finished {
            service: "orders".into(),
            name: "payment.failed process".into(),
            kind: Kind::Consumer,
            context: Context {
                span_id: [1, 2, 3, 4, 5, 6, 7, 8],
                ..root
            },
            parent: Some(root.span_id),
            error: Some("database away".into()),
            links: vec![root],
            ..server.clone()
        };
        let body = encode(&[server, consumer]);
        let resources = body["resourceSpans"].as_array().unwrap();
        assert_eq!(resources.len(), 2);
        assert_eq!(
            resources[0]["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "gateway"}})
        );
        let first = &resources[0]["scopeSpans"][0]["spans"][0];
        assert_eq!(first["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(first["spanId"], "b7ad6b7169203331");
        assert_eq!(first["kind"], 2);
        assert_eq!(first["startTimeUnixNano"], "1700000000123456789");
        assert_eq!(first["endTimeUnixNano"], "1700000000125456789");
        assert_eq!(
            first["attributes"][0],
            json!({"key": "http.response.status_code", "value": {"intValue": "201"}})
        );
        assert!(first.get("parentSpanId").is_none());
        let second = &resources[1]["scopeSpans"][0]["spans"][0];
        assert_eq!(second["parentSpanId"], "b7ad6b7169203331");
        assert_eq!(second["spanId"], "0102030405060708");
        assert_eq!(second["kind"], 5);
        assert_eq!(
            second["status"],
            json!({"code": 2, "message": "database away"})
        );
        assert_eq!(second["links"][0]["spanId"], "b7ad6b7169203331");
    }
}
