//! Client messages of a live session: the statement check, the write-ahead
//! audit record, and the forwarding of permitted messages.
//!
//! A statement reaches the upstream only through [`Relay::forward`], which
//! takes an [`Admitted`] proof that only [`Relay::admit`] creates, after the
//! check allowed the statement and the audit log made the record durable.
//!
//! A denied message is not dropped: the gateway sends the upstream a
//! substitute that fails to parse, and replaces the resulting ErrorResponse
//! with its own. The server thus puts the error in order among the
//! responses to earlier pipelined messages and aborts the transaction as
//! any error would. In the extended protocol it then skips to Sync and
//! sends exactly one ReadyForQuery, as it does for an error of its own.

use std::sync::Arc;

use crate::authority::{StatementRequest, Verdict};
use crate::codec::{decode_frontend, Bind, Frame, FrontendMessage, Parse, Query, SqlState, Tag};
use crate::error::{ClientError, SessionError};
use crate::events::{SessionEvent, StatementText};
use crate::extended::{Expect, Portal, Rewrite};
use crate::relay::{Piece, Relay};
use crate::wire;

/// SQL that every PostgreSQL version rejects with a syntax error before
/// doing anything else.
const SUBSTITUTE_SQL: &str = "portcullis_statement_not_permitted";

/// Statement name for substitutes that stand for a message other than
/// Parse. The substitute never parses, so no statement of this name is created.
const SUBSTITUTE_STATEMENT: &str = "portcullis_substitute";

/// Proof that a statement passed the check and its audit record is durable.
pub(crate) struct Admitted(());

impl Relay {
    /// Handles every whole client message that is buffered.
    pub(crate) async fn drain_client(&mut self) -> Result<(), SessionError> {
        while !self.client_terminated {
            let Some(piece) = self.to_upstream.next()? else {
                break;
            };
            if let Piece::Frame(frame) = piece {
                self.on_client_frame(frame).await?;
            }
        }
        Ok(())
    }

    async fn on_client_frame(&mut self, frame: Frame) -> Result<(), SessionError> {
        let message = decode_frontend(&frame)?;
        match message {
            FrontendMessage::Query(query) => self.on_query(&frame, &query).await,
            FrontendMessage::Parse(parse) => self.on_parse(&frame, &parse).await,
            FrontendMessage::Bind(bind) => self.on_bind(&frame, &bind),
            FrontendMessage::Execute(execute) => self.on_execute(&frame, execute.portal).await,
            FrontendMessage::Describe(_) => {
                self.state.expect(Expect::Describe);
                self.pass(&frame);
                Ok(())
            }
            FrontendMessage::Close(close) => {
                self.state.close(close.target, close.name);
                self.state.expect(Expect::Close);
                self.pass(&frame);
                Ok(())
            }
            FrontendMessage::Sync => {
                self.state.expect(Expect::Sync);
                self.pass(&frame);
                Ok(())
            }
            FrontendMessage::Flush
            | FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail(_) => {
                self.pass(&frame);
                Ok(())
            }
            FrontendMessage::Terminate => {
                self.pass(&frame);
                self.client_terminated = true;
                Ok(())
            }
            // The fast-path interface bypasses SQL, so the statement check
            // could not see what runs. PostgreSQL replies to a failed call with
            // ErrorResponse and ReadyForQuery, which a substitute Query yields.
            FrontendMessage::FunctionCall(_) => {
                let rewrite = Rewrite {
                    code: SqlState::FEATURE_NOT_SUPPORTED,
                    message: "function calls through the fast-path interface (FunctionCall message) are not supported \
                              by the gateway; call the function in a query instead, such as SELECT"
                        .to_owned(),
                };
                self.substitute_query(None, rewrite);
                Ok(())
            }
            FrontendMessage::AuthenticationResponse(_) => Err(ClientError::UnexpectedMessage {
                got: Tag(frame.tag()),
                during: "after authentication",
            }
            .into()),
        }
    }

    /// Forwards a message that is not a statement.
    fn pass(&mut self, frame: &Frame) {
        self.to_upstream.output.extend_from_slice(frame.as_bytes());
    }

    /// Forwards a statement message; the proof shows it was checked and recorded.
    fn forward(&mut self, _proof: Admitted, frame: &Frame) {
        self.to_upstream.output.extend_from_slice(frame.as_bytes());
    }

    fn decide(&self, request: &StatementRequest<'_>) -> Verdict {
        self.context.check.check(self.context.session, request)
    }

    /// Records a statement with its verdict before anything goes upstream.
    /// A failed audit write denies the statement.
    async fn admit(
        &mut self,
        number: u64,
        verdict: Verdict,
        text: StatementText,
    ) -> Result<Admitted, Rewrite> {
        let event = SessionEvent::Statement {
            session: self.context.session,
            statement: number,
            text,
            verdict: verdict.clone(),
        };
        if let Err(error) = self.context.authority.record(event).await {
            tracing::error!(session = %self.context.session, statement = number, %error, "recording a statement failed; it is not run");
            return Err(Rewrite {
                code: SqlState::SYSTEM_ERROR,
                message: "statement not run: the audit log is unavailable; try again later"
                    .to_owned(),
            });
        }
        match verdict {
            Verdict::Allow => Ok(Admitted(())),
            Verdict::Deny { reason } => Err(Rewrite {
                code: SqlState::INSUFFICIENT_PRIVILEGE,
                message: format!(
                    "permission denied by the gateway: {}",
                    crate::error::sanitize(&reason)
                ),
            }),
        }
    }

    async fn on_query(&mut self, frame: &Frame, query: &Query<'_>) -> Result<(), SessionError> {
        let number = self.state.next_statement();
        let verdict = self.decide(&StatementRequest::Query { text: query.query });
        let text = StatementText::Simple(query.query.to_owned());
        match self.admit(number, verdict, text).await {
            Ok(proof) => {
                self.forward(proof, frame);
                self.state.expect(Expect::Query {
                    statement: Some(number),
                    rewrite: None,
                });
            }
            Err(rewrite) => self.substitute_query(Some(number), rewrite),
        }
        Ok(())
    }

    /// Checks the text at Parse, so a denied statement is never prepared
    /// upstream. Allowed statements are recorded at their first Execute,
    /// with the bind parameters.
    async fn on_parse(&mut self, frame: &Frame, parse: &Parse<'_>) -> Result<(), SessionError> {
        let verdict = self.decide(&StatementRequest::Parse { text: parse.query });
        if let Verdict::Deny { .. } = verdict {
            let number = self.state.next_statement();
            let text = StatementText::Prepared {
                text: parse.query.to_owned(),
                parameters: Vec::new(),
                formats: Vec::new(),
            };
            let Err(rewrite) = self.admit(number, verdict, text).await else {
                return Err(SessionError::Internal("a denied statement was admitted"));
            };
            self.substitute_parse(parse.name, rewrite);
            return Ok(());
        }
        if !self
            .state
            .store_statement(parse.name, Arc::from(parse.query))
        {
            self.substitute_parse(SUBSTITUTE_STATEMENT, too_many_named());
            return Ok(());
        }
        // Preparing runs nothing; the statement is recorded when it executes.
        self.state.expect(Expect::Parse);
        self.pass(frame);
        Ok(())
    }

    fn on_bind(&mut self, frame: &Frame, bind: &Bind<'_>) -> Result<(), SessionError> {
        // A statement made by SQL PREPARE has no Parse the gateway saw.
        let text = self.state.statement(bind.statement).unwrap_or_else(|| {
            Arc::from(format!(
                "-- prepared statement \"{}\" (not created by a Parse message)",
                bind.statement
            ))
        });
        let portal = Portal {
            text,
            parameters: bind.parameters.clone(),
            formats: bind
                .parameter_formats
                .iter()
                .map(|format| format.code())
                .collect(),
            executed: false,
        };
        if !self.state.store_portal(bind.portal, portal) {
            self.substitute_parse(SUBSTITUTE_STATEMENT, too_many_named());
            return Ok(());
        }
        self.state.expect(Expect::Bind);
        self.pass(frame);
        Ok(())
    }

    async fn on_execute(&mut self, frame: &Frame, portal_name: &str) -> Result<(), SessionError> {
        let portal = match self.state.portal_mut(portal_name) {
            Some(portal) if portal.executed => None,
            Some(portal) => {
                portal.executed = true;
                Some(portal.clone())
            }
            // A cursor opened by SQL DECLARE is a portal without a Bind.
            None => Some(Portal {
                text: Arc::from(format!(
                    "-- portal \"{portal_name}\" (not created by a Bind message)"
                )),
                parameters: Vec::new(),
                formats: Vec::new(),
                executed: true,
            }),
        };
        let Some(portal) = portal else {
            // A later Execute of the same portal fetches more rows of a recorded statement.
            self.state.expect(Expect::Execute { statement: None });
            self.pass(frame);
            return Ok(());
        };

        let number = self.state.next_statement();
        let verdict = self.decide(&StatementRequest::Execute {
            text: &portal.text,
            parameters: portal.parameters.len(),
        });
        let text = StatementText::Prepared {
            text: portal.text.to_string(),
            parameters: portal.parameters,
            formats: portal.formats,
        };
        match self.admit(number, verdict, text).await {
            Ok(proof) => {
                self.forward(proof, frame);
                self.state.expect(Expect::Execute {
                    statement: Some(number),
                });
            }
            Err(rewrite) => self.substitute_parse(SUBSTITUTE_STATEMENT, rewrite),
        }
        Ok(())
    }

    fn substitute_query(&mut self, statement: Option<u64>, rewrite: Rewrite) {
        let query = Query {
            query: SUBSTITUTE_SQL,
        };
        wire::encode(&mut self.to_upstream.output, |buf| query.encode(buf));
        self.state.expect(Expect::Query {
            statement,
            rewrite: Some(rewrite),
        });
    }

    /// Sends a failing Parse. For a denied Parse it carries the client's own
    /// statement name, so the upstream drops the unnamed statement as it
    /// would on any failed Parse. Other substitutes use a reserved name.
    fn substitute_parse(&mut self, name: &str, rewrite: Rewrite) {
        let parse = Parse {
            name,
            query: SUBSTITUTE_SQL,
            parameter_types: Vec::new(),
        };
        wire::encode(&mut self.to_upstream.output, |buf| parse.encode(buf));
        self.state.expect(Expect::Denied { rewrite });
    }
}

fn too_many_named() -> Rewrite {
    Rewrite {
        code: SqlState::PROGRAM_LIMIT_EXCEEDED,
        message: "too many prepared statements and portals are open in this session; close some \
                  (DEALLOCATE, CLOSE or a Close message) first"
            .to_owned(),
    }
}
