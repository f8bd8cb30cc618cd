//! `portcullis demo`: a throwaway PostgreSQL with synthetic ePHI behind a gateway,
//! a scenario played through real `psql` sessions, and proof that the audit log
//! detects tampering. With `--serve`, the environment stays up for the user's own
//! clients and its details go to a JSON state file.

mod alert_receiver;
mod config;
mod environment;
mod lifecycle;
mod personas;
mod scenario;
mod script;
mod tamper;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;

use crate::cli::{DemoArgs, InitArgs};
use alert_receiver::AlertReceiver;
use environment::{Gateway, TARGET};
use personas::Credentials;

const ADMIN: &str = "admin";

pub async fn run(args: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let workdir = tempfile::Builder::new().prefix("portcullis-demo-").tempdir()?;
    let gateway_password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);

    say("Starting a throwaway PostgreSQL cluster and loading the synthetic EHR database");
    let cluster = tokio::task::block_in_place(|| environment::start_database(&gateway_password))?;
    println!("      PostgreSQL on 127.0.0.1:{}, database ehr: 5,000 synthetic patients (SSNs only in the never-issued 9xx range)", cluster.port());

    say("Initializing a gateway (embedded store, keys, TLS certificate, audit log)");
    let dir = workdir.path().join("gateway");
    let api_port = portcullis_cluster::free_port()?;
    let pg_port = portcullis_cluster::free_port()?;
    let init = InitArgs {
        dir: dir.clone(),
        admin: ADMIN.to_string(),
        tls_hosts: Vec::new(),
        api_port,
    };
    crate::commands::init::initialize(&init).await?;
    let alerts = AlertReceiver::start().await?;
    let mut gateway = Gateway::configure(&dir, api_port, pg_port, &cluster, &gateway_password, &alerts)?;
    gateway.start()?;
    println!("      gateway: PostgreSQL clients on localhost:{pg_port}, API on https://localhost:{api_port}");
    println!("      alerts: signed webhook to a receiver in this process at {}", alerts.url);

    say("Creating the personas, each with a TOTP second factor, and logging them in");
    let credentials = tokio::task::block_in_place(|| personas::enroll(&gateway, ADMIN))?;
    for persona in &personas::PERSONAS {
        println!("      {:<6} {} ({})", persona.name, persona.description, persona.access_summary());
    }
    println!();

    if args.serve {
        return serve_until_stopped(args, &gateway, &cluster, &credentials, &alerts).await;
    }

    let steps = script::steps();
    let mut story = scenario::Story::new(&gateway, &alerts, &credentials);
    for (index, step) in steps.iter().enumerate() {
        tokio::task::block_in_place(|| scenario::run_step(&mut story, index + 1, steps.len(), step))?;
    }

    say("Verifying the audit log, then tampering with a copy of it");
    tokio::task::block_in_place(|| tamper::verify_and_tamper(&gateway, &alerts, workdir.path()))?;

    gateway.stop()?;
    drop(cluster);
    say(&format!("Demo finished in {:.0} s; everything it started is stopped", started.elapsed().as_secs_f64()));
    Ok(())
}

fn say(text: &str) {
    println!("== {text}");
}

async fn serve_until_stopped(
    args: &DemoArgs,
    gateway: &Gateway,
    cluster: &portcullis_cluster::Cluster,
    credentials: &[Credentials],
    alerts: &AlertReceiver,
) -> Result<()> {
    let state_file = args
        .state_file
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("portcullis-demo.json"));
    let personas: serde_json::Map<String, serde_json::Value> = credentials
        .iter()
        .map(|c| (c.user.clone(), json!({"user": c.user, "token": c.token, "totp_secret": c.totp_secret, "password": c.password})))
        .collect();
    let state = json!({
        "gateway": {"host": "localhost", "port": gateway.pg_port, "api": format!("https://localhost:{}", gateway.api_port)},
        "ca_cert": gateway.ca_cert,
        "target": TARGET,
        "config": gateway.config,
        "direct": {"host": cluster.host(), "port": cluster.port(), "user": cluster.superuser(), "password": cluster.superuser_password(), "database": "ehr"},
        "personas": personas,
        "alert_webhook": alerts.url,
    });
    write_state(&state_file, &state)?;
    println!("The demo environment is running. Its details are in {}", state_file.display());
    println!("Connect, for example:");
    println!(
        "  PGPASSWORD=$(jq -r .personas.alice.token {}) psql \"host=localhost port={} dbname={TARGET} user=alice sslmode=verify-full sslrootcert={}\"",
        state_file.display(),
        gateway.pg_port,
        gateway.ca_cert.display()
    );
    println!("Alerts reach a webhook receiver in this process and are printed here as they arrive.");
    println!("Press Ctrl-C to stop everything.");

    tokio::select! {
        _ = wait_for_signal() => {}
        Err(error) = print_alerts(alerts) => {
            eprintln!("warning: alerts are no longer printed: {error:#}");
            wait_for_signal().await;
        }
    }
    if let Err(error) = std::fs::remove_file(&state_file) {
        eprintln!("warning: cannot remove {}: {error}", state_file.display());
    }
    println!("Stopping the demo environment");
    Ok(())
}

/// Prints each alert the receiver gets from now on, until an error.
async fn print_alerts(alerts: &AlertReceiver) -> Result<()> {
    let mut seen = alerts.since(0)?.len();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for alert in alerts.since(seen)? {
            seen += 1;
            match alert {
                Ok(alert) => println!(
                    "alert: {} {} for {}, signature valid",
                    alert["severity"].as_str().unwrap_or("?"),
                    alert["kind"].as_str().unwrap_or("?"),
                    alert["subject"].as_str().unwrap_or("?")
                ),
                Err(error) => println!("alert rejected: {error:#}"),
            }
        }
    }
}

fn write_state(path: &Path, state: &serde_json::Value) -> Result<()> {
    let temporary: PathBuf = path.with_extension("json.tmp");
    // The file holds tokens and TOTP secrets, so only its owner may read it.
    let _ = std::fs::remove_file(&temporary);
    crate::files::write_new(&temporary, &serde_json::to_vec_pretty(state)?, crate::files::SECRET_MODE)?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
