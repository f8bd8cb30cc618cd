//! Ends live sessions whose access stopped being valid. A session ends when its token
//! was revoked by `logout`, cut off by `user disable` or expired, and when a temporary
//! access grant it depends on expired or was revoked. The check reads the state store,
//! so a revocation made by another process or another gateway instance sharing the
//! store reaches sessions here too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::access::{AccessGrant, GrantState};
use portcullis_core::{GrantId, UserName};
use portcullis_pg::{SessionRegistry, SessionSummary};
use portcullis_store::Store;
use time::OffsetDateTime;

use crate::output::rfc3339;

/// How often live sessions are checked against the store. With the time one check
/// takes, a session ends well within a second of its revocation.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// How long checks may keep failing before every live session ends, because the
/// gateway can no longer confirm that their access still holds.
pub const UNCONFIRMED_LIMIT: Duration = Duration::from_secs(5);

/// How long one check may take before it counts as failed, so that a store that hangs
/// is treated like one that refuses.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks every live session's token and grants every [`CHECK_INTERVAL`] until the
/// task is aborted. When the store stays unreachable for [`UNCONFIRMED_LIMIT`], every
/// live session ends (fail closed); new sessions are refused by the store check at
/// connect anyway.
pub async fn watch_revocations(store: Arc<dyn Store>, registry: Arc<SessionRegistry>) {
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        ticker.tick().await;
        let started = tokio::time::Instant::now();
        let checked = tokio::time::timeout(CHECK_TIMEOUT, check_once(store.as_ref(), &registry)).await;
        match checked {
            Ok(Ok(())) => failing_since = None,
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {} ms", CHECK_TIMEOUT.as_millis()),
                };
                metrics::counter!("portcullis_revocation_check_failures_total").increment(1);
                tracing::warn!(%error, "checking live sessions against the store failed; retrying");
                let since = *failing_since.get_or_insert(started);
                if since.elapsed() >= UNCONFIRMED_LIMIT {
                    end_unconfirmed(&registry);
                }
            }
        }
    }
}

/// Ends every live session after the store stayed unreachable.
fn end_unconfirmed(registry: &SessionRegistry) {
    let ended = registry.terminate_all(
        "the gateway cannot reach its state store to confirm that your access still holds; \
         reconnect when the store is back",
    );
    if ended > 0 {
        tracing::error!(sessions = ended, "ended live sessions: the state store is unreachable");
    }
}

async fn check_once(store: &dyn Store, registry: &SessionRegistry) -> Result<(), portcullis_store::StoreError> {
    let sessions = registry.sessions();
    if sessions.is_empty() {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let live = check_tokens(store, registry, &sessions, now).await?;
    check_grants(store, registry, &live, now).await
}

/// Ends the sessions whose token is no longer live and returns the others.
async fn check_tokens(
    store: &dyn Store,
    registry: &SessionRegistry,
    sessions: &[SessionSummary],
    now: OffsetDateTime,
) -> Result<Vec<SessionSummary>, portcullis_store::StoreError> {
    let mut by_user: BTreeMap<&str, Vec<&SessionSummary>> = BTreeMap::new();
    for session in sessions {
        by_user.entry(session.user_name.as_str()).or_default().push(session);
    }

    let mut survivors = Vec::new();
    for (user, sessions) in by_user {
        let live: HashSet<String> = match UserName::new(user) {
            Ok(name) => store
                .scram_verifiers(&name, now)
                .await?
                .map(|verifiers| verifiers.tokens.iter().map(|token| token.token_id.to_string()).collect())
                .unwrap_or_default(),
            Err(_) => HashSet::new(),
        };
        for session in sessions {
            if live.contains(session.token.as_str()) {
                survivors.push(session.clone());
                continue;
            }
            tracing::info!(session = %session.session, user = %user, "ending a session whose token is no longer valid");
            registry.terminate(
                session.session,
                "access revoked: the token was revoked, the user was disabled, or the token expired",
            );
        }
    }
    Ok(survivors)
}

/// Ends the sessions that depend on a grant no longer in force, naming the grant and
/// why it ended. Each grant is read once per check however many sessions share it.
async fn check_grants(
    store: &dyn Store,
    registry: &SessionRegistry,
    sessions: &[SessionSummary],
    now: OffsetDateTime,
) -> Result<(), portcullis_store::StoreError> {
    let mut ended: HashMap<String, Option<String>> = HashMap::new();
    for session in sessions {
        for grant_id in &session.access_grants {
            if !ended.contains_key(grant_id) {
                let reason = grant_end_reason(store, grant_id, now).await?;
                ended.insert(grant_id.clone(), reason);
            }
            if let Some(Some(reason)) = ended.get(grant_id) {
                tracing::info!(session = %session.session, user = %session.user_name, grant = %grant_id, "ending a session whose access grant ended");
                registry.terminate(session.session, reason);
                break;
            }
        }
    }
    Ok(())
}

/// Returns why a grant is no longer in force, or `None` while it is.
async fn grant_end_reason(
    store: &dyn Store,
    grant_id: &str,
    now: OffsetDateTime,
) -> Result<Option<String>, portcullis_store::StoreError> {
    let Ok(id) = grant_id.parse::<GrantId>() else {
        return Ok(Some(format!("access revoked: access grant {grant_id} is not a valid grant id")));
    };
    let Some(grant) = store.get_grant(id).await? else {
        return Ok(Some(format!("access revoked: access grant {grant_id} no longer exists")));
    };
    Ok(match grant.state(now) {
        GrantState::Active | GrantState::Pending => None,
        GrantState::Expired(at) => Some(format!(
            "access grant {} for role {} expired at {}; request access again with `portcullis request create`",
            grant.id,
            grant.role,
            rfc3339(at)
        )),
        GrantState::Revoked(at) => Some(revoked_message(store, &grant, at).await?),
    })
}

async fn revoked_message(
    store: &dyn Store,
    grant: &AccessGrant,
    at: OffsetDateTime,
) -> Result<String, portcullis_store::StoreError> {
    let by = match grant.revoked_by {
        Some(user) => store
            .get_user(user)
            .await?
            .map(|user| user.name.to_string())
            .unwrap_or_else(|| user.to_string()),
        None => "an administrator".to_string(),
    };
    Ok(format!(
        "access grant {} for role {} was revoked by {by} at {}",
        grant.id,
        grant.role,
        rfc3339(at)
    ))
}
