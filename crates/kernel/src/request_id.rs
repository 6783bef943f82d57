//! Request ids: taken from `x-request-id` when a caller sends a sane one, else a new UUIDv7;
//! echoed on the response, kept in a task-local for logs, problems and outgoing calls.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (for consumers and background work).
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

fn acceptable(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

/// The request's id: the caller's when sane, else a new one, put on the request. Returns the
/// id and its header value, for the answer.
pub fn take(req: &mut Request) -> (String, HeaderValue) {
    if let Some(value) = req.headers().get(&HEADER)
        && let Some(id) = acceptable(value)
    {
        return (id, value.clone());
    }
    let id = new_id();
    // A UUID is made only of characters a header value may hold.
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"));
    req.headers_mut().insert(HEADER, value.clone());
    (id, value)
}

/// A new UUIDv7, its random part from the thread's generator (no system call per request).
fn new_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random())
        .into_uuid()
        .to_string()
}
