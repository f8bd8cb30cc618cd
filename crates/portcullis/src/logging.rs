//! Diagnostic logging with `tracing`: text for people or JSON for collectors, on
//! standard error. The audit log is separate and never goes through here.

use std::io::IsTerminal;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour());
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
        .with_ansi(use_colour())
        .try_init();
}

/// Returns whether log lines may carry ANSI colour codes: only when standard error
/// is a terminal and `NO_COLOR` is unset, so log files and pipes get plain text.
fn use_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}
