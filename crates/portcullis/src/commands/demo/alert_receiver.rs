//! A webhook receiver on 127.0.0.1 inside the demo process. The gateway posts its
//! escalation alerts here, and the scenario checks that an alert arrived with a valid
//! HMAC-SHA256 signature, as a real receiver would.

use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use portcullis_alert::webhook;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;

/// Largest difference between an alert's signed timestamp and the receiver's clock.
const MAX_TIMESTAMP_AGE_SECONDS: u64 = 300;

/// One POST as received.
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
}

/// The running receiver; it stops when dropped.
pub struct AlertReceiver {
    pub url: String,
    /// Shared HMAC secret, which the gateway reads from its configuration.
    pub secret: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AlertReceiver {
    /// Binds a free port on 127.0.0.1 and starts accepting POSTs to `/alerts`.
    pub async fn start() -> Result<AlertReceiver> {
        let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let store = Arc::clone(&deliveries);
        let app = Router::new().route(
            "/alerts",
            post(move |headers: HeaderMap, body: Bytes| {
                let store = Arc::clone(&store);
                async move {
                    match store.lock() {
                        Ok(mut received) => {
                            received.push(Delivery { headers, body });
                            StatusCode::OK
                        }
                        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the alert webhook receiver to 127.0.0.1")?;
        let url = format!("http://{}/alerts", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("warning: the demo's alert webhook receiver stopped: {error}");
            }
        });
        Ok(AlertReceiver {
            url,
            secret: Alphanumeric.sample_string(&mut rand::thread_rng(), 32),
            deliveries,
            task,
        })
    }

    /// Returns the body of the last alert of `kind` received, after checking its
    /// signature against the shared secret.
    pub fn verified(&self, kind: &str) -> Result<Value> {
        let received = self.lock()?;
        let Some(delivery) = received.iter().rev().find(|delivery| is_kind(&delivery.body, kind)) else {
            bail!("the webhook receiver got no {kind} alert ({} alerts of other kinds)", received.len());
        };
        self.check(delivery).with_context(|| format!("the {kind} alert"))
    }

    /// Returns the alerts received after the first `seen`, each checked like
    /// [`AlertReceiver::verified`] does.
    pub fn since(&self, seen: usize) -> Result<Vec<Result<Value>>> {
        let received = self.lock()?;
        Ok(received.iter().skip(seen).map(|delivery| self.check(delivery)).collect())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Vec<Delivery>>> {
        self.deliveries.lock().map_err(|_| anyhow::anyhow!("the alert receiver's lock is poisoned"))
    }

    /// Checks a delivery's signature against the shared secret and parses its body.
    fn check(&self, delivery: &Delivery) -> Result<Value> {
        let header = |name: &str| {
            delivery
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .with_context(|| format!("no {name} header"))
        };
        let timestamp: u64 = header(webhook::TIMESTAMP_HEADER)?
            .parse()
            .with_context(|| format!("{} is not Unix seconds", webhook::TIMESTAMP_HEADER))?;
        // A signed timestamp older than this is a replay, as a real receiver would judge.
        let now = time::OffsetDateTime::now_utc().unix_timestamp().unsigned_abs();
        if now.abs_diff(timestamp) > MAX_TIMESTAMP_AGE_SECONDS {
            bail!("the timestamp {timestamp} is more than {MAX_TIMESTAMP_AGE_SECONDS} s from now");
        }
        let expected = webhook::signature(self.secret.as_bytes(), timestamp, &delivery.body);
        if !constant_time_eq(header(webhook::SIGNATURE_HEADER)?.as_bytes(), expected.as_bytes()) {
            bail!("the signature does not match the shared secret");
        }
        serde_json::from_slice(&delivery.body).context("the body is not JSON")
    }
}

impl Drop for AlertReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_kind(body: &[u8], kind: &str) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|alert| alert["kind"] == kind)
}

/// Compares without an early exit, so the time taken does not reveal how much of a
/// forged signature was right.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}
