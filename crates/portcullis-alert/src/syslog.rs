//! The syslog sink: each alert as one RFC 5424 message over UDP (RFC 5426) or TCP with
//! octet-counting framing (RFC 6587).

use std::net::SocketAddr;

use portcullis_core::config::SyslogTransport;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::alert::Alert;
use crate::error::DeliveryError;

/// SD-ID of the structured-data element that carries the alert's fields.
// NOTE: 32473 is the enterprise number that RFC 5612 reserves for documentation; the
// project has no registered number of its own yet.
pub const SD_ID: &str = "portcullis@32473";

/// Formats `alert` as an RFC 5424 message (without transport framing).
pub fn format_message(alert: &Alert, facility: u8, hostname: &str, app_name: &str, instance: &str) -> String {
    let priority = u16::from(facility) * 8 + u16::from(alert.severity.syslog_code());
    let timestamp = alert
        .raised_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "-".to_string());
    let mut structured = format!(
        "[{SD_ID} id=\"{}\" kind=\"{}\" severity=\"{}\" subject=\"{}\" instance=\"{}\"",
        alert.id,
        alert.kind,
        alert.severity.as_str(),
        escape_param(&alert.subject),
        escape_param(instance)
    );
    for (key, value) in &alert.details {
        if !is_sd_name(key) {
            continue;
        }
        let text = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        structured.push_str(&format!(" {key}=\"{}\"", escape_param(&text)));
    }
    structured.push(']');
    let procid = std::process::id();
    // MSG starts with the UTF-8 byte order mark, as RFC 5424 section 6.4 asks for UTF-8 text.
    format!(
        "<{priority}>1 {timestamp} {} {} {procid} {} {structured} \u{feff}{}",
        header_field(hostname, 255),
        header_field(app_name, 48),
        alert.kind,
        alert.summary()
    )
}

/// Escapes `"`, `\` and `]` inside a PARAM-VALUE (RFC 5424 section 6.3.3).
fn escape_param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// Whether `name` is a valid SD-NAME: 1 to 32 printable ASCII characters except `=`, space,
/// `]` and `"`.
fn is_sd_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|byte| (33..=126).contains(&byte) && !matches!(byte, b'=' | b']' | b'"'))
}

/// A header field as printable ASCII of at most `max` bytes, or the NILVALUE `-`.
fn header_field(value: &str, max: usize) -> String {
    let valid = !value.is_empty() && value.len() <= max && value.bytes().all(|byte| (33..=126).contains(&byte));
    if valid {
        value.to_string()
    } else {
        "-".to_string()
    }
}

/// Returns the host name for the HOSTNAME field, or `-` when it cannot be read.
pub(crate) fn local_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "-".to_string())
}

pub(crate) struct SyslogSink {
    pub(crate) address: String,
    pub(crate) transport: SyslogTransport,
    pub(crate) facility: u8,
    pub(crate) hostname: String,
    pub(crate) app_name: String,
    pub(crate) instance: String,
    /// The open TCP stream, dropped after a failed write and reopened on the next attempt.
    pub(crate) stream: Option<TcpStream>,
}

impl SyslogSink {
    pub(crate) async fn deliver(&mut self, alert: &Alert) -> Result<(), DeliveryError> {
        let message = format_message(alert, self.facility, &self.hostname, &self.app_name, &self.instance);
        match self.transport {
            SyslogTransport::Udp => self.send_udp(message.as_bytes()).await,
            SyslogTransport::Tcp => self.send_tcp(message.as_bytes()).await,
        }
    }

    async fn resolve(&self) -> Result<SocketAddr, DeliveryError> {
        tokio::net::lookup_host(&self.address)
            .await
            .map_err(|error| DeliveryError::retryable(format!("cannot resolve {}: {error}", self.address)))?
            .next()
            .ok_or_else(|| DeliveryError::retryable(format!("{} resolves to no address", self.address)))
    }

    async fn send_udp(&self, message: &[u8]) -> Result<(), DeliveryError> {
        let address = self.resolve().await?;
        let local: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|error| DeliveryError::retryable(format!("cannot open a UDP socket: {error}")))?;
        socket
            .send_to(message, address)
            .await
            .map_err(|error| DeliveryError::retryable(format!("sending to {address} failed: {error}")))?;
        Ok(())
    }

    async fn send_tcp(&mut self, message: &[u8]) -> Result<(), DeliveryError> {
        if self.stream.is_none() {
            let address = self.resolve().await?;
            let stream = TcpStream::connect(address)
                .await
                .map_err(|error| DeliveryError::retryable(format!("cannot connect to {address}: {error}")))?;
            self.stream = Some(stream);
        }
        let mut frame = format!("{} ", message.len()).into_bytes();
        frame.extend_from_slice(message);
        let stream = self.stream.as_mut().expect("the stream was opened above");
        if let Err(error) = stream.write_all(&frame).await {
            self.stream = None;
            return Err(DeliveryError::retryable(format!("writing to {} failed: {error}", self.address)));
        }
        Ok(())
    }
}
