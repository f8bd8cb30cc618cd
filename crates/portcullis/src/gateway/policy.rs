//! Per-statement policy in the PostgreSQL front end: each session gets a
//! [`PolicyCheck`] that analyzes every statement with `portcullis-sql`, decides it
//! with the Cedar engine and turns the decision into a verdict the relay enforces
//! (deny, or mask and cap the result).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use portcullis_mask::{ColumnMask, MaskKey};
use portcullis_pg::{
    CheckOutcome, Evidence, MaskedColumnEvidence, Restrictions, SessionId, StatementCheck, StatementRequest,
    StatementRestriction, Verdict,
};
use portcullis_policy::{MessageDecision, RequestContext, SessionPolicy};
use portcullis_sql::{AnalysisContext, SessionEffect};
use time::OffsetDateTime;

use super::copy_plan::{copy_options, ColumnTypes};
use super::grants::AccessVia;

/// Decides the statements of one session.
pub struct PolicyCheck {
    state: Mutex<SessionState>,
    mask_key: Arc<MaskKey>,
    client_ip: IpAddr,
    mfa_at: OffsetDateTime,
    via: AccessVia,
    column_types: Arc<ColumnTypes>,
}

struct SessionState {
    policy: SessionPolicy,
    analysis: AnalysisContext,
    /// The last decision and its outcome. The session's decision cache returns
    /// the same `Arc` for a repeated message, so a repeat reuses the outcome.
    last: Option<(Arc<MessageDecision>, CheckOutcome)>,
    /// Names that SQL PREPARE or DECLARE was allowed to use in this session. They
    /// are never removed, because a SQL CLOSE, DEALLOCATE or DISCARD may be parsed
    /// and never run.
    sql_names: HashSet<String>,
}

impl PolicyCheck {
    pub fn new(policy: SessionPolicy, analysis: AnalysisContext, mask_key: Arc<MaskKey>, client_ip: IpAddr, mfa_at: OffsetDateTime) -> Self {
        PolicyCheck {
            state: Mutex::new(SessionState {
                policy,
                analysis,
                last: None,
                sql_names: HashSet::new(),
            }),
            mask_key,
            client_ip,
            mfa_at,
            via: AccessVia::default(),
            column_types: Arc::default(),
        }
    }

    /// Sets the column types that masking `COPY … TO STDOUT` needs.
    pub fn with_column_types(mut self, column_types: Arc<ColumnTypes>) -> Self {
        self.column_types = column_types;
        self
    }

    /// Sets the policy context's `via_jit` and `via_break_glass` for the session.
    pub fn with_access_via(mut self, via: AccessVia) -> Self {
        self.via = via;
        self
    }

    fn request_context(&self, session: SessionId) -> RequestContext {
        let now = OffsetDateTime::now_utc();
        RequestContext {
            now: now.unix_timestamp(),
            client_ip: self.client_ip,
            session_id: session.to_string(),
            via_jit: self.via.jit,
            via_break_glass: self.via.break_glass,
            mfa_age_seconds: (now - self.mfa_at).whole_seconds().max(0),
        }
    }

    fn decide(&self, session: SessionId, sql: &str) -> CheckOutcome {
        let request = self.request_context(session);
        let Ok(mut state) = self.state.lock() else {
            return Verdict::Deny {
                reason: "the session's policy state is unusable after an internal error; reconnect".to_string(),
            }
            .into();
        };
        let SessionState {
            policy,
            analysis,
            last,
            sql_names,
        } = &mut *state;
        let decision = policy.decide(sql, analysis, &request);
        if decision.is_allowed() {
            // Later statements resolve names with the search_path and prepared
            // statements this one set up, as the server will.
            for facts in decision.facts.iter() {
                analysis.apply_session_effect(facts);
                match &facts.session_effect {
                    Some(SessionEffect::Prepare { name } | SessionEffect::DeclareCursor { name }) => {
                        sql_names.insert(name.clone());
                    }
                    _ => {}
                }
            }
        }
        if let Some((previous, outcome)) = last.as_ref() {
            if Arc::ptr_eq(previous, &decision) {
                return outcome.clone();
            }
        }
        let outcome = CheckOutcome {
            verdict: self.verdict(&decision, analysis.standard_conforming_strings),
            evidence: Some(Arc::new(evidence(&decision, policy))),
        };
        *last = Some((decision, outcome.clone()));
        outcome
    }

    fn verdict(&self, decision: &MessageDecision, standard_conforming_strings: bool) -> Verdict {
        if !decision.is_allowed() {
            let reason = decision
                .reason
                .as_ref()
                .map(|reason| reason.to_string())
                .unwrap_or_else(|| "denied by policy".to_string());
            return Verdict::Deny { reason };
        }
        let restricts = decision
            .statements
            .iter()
            .any(|statement| statement.mask_plan.has_masks() || statement.max_rows.is_some());
        if !restricts {
            return Verdict::Allow;
        }
        let mut statements = Vec::with_capacity(decision.statements.len());
        for (position, statement) in decision.statements.iter().enumerate() {
            let columns: Vec<Option<ColumnMask>> = statement
                .mask_plan
                .columns
                .iter()
                .map(|method| {
                    method.map(|method| ColumnMask {
                        method,
                        key: Some((*self.mask_key).clone()),
                    })
                })
                .collect();
            let copy = match decision.facts.get(position) {
                Some(facts) => match copy_options(facts, &columns, &self.column_types, standard_conforming_strings) {
                    Ok(copy) => copy,
                    Err(reason) => return Verdict::Deny { reason },
                },
                None => None,
            };
            statements.push(StatementRestriction {
                columns,
                open_ended: statement.mask_plan.open_ended,
                max_rows: statement.max_rows,
                copy,
            });
        }
        Verdict::Restrict(Arc::new(Restrictions { statements }))
    }
}

const UNCHECKED_PORTAL: &str = "the gateway did not see the Parse and Bind that made this portal: it does \
     not exist, or it was made by SQL PREPARE or DECLARE, whose results cannot be masked when \
     fetched with protocol Execute messages; use SQL EXECUTE or FETCH, or Parse and Bind it";

fn deny(reason: &str) -> CheckOutcome {
    Verdict::Deny {
        reason: reason.to_string(),
    }
    .into()
}

impl PolicyCheck {
    /// Allows the Execute of a portal the gateway saw bound, unless SQL has used
    /// its name or its statement's name. The server could then run the SQL object,
    /// which the portal's masks do not describe.
    fn check_protocol_names(&self, statement: &str, portal: &str) -> CheckOutcome {
        let Ok(state) = self.state.lock() else {
            return deny("the session's policy state is unusable after an internal error; reconnect");
        };
        let replaced = (!portal.is_empty() && state.sql_names.contains(portal))
            || (!statement.is_empty() && state.sql_names.contains(statement));
        if replaced {
            return deny(
                "a SQL cursor or prepared statement has the name of this protocol portal or \
                 statement, so the gateway cannot tell which one the server runs; use distinct names",
            );
        }
        Verdict::Allow.into()
    }
}

impl StatementCheck for PolicyCheck {
    fn check(&self, session: SessionId, statement: &StatementRequest<'_>) -> CheckOutcome {
        match statement {
            StatementRequest::Query { text } | StatementRequest::Parse { text } => self.decide(session, text),
            // The statement was decided at Parse, and its restriction and
            // evidence stay with it.
            StatementRequest::Execute {
                checked: true,
                statement,
                portal,
                ..
            } => self.check_protocol_names(statement, portal),
            // The results of a statement prepared or a cursor declared in SQL carry no
            // masks when they are fetched with protocol messages, so that use is denied.
            StatementRequest::Execute { checked: false, .. } => deny(UNCHECKED_PORTAL),
        }
    }
}

/// Collects the evidence of a message decision: the deciding policies, masked
/// columns and roles of all its statements, each listed once.
fn evidence(decision: &MessageDecision, policy: &SessionPolicy) -> Evidence {
    let mut policy_ids: Vec<String> = Vec::new();
    let mut masked_columns: Vec<MaskedColumnEvidence> = Vec::new();
    for statement in &decision.statements {
        for id in &statement.determining_policies {
            if !policy_ids.contains(id) {
                policy_ids.push(id.clone());
            }
        }
        for masked in &statement.masked_columns {
            let entry = MaskedColumnEvidence {
                column: masked.column.clone(),
                method: masked.method.to_string(),
            };
            if !masked_columns.contains(&entry) {
                masked_columns.push(entry);
            }
        }
    }
    let roles_used = if decision.is_allowed() {
        policy.roles_used(&policy_ids)
    } else {
        Vec::new()
    };
    Evidence {
        policy_ids,
        masked_columns,
        roles_used,
        policy_hash: decision.policy_hash.to_string(),
    }
}
