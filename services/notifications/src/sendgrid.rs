//! SendGrid's v3 mail-send API: one JSON request per email, `Authorization: Bearer`, answered
//! 202 with the message's id in `X-Message-Id`.

use std::time::Duration;

use kazna_kernel::Secret;
use serde_json::{Value, json};

use crate::message::{Message, SendError, Sender, Sending, Sent, failure};

pub struct SendGrid {
    http: reqwest::Client,
    api_base: String,
    api_key: Secret,
    from: Value,
}

/// `Name <address>` or a bare address, as SendGrid's `{email, name}`.
pub fn mailbox(s: &str) -> Value {
    match s.rsplit_once('<') {
        Some((name, rest)) => {
            let email = rest.trim_end_matches('>').trim();
            let name = name.trim().trim_matches('"');
            match name.is_empty() {
                true => json!({"email": email}),
                false => json!({"email": email, "name": name}),
            }
        }
        None => json!({"email": s.trim()}),
    }
}

impl SendGrid {
    pub fn new(api_base: &str, api_key: Secret, from: &str, timeout: Duration) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            api_base: api_base.trim_end_matches('/').to_owned(),
            api_key,
            from: mailbox(from),
        }
    }

    pub fn body(&self, m: &Message) -> Value {
        let mut content = vec![json!({"type": "text/plain", "value": m.text})];
        if let Some(html) = &m.html {
            content.push(json!({"type": "text/html", "value": html}));
        }
        json!({
            "personalizations": [{"to": [{"email": m.to}]}],
            "from": self.from,
            "subject": m.subject,
            "content": content,
            "custom_args": {"delivery_id": m.id.to_string()},
        })
    }

    async fn post(&self, m: &Message) -> Result<Sent, SendError> {
        let sent = self
            .http
            .post(format!("{}/v3/mail/send", self.api_base))
            .bearer_auth(self.api_key.expose())
            .json(&self.body(m))
            .send()
            .await
            .map_err(|e| SendError::Retry {
                error: format!("sendgrid: {e}"),
                after: None,
            })?;
        let status = sent.status().as_u16();
        let headers = sent.headers().clone();
        if (200..300).contains(&status) {
            let id = headers
                .get("x-message-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Sent {
                provider_message_id: id,
            });
        }
        let body: Value = sent.json().await.unwrap_or(Value::Null);
        let detail = body["errors"][0]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_owned();
        Err(failure(status, &headers, format!("sendgrid: {detail}")))
    }
}

impl Sender for SendGrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    fn send<'a>(&'a self, m: &'a Message) -> Sending<'a> {
        Box::pin(self.post(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_from_line_becomes_a_sendgrid_mailbox() {
        assert_eq!(
            mailbox("Kazna <shop@kazna.local>"),
            json!({"email": "shop@kazna.local", "name": "Kazna"})
        );
        assert_eq!(
            mailbox("\"The Shop\" <a@b.c>"),
            json!({"email": "a@b.c", "name": "The Shop"})
        );
        assert_eq!(mailbox("a@b.c"), json!({"email": "a@b.c"}));
        assert_eq!(mailbox("<a@b.c>"), json!({"email": "a@b.c"}));
    }
}
