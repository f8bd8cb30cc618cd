//! Error responses in one format. Axum builds some errors itself as plain text:
//! a body that is not JSON, a wrong content type, an unknown route or method, a
//! bad query string. This layer rewrites every error response that is not JSON
//! into [`ErrorBody`], or into SCIM error JSON under `/scim/`. It also rejects a
//! body declared larger than [`MAX_BODY_BYTES`] with status 413.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;

use crate::error::ErrorBody;
use crate::scim::error::ScimError;

/// Largest request body the API reads, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Bytes of an oversized body read and discarded before the 413 response. A
/// client still sending when the server closes the connection gets a reset and
/// may lose the response, which happens for bodies larger than this.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Time spent discarding an oversized body before the 413 response.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest plain-text error body carried into the JSON message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Rejects oversized bodies and rewrites plain-text error responses as JSON.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let is_scim = request.uri().path().starts_with("/scim/");
    if let Some(length) = declared_length(request.headers()) {
        if length > MAX_BODY_BYTES as u64 {
            discard(request.into_body()).await;
            let message = format!(
                "the request body is {length} bytes, over the limit of {MAX_BODY_BYTES} bytes; send a smaller body"
            );
            let mut response = error_response(is_scim, StatusCode::PAYLOAD_TOO_LARGE, message);
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    }
    let response = next.run(request).await;
    if !needs_rewrite(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { default_message(parts.status) } else { text };
    let mut rewritten = error_response(is_scim, parts.status, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name, value.clone());
        }
    }
    rewritten
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads and drops up to [`DRAIN_MAX_BYTES`] of `body`, for at most [`DRAIN_TIMEOUT`].
async fn discard(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let drain = async {
        while let Some(Ok(chunk)) = stream.next().await {
            let chunk: Bytes = chunk;
            read += chunk.len();
            if read > DRAIN_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}

/// Returns whether `response` is an error whose body is not JSON.
fn needs_rewrite(response: &Response) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    !content_type.is_some_and(|value| value.contains("json"))
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such endpoint; /openapi.json lists the endpoints".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not accept the method; /openapi.json lists the methods".to_string(),
        other => other.canonical_reason().unwrap_or("request failed").to_string(),
    }
}

fn error_response(is_scim: bool, status: StatusCode, message: String) -> Response {
    if is_scim {
        let scim_type = (status == StatusCode::BAD_REQUEST).then_some("invalidValue");
        return ScimError { status, scim_type, detail: message }.into_response();
    }
    (status, Json(ErrorBody { error: message })).into_response()
}
