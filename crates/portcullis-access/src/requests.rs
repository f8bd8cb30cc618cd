//! Just-in-time requests: create, list, show, approve, deny and revoke.

use std::time::Duration;

use portcullis_alert::{Alert, AlertKind, Severity};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::access::{AccessGrant, AccessRequest, Decision, RequestDecision, RequestState};
use portcullis_core::config::RequestableRole;
use portcullis_core::{AccessRequestId, RoleName};
use portcullis_store::DecisionOutcome;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::human;
use crate::text::{checked_text, TextField};
use crate::{AccessError, AccessService, Actor};

/// A new just-in-time request.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Name of the requested role.
    pub role: String,
    /// Target to limit the grant to, or `None` for every target.
    pub target: Option<String>,
    /// How long the grant should last.
    pub duration: Duration,
    /// Reason the access is needed.
    pub reason: String,
}

/// A request with the names and records a reader needs.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// The request.
    #[serde(flatten)]
    pub request: AccessRequest,
    /// Name of the requester.
    pub requester: String,
    /// Decisions recorded so far.
    pub decisions: Vec<DecisionView>,
    /// Approvals the role needs.
    pub approvals_required: u32,
    /// The grant, once approved.
    pub grant: Option<AccessGrant>,
}

/// One decision with the approver's name.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    /// The decision.
    #[serde(flatten)]
    pub decision: RequestDecision,
    /// Name of the approver.
    pub approver: String,
}

impl AccessService {
    /// Creates a pending request for `actor`.
    pub async fn create_request(&self, actor: &Actor, new: NewRequest) -> Result<AccessRequest, AccessError> {
        let rule = self.requestable(&new.role)?;
        if new.duration.is_zero() {
            return Err(AccessError::ZeroDuration);
        }
        if new.duration > rule.max_duration {
            return Err(AccessError::DurationTooLong {
                role: new.role,
                requested: new.duration,
                max: rule.max_duration,
            });
        }
        let reason = checked_text(TextField::Reason, &new.reason)?;
        self.check_target(new.target.as_deref()).await?;
        let role = self.find_role(&new.role).await?;

        let now = self.clock.now();
        let request = AccessRequest {
            id: AccessRequestId::new_random(),
            requester_id: actor.user.id,
            role_id: role.id,
            role: role.name,
            target: new.target,
            duration: new.duration,
            reason,
            state: RequestState::Pending,
            created_at: now,
            expires_at: now + self.access.request_ttl,
        };
        self.record(
            request_event(event_types::ACCESS_REQUESTED, &request, actor, Outcome::Success)
                .meta("duration", human(request.duration))
                .meta("reason", request.reason.clone()),
        )
        .await?;
        self.store.insert_access_request(&request).await?;
        Ok(request)
    }

    /// Lists the requests `actor` may see (their own and those they may decide),
    /// newest first.
    pub async fn list_requests(&self, actor: &Actor) -> Result<Vec<RequestView>, AccessError> {
        self.expire_due().await?;
        let mut views = Vec::new();
        for request in self.store.list_access_requests().await? {
            if self.may_see(actor, &request).await? {
                views.push(self.view(request).await?);
            }
        }
        Ok(views)
    }

    /// Shows one request that `actor` may see.
    pub async fn show_request(&self, actor: &Actor, id: AccessRequestId) -> Result<RequestView, AccessError> {
        self.expire_due().await?;
        let request = self.find_request(id).await?;
        if !self.may_see(actor, &request).await? {
            return Err(AccessError::RequestNotFound(id));
        }
        self.view(request).await
    }

    /// Approves a request. The approval that completes the count creates the grant.
    pub async fn approve(&self, actor: &Actor, id: AccessRequestId) -> Result<RequestView, AccessError> {
        self.decide(actor, id, Decision::Approve).await
    }

    /// Denies a request, which ends it.
    pub async fn deny(&self, actor: &Actor, id: AccessRequestId) -> Result<RequestView, AccessError> {
        self.decide(actor, id, Decision::Deny).await
    }

    /// Withdraws a pending request or revokes the grant of an approved one. The
    /// requester and the role's approvers may do this.
    pub async fn revoke(&self, actor: &Actor, id: AccessRequestId) -> Result<RequestView, AccessError> {
        self.expire_due().await?;
        let request = self.find_request(id).await?;
        let approvers = self.requestable(request.role.as_str()).map(|rule| rule.approvers.clone());
        let is_approver = match &approvers {
            Ok(approvers) => self.holds_role(&actor.user, approvers).await?,
            Err(_) => false,
        };
        if request.requester_id != actor.user.id && !is_approver {
            return Err(AccessError::NotPermittedToRevoke {
                id,
                user: actor.user.name.to_string(),
                role: request.role.to_string(),
            });
        }

        let now = self.clock.now();
        match request.state {
            RequestState::Pending => {
                if self.store.withdraw_access_request(id).await? {
                    self.record(request_event(event_types::ACCESS_REQUEST_WITHDRAWN, &request, actor, Outcome::Success))
                        .await?;
                }
            }
            RequestState::Approved => {
                let grant = self.store.get_request_grant(id).await?.ok_or(AccessError::NotRevocable {
                    id,
                    state: request.state,
                })?;
                // Revocation lowers privilege, so it happens even if the audit record
                // then fails; the error still reaches the caller.
                if self.store.revoke_grant(grant.id, actor.user.id, now).await? {
                    self.record(
                        request_event(event_types::ACCESS_GRANT_REVOKED, &request, actor, Outcome::Success)
                            .meta("grant_id", grant.id.to_string()),
                    )
                    .await?;
                }
            }
            state => return Err(AccessError::NotRevocable { id, state }),
        }
        self.view(self.find_request(id).await?).await
    }

    async fn decide(&self, actor: &Actor, id: AccessRequestId, decision: Decision) -> Result<RequestView, AccessError> {
        self.expire_due().await?;
        let request = self.find_request(id).await?;
        if let Err(error) = self.check_decider(actor, &request).await {
            let event_type = match decision {
                Decision::Approve => event_types::ACCESS_APPROVED,
                Decision::Deny => event_types::ACCESS_DENIED,
            };
            self.record(request_event(event_type, &request, actor, Outcome::Denied).meta("error", error.to_string()))
                .await?;
            return Err(error);
        }
        let rule = self.requestable(request.role.as_str())?;

        let recorded = RequestDecision {
            request_id: id,
            approver_id: actor.user.id,
            decision,
            decided_at: self.clock.now(),
        };
        let outcome = self.store.decide_access_request(&recorded, rule.approvals).await?;
        self.after_decision(actor, &request, outcome).await?;
        self.view(self.find_request(id).await?).await
    }

    /// Checks everything about the approver that the store cannot: not the requester,
    /// a member of the approver role, and recently through MFA.
    async fn check_decider(&self, actor: &Actor, request: &AccessRequest) -> Result<(), AccessError> {
        if request.state != RequestState::Pending {
            return Err(AccessError::NotPending {
                id: request.id,
                state: request.state,
            });
        }
        let user = actor.user.name.to_string();
        if request.requester_id == actor.user.id {
            return Err(AccessError::SelfApproval { id: request.id, user });
        }
        let rule = self.requestable(request.role.as_str())?;
        if !self.holds_role(&actor.user, &rule.approvers).await? {
            return Err(AccessError::NotApprover {
                user,
                role: request.role.to_string(),
                approvers: rule.approvers.clone(),
            });
        }
        let age = self.clock.now() - actor.token.mfa_at;
        let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
        if age > self.access.approver_mfa_max_age {
            return Err(AccessError::MfaTooOld {
                user,
                age,
                max: self.access.approver_mfa_max_age,
            });
        }
        Ok(())
    }

    async fn after_decision(&self, actor: &Actor, request: &AccessRequest, outcome: DecisionOutcome) -> Result<(), AccessError> {
        let user = actor.user.name.to_string();
        match outcome {
            DecisionOutcome::NotPending(state) => Err(AccessError::NotPending { id: request.id, state }),
            DecisionOutcome::AlreadyDecided => Err(AccessError::AlreadyDecided { id: request.id, user }),
            DecisionOutcome::Denied => {
                self.record(request_event(event_types::ACCESS_DENIED, request, actor, Outcome::Success))
                    .await
            }
            DecisionOutcome::AwaitingApprovals { approvals, required } => {
                self.record(
                    request_event(event_types::ACCESS_APPROVAL_RECORDED, request, actor, Outcome::Success)
                        .meta("approvals", approvals)
                        .meta("approvals_required", required),
                )
                .await
            }
            DecisionOutcome::Approved(grant) => self.grant_approved(actor, request, &grant).await,
        }
    }

    /// Records and announces a new grant. A grant the audit log cannot record is
    /// revoked at once.
    async fn grant_approved(&self, actor: &Actor, request: &AccessRequest, grant: &AccessGrant) -> Result<(), AccessError> {
        let event = request_event(event_types::ACCESS_APPROVED, request, actor, Outcome::Success)
            .meta("grant_id", grant.id.to_string())
            .meta("ends_at", rfc3339(grant.ends_at));
        if let Err(error) = self.record(event).await {
            tracing::error!(%error, grant_id = %grant.id, "audit append failed; revoking the grant just created");
            if let Err(revoke_error) = self.store.revoke_grant(grant.id, actor.user.id, self.clock.now()).await {
                tracing::error!(error = %revoke_error, grant_id = %grant.id, "revoking an unrecorded grant failed");
            }
            return Err(error);
        }
        let requester = self.user_name(request.requester_id).await?;
        let alert = Alert::new(AlertKind::AccessRequestApproved, Severity::Warning, requester)
            .detail("request_id", request.id.to_string())
            .detail("grant_id", grant.id.to_string())
            .detail("role", request.role.to_string())
            .detail("target", request.target.clone().unwrap_or_else(|| "*".to_string()))
            .detail("approved_by", actor.user.name.to_string())
            .detail("ends_at", rfc3339(grant.ends_at));
        self.alerts.raise(alert).await?;
        Ok(())
    }

    /// Marks overdue pending requests as expired and records each expiry.
    pub async fn expire_due(&self) -> Result<(), AccessError> {
        let now = self.clock.now();
        for id in self.store.expire_access_requests(now).await? {
            self.record(
                AuditEvent::new(event_types::ACCESS_REQUEST_EXPIRED, format!("request {id}"), Outcome::Success)
                    .meta("request_id", id.to_string()),
            )
            .await?;
        }
        Ok(())
    }

    fn requestable(&self, role: &str) -> Result<&RequestableRole, AccessError> {
        self.access.roles.get(role).ok_or_else(|| AccessError::NotRequestable {
            role: role.to_string(),
        })
    }

    pub(crate) async fn find_role(&self, role: &str) -> Result<portcullis_core::Role, AccessError> {
        let unknown = || AccessError::UnknownRole { role: role.to_string() };
        let name = RoleName::new(role).map_err(|_| unknown())?;
        self.store.get_role_by_name(&name).await?.ok_or_else(unknown)
    }

    async fn find_request(&self, id: AccessRequestId) -> Result<AccessRequest, AccessError> {
        self.store
            .get_access_request(id)
            .await?
            .ok_or(AccessError::RequestNotFound(id))
    }

    async fn may_see(&self, actor: &Actor, request: &AccessRequest) -> Result<bool, AccessError> {
        if request.requester_id == actor.user.id {
            return Ok(true);
        }
        match self.requestable(request.role.as_str()) {
            Ok(rule) => self.holds_role(&actor.user, &rule.approvers).await,
            Err(_) => Ok(false),
        }
    }

    async fn view(&self, request: AccessRequest) -> Result<RequestView, AccessError> {
        let mut decisions = Vec::new();
        for decision in self.store.list_request_decisions(request.id).await? {
            let approver = self.user_name(decision.approver_id).await?;
            decisions.push(DecisionView { decision, approver });
        }
        let grant = match request.state {
            RequestState::Approved | RequestState::Revoked => self.store.get_request_grant(request.id).await?,
            _ => None,
        };
        Ok(RequestView {
            requester: self.user_name(request.requester_id).await?,
            approvals_required: self.requestable(request.role.as_str()).map(|rule| rule.approvals).unwrap_or(0),
            request,
            decisions,
            grant,
        })
    }

    pub(crate) async fn user_name(&self, id: portcullis_core::UserId) -> Result<String, AccessError> {
        Ok(self
            .store
            .get_user(id)
            .await?
            .map(|user| user.name.to_string())
            .unwrap_or_else(|| id.to_string()))
    }
}

fn request_event(event_type: &str, request: &AccessRequest, actor: &Actor, outcome: Outcome) -> AuditEvent {
    let mut event = AuditEvent::new(event_type, format!("role {} for request {}", request.role, request.id), outcome)
        .actor(actor.user.id.0)
        .meta("request_id", request.id.to_string())
        .meta("role", request.role.to_string())
        .meta("requester_id", request.requester_id.to_string());
    if let Some(target) = &request.target {
        event = event.target(target.clone());
    }
    event
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
