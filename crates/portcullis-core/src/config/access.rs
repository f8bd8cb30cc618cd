//! `[access]` (just-in-time requests) and `[break_glass]` (emergency access).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{duration, ConfigError};

/// `[access]`: just-in-time access requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// A request nobody approved or denied within this time expires.
    #[serde(with = "duration")]
    pub request_ttl: Duration,
    /// An approver's token must come from a login whose MFA check is at most this old.
    #[serde(with = "duration")]
    pub approver_mfa_max_age: Duration,
    /// Roles that may be requested, by role name. A role not listed cannot be requested.
    pub roles: BTreeMap<String, RequestableRole>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            request_ttl: Duration::from_secs(3600),
            approver_mfa_max_age: Duration::from_secs(15 * 60),
            roles: BTreeMap::new(),
        }
    }
}

/// `[access.roles.NAME]`: who approves requests for one role, and for how long it may
/// be granted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestableRole {
    /// Role whose members may approve or deny requests for this role.
    pub approvers: String,
    /// Approvals from distinct approvers a request needs.
    #[serde(default = "one")]
    pub approvals: u32,
    /// Longest duration a request may ask for.
    #[serde(with = "duration")]
    pub max_duration: Duration,
}

fn one() -> u32 {
    1
}

/// `[break_glass]`: emergency self-granted access. Absent `role` disables break-glass.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakGlassConfig {
    /// The emergency role that break-glass grants.
    pub role: Option<String>,
    /// Role whose members may break the glass.
    pub entitlement: Option<String>,
    /// Role whose members close the post-incident reviews.
    pub reviewers: String,
    /// Longest time a break-glass grant lasts.
    #[serde(with = "duration")]
    pub max_duration: Duration,
}

impl Default for BreakGlassConfig {
    fn default() -> Self {
        BreakGlassConfig {
            role: None,
            entitlement: None,
            reviewers: "admin".to_string(),
            max_duration: Duration::from_secs(3600),
        }
    }
}

pub(super) fn validate_access(access: &AccessConfig, break_glass: &BreakGlassConfig) -> Result<(), ConfigError> {
    for (key, value) in [
        ("access.request_ttl", access.request_ttl),
        ("access.approver_mfa_max_age", access.approver_mfa_max_age),
        ("break_glass.max_duration", break_glass.max_duration),
    ] {
        if value.is_zero() {
            return Err(ConfigError::invalid(key, "0s", "a positive duration such as \"15m\""));
        }
    }
    for (name, role) in &access.roles {
        if role.approvals == 0 {
            return Err(ConfigError::invalid(&format!("access.roles.{name}.approvals"), 0, "at least 1"));
        }
        if role.max_duration.is_zero() {
            return Err(ConfigError::invalid(
                &format!("access.roles.{name}.max_duration"),
                "0s",
                "a positive duration such as \"4h\"",
            ));
        }
    }
    if break_glass.role.is_some() != break_glass.entitlement.is_some() {
        return Err(ConfigError::invalid(
            "break_glass.entitlement",
            format!("{:?}", break_glass.entitlement),
            "both break_glass.role and break_glass.entitlement, or neither",
        ));
    }
    Ok(())
}
