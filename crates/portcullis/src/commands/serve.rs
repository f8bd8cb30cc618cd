//! `portcullis serve`: every listener until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum_server::Handle;
use metrics_exporter_prometheus::PrometheusBuilder;
use portcullis_api::ApiState;
use portcullis_audit::{event_types, AuditEvent, Outcome};

use crate::commands::init::config_hash;
use crate::context::Context;
use crate::tls;

pub async fn run(context: Context) -> Result<()> {
    let config = &context.config;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let server_tls = tls::server_config(
        &config.resolve(&config.tls.cert_file),
        &config.resolve(&config.tls.key_file),
    )?;

    let store = context.open_store().await?;
    let accounts = Arc::new(context.accounts(store.clone())?);
    let audit = match context.open_audit().await {
        Ok(audit) => audit,
        Err(error) => {
            alert_if_log_inconsistent(config, &error).await;
            return Err(error);
        }
    };
    let alerts = crate::commands::alerting::start(config, Some(&audit))?;
    // Repeated failed logins (API and PostgreSQL front end) and denied statements are
    // found in the audit events every part of the gateway appends.
    audit.set_observer(portcullis_alert::EscalationWatch::new(alerts.clone(), &config.alerts).observer());
    audit
        .append(
            AuditEvent::new(event_types::CONFIG_LOADED, "gateway configuration", Outcome::Success)
                .meta("config_sha256", config_hash(config)?)
                .meta("instance", config.gateway.instance_name.clone()),
        )
        .await
        .context("recording the loaded configuration in the audit log")?;

    let api_listener = if config.api.enabled {
        let listener = std::net::TcpListener::bind(config.api.listen).map_err(|source| {
            portcullis_api::ServeError::Bind {
                addr: config.api.listen,
                source,
            }
        })?;
        Some(listener)
    } else {
        None
    };
    let api_addr = match &api_listener {
        Some(listener) => listener.local_addr()?.to_string(),
        None => "disabled".to_string(),
    };
    let api_state = Arc::new(ApiState {
        accounts: accounts.clone(),
        audit: audit.clone(),
        metrics: Some(metrics),
        access: Some(Arc::new(portcullis_access::AccessService::new(
            accounts.clone(),
            audit.clone(),
            alerts.clone(),
            Arc::new(portcullis_core::SystemClock),
            config.access.clone(),
            config.break_glass.clone(),
        )
        .with_config_targets(config.targets.keys().cloned()))),
        scim: start_scim(config, &accounts, &audit, &alerts).await?,
    });
    let api_handle = Handle::new();
    let api_tls = config.api.tls.then(|| server_tls.clone());
    let api_task = match api_listener {
        Some(listener) => tokio::spawn(portcullis_api::serve(listener, api_tls, api_state, api_handle.clone())),
        // Without the API, only SIGINT or SIGTERM stops `serve`.
        None => tokio::spawn(std::future::pending()),
    };
    let mut policy_watcher = None;
    let postgres = if config.postgres.enabled {
        let policy = crate::gateway::load_policy(config, &context.master_key).await?;
        if let Some(policy) = &policy {
            audit
                .append(
                    AuditEvent::new(event_types::POLICY_RELOADED, "policy set loaded", Outcome::Success)
                        .meta("policy_sha256", policy.engine.policy_hash())
                        .meta("trigger", "start")
                        .meta("instance", config.gateway.instance_name.clone()),
                )
                .await?;
            policy_watcher = Some(tokio::spawn(crate::gateway::policy_reload::watch_policy_set(
                policy.clone(),
                store.clone(),
                audit.clone(),
                config.gateway.instance_name.clone(),
            )));
        }
        let parts = crate::gateway::FrontEndParts {
            policy,
            config: std::sync::Arc::new(config.clone()),
            store: store.clone(),
            accounts: accounts.clone(),
            audit: audit.clone(),
            master_key: portcullis_core::MasterKey::from_bytes(*context.master_key.expose_bytes()),
            tls: server_tls.clone(),
        };
        Some(start_postgres(parts, store.clone()).await?)
    } else {
        None
    };
    let postgres_addr = postgres
        .as_ref()
        .map(|running| running.address.to_string())
        .unwrap_or_else(|| "disabled".to_string());
    tracing::info!(
        postgres = %postgres_addr,
        api = %api_addr,
        tls = config.api.tls,
        instance = %config.gateway.instance_name,
        "Portcullis started"
    );
    audit
        .append(
            AuditEvent::new(event_types::GATEWAY_STARTED, "listeners open", Outcome::Success)
                .meta("api", api_addr.to_string())
                .meta("postgres", postgres_addr.clone())
                .meta("instance", config.gateway.instance_name.clone()),
        )
        .await?;

    let reason = wait_for_shutdown(api_task).await;
    tracing::info!(%reason, "Portcullis stopping");
    api_handle.graceful_shutdown(Some(Duration::from_secs(5)));
    if let Some(watcher) = policy_watcher {
        watcher.abort();
    }
    if let Some(running) = postgres {
        running.stop().await;
    }

    let stop = audit
        .append(
            AuditEvent::new(event_types::GATEWAY_STOPPED, reason.clone(), Outcome::Success)
                .meta("instance", config.gateway.instance_name.clone()),
        )
        .await;
    if let Err(error) = stop {
        tracing::error!(%error, "recording the stop in the audit log failed");
    }
    let undelivered = alerts.flush(ALERT_FLUSH_AT_STOP).await;
    if undelivered > 0 {
        tracing::error!(undelivered, "alerts not delivered before the gateway stopped");
    }
    audit.shutdown().await.context("closing the audit log")?;
    store.close().await;
    tracing::info!("Portcullis stopped");
    Ok(())
}

/// Starts the SCIM endpoints when `[scim] enabled` is set.
async fn start_scim(
    config: &portcullis_core::config::Config,
    accounts: &Arc<portcullis_store::accounts::Accounts>,
    audit: &portcullis_audit::AuditLog,
    alerts: &portcullis_alert::Alerts,
) -> Result<Option<Arc<portcullis_api::scim::ScimService>>> {
    if !config.scim.enabled {
        return Ok(None);
    }
    let service = portcullis_api::scim::ScimService::start(config, accounts.clone(), audit.clone(), Some(alerts.clone()))
        .await
        .context("starting SCIM provisioning ([scim])")?;
    Ok(Some(Arc::new(service)))
}

/// How long `serve` waits at stop for queued alerts to reach their sinks.
const ALERT_FLUSH_AT_STOP: Duration = Duration::from_secs(5);

/// Sends a critical alert (to the sinks only) when the audit log failed its checks at
/// open, since the gateway cannot start without it.
async fn alert_if_log_inconsistent(config: &portcullis_core::config::Config, error: &anyhow::Error) {
    let Some(audit_error @ portcullis_audit::AuditError::Inconsistent { .. }) = error.downcast_ref::<portcullis_audit::AuditError>()
    else {
        return;
    };
    let alert = portcullis_alert::Alert::new(
        portcullis_alert::AlertKind::AuditVerificationFailed,
        portcullis_alert::Severity::Critical,
        config.resolve(&config.audit.dir).display().to_string(),
    )
    .detail("error", audit_error.to_string())
    .detail("instance", config.gateway.instance_name.clone());
    match crate::commands::alerting::start(config, None) {
        Ok(alerts) => {
            if let Err(raise_error) = alerts.raise(alert).await {
                tracing::error!(error = %raise_error, "raising the audit log alert failed");
            }
            alerts.flush(ALERT_FLUSH_AT_STOP).await;
        }
        Err(start_error) => tracing::error!(error = %start_error, "the audit log alert was not sent"),
    }
}

/// Waits for SIGINT, SIGTERM or the end of a listener task and says which.
async fn wait_for_shutdown(
    api_task: tokio::task::JoinHandle<Result<(), portcullis_api::ServeError>>,
) -> String {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            return "cannot listen for SIGTERM".to_string();
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT received".to_string(),
        _ = terminate.recv() => "SIGTERM received".to_string(),
        result = api_task => match result {
            Ok(Ok(())) => "the HTTP API stopped".to_string(),
            Ok(Err(error)) => {
                tracing::error!(%error, "the HTTP API failed");
                format!("the HTTP API failed: {error}")
            }
            Err(error) => format!("the HTTP API task ended: {error}"),
        },
    }
}

/// The PostgreSQL listener and the revocation watcher while `serve` runs.
struct RunningPostgres {
    address: std::net::SocketAddr,
    registry: std::sync::Arc<portcullis_pg::SessionRegistry>,
    stop: tokio::sync::oneshot::Sender<()>,
    listener_task: tokio::task::JoinHandle<()>,
    watcher: tokio::task::JoinHandle<()>,
}

async fn start_postgres(
    parts: crate::gateway::FrontEndParts,
    store: std::sync::Arc<dyn portcullis_store::Store>,
) -> Result<RunningPostgres> {
    let front_end = crate::gateway::bind(parts).await?;
    let registry = front_end.registry.clone();
    let watcher = tokio::spawn(crate::gateway::revocation::watch_revocations(store, registry.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let address = front_end.address;
    let listener_task = tokio::spawn(async move {
        front_end
            .gateway
            .serve(front_end.listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(RunningPostgres {
        address,
        registry,
        stop,
        listener_task,
        watcher,
    })
}

impl RunningPostgres {
    /// Stops accepting, ends live sessions and waits up to 5 s for the listener.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.watcher.abort();
        let ended = self.registry.terminate_all("the gateway is shutting down");
        if ended > 0 {
            tracing::info!(sessions = ended, "ended live PostgreSQL sessions");
        }
        if tokio::time::timeout(Duration::from_secs(5), self.listener_task).await.is_err() {
            tracing::warn!("the PostgreSQL listener did not stop within 5 s");
        }
    }
}
