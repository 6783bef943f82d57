//! The notifications service's own settings: `[notifications]`, `KAZNA_NOTIFICATIONS__...`.

use std::path::PathBuf;

use kazna_kernel::{Secret, config::Section};
use serde::{Deserialize, Serialize};

/// How email leaves the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailBackend {
    /// Each message written as a `.eml` file under `outbox_dir`; needs no account.
    File,
    /// An SMTP server (`smtp.url`).
    Smtp,
    /// SendGrid's v3 mail-send API.
    Sendgrid,
}

/// How SMS leaves the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsBackend {
    /// Each message written as a `.sms` file under `outbox_dir`; needs no account.
    File,
    /// Twilio's Messages API.
    Twilio,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsSettings {
    pub email_backend: EmailBackend,
    pub sms_backend: SmsBackend,
    pub outbox_dir: PathBuf,
    /// The sender of every email.
    pub from: String,
    /// Tries per message before it is `failed` (an admin can send it again).
    pub max_attempts: u32,
    /// The pause after the first failed try; it doubles with each try (with jitter), or is
    /// what the provider asked for (`Retry-After`) when that is longer.
    pub retry_base_ms: u64,
    /// How long a provider may take to answer.
    pub timeout_ms: u64,
    pub smtp: SmtpSettings,
    pub sendgrid: SendGridSettings,
    pub twilio: TwilioSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// `smtp://user:pass@host:587` (STARTTLS, required), `smtps://user:pass@host:465`
    /// (TLS from the start) or `smtp://host:25?tls=none` (plain, for a local relay). A
    /// secret: it holds the password.
    pub url: Secret,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            url: Secret::new(""),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendGridSettings {
    pub api_key: Secret,
    pub api_base: String,
}

impl Default for SendGridSettings {
    fn default() -> Self {
        Self {
            api_key: Secret::new(""),
            api_base: "https://api.sendgrid.com".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    /// The number (E.164) or messaging service the shop sends from.
    pub from: String,
    pub api_base: String,
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            auth_token: Secret::new(""),
            from: String::new(),
            api_base: "https://api.twilio.com".into(),
        }
    }
}

impl Default for NotificationsSettings {
    fn default() -> Self {
        Self {
            email_backend: EmailBackend::File,
            sms_backend: SmsBackend::File,
            outbox_dir: PathBuf::from("data/outbox"),
            from: "Kazna <shop@kazna.local>".into(),
            max_attempts: 5,
            retry_base_ms: 2_000,
            timeout_ms: 10_000,
            smtp: SmtpSettings::default(),
            sendgrid: SendGridSettings::default(),
            twilio: TwilioSettings::default(),
        }
    }
}

impl Section for NotificationsSettings {
    const KEY: &'static str = "notifications";
}

impl NotificationsSettings {
    /// Fails naming the first setting a chosen backend cannot work without.
    pub fn check(&self) -> Result<(), kazna_kernel::Error> {
        let missing = |key: &str, backend: &str| {
            Err(kazna_kernel::Error::Config(format!(
                "notifications.{key} must be set for the {backend} backend"
            )))
        };
        if self.email_backend == EmailBackend::Smtp && self.smtp.url.expose().is_empty() {
            return missing("smtp.url", "smtp");
        }
        if self.email_backend == EmailBackend::Sendgrid && self.sendgrid.api_key.expose().is_empty()
        {
            return missing("sendgrid.api_key", "sendgrid");
        }
        if self.sms_backend == SmsBackend::Twilio {
            if self.twilio.account_sid.is_empty() {
                return missing("twilio.account_sid", "twilio");
            }
            if self.twilio.auth_token.expose().is_empty() {
                return missing("twilio.auth_token", "twilio");
            }
            if self.twilio.from.is_empty() {
                return missing("twilio.from", "twilio");
            }
        }
        if self.max_attempts == 0 {
            return Err(kazna_kernel::Error::Config(
                "notifications.max_attempts: at least 1".into(),
            ));
        }
        Ok(())
    }
}
