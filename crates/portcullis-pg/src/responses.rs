//! Upstream messages of a live session: passed to the client as received,
//! except the ErrorResponse to a substitute message, and used to record
//! statement completions.

use bytes::Bytes;

use crate::authority::SessionEvent;
use crate::codec::{decode_backend, BackendMessage, ErrorReport, Frame, Severity, SqlState};
use crate::error::{encode_report, SessionError, UpstreamError};
use crate::extended::{Backend, BackendEffect};
use crate::relay::{Piece, Relay};

impl Relay {
    /// Handles every whole upstream message that is buffered.
    pub(crate) async fn drain_upstream(&mut self) -> Result<(), SessionError> {
        loop {
            let piece = self
                .to_client
                .next()
                .map_err(|error| self.upstream_protocol(error.to_string()))?;
            match piece {
                None => return Ok(()),
                Some(Piece::Passed) => {}
                Some(Piece::Frame(frame)) => self.on_upstream_frame(frame).await?,
            }
        }
    }

    async fn on_upstream_frame(&mut self, frame: Frame) -> Result<(), SessionError> {
        match frame.tag() {
            b'G' => self.copy_in = true,
            b'C' | b'E' | b'Z' => self.copy_in = false,
            _ => {}
        }
        let effect = match frame.tag() {
            b'E' => self.on_error(frame.body()),
            // Messages that may arrive at any time, and COPY control messages.
            b'N' | b'A' | b'S' | b'G' | b'H' | b'c' => BackendEffect::default(),
            b'W' | b'R' | b'K' | b'v' | b'V' => {
                return Err(self.upstream_protocol(format!(
                    "unexpected message type {}",
                    crate::codec::Tag(frame.tag())
                )));
            }
            _ => self.on_typed(&frame)?,
        };

        if let Some((statement, completion)) = effect.completion {
            let event = SessionEvent::StatementCompleted {
                session: self.context.session,
                statement,
                completion,
            };
            self.context.authority.record(event).await?;
        }
        match effect.replace {
            Some(rewrite) => {
                let report = ErrorReport::new(Severity::Error, rewrite.code, &rewrite.message);
                encode_report(&report, &mut self.to_client.output);
            }
            None => self.to_client.output.extend_from_slice(frame.as_bytes()),
        }
        Ok(())
    }

    fn on_typed(&mut self, frame: &Frame) -> Result<BackendEffect, SessionError> {
        let message =
            decode_backend(frame).map_err(|error| self.upstream_protocol(error.to_string()))?;
        let backend = match message {
            BackendMessage::ReadyForQuery(ready) => {
                self.status = ready.status;
                Backend::Ready(ready.status)
            }
            BackendMessage::CommandComplete(complete) => {
                return Ok(self.state.on_backend(Backend::CommandComplete {
                    tag: complete.tag,
                    rows: complete.rows(),
                }));
            }
            BackendMessage::EmptyQueryResponse => Backend::EmptyQuery,
            BackendMessage::ParseComplete => Backend::ParseComplete,
            BackendMessage::BindComplete => Backend::BindComplete,
            BackendMessage::CloseComplete => Backend::CloseComplete,
            BackendMessage::PortalSuspended => Backend::PortalSuspended,
            BackendMessage::ParameterDescription(_) => Backend::ParameterDescription,
            BackendMessage::RowDescription(_) => Backend::RowDescription,
            BackendMessage::NoData => Backend::NoData,
            _ => return Ok(BackendEffect::default()),
        };
        Ok(self.state.on_backend(backend))
    }

    /// Reads the severity and SQLSTATE without decoding the whole message,
    /// because its text is in the client encoding and need not be UTF-8.
    /// A FATAL error ends the upstream session, so it passes untouched.
    fn on_error(&mut self, body: &Bytes) -> BackendEffect {
        let fields = ErrorCodes::scan(body);
        if fields.fatal {
            self.upstream_fatal = true;
            return BackendEffect::default();
        }
        let sqlstate = fields.sqlstate.unwrap_or(SqlState::INTERNAL_ERROR);
        self.state.on_backend(Backend::Error {
            sqlstate: sqlstate.as_str(),
        })
    }

    fn upstream_protocol(&self, cause: String) -> SessionError {
        tracing::warn!(session = %self.context.session, %cause, "the target violated the protocol");
        UpstreamError::Protocol {
            target: self.context.target.clone(),
            cause,
        }
        .into()
    }
}

/// The non-localized severity ('V') and SQLSTATE ('C') of an ErrorResponse body.
struct ErrorCodes {
    fatal: bool,
    sqlstate: Option<SqlState>,
}

impl ErrorCodes {
    fn scan(body: &[u8]) -> Self {
        let mut codes = ErrorCodes {
            fatal: false,
            sqlstate: None,
        };
        let mut rest = body;
        while let Some((&code, after)) = rest.split_first() {
            if code == 0 {
                break;
            }
            let Some(end) = after.iter().position(|&byte| byte == 0) else {
                break;
            };
            let value = after.get(..end).unwrap_or_default();
            match code {
                b'V' => codes.fatal = matches!(value, b"FATAL" | b"PANIC"),
                b'C' => {
                    codes.sqlstate = std::str::from_utf8(value)
                        .ok()
                        .and_then(|code| code.parse().ok())
                }
                _ => {}
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_read_from_raw_fields() {
        let body = b"SFATAL\0VFATAL\0C57P01\0M\xe9t\xe9\0\0";
        let codes = ErrorCodes::scan(body);
        assert!(codes.fatal);
        assert_eq!(codes.sqlstate, Some(SqlState::ADMIN_SHUTDOWN));
    }
}
