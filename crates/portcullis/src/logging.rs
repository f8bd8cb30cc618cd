//! Diagnostic logging with `tracing`: text for people or JSON for collectors, on
//! standard error. The audit log is separate and never goes through here.

use anyhow::{Context, Result};
use portcullis_core::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Starts logging as the `[log]` section says; `RUST_LOG` overrides the level.
pub fn init(config: &LogConfig) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) => EnvFilter::try_new(&value).with_context(|| format!("invalid RUST_LOG {value:?}"))?,
        Err(_) => EnvFilter::try_new(&config.level)
            .with_context(|| format!("invalid log.level {:?}: expected a filter such as \"info\"", config.level))?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second initialization (tests calling in twice) keeps the first subscriber.
    drop(result);
    Ok(())
}

/// Starts warning-level text logging for commands that run before a configuration exists.
pub fn init_default() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}
