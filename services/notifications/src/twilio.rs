//! Twilio's Messages API: one form-encoded request per SMS to
//! `/2010-04-01/Accounts/{AccountSid}/Messages.json`, with HTTP Basic auth (the account SID
//! and auth token), answered 201 with the message's `sid`.

use std::time::Duration;

use kazna_kernel::Secret;
use serde_json::Value;

use crate::message::{Message, SendError, Sender, Sending, Sent, failure};

pub struct Twilio {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: Secret,
    from: String,
}

impl Twilio {
    pub fn new(
        api_base: &str,
        account_sid: &str,
        auth_token: Secret,
        from: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            api_base: api_base.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token,
            from: from.to_owned(),
        }
    }

    async fn post(&self, m: &Message) -> Result<Sent, SendError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &m.to)
            .append_pair("From", &self.from)
            .append_pair("Body", &m.text)
            .finish();
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_base, self.account_sid
        );
        let sent = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| SendError::Retry {
                error: format!("twilio: {e}"),
                after: None,
            })?;
        let status = sent.status().as_u16();
        let headers = sent.headers().clone();
        let body: Value = sent.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(Sent {
                provider_message_id: body["sid"].as_str().map(str::to_owned),
            });
        }
        let detail = match (body["code"].as_i64(), body["message"].as_str()) {
            (Some(code), Some(message)) => format!("{code} {message}"),
            (_, Some(message)) => message.to_owned(),
            _ => "refused".to_owned(),
        };
        Err(failure(status, &headers, format!("twilio: {detail}")))
    }
}

impl Sender for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, m: &'a Message) -> Sending<'a> {
        Box::pin(self.post(m))
    }
}
