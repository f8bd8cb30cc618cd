//! Checks that need more than one key, or more than the type of a value.

use super::{Config, ConfigError};

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    validate_store(config)?;
    validate_api(config)?;
    validate_auth(config)?;
    validate_audit(config)?;
    validate_postgres(config)?;
    validate_targets(config)?;
    super::alerts::validate_alerts(&config.alerts)?;
    super::scim::validate_scim(&config.scim)?;
    super::access::validate_access(&config.access, &config.break_glass)?;
    validate_log(config)
}

fn validate_postgres(config: &Config) -> Result<(), ConfigError> {
    let postgres = &config.postgres;
    if postgres.max_message_bytes < 1024 {
        return Err(ConfigError::invalid(
            "postgres.max_message_bytes",
            postgres.max_message_bytes,
            "at least 1024 bytes",
        ));
    }
    if postgres.max_connections == 0 {
        return Err(ConfigError::invalid("postgres.max_connections", 0, "at least 1"));
    }
    if postgres.max_connections_per_user == 0 {
        return Err(ConfigError::invalid("postgres.max_connections_per_user", 0, "at least 1"));
    }
    for (key, value) in [
        ("postgres.startup_timeout", postgres.startup_timeout),
        ("postgres.upstream_connect_timeout", postgres.upstream_connect_timeout),
        ("postgres.idle_timeout", postgres.idle_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::invalid(key, "0s", "a positive duration such as \"30s\""));
        }
    }
    Ok(())
}

fn validate_targets(config: &Config) -> Result<(), ConfigError> {
    for (name, target) in &config.targets {
        let key = |field: &str| format!("targets.{name}.{field}");
        if !is_target_name(name) {
            return Err(ConfigError::invalid(
                &format!("targets.{name}"),
                format!("\"{name}\""),
                "a target name of 1 to 63 lowercase letters, digits, `_` or `-`, starting with a letter",
            ));
        }
        if target.password_env.is_some() && target.password_file.is_some() {
            return Err(ConfigError::invalid(
                &key("password_file"),
                target.password_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                "either password_env or password_file, not both",
            ));
        }
        if target.tls == super::UpstreamTlsMode::VerifyFull && target.ca_file.is_none() {
            return Err(ConfigError::invalid(
                &key("tls"),
                "\"verify-full\"",
                "a ca_file to verify the server with, or tls = \"require\" or \"disable\"",
            ));
        }
    }
    Ok(())
}

/// Target names double as PostgreSQL database names that clients type.
pub(crate) fn is_target_name(name: &str) -> bool {
    crate::names::TargetName::new(name).is_ok()
}

fn validate_store(config: &Config) -> Result<(), ConfigError> {
    let url = &config.store.url;
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let userinfo = rest.split('@').next().unwrap_or_default();
        if rest.contains('@') && userinfo.contains(':') {
            return Err(ConfigError::invalid(
                "store.url",
                "a postgres:// URL with a password",
                "no password in the configuration file; set the whole URL in the \
                 PORTCULLIS_STORE_URL environment variable instead",
            ));
        }
        return Ok(());
    }
    if url
        .strip_prefix("sqlite://")
        .is_some_and(|path| !path.is_empty())
    {
        return Ok(());
    }
    Err(ConfigError::invalid(
        "store.url",
        format!("\"{url}\""),
        "\"sqlite://PATH\" or \"postgres://USER@HOST:PORT/DATABASE\"",
    ))
}

fn validate_api(config: &Config) -> Result<(), ConfigError> {
    if !config.api.tls && !config.api.listen.ip().is_loopback() {
        return Err(ConfigError::invalid(
            "api.tls",
            "false",
            "true when api.listen is not a loopback address, because tokens and \
             passwords cross the network",
        ));
    }
    Ok(())
}

fn validate_auth(config: &Config) -> Result<(), ConfigError> {
    let auth = &config.auth;
    if auth.token_lifetime.is_zero() {
        return Err(ConfigError::invalid(
            "auth.token_lifetime",
            "0s",
            "a positive duration such as \"8h\"",
        ));
    }
    if auth.token_lifetime > auth.max_token_lifetime {
        return Err(ConfigError::invalid(
            "auth.token_lifetime",
            format!("\"{}\"", humantime::format_duration(auth.token_lifetime)),
            &format!(
                "at most auth.max_token_lifetime (\"{}\")",
                humantime::format_duration(auth.max_token_lifetime)
            ),
        ));
    }
    if auth.totp_skew_steps > 3 {
        return Err(ConfigError::invalid(
            "auth.totp_skew_steps",
            auth.totp_skew_steps,
            "0 to 3 (each step is 30 seconds; a wide window weakens the second factor)",
        ));
    }
    if auth.max_failures_per_user == 0 {
        return Err(ConfigError::invalid(
            "auth.max_failures_per_user",
            0,
            "at least 1",
        ));
    }
    if auth.max_failures_per_address == 0 {
        return Err(ConfigError::invalid(
            "auth.max_failures_per_address",
            0,
            "at least 1",
        ));
    }
    if auth.lockout.is_zero() {
        return Err(ConfigError::invalid(
            "auth.lockout",
            "0s",
            "a positive duration such as \"15m\"",
        ));
    }
    Ok(())
}

fn validate_audit(config: &Config) -> Result<(), ConfigError> {
    if config.audit.checkpoint_every == 0 {
        return Err(ConfigError::invalid(
            "audit.checkpoint_every",
            0,
            "at least 1 record",
        ));
    }
    if config.audit.checkpoint_interval.is_zero() {
        return Err(ConfigError::invalid(
            "audit.checkpoint_interval",
            "0s",
            "a positive duration such as \"60s\"",
        ));
    }
    Ok(())
}

fn validate_log(config: &Config) -> Result<(), ConfigError> {
    if config.log.level.trim().is_empty() {
        return Err(ConfigError::invalid(
            "log.level",
            "\"\"",
            "a filter such as \"info\" or \"debug\"",
        ));
    }
    Ok(())
}
