//! Logging and tracing set-up: structured logs, JSON when configured, filtered by
//! `log.level`; spans exported over OTLP when `telemetry.otlp_endpoint` is set.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogFormat, LogSettings, TelemetrySettings};

/// Installs the global subscriber and the span exporter once; later calls (tests) are
/// ignored. `Settings::load` has already refused a level that does not parse; one set in
/// code falls back to `info`.
pub fn init(settings: &LogSettings, telemetry: &TelemetrySettings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    crate::trace::otlp::install(telemetry);
}
