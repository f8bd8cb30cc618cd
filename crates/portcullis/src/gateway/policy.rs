//! Per-statement policy in the PostgreSQL front end: each session gets a
//! [`PolicyCheck`] that analyzes every statement with `portcullis-sql`, decides it
//! with the Cedar engine and turns the decision into a verdict the relay enforces
//! (deny, or mask and cap the result).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use portcullis_mask::{ColumnMask, MaskKey};
use portcullis_pg::{Restrictions, SessionId, StatementCheck, StatementRequest, StatementRestriction, Verdict};
use portcullis_policy::{MessageDecision, RequestContext, SessionPolicy};
use portcullis_sql::AnalysisContext;
use time::OffsetDateTime;

/// Decides the statements of one session.
pub struct PolicyCheck {
    state: Mutex<SessionState>,
    mask_key: Arc<MaskKey>,
    client_ip: IpAddr,
    mfa_at: OffsetDateTime,
}

struct SessionState {
    policy: SessionPolicy,
    analysis: AnalysisContext,
}

impl PolicyCheck {
    pub fn new(policy: SessionPolicy, analysis: AnalysisContext, mask_key: Arc<MaskKey>, client_ip: IpAddr, mfa_at: OffsetDateTime) -> Self {
        PolicyCheck {
            state: Mutex::new(SessionState { policy, analysis }),
            mask_key,
            client_ip,
            mfa_at,
        }
    }

    fn request_context(&self, session: SessionId) -> RequestContext {
        let now = OffsetDateTime::now_utc();
        RequestContext {
            now: now.unix_timestamp(),
            client_ip: self.client_ip,
            session_id: session.to_string(),
            via_jit: false,
            via_break_glass: false,
            mfa_age_seconds: (now - self.mfa_at).whole_seconds().max(0),
        }
    }

    fn decide(&self, session: SessionId, sql: &str) -> Verdict {
        let request = self.request_context(session);
        let Ok(mut state) = self.state.lock() else {
            return Verdict::Deny {
                reason: "the session's policy state is unusable after an internal error; reconnect".to_string(),
            };
        };
        let SessionState { policy, analysis } = &mut *state;
        let decision = policy.decide(sql, analysis, &request);
        if !decision.is_allowed() {
            let reason = decision
                .reason
                .as_ref()
                .map(|reason| reason.to_string())
                .unwrap_or_else(|| "denied by policy".to_string());
            return Verdict::Deny { reason };
        }
        // Later statements resolve names with the search_path and prepared
        // statements this one set up, as the server will.
        for facts in decision.facts.iter() {
            analysis.apply_session_effect(facts);
        }
        self.verdict(&decision)
    }

    fn verdict(&self, decision: &MessageDecision) -> Verdict {
        let restricts = decision
            .statements
            .iter()
            .any(|statement| statement.mask_plan.has_masks() || statement.max_rows.is_some());
        if !restricts {
            return Verdict::Allow;
        }
        let statements = decision
            .statements
            .iter()
            .map(|statement| StatementRestriction {
                columns: statement
                    .mask_plan
                    .columns
                    .iter()
                    .map(|method| {
                        method.map(|method| ColumnMask {
                            method,
                            key: Some((*self.mask_key).clone()),
                        })
                    })
                    .collect(),
                open_ended: statement.mask_plan.open_ended,
                max_rows: statement.max_rows,
                copy: None,
            })
            .collect();
        Verdict::Restrict(Arc::new(Restrictions { statements }))
    }
}

impl StatementCheck for PolicyCheck {
    fn check(&self, session: SessionId, statement: &StatementRequest<'_>) -> Verdict {
        match statement {
            StatementRequest::Query { text } | StatementRequest::Parse { text } => self.decide(session, text),
            // The statement was decided at Parse; its restriction stays with it.
            StatementRequest::Execute { .. } => Verdict::Allow,
        }
    }
}
