//! `[scim]`: SCIM 2.0 provisioning from an identity provider (Okta, Microsoft Entra ID).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[scim]`: the `/scim/v2` endpoints of the HTTP API. The bearer token the identity
/// provider presents comes from `token_env` or `token_file`, never from this file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// Serve `/scim/v2/Users`, `/scim/v2/Groups` and the discovery endpoints.
    pub enabled: bool,
    /// Environment variable holding the SCIM bearer token.
    pub token_env: Option<String>,
    /// File holding the SCIM bearer token (mode 0600).
    pub token_file: Option<PathBuf>,
    /// Role granted to the members of each group, by group display name:
    /// `groups = { "Cardiology Clinicians" = "clinician" }`. Other groups grant nothing.
    pub groups: BTreeMap<String, String>,
}

pub(super) fn validate_scim(scim: &ScimConfig) -> Result<(), ConfigError> {
    if !scim.enabled {
        return Ok(());
    }
    if scim.token_env.is_some() == scim.token_file.is_some() {
        return Err(ConfigError::invalid(
            "scim.token_env",
            scim.token_env.clone().unwrap_or_else(|| "(unset)".to_string()),
            "exactly one of token_env or token_file, naming where the SCIM bearer token is",
        ));
    }
    for (group, role) in &scim.groups {
        if role.is_empty() {
            return Err(ConfigError::invalid(&format!("scim.groups.\"{group}\""), "\"\"", "a role name"));
        }
    }
    Ok(())
}
