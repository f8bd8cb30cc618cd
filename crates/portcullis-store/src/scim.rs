//! Records of SCIM 2.0 provisioning: how the identity provider names each user, and
//! its groups.

use portcullis_core::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

/// The identity provider's view of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserRecord {
    pub user_id: UserId,
    /// `userName` as the identity provider sent it.
    pub user_name: String,
    pub external_id: Option<String>,
    /// Time of a SCIM DELETE; the user is then disabled and hidden from SCIM.
    pub deleted_at: Option<OffsetDateTime>,
}

/// A group pushed by the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: OffsetDateTime,
}
