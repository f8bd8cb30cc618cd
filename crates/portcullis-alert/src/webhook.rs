//! The HTTP webhook sink: each alert as a JSON POST signed with HMAC-SHA256.
//!
//! Headers of each request:
//!
//! - `X-Portcullis-Timestamp`: Unix time of this attempt, in seconds.
//! - `X-Portcullis-Signature`: `sha256=` and the hex HMAC-SHA256, under the shared secret,
//!   of the timestamp, a `.`, and the body bytes. A receiver recomputes it, compares in
//!   constant time, and rejects a timestamp older than a few minutes to stop replays.
//! - `X-Portcullis-Alert-Id`: the alert's UUID, the same on every retry, so the receiver
//!   can drop duplicates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::alert::Alert;
use crate::error::DeliveryError;

pub const SIGNATURE_HEADER: &str = "X-Portcullis-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Portcullis-Timestamp";
pub const ALERT_ID_HEADER: &str = "X-Portcullis-Alert-Id";

/// Returns `sha256=<hex>`: the HMAC-SHA256 under `secret` of `timestamp`, `.`, and `body`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so new_from_slice cannot fail here.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) struct WebhookSink {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
    instance: String,
}

impl WebhookSink {
    pub(crate) fn new(url: String, secret: Vec<u8>, timeout: Duration, instance: String) -> Result<WebhookSink, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookSink {
            client,
            url,
            secret,
            instance,
        })
    }

    pub(crate) async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let mut body = serde_json::to_value(alert).map_err(|error| DeliveryError::permanent(error.to_string()))?;
        body["instance"] = self.instance.clone().into();
        let body = serde_json::to_vec(&body).map_err(|error| DeliveryError::permanent(error.to_string()))?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0);
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, timestamp, &body))
            .header(ALERT_ID_HEADER, alert.id.to_string())
            .body(body)
            .send()
            .await
            // Without the URL: it may carry a token in its query string.
            .map_err(|error| DeliveryError::retryable(format!("request failed: {}", error.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = format!("the receiver returned HTTP {status}");
        // Other client errors (a rejected signature, a wrong path) do not heal by retrying.
        let retry = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        Err(if retry {
            DeliveryError::retryable(message)
        } else {
            DeliveryError::permanent(message)
        })
    }
}
