//! The request context: facts about the session at the time of a request.

use std::collections::HashMap;
use std::net::IpAddr;

use cedar_policy::{Context, EntityUid, RestrictedExpression};
use serde::Serialize;

use crate::action::Action;
use crate::explain::CheckResult;

/// Facts about the session when a statement arrives. The `hour` and
/// `statement_kind` attributes of the Cedar context are derived from them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RequestContext {
    /// Unix time, in seconds.
    pub now: i64,
    /// Address of the client's connection to the gateway.
    pub client_ip: IpAddr,
    /// The gateway session id.
    pub session_id: String,
    /// True when the session runs on a just-in-time grant.
    pub via_jit: bool,
    /// True when the session runs on an emergency (break-glass) grant.
    pub via_break_glass: bool,
    /// Seconds since the user last completed multi-factor authentication.
    pub mfa_age_seconds: i64,
}

impl RequestContext {
    /// Returns the hour of the day in UTC, 0 to 23.
    pub fn hour(&self) -> i64 {
        self.now.rem_euclid(86_400) / 3_600
    }

    /// Builds the Cedar context record for a statement of `statement_kind`.
    #[cfg(test)]
    pub(crate) fn to_cedar(&self, statement_kind: &str) -> Result<Context, String> {
        self.to_cedar_with_ip(ip_expression(self.client_ip), statement_kind)
    }

    /// Builds the Cedar context record with `client_ip`, the Cedar `ip` value of
    /// `self.client_ip` built by [`ip_expression`].
    fn to_cedar_with_ip(
        &self,
        client_ip: RestrictedExpression,
        statement_kind: &str,
    ) -> Result<Context, String> {
        let pairs = [
            ("now", RestrictedExpression::new_long(self.now)),
            ("hour", RestrictedExpression::new_long(self.hour())),
            ("client_ip", client_ip),
            (
                "session_id",
                RestrictedExpression::new_string(self.session_id.clone()),
            ),
            ("via_jit", RestrictedExpression::new_bool(self.via_jit)),
            (
                "via_break_glass",
                RestrictedExpression::new_bool(self.via_break_glass),
            ),
            (
                "mfa_age_seconds",
                RestrictedExpression::new_long(self.mfa_age_seconds),
            ),
            (
                "statement_kind",
                RestrictedExpression::new_string(statement_kind.to_owned()),
            ),
        ];
        Context::from_pairs(pairs.map(|(name, value)| (name.to_owned(), value)))
            .map_err(|error| error.to_string())
    }

    /// Returns the parts of the context that a cached decision depends on. `now` and
    /// `mfa_age_seconds` count only when a policy reads them.
    pub(crate) fn fingerprint(&self, volatile: bool) -> ContextFingerprint {
        ContextFingerprint {
            hour: self.hour(),
            client_ip: self.client_ip,
            session_id: self.session_id.clone(),
            via_jit: self.via_jit,
            via_break_glass: self.via_break_glass,
            volatile: volatile.then_some((self.now, self.mfa_age_seconds)),
        }
    }
}

/// Returns the Cedar expression `ip("<address>")`. `RestrictedExpression::new_ip`
/// of cedar-policy 4.14.1 parses the extension function name `ip` with Cedar's
/// grammar on every call, which cost about as much as one authorization request
/// in a profile of the decide bench, so callers keep the result for as long as
/// the address does not change.
fn ip_expression(address: IpAddr) -> RestrictedExpression {
    RestrictedExpression::new_ip(address.to_string())
}

/// See [`RequestContext::fingerprint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContextFingerprint {
    hour: i64,
    client_ip: IpAddr,
    session_id: String,
    via_jit: bool,
    via_break_glass: bool,
    volatile: Option<(i64, i64)>,
}

impl ContextFingerprint {
    /// Returns whether `context` has this fingerprint, without allocating.
    pub(crate) fn matches(&self, context: &RequestContext) -> bool {
        self.hour == context.hour()
            && self.client_ip == context.client_ip
            && self.session_id == context.session_id
            && self.via_jit == context.via_jit
            && self.via_break_glass == context.via_break_glass
            && self
                .volatile
                .is_none_or(|pair| pair == (context.now, context.mfa_age_seconds))
    }
}

/// Cedar contexts and authorization results of one session, valid for one
/// request context and dropped when it changes. The client address's Cedar
/// value is kept across request contexts, because it changes only with the
/// address (see [`ip_expression`]) while `now` changes every second. A
/// result is reused by later statements of the same kind that check the same
/// action on the same resource.
///
/// When no policy reads `context.now` or `context.mfa_age_seconds` (see
/// `PolicySnapshot::volatile_context`), the context carries the start of the
/// hour and zero instead, so contexts and results stay valid for the hour
/// rather than for one second. Cedar is deterministic: the same principal,
/// action, resource, context, policies and entities give the same response.
/// The session drops the results whenever it adds entities, and the policies
/// and principal change only with a new session state.
#[derive(Default)]
pub(crate) struct RequestCache {
    client_ip: Option<(IpAddr, RestrictedExpression)>,
    request: Option<RequestContext>,
    contexts: HashMap<&'static str, Context>,
    results: HashMap<(&'static str, Action, EntityUid), CheckResult>,
}

impl RequestCache {
    /// Returns the Cedar context of `request` for a statement of `statement_kind`.
    pub(crate) fn context(
        &mut self,
        request: &RequestContext,
        volatile: bool,
        statement_kind: &'static str,
    ) -> Result<Context, String> {
        let (now, mfa_age_seconds) = if volatile {
            (request.now, request.mfa_age_seconds)
        } else {
            (request.now - request.now.rem_euclid(3_600), 0)
        };
        let current = self.request.as_ref().is_some_and(|cached| {
            cached.now == now
                && cached.mfa_age_seconds == mfa_age_seconds
                && cached.client_ip == request.client_ip
                && cached.via_jit == request.via_jit
                && cached.via_break_glass == request.via_break_glass
                && cached.session_id == request.session_id
        });
        if !current {
            self.contexts.clear();
            self.results.clear();
            self.request = Some(RequestContext {
                now,
                mfa_age_seconds,
                ..request.clone()
            });
        }
        if let Some(context) = self.contexts.get(statement_kind) {
            return Ok(context.clone());
        }
        let client_ip = match &self.client_ip {
            Some((address, expression)) if *address == request.client_ip => expression.clone(),
            _ => {
                let expression = ip_expression(request.client_ip);
                self.client_ip = Some((request.client_ip, expression.clone()));
                expression
            }
        };
        let effective = self.request.as_ref().unwrap_or(request);
        let context = effective.to_cedar_with_ip(client_ip, statement_kind)?;
        self.contexts.insert(statement_kind, context.clone());
        Ok(context)
    }

    /// Returns a stored result for the current request context.
    pub(crate) fn result(
        &self,
        statement_kind: &'static str,
        action: Action,
        resource: &EntityUid,
    ) -> Option<CheckResult> {
        self.results
            .get(&(statement_kind, action, resource.clone()))
            .cloned()
    }

    /// Stores a result for the current request context.
    pub(crate) fn store(
        &mut self,
        statement_kind: &'static str,
        action: Action,
        resource: &EntityUid,
        result: &CheckResult,
    ) {
        self.results
            .insert((statement_kind, action, resource.clone()), result.clone());
    }

    /// Drops every stored result, because the entities changed.
    pub(crate) fn clear_results(&mut self) {
        self.results.clear();
    }
}
