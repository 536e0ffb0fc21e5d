//! diagd's own logging: tracing-subscriber with an EnvFilter behind a reload
//! handle (so the level can change at run time), human or JSON output on
//! stderr; colour only on a terminal and never with NO_COLOR set.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, reload, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Changes the active log filter while diagd runs.
pub type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// Installs the global subscriber. Fails when `filter` is not a valid
/// EnvFilter directive.
pub fn init(format: LogFormat, filter: &str) -> Result<FilterHandle, String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter {filter:?}: {e}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let result = match format {
        LogFormat::Human => registry
            .with(fmt::layer().with_ansi(colour).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
    result.map_err(|e| format!("installing the log subscriber: {e}"))?;
    Ok(handle)
}
