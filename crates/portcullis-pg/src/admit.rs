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
//!
//! A restricted statement (a [`Verdict::Restrict`]) is forwarded with its
//! conditions, and client messages after it wait until its result has
//! passed them (see `responses` for what happens when it does not). The
//! wait costs one round trip per restricted Query or Execute that the
//! client pipelines other messages behind. Masking needs the result's type
//! OIDs and formats, so before the first Execute of a restricted portal
//! that the client has not described, the gateway sends its own Describe
//! of the portal and drops the reply.

use std::sync::Arc;

use crate::authority::{CheckOutcome, StatementRequest, Verdict};
use crate::codec::{
    decode_frontend, Bind, CopyFail, Describe, Frame, FrontendMessage, Parse, Query, SqlState, Tag,
    Target,
};
use crate::error::{ClientError, SessionError};
use crate::events::{SessionEvent, StatementText};
use crate::extended::{lock, shared_portal, Expect, Portal, Rewrite, SharedPortal, Statement};
use crate::relay::{Incoming, Piece, Relay};
use crate::restriction::Restrictions;
use crate::wire;

/// SQL that every PostgreSQL version rejects with a syntax error before
/// doing anything else.
const SUBSTITUTE_SQL: &str = "portcullis_statement_not_permitted";

/// Statement name for substitutes that stand for a message other than
/// Parse. The substitute never parses, so no statement of this name is created.
const SUBSTITUTE_STATEMENT: &str = "portcullis_substitute";

/// Proof that a statement passed the check and its audit record is
/// durable, with the conditions on its results.
pub(crate) struct Admitted {
    restrictions: Option<Arc<Restrictions>>,
}

impl Relay {
    /// Handles every whole client message that is buffered, unless client
    /// messages must wait (see [`Relay::client_held`]).
    pub(crate) async fn drain_client(&mut self) -> Result<(), SessionError> {
        while !self.client_terminated {
            if self.to_upstream.incoming == Incoming::Boundary
                && self.client_held()
                && !self.copy_data_next()
            {
                break;
            }
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
            FrontendMessage::Describe(describe) => {
                self.on_describe(&frame, &describe);
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
                self.state.sync_sent();
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

    /// Returns whether client messages must wait: the last forwarded
    /// statement is restricted and its result may still be withheld, or a
    /// CancelRequest for a withheld result is on its way. The cancel could
    /// otherwise reach the server while it runs a later statement.
    pub(crate) fn client_held(&self) -> bool {
        self.cancel_task.is_some() || self.state.holds_client()
    }

    /// Returns whether the next client message is COPY data the upstream
    /// waits for, which passes even while client messages are held.
    fn copy_data_next(&self) -> bool {
        self.copy_in && matches!(self.to_upstream.input.first(), Some(b'd' | b'c' | b'f'))
    }

    /// Forwards a message that is not a statement.
    fn pass(&mut self, frame: &Frame) {
        self.to_upstream.output.extend_from_slice(frame.as_bytes());
    }

    /// Forwards a statement message; the proof shows it was checked and recorded.
    fn forward(&mut self, _proof: Admitted, frame: &Frame) {
        self.to_upstream.output.extend_from_slice(frame.as_bytes());
    }

    fn decide(&self, request: &StatementRequest<'_>) -> CheckOutcome {
        self.context.check.check(self.context.session, request)
    }

    /// Records a statement with its verdict and evidence before anything
    /// goes upstream. A failed audit write denies the statement.
    async fn admit(
        &mut self,
        number: u64,
        outcome: CheckOutcome,
        text: StatementText,
    ) -> Result<Admitted, Rewrite> {
        let CheckOutcome { verdict, evidence } = outcome;
        let event = SessionEvent::Statement {
            session: self.context.session,
            statement: number,
            text,
            verdict: verdict.clone(),
            evidence,
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
            Verdict::Allow => Ok(Admitted { restrictions: None }),
            Verdict::Restrict(restrictions) => Ok(Admitted {
                restrictions: Some(restrictions).filter(|r| r.restricts_anything()),
            }),
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
        let outcome = self.decide(&StatementRequest::Query { text: query.query });
        let text = StatementText::Simple(query.query.to_owned());
        match self.admit(number, outcome, text).await {
            Ok(proof) => {
                let restrictions = proof.restrictions.clone();
                let holds_client = restrictions.is_some() && !self.state.upstream_skipping();
                self.forward(proof, frame);
                self.state
                    .expect(Expect::query(Some(number), restrictions, holds_client));
            }
            Err(rewrite) => self.substitute_query(Some(number), rewrite),
        }
        Ok(())
    }

    /// Checks the text at Parse, so a denied statement is never prepared
    /// upstream. Allowed statements are recorded at their first Execute,
    /// with the bind parameters; a restriction stays with the statement.
    async fn on_parse(&mut self, frame: &Frame, parse: &Parse<'_>) -> Result<(), SessionError> {
        let outcome = self.decide(&StatementRequest::Parse { text: parse.query });
        let restrictions = match &outcome.verdict {
            Verdict::Restrict(restrictions) if restrictions.restricts_anything() => {
                Some(Arc::clone(restrictions))
            }
            _ => None,
        };
        if let Verdict::Deny { .. } = outcome.verdict {
            let number = self.state.next_statement();
            let text = StatementText::Prepared {
                text: parse.query.to_owned(),
                parameters: Vec::new(),
                formats: Vec::new(),
            };
            let Err(rewrite) = self.admit(number, outcome, text).await else {
                return Err(SessionError::Internal("a denied statement was admitted"));
            };
            self.substitute_parse(parse.name, rewrite);
            return Ok(());
        }
        let statement = Statement {
            text: Arc::from(parse.query),
            restrictions,
            evidence: outcome.evidence,
        };
        if !self.state.store_statement(parse.name, statement) {
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
        let known = self.state.statement(bind.statement);
        let checked = known.is_some();
        let statement = known.unwrap_or_else(|| Statement {
                text: Arc::from(format!(
                    "-- prepared statement \"{}\" (not created by a Parse message)",
                    bind.statement
                )),
                restrictions: None,
                evidence: None,
            });
        let portal = Portal {
            text: statement.text,
            parameters: bind.parameters.clone(),
            formats: bind
                .parameter_formats
                .iter()
                .map(|format| format.code())
                .collect(),
            executed: false,
            result: statement.restrictions.map(shared_portal),
            evidence: statement.evidence,
            checked,
            statement: Arc::from(bind.statement),
        };
        if !self.state.store_portal(bind.portal, portal) {
            self.substitute_parse(SUBSTITUTE_STATEMENT, too_many_named());
            return Ok(());
        }
        self.state.expect(Expect::Bind);
        self.pass(frame);
        Ok(())
    }

    /// Notes a Describe of a restricted portal, whose reply gives the
    /// result columns that masking needs.
    fn on_describe(&mut self, frame: &Frame, describe: &Describe<'_>) {
        let portal = match describe.target {
            Target::Portal => self
                .state
                .portal_mut(describe.name)
                .and_then(|portal| portal.result.clone()),
            Target::Statement => None,
        };
        if let Some(portal) = &portal {
            lock(portal).describe_sent = true;
        }
        self.state.expect(Expect::Describe {
            portal,
            forward: true,
        });
        self.pass(frame);
    }

    async fn on_execute(&mut self, frame: &Frame, portal_name: &str) -> Result<(), SessionError> {
        let portal = match self.state.portal_mut(portal_name) {
            Some(portal) if portal.executed => {
                // A later Execute of the same portal fetches more rows of a
                // recorded statement, under the same restriction, unless SQL
                // replaced the portal under the same name since.
                let portal = portal.clone();
                let outcome = self.decide(&StatementRequest::Execute {
                    text: &portal.text,
                    parameters: portal.parameters.len(),
                    checked: portal.checked,
                    statement: &portal.statement,
                    portal: portal_name,
                });
                if !matches!(outcome.verdict, Verdict::Deny { .. }) {
                    self.pass(frame);
                    self.expect_execute(None, portal.result);
                    return Ok(());
                }
                Portal {
                    checked: false,
                    ..portal
                }
            }
            Some(portal) => {
                portal.executed = true;
                portal.clone()
            }
            // A cursor opened by SQL DECLARE is a portal without a Bind.
            None => Portal {
                text: Arc::from(format!(
                    "-- portal \"{portal_name}\" (not created by a Bind message)"
                )),
                parameters: Vec::new(),
                formats: Vec::new(),
                executed: true,
                result: None,
                evidence: None,
                checked: false,
                statement: Arc::from(""),
            },
        };

        let number = self.state.next_statement();
        let mut outcome = self.decide(&StatementRequest::Execute {
            text: &portal.text,
            parameters: portal.parameters.len(),
            checked: portal.checked,
            statement: &portal.statement,
            portal: portal_name,
        });
        if outcome.evidence.is_none() {
            outcome.evidence = portal.evidence.clone();
        }
        let text = StatementText::Prepared {
            text: portal.text.to_string(),
            parameters: portal.parameters,
            formats: portal.formats,
        };
        match self.admit(number, outcome, text).await {
            Ok(proof) => {
                let result = self.portal_result(portal_name, portal.result, &proof);
                if let Some(result) = &result {
                    self.describe_before_execute(portal_name, result);
                }
                self.forward(proof, frame);
                self.expect_execute(Some(number), result);
            }
            Err(rewrite) => self.substitute_parse(SUBSTITUTE_STATEMENT, rewrite),
        }
        Ok(())
    }

    /// Returns the restriction state for a portal's first Execute: the
    /// Execute's own restriction when its verdict has one, else the one the
    /// portal got from its statement's Parse.
    fn portal_result(
        &mut self,
        portal_name: &str,
        from_parse: Option<SharedPortal>,
        proof: &Admitted,
    ) -> Option<SharedPortal> {
        let Some(restrictions) = &proof.restrictions else {
            return from_parse;
        };
        let result = match from_parse {
            Some(result) => {
                lock(&result).restrictions = Arc::clone(restrictions);
                result
            }
            None => {
                let result = shared_portal(Arc::clone(restrictions));
                if let Some(portal) = self.state.portal_mut(portal_name) {
                    portal.result = Some(Arc::clone(&result));
                }
                result
            }
        };
        Some(result)
    }

    /// Sends a Describe of the portal ahead of its first Execute, unless one
    /// was sent already. PostgreSQL replies to Describe of a portal with
    /// RowDescription or NoData ("Extended Query" in the protocol chapter),
    /// which gives each column's type and format for masking.
    fn describe_before_execute(&mut self, portal_name: &str, result: &SharedPortal) {
        if self.state.upstream_skipping() {
            return;
        }
        let mut state = lock(result);
        if state.describe_sent {
            return;
        }
        state.describe_sent = true;
        drop(state);

        let describe = Describe {
            target: Target::Portal,
            name: portal_name,
        };
        wire::encode(&mut self.to_upstream.output, |buf| describe.encode(buf));
        self.state.expect(Expect::Describe {
            portal: Some(Arc::clone(result)),
            forward: false,
        });
    }

    /// Expects the response to a forwarded Execute. Client messages wait
    /// behind a restricted one until its result ends. A Flush follows it,
    /// because the server sends buffered output only at Sync, Flush or when
    /// its buffer fills, and the client's own Sync is among the waiting messages.
    fn expect_execute(&mut self, statement: Option<u64>, result: Option<SharedPortal>) {
        let holds_client = result.is_some() && !self.state.upstream_skipping();
        self.state
            .expect(Expect::execute(statement, result, holds_client));
        if holds_client {
            wire::encode(&mut self.to_upstream.output, |buf| {
                FrontendMessage::Flush.encode(buf)
            });
        }
    }

    fn substitute_query(&mut self, statement: Option<u64>, rewrite: Rewrite) {
        let query = Query {
            query: SUBSTITUTE_SQL,
        };
        wire::encode(&mut self.to_upstream.output, |buf| query.encode(buf));
        self.state
            .expect(Expect::substitute_query(statement, Some(rewrite)));
    }

    /// Ends a withheld simple Query the way an error would: a substitute
    /// Query that fails aborts an open transaction block, and its
    /// ReadyForQuery, with the resulting status, is the one the client gets.
    /// Its ErrorResponse is dropped, because the client has the gateway's.
    pub(crate) fn abort_query(&mut self) {
        let query = Query {
            query: SUBSTITUTE_SQL,
        };
        wire::encode(&mut self.to_upstream.output, |buf| query.encode(buf));
        self.state.expect(Expect::substitute_query(None, None));
    }

    /// Ends a withheld Execute the way an error would: a substitute Parse
    /// that fails after it makes the server skip to the client's Sync and
    /// roll back an implicit transaction. Its ErrorResponse is dropped.
    pub(crate) fn abort_execute(&mut self) {
        let parse = Parse {
            name: SUBSTITUTE_STATEMENT,
            query: SUBSTITUTE_SQL,
            parameter_types: Vec::new(),
        };
        wire::encode(&mut self.to_upstream.output, |buf| parse.encode(buf));
        self.state.substitute_parse_sent();
        self.state.expect(Expect::Abort);
    }

    /// Ends the COPY FROM STDIN of a withheld query, which the client does
    /// not know about and sends no data for.
    pub(crate) fn abort_copy_in(&mut self) {
        let fail = CopyFail {
            message: "the gateway withheld an earlier result of this query",
        };
        wire::encode(&mut self.to_upstream.output, |buf| {
            FrontendMessage::CopyFail(fail).encode(buf)
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
        self.state.substitute_parse_sent();
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
