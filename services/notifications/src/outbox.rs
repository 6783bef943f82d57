//! The file outbox: each email is written as one RFC 5322 message file (`.eml`, with a text
//! and, when there is one, an HTML part), each SMS as a `.sms` file, so a shop can run without
//! an account and tests can read what was sent.

use std::path::PathBuf;

use chrono::Utc;

use crate::{
    channel::Channel,
    message::{Message, SendError, Sender, Sending, Sent},
};

fn header_safe(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

pub struct FileOutbox {
    pub dir: PathBuf,
    /// The sender of every email.
    pub from: String,
}

impl FileOutbox {
    fn email(&self, m: &Message) -> String {
        let head = format!(
            "Message-ID: <{id}@kazna>\r\nDate: {date}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n",
            id = m.id,
            date = Utc::now().to_rfc2822(),
            from = header_safe(&self.from),
            to = header_safe(&m.to),
            subject = header_safe(&m.subject),
        );
        match &m.html {
            None => format!(
                "{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
                m.text
            ),
            Some(html) => {
                let b = format!("kazna-{}", m.id.simple());
                format!(
                    "{head}Content-Type: multipart/alternative; boundary=\"{b}\"\r\n\r\n\
                     --{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
                     --{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--{b}--\r\n",
                    text = m.text,
                )
            }
        }
    }

    pub async fn write(&self, m: &Message) -> std::io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let (extension, text) = match m.channel {
            Channel::Email => ("eml", self.email(m)),
            Channel::Sms => (
                "sms",
                format!("To: {}\r\n\r\n{}", header_safe(&m.to), m.text),
            ),
        };
        let path = self.dir.join(format!("{}.{extension}", m.id));
        // Written whole under a temporary name, then renamed: readers never see half a file.
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(path)
    }
}

impl Sender for FileOutbox {
    fn name(&self) -> &'static str {
        "file"
    }

    fn send<'a>(&'a self, m: &'a Message) -> Sending<'a> {
        Box::pin(async move {
            match self.write(m).await {
                Ok(path) => Ok(Sent {
                    provider_message_id: path.file_name().map(|f| f.to_string_lossy().into_owned()),
                }),
                Err(e) => Err(SendError::Retry {
                    error: format!("outbox: {e}"),
                    after: None,
                }),
            }
        })
    }
}
