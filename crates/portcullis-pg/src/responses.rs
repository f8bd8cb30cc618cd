//! Upstream messages of a live session: passed to the client as received,
//! except the ErrorResponse to a substitute message and the rows of
//! restricted results, and used to record statement completions.
//!
//! A restricted result is masked and counted on its way through (`filter`).
//! When it does not fit its restriction (another column count, a mask that
//! does not apply, more rows than the cap), the relay withholds the rest.
//! The client gets an ErrorResponse where the result stops, then nothing of
//! that query or Execute but ParameterStatus and NotificationResponse, then
//! ReadyForQuery. Upstream, the gateway sends a CancelRequest so a long
//! result stops early, and a substitute message that fails, so the server
//! ends the transaction as it would after an error of its own: a simple
//! Query's ReadyForQuery comes from a failing substitute Query (an open
//! transaction block is then aborted), and after an Execute a failing Parse
//! makes the server skip to the client's Sync.
//!
//! NOTE: when the cancel arrives after the server has finished a simple
//! Query, the query has run to its end, and outside a transaction block its
//! changes are committed although the client saw it fail. After an Execute
//! the substitute Parse reaches the server before anything the client sent
//! later, so nothing runs up to the client's Sync and the transaction fails
//! as after any error.

use bytes::Bytes;

use crate::authority::SessionEvent;
use crate::codec::{decode_backend, BackendMessage, ErrorReport, Frame, Severity, SqlState};
use crate::error::{encode_report, SessionError, UpstreamError};
use crate::events::Completion;
use crate::extended::{lock, Backend, BackendEffect, Delivery, Description, Rewrite, Withheld};
use crate::filter::{row_too_large, RowFilter};
use crate::relay::{Piece, Relay};

impl Relay {
    /// Handles every whole upstream message that is buffered.
    pub(crate) async fn drain_upstream(&mut self) -> Result<(), SessionError> {
        loop {
            self.prepare_rows().await?;
            let piece = self
                .to_client
                .next()
                .map_err(|error| self.upstream_protocol(error.to_string()))?;
            match piece {
                None => return Ok(()),
                Some(Piece::Passed | Piece::Skipped) => {}
                Some(Piece::Announced { body_len }) => self.on_streamed_row(body_len).await?,
                Some(Piece::Oversized) => {
                    let sent = self.state.rows_mut().map_or(0, |rows| rows.sent());
                    let max = self.to_client.decoder.max_message_size();
                    self.withhold(row_too_large(sent, max)).await?;
                }
                Some(Piece::Frame(frame)) if matches!(frame.tag(), b'D' | b'd') => {
                    self.on_row(&frame).await?;
                }
                Some(Piece::Frame(frame)) => self.on_upstream_frame(frame).await?,
            }
        }
    }

    /// Sets up the filter of an Execute that reached the head of the queue,
    /// before its first row is read, and the pipe's handling of rows.
    async fn prepare_rows(&mut self) -> Result<(), SessionError> {
        if let Err(rewrite) = self.state.start_execute() {
            self.withhold(rewrite).await?;
        }
        self.to_client.rows = self.state.row_mode();
        Ok(())
    }

    /// Admits a row that would stream through unchanged, or drops it.
    async fn on_streamed_row(&mut self, body_len: usize) -> Result<(), SessionError> {
        let admitted = match self.state.rows_mut() {
            Some(rows) => rows.admit_streamed(),
            None => Ok(()),
        };
        match admitted {
            Ok(()) => self.to_client.pass_message(body_len),
            Err(rewrite) => {
                self.to_client.skip_message(body_len);
                self.withhold(rewrite).await?;
            }
        }
        Ok(())
    }

    /// Masks or counts a whole DataRow or CopyData message of a restricted result.
    async fn on_row(&mut self, frame: &Frame) -> Result<(), SessionError> {
        let written = match self.state.rows_mut() {
            Some(rows) => rows.write_row(frame, &mut self.to_client.output),
            None => {
                self.to_client.output.extend_from_slice(frame.as_bytes());
                Ok(())
            }
        };
        if let Err(rewrite) = written {
            self.withhold(rewrite).await?;
        }
        Ok(())
    }

    async fn on_upstream_frame(&mut self, frame: Frame) -> Result<(), SessionError> {
        let withheld = self.state.head_withheld();
        match frame.tag() {
            b'G' if withheld => self.abort_copy_in(),
            b'G' => {
                self.copy_in = true;
                self.state.release_for_copy_in();
            }
            b'C' | b'E' | b'Z' => self.copy_in = false,
            _ => {}
        }
        let effect = match frame.tag() {
            b'E' => self.on_error(frame.body()),
            b'T' | b'n' | b'H' if withheld => BackendEffect {
                delivery: Delivery::Drop,
                completion: None,
            },
            b'T' | b'n' => self.on_description(&frame).await?,
            b'H' => self.on_copy_out(&frame).await?,
            // Messages that may arrive at any time, and COPY control messages.
            b'N' | b'A' | b'S' | b'G' | b'c' => BackendEffect::default(),
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
            self.context.authority.record_unsynced(event).await?;
        }
        // Session state, other sessions' notifications and a FATAL error
        // reach the client even from a withheld result.
        let passes =
            matches!(frame.tag(), b'S' | b'A') || (frame.tag() == b'E' && self.upstream_fatal);
        let delivery = if withheld && !passes {
            Delivery::Drop
        } else {
            effect.delivery
        };
        match delivery {
            Delivery::Forward => self.to_client.output.extend_from_slice(frame.as_bytes()),
            Delivery::Replace(rewrite) => {
                let report = ErrorReport::new(Severity::Error, rewrite.code, &rewrite.message);
                encode_report(&report, &mut self.to_client.output);
            }
            Delivery::Drop => {}
        }
        Ok(())
    }

    /// RowDescription or NoData: the reply to a Describe, whose columns a
    /// restricted portal keeps, or the start of a simple Query's result.
    async fn on_description(&mut self, frame: &Frame) -> Result<BackendEffect, SessionError> {
        let message =
            decode_backend(frame).map_err(|error| self.upstream_protocol(error.to_string()))?;
        let columns = |message: &BackendMessage<'_>| match message {
            BackendMessage::RowDescription(description) => Some(
                description
                    .fields
                    .iter()
                    .map(|field| (field.type_oid, field.format.code()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };

        if let Some(portal) = self.state.head_describe() {
            lock(&portal).description = Some(match columns(&message) {
                Some(columns) => Description::Rows(columns),
                None => Description::NoData,
            });
        } else if let Some((restrictions, position)) = self.state.head_restrictions() {
            if let Some(columns) = columns(&message) {
                match RowFilter::for_rows(restrictions.statement(position), &columns) {
                    Ok(filter) => self.state.set_rows(filter),
                    Err(rewrite) => {
                        self.withhold(rewrite).await?;
                        return Ok(BackendEffect {
                            delivery: Delivery::Drop,
                            completion: None,
                        });
                    }
                }
            }
        }

        let backend = match message {
            BackendMessage::RowDescription(_) => Backend::RowDescription,
            _ => Backend::NoData,
        };
        Ok(self.state.on_backend(backend))
    }

    /// CopyOutResponse: sets up the masking of a restricted COPY TO STDOUT.
    async fn on_copy_out(&mut self, frame: &Frame) -> Result<BackendEffect, SessionError> {
        let Some((restrictions, position)) = self.state.head_restrictions() else {
            return Ok(BackendEffect::default());
        };
        let BackendMessage::CopyOutResponse(response) =
            decode_backend(frame).map_err(|error| self.upstream_protocol(error.to_string()))?
        else {
            return Err(self.upstream_protocol("invalid CopyOutResponse".to_owned()));
        };
        match RowFilter::for_copy(restrictions.statement(position), &response) {
            Ok(filter) => {
                self.state.set_rows(filter);
                Ok(BackendEffect::default())
            }
            Err(rewrite) => {
                self.withhold(rewrite).await?;
                Ok(BackendEffect {
                    delivery: Delivery::Drop,
                    completion: None,
                })
            }
        }
    }

    /// Sends `rewrite` to the client in place of the rest of the head's
    /// result, and makes the upstream end the query or Execute as the client
    /// now expects it to (see the module documentation).
    pub(crate) async fn withhold(&mut self, rewrite: Rewrite) -> Result<(), SessionError> {
        let report = ErrorReport::new(Severity::Error, rewrite.code, &rewrite.message);
        encode_report(&report, &mut self.to_client.output);
        let statement = match self.state.withhold_head() {
            Some(Withheld::Query(statement)) => {
                self.abort_query();
                statement
            }
            Some(Withheld::Execute(statement)) => {
                self.abort_execute();
                statement
            }
            None => {
                return Err(SessionError::Internal(
                    "a result was withheld while no query or Execute was pending",
                ))
            }
        };
        tracing::info!(
            session = %self.context.session,
            statement,
            sqlstate = %rewrite.code,
            reason = %rewrite.message,
            "result withheld"
        );
        self.start_cancel();

        if let Some(statement) = statement {
            let event = SessionEvent::StatementCompleted {
                session: self.context.session,
                statement,
                completion: Completion::Error {
                    sqlstate: rewrite.code.as_str().to_owned(),
                },
            };
            self.context.authority.record(event).await?;
        }
        Ok(())
    }

    /// Sends a CancelRequest upstream in the background, after any earlier
    /// one, so a withheld result stops early. Client messages wait until it
    /// has been delivered ([`Relay::client_held`]).
    fn start_cancel(&mut self) {
        let target = self.context.cancel.clone();
        let session = self.context.session;
        let previous = self.cancel_task.take();
        self.cancel_task = Some(tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            crate::cancel::forward_logged(&target, session).await;
        }));
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
