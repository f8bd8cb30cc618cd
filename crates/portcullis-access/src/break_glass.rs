//! Break-glass: a user holding the entitlement role self-grants the emergency role for
//! a limited time after a fresh password and TOTP check. It raises a critical alert and
//! opens a post-incident review that stays open until a reviewer closes it.

use std::net::IpAddr;
use std::time::Duration;

use portcullis_alert::{Alert, AlertKind, Severity};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::access::{AccessGrant, BreakGlassReview, GrantSource};
use portcullis_core::{GrantId, ReviewId};
use portcullis_store::accounts::IssuedToken;
use serde::Serialize;

use crate::error::human;
use crate::requests::rfc3339;
use crate::text::{checked_text, TextField};
use crate::{AccessError, AccessService, Actor};

/// Input of a break-glass request.
#[derive(Debug)]
pub struct BreakGlassInput {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Current TOTP code.
    pub totp: String,
    /// Address the user acts from, for lockouts and the audit record.
    pub source: IpAddr,
    /// Emergency role the user names, which must be the configured one.
    pub role: Option<String>,
    /// Target to limit the grant to, or `None` for every target.
    pub target: Option<String>,
    /// Requested duration; `None` means `break_glass.max_duration`.
    pub duration: Option<Duration>,
    /// Reason emergency access is needed.
    pub reason: String,
}

/// The result of breaking the glass: a token to connect with, the grant, the review.
#[derive(Debug)]
pub struct BreakGlassGrant {
    /// A new token, valid no longer than the grant.
    pub token: IssuedToken,
    /// The emergency grant.
    pub grant: AccessGrant,
    /// The review the grant opened.
    pub review: BreakGlassReview,
}

/// An open review with the name of the user who broke the glass.
#[derive(Debug, Clone, Serialize)]
pub struct OpenReview {
    /// The review.
    pub review: BreakGlassReview,
    /// The grant under review.
    pub grant: AccessGrant,
    /// Name of the user who broke the glass.
    pub user: String,
}

impl AccessService {
    /// Breaks the glass: checks the configuration and the input, logs the user in
    /// (password and TOTP), checks the entitlement, then records, stores and announces
    /// the grant. Any failure after the login revokes the token it issued.
    pub async fn break_glass(&self, input: BreakGlassInput) -> Result<BreakGlassGrant, AccessError> {
        let (Some(role), Some(entitlement)) = (&self.break_glass.role, &self.break_glass.entitlement) else {
            return Err(AccessError::BreakGlassDisabled);
        };
        if let Some(requested) = &input.role {
            if requested != role {
                return Err(AccessError::WrongBreakGlassRole {
                    requested: requested.clone(),
                    configured: role.clone(),
                });
            }
        }
        let max = self.break_glass.max_duration;
        let duration = input.duration.unwrap_or(max);
        if duration.is_zero() {
            return Err(AccessError::ZeroDuration);
        }
        if duration > max {
            return Err(AccessError::DurationTooLong {
                role: role.clone(),
                requested: duration,
                max,
            });
        }
        let reason = checked_text(TextField::Reason, &input.reason)?;
        let role = self.find_role(role).await?;

        let token = self.login(&input, duration).await?;
        let granted = self.grant_emergency(&token, role, &input, duration, reason, entitlement).await;
        if granted.is_err() {
            let now = self.clock.now();
            if let Err(error) = self.store.revoke_token(token.record.id, now).await {
                tracing::error!(%error, token_id = %token.record.id, "revoking the break-glass token after a failure failed");
            }
        }
        let (grant, review) = granted?;
        Ok(BreakGlassGrant { token, grant, review })
    }

    async fn login(&self, input: &BreakGlassInput, duration: Duration) -> Result<IssuedToken, AccessError> {
        let result = self
            .accounts
            .login(&input.user, &input.password, &input.totp, input.source, Some(duration))
            .await;
        match result {
            Ok(issued) => Ok(issued),
            Err(error) => {
                let event = AuditEvent::new(event_types::AUTH_LOGIN_FAILED, error.to_string(), Outcome::Failure)
                    .client_addr(input.source)
                    .meta("via", "break-glass");
                self.record(event).await?;
                Err(AccessError::Login(error))
            }
        }
    }

    async fn grant_emergency(
        &self,
        token: &IssuedToken,
        role: portcullis_core::Role,
        input: &BreakGlassInput,
        duration: Duration,
        reason: String,
        entitlement: &str,
    ) -> Result<(AccessGrant, BreakGlassReview), AccessError> {
        let user = &token.user;
        if !self.holds_role(user, entitlement).await? {
            let error = AccessError::NotEntitled {
                user: user.name.to_string(),
                entitlement: entitlement.to_string(),
            };
            self.record(
                AuditEvent::new(event_types::BREAK_GLASS_USED, error.to_string(), Outcome::Denied)
                    .actor(user.id.0)
                    .client_addr(input.source),
            )
            .await?;
            return Err(error);
        }
        // Checked after the login so that a caller without credentials cannot
        // learn which targets exist.
        self.check_target(input.target.as_deref()).await?;

        let now = self.clock.now();
        let grant = AccessGrant {
            id: GrantId::new_random(),
            user_id: user.id,
            role_id: role.id,
            role: role.name,
            target: input.target.clone(),
            source: GrantSource::BreakGlass,
            reason,
            starts_at: now,
            ends_at: now + duration,
            revoked_at: None,
            revoked_by: None,
            request_id: None,
        };
        let review = BreakGlassReview {
            id: ReviewId::new_random(),
            grant_id: grant.id,
            opened_at: now,
            reviewed_by: None,
            reviewed_at: None,
            notes: None,
        };
        let mut event = AuditEvent::new(
            event_types::BREAK_GLASS_USED,
            format!("{} took emergency role {}", user.name, grant.role),
            Outcome::Success,
        )
        .actor(user.id.0)
        .client_addr(input.source)
        .meta("grant_id", grant.id.to_string())
        .meta("review_id", review.id.to_string())
        .meta("token_id", token.record.id.to_string())
        .meta("role", grant.role.to_string())
        .meta("duration", human(duration))
        .meta("ends_at", rfc3339(grant.ends_at))
        .meta("reason", grant.reason.clone());
        if let Some(target) = &grant.target {
            event = event.target(target.clone());
        }
        self.record(event).await?;
        self.store.insert_break_glass_grant(&grant, &review).await?;

        let alert = Alert::new(AlertKind::BreakGlassUsed, Severity::Critical, user.name.to_string())
            .detail("grant_id", grant.id.to_string())
            .detail("review_id", review.id.to_string())
            .detail("role", grant.role.to_string())
            .detail("target", grant.target.clone().unwrap_or_else(|| "*".to_string()))
            .detail("ends_at", rfc3339(grant.ends_at))
            .detail("reason", grant.reason.clone());
        if let Err(error) = self.alerts.raise(alert).await {
            // The alert's audit record failed, so the use of the grant would go
            // unrecorded: take the grant back.
            if let Err(revoke_error) = self.store.revoke_grant(grant.id, user.id, self.clock.now()).await {
                tracing::error!(error = %revoke_error, grant_id = %grant.id, "revoking the break-glass grant after a failed alert failed");
            }
            return Err(error.into());
        }
        Ok((grant, review))
    }

    /// Lists the break-glass reviews not yet closed, oldest first.
    pub async fn open_reviews(&self) -> Result<Vec<OpenReview>, AccessError> {
        let mut reviews = Vec::new();
        for (review, grant) in self.store.list_open_reviews().await? {
            let user = self.user_name(grant.user_id).await?;
            reviews.push(OpenReview { review, grant, user });
        }
        Ok(reviews)
    }

    /// Closes a review with the reviewer's notes. The reviewer must hold
    /// `break_glass.reviewers` and must not be the user who broke the glass.
    pub async fn close_review(&self, actor: &Actor, id: ReviewId, notes: &str) -> Result<BreakGlassReview, AccessError> {
        let notes = checked_text(TextField::Notes, notes)?;
        let notes = notes.as_str();
        let (review, grant) = self.store.get_review(id).await?.ok_or(AccessError::ReviewNotFound(id))?;
        if review.reviewed_at.is_some() {
            return Err(AccessError::ReviewClosed(id));
        }
        let reviewers = self.break_glass.reviewers.clone();
        let user = actor.user.name.to_string();
        if grant.user_id == actor.user.id {
            return Err(AccessError::SelfReview { id, user, reviewers });
        }
        if !self.holds_role(&actor.user, &reviewers).await? {
            return Err(AccessError::NotReviewer { user, reviewers });
        }

        self.record(
            AuditEvent::new(event_types::BREAK_GLASS_REVIEWED, format!("review {id} closed"), Outcome::Success)
                .actor(actor.user.id.0)
                .meta("review_id", id.to_string())
                .meta("grant_id", grant.id.to_string())
                .meta("notes", notes.to_string()),
        )
        .await?;
        let now = self.clock.now();
        if !self.store.close_review(id, actor.user.id, now, notes).await? {
            return Err(AccessError::ReviewClosed(id));
        }
        Ok(BreakGlassReview {
            reviewed_by: Some(actor.user.id),
            reviewed_at: Some(now),
            notes: Some(notes.to_string()),
            ..review
        })
    }
}
