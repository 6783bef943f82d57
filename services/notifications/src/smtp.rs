//! Email over SMTP, through lettre: `smtp://user:pass@host:587` upgrades with STARTTLS (and
//! refuses to go on without it), `smtps://host:465` is TLS from the start, and
//! `smtp://host:25?tls=none` is plain, for a relay on the same machine. An answer the server
//! marks permanent (5xx: no such mailbox) fails the message at once; anything else is retried.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart, SinglePart, header::ContentType},
};

use crate::message::{Message, SendError, Sender, Sending, Sent};

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// `url` as lettre reads it: STARTTLS required unless the URL says otherwise.
fn lettre_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = params
        .iter()
        .find_map(|p| p.strip_prefix("tls="))
        .map(str::to_owned);
    match tls.as_deref() {
        Some("none") => params.retain(|p| !p.starts_with("tls=")),
        Some(_) => {}
        None if base.starts_with("smtp://") => params.push("tls=required"),
        None => {}
    }
    match params.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", params.join("&")),
    }
}

impl Smtp {
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url))
            .map_err(|e| format!("notifications.smtp.url: {e}"))?
            .timeout(Some(timeout))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("notifications.from: {e}"))?;
        Ok(Self { transport, from })
    }

    async fn deliver(&self, m: &Message) -> Result<Sent, SendError> {
        let to =
            m.to.parse::<Mailbox>()
                .map_err(|e| SendError::Permanent(format!("smtp: the address {:?}: {e}", m.to)))?;
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@kazna>", m.id)));
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(m.text.clone());
        let email = match &m.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        }
        .map_err(|e| SendError::Permanent(format!("smtp: {e}")))?;
        match self.transport.send(email).await {
            Ok(answer) => Ok(Sent {
                provider_message_id: answer.message().next().map(str::to_owned),
            }),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("smtp: {e}"))),
            Err(e) => Err(SendError::Retry {
                error: format!("smtp: {e}"),
                after: None,
            }),
        }
    }
}

impl Sender for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, m: &'a Message) -> Sending<'a> {
        Box::pin(self.deliver(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_require_starttls_unless_they_say_otherwise() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example:587"),
            "smtp://u:p@mail.example:587?tls=required"
        );
        assert_eq!(
            lettre_url("smtps://u:p@mail.example:465"),
            "smtps://u:p@mail.example:465"
        );
        assert_eq!(
            lettre_url("smtp://localhost:25?tls=none"),
            "smtp://localhost:25"
        );
        assert_eq!(
            lettre_url("smtp://mail.example:587?tls=opportunistic"),
            "smtp://mail.example:587?tls=opportunistic"
        );
    }
}
