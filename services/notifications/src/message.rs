//! The seam to whatever carries a message out of the shop: the file outbox (the default,
//! needing no account), SendGrid for email and Twilio for SMS. A sender answers once per
//! try; the worker decides what happens next.

use std::{future::Future, pin::Pin, time::Duration};

use uuid::Uuid;

use crate::channel::Channel;

/// One message, rendered and ready to go.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: Uuid,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    /// The text part (the whole message for SMS).
    pub text: String,
    /// The HTML part of an email, when its template has one.
    pub html: Option<String>,
}

/// What a sender said to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id for it (SendGrid's `X-Message-Id`, Twilio's `sid`), or the file's.
    pub provider_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try: the provider was away, failed, or asked to wait (`after`).
    #[error("{error}")]
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Can never succeed as it is (an invalid address, a refused sender).
    #[error("{0}")]
    Permanent(String),
}

pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<Sent, SendError>> + Send + 'a>>;

pub trait Sender: Send + Sync + 'static {
    /// The name the delivery log shows (`file`, `sendgrid`, `twilio`).
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, m: &'a Message) -> Sending<'a>;
}

/// How long a provider asked to wait: a `Retry-After` of seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// An HTTP answer that is not a success, as a send error: 429 and 5xx are worth retrying
/// (after what the provider asked), 401 and 403 are the shop's configuration (retried, so a
/// fixed key sends them), anything else can never succeed.
pub fn failure(status: u16, headers: &reqwest::header::HeaderMap, detail: String) -> SendError {
    match status {
        429 | 500..=599 | 401 | 403 => SendError::Retry {
            error: format!("{status}: {detail}"),
            after: retry_after(headers),
        },
        _ => SendError::Permanent(format!("{status}: {detail}")),
    }
}
