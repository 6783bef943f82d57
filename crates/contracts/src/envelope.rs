use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// A payload type that can travel on the bus: it knows its routing key and version.
pub trait Event: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    const VERSION: u32 = 1;
}

/// The JSON envelope every event is wrapped in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    pub correlation_id: Option<String>,
    pub data: serde_json::Value,
}

impl Envelope {
    /// Wraps `event` for publication by `source`.
    pub fn new<E: Event>(
        source: &str,
        correlation_id: Option<String>,
        event: &E,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: Uuid::now_v7(),
            event_type: E::TYPE.to_owned(),
            version: E::VERSION,
            occurred_at: Utc::now(),
            source: source.to_owned(),
            correlation_id,
            data: serde_json::to_value(event)?,
        })
    }

    /// Reads the payload as `E`, if this envelope carries one.
    pub fn is<E: Event>(&self) -> bool {
        self.event_type == E::TYPE
    }

    /// Decodes the payload as `E`.
    pub fn decode<E: Event>(&self) -> Result<E, serde_json::Error> {
        E::deserialize(&self.data)
    }
}
