//! `portcullis login` and `portcullis logout`: clients of the HTTP API.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context as _, Result};
use portcullis_core::config::Config;
use serde_json::{json, Value};

use crate::cli::{LoginArgs, LogoutArgs, OutputFormat, PasswordArgs};

/// Environment variable read for the password when no other source is given.
const PASSWORD_ENV: &str = "PORTCULLIS_PASSWORD";
/// Environment variable read for the token to revoke.
const TOKEN_ENV: &str = "PORTCULLIS_TOKEN";

pub async fn login(config: &Config, args: &LoginArgs, output: OutputFormat) -> Result<()> {
    let password = read_password(args)?;
    let totp = match &args.totp {
        Some(code) => code.clone(),
        None => prompt("TOTP code: ")?,
    };
    let mut body = json!({"user": args.user, "password": password, "totp": totp});
    if let Some(lifetime) = args.lifetime {
        body["lifetime_seconds"] = json!(lifetime.as_secs());
    }

    let client = http_client(config)?;
    let url = format!("{}/v1/login", api_base(config, args.api_url.as_deref()));
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the Portcullis API at {url}; is `portcullis serve` running?"))?;
    let status = response.status();
    let value: Value = response.json().await.context("reading the API response")?;
    if !status.is_success() {
        bail!("login failed ({status}): {}", value["error"].as_str().unwrap_or("no reason given"));
    }

    match output {
        OutputFormat::Json => println!("{value}"),
        OutputFormat::Table | OutputFormat::Csv => {
            println!("{}", value["token"].as_str().unwrap_or_default());
            eprintln!(
                "Token for {} valid until {}. Use it as the password of your database client.",
                value["user"].as_str().unwrap_or_default(),
                value["expires_at"].as_str().unwrap_or_default()
            );
            if value["password_change_required"].as_bool() == Some(true) {
                eprintln!("Your password is a one-time password; choose your own with `portcullis password`.");
            }
        }
    }
    Ok(())
}

/// `portcullis password`: replaces the user's password through `POST /v1/password`.
pub async fn change_password(config: &Config, args: &PasswordArgs) -> Result<()> {
    let (current, new_password) = if args.password_stdin {
        (read_line_stdin()?, read_line_stdin()?)
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no passwords given: use --password-stdin with the current and the new password on two lines");
        }
        let current = prompt_hidden("Current password: ")?;
        let new_password = prompt_hidden("New password: ")?;
        if prompt_hidden("New password again: ")? != new_password {
            bail!("the two new passwords differ; nothing changed");
        }
        (current, new_password)
    };
    let totp = match &args.totp {
        Some(code) => code.clone(),
        None => prompt("TOTP code: ")?,
    };
    let body = json!({"user": args.user, "current_password": current, "totp": totp, "new_password": new_password});

    let client = http_client(config)?;
    let url = format!("{}/v1/password", api_base(config, args.api_url.as_deref()));
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the Portcullis API at {url}; is `portcullis serve` running?"))?;
    let status = response.status();
    let value: Value = response.json().await.context("reading the API response")?;
    if !status.is_success() {
        bail!("password change failed ({status}): {}", value["error"].as_str().unwrap_or("no reason given"));
    }
    eprintln!("Password changed for {}. Tokens issued before stay valid.", args.user);
    Ok(())
}

pub async fn logout(config: &Config, args: &LogoutArgs) -> Result<()> {
    let token = if args.token_stdin {
        read_line_stdin()?
    } else {
        std::env::var(TOKEN_ENV)
            .with_context(|| format!("no token to revoke: set {TOKEN_ENV} or pass --token-stdin"))?
    };
    let client = http_client(config)?;
    let url = format!("{}/v1/logout", api_base(config, args.api_url.as_deref()));
    let response = client
        .post(&url)
        .bearer_auth(token.trim())
        .send()
        .await
        .with_context(|| format!("cannot reach the Portcullis API at {url}; is `portcullis serve` running?"))?;
    let status = response.status();
    if !status.is_success() {
        let value: Value = response.json().await.unwrap_or(Value::Null);
        bail!("logout failed ({status}): {}", value["error"].as_str().unwrap_or("no reason given"));
    }
    eprintln!("Token revoked.");
    Ok(())
}

fn api_base(config: &Config, explicit: Option<&str>) -> String {
    if let Some(url) = explicit {
        return url.trim_end_matches('/').to_string();
    }
    let scheme = if config.api.tls { "https" } else { "http" };
    let listen = config.api.listen;
    let host = if listen.ip().is_unspecified() {
        "localhost".to_string()
    } else if listen.ip().is_loopback() && listen.is_ipv4() {
        "localhost".to_string()
    } else {
        listen.ip().to_string()
    };
    format!("{scheme}://{host}:{}", listen.port())
}

/// Builds an HTTPS client that trusts the gateway's CA (`tls.ca_file`).
fn http_client(config: &Config) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
    let ca_path = config.resolve(&config.tls.ca_file);
    if config.api.tls {
        let pem = std::fs::read(&ca_path)
            .with_context(|| format!("reading the gateway CA {} (tls.ca_file)", ca_path.display()))?;
        let certificate = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("parsing the gateway CA {}", ca_path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().context("building the HTTP client")
}

fn read_password(args: &LoginArgs) -> Result<String> {
    if args.password_stdin {
        return read_line_stdin();
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password given: use --password-stdin or set {PASSWORD_ENV}");
    }
    prompt_hidden("Password: ")
}

fn read_line_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn prompt(label: &str) -> Result<String> {
    eprint!("{label}");
    std::io::stderr().flush().ok();
    read_line_stdin()
}

/// Reads a line with terminal echo off, so the password does not appear on screen.
fn prompt_hidden(label: &str) -> Result<String> {
    let echo_off = std::process::Command::new("stty").arg("-echo").status().is_ok_and(|s| s.success());
    let line = prompt(label);
    if echo_off {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    line
}
