//! The file outbox: each email is written as one RFC 5322 message file, so a shop can run
//! without a mail account and tests can read what was sent.

use std::path::PathBuf;

use chrono::Utc;
use uuid::Uuid;

pub struct Email<'a> {
    pub id: Uuid,
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

fn header_safe(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

pub struct FileOutbox {
    pub dir: PathBuf,
}

impl FileOutbox {
    pub async fn send(&self, m: &Email<'_>) -> std::io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.dir.join(format!("{}.eml", m.id));
        let text = format!(
            "Message-ID: <{id}@kazna>\r\nDate: {date}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
            id = m.id,
            date = Utc::now().to_rfc2822(),
            from = header_safe(m.from),
            to = header_safe(m.to),
            subject = header_safe(m.subject),
            body = m.body,
        );
        // Written whole under a temporary name, then renamed: readers never see half a file.
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(path)
    }
}
