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
    let audit = context.open_audit().await?;
    audit
        .append(
            AuditEvent::new(event_types::CONFIG_LOADED, "gateway configuration", Outcome::Success)
                .meta("config_sha256", config_hash(config)?)
                .meta("instance", config.gateway.instance_name.clone()),
        )
        .await
        .context("recording the loaded configuration in the audit log")?;

    let api_listener = std::net::TcpListener::bind(config.api.listen).map_err(|source| {
        portcullis_api::ServeError::Bind {
            addr: config.api.listen,
            source,
        }
    })?;
    let api_addr = api_listener.local_addr()?;
    let api_state = Arc::new(ApiState {
        accounts: accounts.clone(),
        audit: audit.clone(),
        metrics: Some(metrics),
    });
    let api_handle = Handle::new();
    let api_tls = config.api.tls.then(|| server_tls.clone());
    let api_task = tokio::spawn(portcullis_api::serve(api_listener, api_tls, api_state, api_handle.clone()));
    let postgres = if config.postgres.enabled {
        let policy = crate::gateway::load_policy(config, &context.master_key).await?;
        if let Some(policy) = &policy {
            audit
                .append(
                    AuditEvent::new(event_types::POLICY_RELOADED, "policy set loaded", Outcome::Success)
                        .meta("policy_sha256", policy.engine.policy_hash()),
                )
                .await?;
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
    audit.shutdown().await.context("closing the audit log")?;
    store.close().await;
    tracing::info!("Portcullis stopped");
    Ok(())
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
