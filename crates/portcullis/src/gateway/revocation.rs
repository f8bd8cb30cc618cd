//! Ends live sessions whose token stopped being valid: revoked by `logout`, cut off
//! by `user disable`, or expired. The check reads the state store, so a revocation
//! made by another process or another gateway instance sharing the store reaches
//! sessions here too.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::UserName;
use portcullis_pg::SessionRegistry;
use portcullis_store::Store;
use time::OffsetDateTime;

/// How often live sessions are checked against the store.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Checks every live session's token every [`CHECK_INTERVAL`] until the task is aborted.
pub async fn watch_revocations(store: Arc<dyn Store>, registry: Arc<SessionRegistry>) {
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = check_once(store.as_ref(), &registry).await {
            metrics::counter!("portcullis_revocation_check_failures_total").increment(1);
            tracing::warn!(%error, "checking live sessions against the store failed; retrying");
        }
    }
}

async fn check_once(store: &dyn Store, registry: &SessionRegistry) -> Result<(), portcullis_store::StoreError> {
    let sessions = registry.sessions();
    if sessions.is_empty() {
        return Ok(());
    }
    let mut by_user: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for session in sessions {
        by_user.entry(session.user_name.clone()).or_default().push(session);
    }

    let now = OffsetDateTime::now_utc();
    for (user, sessions) in by_user {
        let live: HashSet<String> = match UserName::new(&user) {
            Ok(name) => store
                .scram_verifiers(&name, now)
                .await?
                .map(|verifiers| verifiers.tokens.iter().map(|token| token.token_id.to_string()).collect())
                .unwrap_or_default(),
            Err(_) => HashSet::new(),
        };
        for session in sessions {
            if !live.contains(session.token.as_str()) {
                tracing::info!(session = %session.session, user = %user, "ending a session whose token is no longer valid");
                registry.terminate(
                    session.session,
                    "access revoked: the token was revoked, the user was disabled, or the token expired",
                );
            }
        }
    }
    Ok(())
}
