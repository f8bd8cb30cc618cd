//! Session events of the PostgreSQL front end, turned into audit records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_pg::{Completion, EndReason, Evidence, SessionEvent, SessionId, StatementText, Verdict};
use serde_json::{json, Value};
use uuid::Uuid;

/// Who owns each live session, so statement records carry the actor and target.
#[derive(Default)]
pub struct SessionOwners {
    owners: Mutex<HashMap<Uuid, Owner>>,
}

#[derive(Clone)]
struct Owner {
    user_id: Option<Uuid>,
    target: String,
    /// The session runs on a break-glass grant; its records are marked so.
    break_glass: bool,
}

impl SessionOwners {
    fn remember(&self, session: SessionId, owner: Owner) {
        if let Ok(mut owners) = self.owners.lock() {
            owners.insert(session.0, owner);
        }
    }

    fn get(&self, session: SessionId) -> Option<Owner> {
        self.owners.lock().ok()?.get(&session.0).cloned()
    }

    fn forget(&self, session: SessionId) {
        if let Ok(mut owners) = self.owners.lock() {
            owners.remove(&session.0);
        }
    }

    /// Converts a front-end event into an audit event.
    pub fn to_audit_event(&self, event: SessionEvent) -> AuditEvent {
        match event {
            SessionEvent::SessionStarted {
                session,
                identity,
                target,
                client_addr,
                tls,
            } => {
                let user_id = Uuid::parse_str(&identity.user_id).ok();
                let break_glass = identity.break_glass;
                self.remember(session, Owner { user_id, target: target.clone(), break_glass });
                let mut audit = AuditEvent::new(event_types::SESSION_STARTED, identity.user_name, Outcome::Success)
                    .session(session.0)
                    .target(target)
                    .client_addr(client_addr)
                    .meta("token_id", identity.token.as_str().to_string())
                    .meta("access_grants", identity.access_grants.clone())
                    .meta("break_glass", break_glass);
                if let Some(user_id) = user_id {
                    audit = audit.actor(user_id);
                }
                match tls {
                    Some(tls) => audit.meta("tls_version", tls.version).meta("tls_cipher", tls.cipher),
                    None => audit.meta("tls_version", "none"),
                }
            }
            SessionEvent::SessionEnded { session, reason } => {
                let owner = self.get(session);
                self.forget(session);
                let audit = AuditEvent::new(event_types::SESSION_ENDED, end_reason(&reason), Outcome::Success)
                    .session(session.0);
                with_owner(audit, owner)
            }
            SessionEvent::AuthenticationFailed {
                user,
                target,
                client_addr,
                reason,
            } => AuditEvent::new(event_types::SESSION_AUTH_FAILED, user, Outcome::Failure)
                .target(target)
                .client_addr(client_addr)
                .meta("reason", reason),
            SessionEvent::Statement {
                session,
                statement,
                text,
                verdict,
                evidence,
            } => self.statement_event(session, statement, text, verdict, evidence),
            SessionEvent::StatementCompleted {
                session,
                statement,
                completion,
            } => {
                let (outcome, detail) = completion_detail(&completion);
                let audit = AuditEvent::new(event_types::STATEMENT_COMPLETED, format!("statement {statement}"), outcome)
                    .session(session.0)
                    .meta("statement_no", statement)
                    .meta("completion", detail);
                with_owner(audit, self.get(session))
            }
            SessionEvent::CancelRequested {
                session,
                client_addr,
                forwarded,
            } => {
                let outcome = if forwarded { Outcome::Success } else { Outcome::Denied };
                let mut audit = AuditEvent::new(event_types::CANCEL_REQUESTED, "cancel request", outcome)
                    .client_addr(client_addr)
                    .meta("forwarded", forwarded);
                if let Some(session) = session {
                    audit = with_owner(audit.session(session.0), self.get(session));
                }
                audit
            }
        }
    }

    fn statement_event(
        &self,
        session: SessionId,
        statement: u64,
        text: StatementText,
        verdict: Verdict,
        evidence: Option<Arc<Evidence>>,
    ) -> AuditEvent {
        let (outcome, decision, reason) = match &verdict {
            Verdict::Allow => (Outcome::Success, "allow", None),
            Verdict::Restrict(_) => (Outcome::Success, "allow_restricted", None),
            Verdict::Deny { reason } => (Outcome::Denied, "deny", Some(reason.clone())),
        };
        let mut audit = AuditEvent::new(event_types::STATEMENT, format!("statement {statement}"), outcome)
            .session(session.0)
            .meta("statement_no", statement)
            .meta("decision", decision)
            .payload(statement_payload(text));
        if let Some(reason) = reason {
            // The client saw the whole reason. A parser message can quote a
            // literal, which belongs only in the encrypted payload.
            let clear = portcullis_sql::without_statement_text(&reason).into_owned();
            audit = audit.meta("reason", clear);
        }
        if let Some(evidence) = evidence {
            audit = with_evidence(audit, &evidence);
        }
        with_owner(audit, self.get(session))
    }
}

/// Adds what the decision rests on to a statement record, in clear fields:
/// policy ids, role names and column names are not ePHI, and values never
/// reach the evidence.
fn with_evidence(audit: AuditEvent, evidence: &Evidence) -> AuditEvent {
    let masked_columns: Vec<Value> = evidence
        .masked_columns
        .iter()
        .map(|masked| json!({"column": masked.column, "method": masked.method}))
        .collect();
    audit
        .meta("policy_ids", evidence.policy_ids.clone())
        .meta("masked_columns", masked_columns)
        .meta("roles_used", evidence.roles_used.clone())
        .meta("policy_hash", evidence.policy_hash.clone())
}

fn with_owner(audit: AuditEvent, owner: Option<Owner>) -> AuditEvent {
    match owner {
        Some(Owner { user_id, target, break_glass }) => {
            let audit = if break_glass { audit.meta("break_glass", true) } else { audit };
            let audit = audit.target(target);
            match user_id {
                Some(user_id) => audit.actor(user_id),
                None => audit,
            }
        }
        None => audit,
    }
}

/// Statement text and bind parameters go into the encrypted payload: they may hold ePHI.
fn statement_payload(text: StatementText) -> Value {
    match text {
        StatementText::Simple(text) => json!({"protocol": "simple", "text": text}),
        StatementText::Prepared {
            text,
            parameters,
            formats,
        } => {
            let parameters: Vec<Value> = parameters
                .iter()
                .map(|value| match value {
                    None => Value::Null,
                    Some(bytes) => match std::str::from_utf8(bytes) {
                        Ok(text) => Value::from(text),
                        Err(_) => json!({"hex": hex::encode(bytes)}),
                    },
                })
                .collect();
            json!({"protocol": "extended", "text": text, "parameters": parameters, "formats": formats})
        }
    }
}

fn completion_detail(completion: &Completion) -> (Outcome, Value) {
    match completion {
        Completion::Command { tag, rows } => (Outcome::Success, json!({"tag": tag, "rows": rows})),
        Completion::Empty => (Outcome::Success, json!({"tag": "EMPTY"})),
        Completion::Error { sqlstate } => (Outcome::Error, json!({"sqlstate": sqlstate})),
    }
}

fn end_reason(reason: &EndReason) -> String {
    match reason {
        EndReason::ClientClosed => "client closed the session".to_string(),
        EndReason::IdleTimeout => "idle timeout".to_string(),
        EndReason::TokenExpired => "token expired".to_string(),
        EndReason::Terminated(why) => format!("terminated: {why}"),
        EndReason::UpstreamLost => "upstream connection lost".to_string(),
        EndReason::Error(why) => format!("error: {why}"),
    }
}
