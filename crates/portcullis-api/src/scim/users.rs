//! `/scim/v2/Users`: create, read, list with filter and paging, replace, patch, delete.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::{AccountKind, User, UserId, UserName};
use portcullis_store::{NewUser, ScimGroup, ScimUserRecord};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ScimError;
use super::filter::{page_bounds, parse_filter, ListQuery};
use super::patch::{bool_value, parse_patch, PatchKind};
use super::resources::{list_page, scim_json, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use super::{parse_id, ScimService};

/// A Portcullis user with its SCIM record, if any.
pub(crate) struct ScimUser {
    pub user: User,
    pub record: Option<ScimUserRecord>,
}

impl ScimUser {
    /// Returns the identity provider's `userName`, or the Portcullis name for a user it
    /// never named.
    pub fn user_name(&self) -> String {
        match &self.record {
            Some(record) => record.user_name.clone(),
            None => self.user.name.to_string(),
        }
    }

    fn record_or_default(&self) -> ScimUserRecord {
        self.record.clone().unwrap_or_else(|| ScimUserRecord {
            user_id: self.user.id,
            user_name: self.user.name.to_string(),
            external_id: None,
            deleted_at: None,
        })
    }
}

/// Attribute changes read from a POST, PUT or PATCH body. `None` leaves a value as is.
#[derive(Debug, Default)]
struct UserChanges {
    user_name: Option<String>,
    external_id: Option<Option<String>>,
    active: Option<bool>,
    department: Option<Option<String>>,
    job_role: Option<Option<String>>,
}

impl UserChanges {
    /// Reads the attributes of a User object. Attributes Portcullis does not keep
    /// (emails, phone numbers, addresses) are ignored.
    // NOTE: displayName and name are stored at creation only; later changes are ignored,
    // because the store has no update for the display name yet.
    fn from_object(object: &Map<String, Value>) -> Result<UserChanges, ScimError> {
        let mut changes = UserChanges::default();
        for (key, value) in object {
            changes.set(key, Some(value))?;
        }
        Ok(changes)
    }

    /// Applies one attribute by its path; `None` removes it.
    fn set(&mut self, path: &str, value: Option<&Value>) -> Result<(), ScimError> {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned).filter(|text| !text.is_empty());
        let path = path.to_ascii_lowercase();
        let enterprise = ENTERPRISE_USER_SCHEMA.to_ascii_lowercase();
        match path.as_str() {
            "username" => {
                self.user_name = Some(text(value).ok_or_else(|| ScimError::bad_request("invalidValue", "userName must be a non-empty string"))?)
            }
            "externalid" => self.external_id = Some(text(value)),
            "active" => {
                if let Some(value) = value {
                    self.active = Some(bool_value(value)?);
                }
            }
            "title" => self.job_role = Some(text(value)),
            _ if path == enterprise => {
                if let Some(Value::Object(extension)) = value {
                    if let Some(department) = extension.iter().find(|(key, _)| key.eq_ignore_ascii_case("department")) {
                        self.department = Some(text(Some(department.1)));
                    }
                }
            }
            _ if path == format!("{enterprise}:department") => self.department = Some(text(value)),
            _ => {}
        }
        Ok(())
    }
}

pub async fn list(State(service): State<Arc<ScimService>>, Query(query): Query<ListQuery>) -> Result<Response, ScimError> {
    let filter = query.filter.as_deref().map(parse_filter).transpose()?;
    let mut resources = Vec::new();
    for user in visible_users(&service).await? {
        let matches = match &filter {
            None => true,
            Some(filter) => match filter.attribute.as_str() {
                "username" => user.user_name().eq_ignore_ascii_case(&filter.value),
                "externalid" => user.record.as_ref().and_then(|record| record.external_id.as_deref()) == Some(filter.value.as_str()),
                "id" => user.user.id.to_string() == filter.value,
                other => return Err(ScimError::bad_request("invalidFilter", format!("filtering users by {other} is not supported; use userName, externalId or id"))),
            },
        };
        if matches {
            resources.push(user_json(&service, &user).await?);
        }
    }
    let (start, count) = page_bounds(&query);
    Ok(list_page(resources, start, count))
}

pub async fn show(State(service): State<Arc<ScimService>>, Path(id): Path<String>) -> Result<Response, ScimError> {
    let user = load_user(&service, &id).await?;
    Ok(scim_json(StatusCode::OK, user_json(&service, &user).await?))
}

pub async fn create(State(service): State<Arc<ScimService>>, body: Bytes) -> Result<Response, ScimError> {
    let object = parse_object(&body)?;
    let changes = UserChanges::from_object(&object)?;
    let user_name = changes
        .user_name
        .clone()
        .ok_or_else(|| ScimError::bad_request("invalidValue", "userName is required"))?;
    if find_by_user_name(&service, &user_name).await?.is_some() {
        return Err(ScimError::uniqueness(format!("a user with userName {user_name:?} already exists")));
    }
    let name = portcullis_name(&user_name)?;

    let display_name = display_name(&object).unwrap_or_else(|| user_name.clone());
    let new = NewUser {
        id: UserId::new_random(),
        name: name.clone(),
        kind: AccountKind::Human,
        display_name,
        department: changes.department.clone().flatten(),
        job_role: changes.job_role.clone().flatten(),
        created_at: portcullis_core::clock::truncate_to_micros(OffsetDateTime::now_utc()),
        // Credentials are issued by an administrator (`user reset-mfa`), not over SCIM.
        password_hash: None,
        password_change_required: false,
        totp_secret_sealed: None,
    };
    service
        .record(
            AuditEvent::new(event_types::USER_CREATED, name.to_string(), Outcome::Success)
                .meta("user_id", new.id.to_string())
                .meta("scim_user_name", user_name.clone()),
        )
        .await?;
    let user = service.store.create_user(&new).await?;
    let record = ScimUserRecord {
        user_id: user.id,
        user_name,
        external_id: changes.external_id.clone().flatten(),
        deleted_at: None,
    };
    service.store.upsert_scim_user(&record).await?;

    let mut created = ScimUser { user, record: Some(record) };
    if changes.active == Some(false) {
        deprovision(&service, &created.user, "created inactive").await?;
        created.user.disabled = true;
    }
    Ok(scim_json(StatusCode::CREATED, user_json(&service, &created).await?))
}

pub async fn replace(State(service): State<Arc<ScimService>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ScimError> {
    let user = load_user(&service, &id).await?;
    let object = parse_object(&body)?;
    let mut changes = UserChanges::from_object(&object)?;
    // PUT replaces the whole resource: a missing `active` means active.
    changes.active.get_or_insert(true);
    apply(&service, &user, changes).await?;
    let user = load_user(&service, &id).await?;
    Ok(scim_json(StatusCode::OK, user_json(&service, &user).await?))
}

pub async fn patch(State(service): State<Arc<ScimService>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ScimError> {
    let user = load_user(&service, &id).await?;
    let mut changes = UserChanges::default();
    for operation in parse_patch(&body)? {
        let value = if operation.kind == PatchKind::Remove { None } else { operation.value.as_ref() };
        match (&operation.path, value) {
            (Some(path), value) => changes.set(path, value)?,
            (None, Some(Value::Object(object))) => {
                for (key, value) in object {
                    changes.set(key, Some(value))?;
                }
            }
            (None, _) => return Err(ScimError::bad_request("noTarget", "a PATCH operation without path needs an object value")),
        }
    }
    apply(&service, &user, changes).await?;
    let user = load_user(&service, &id).await?;
    Ok(scim_json(StatusCode::OK, user_json(&service, &user).await?))
}

pub async fn delete(State(service): State<Arc<ScimService>>, Path(id): Path<String>) -> Result<Response, ScimError> {
    let user = load_user(&service, &id).await?;
    deprovision(&service, &user.user, "deleted over SCIM").await?;
    for group in service.store.list_user_scim_groups(user.user.id).await? {
        service.store.remove_scim_group_member(group.id, user.user.id).await?;
    }
    super::groups::sync_roles(&service, user.user.id).await?;
    let mut record = user.record_or_default();
    record.deleted_at = Some(OffsetDateTime::now_utc());
    service.store.upsert_scim_user(&record).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies `changes`, recording each before it is made.
async fn apply(service: &ScimService, user: &ScimUser, changes: UserChanges) -> Result<(), ScimError> {
    let mut record = user.record_or_default();
    let mut record_changed = false;
    if let Some(user_name) = &changes.user_name {
        if !user_name.eq_ignore_ascii_case(&record.user_name) {
            if find_by_user_name(service, user_name).await?.is_some() {
                return Err(ScimError::uniqueness(format!("a user with userName {user_name:?} already exists")));
            }
        }
        record_changed |= *user_name != record.user_name;
        record.user_name = user_name.clone();
    }
    if let Some(external_id) = &changes.external_id {
        record_changed |= *external_id != record.external_id;
        record.external_id = external_id.clone();
    }

    let department = changes.department.clone().unwrap_or_else(|| user.user.department.clone());
    let job_role = changes.job_role.clone().unwrap_or_else(|| user.user.job_role.clone());
    let attributes_changed = department != user.user.department || job_role != user.user.job_role;
    if record_changed || attributes_changed {
        service
            .record(
                AuditEvent::new(event_types::USER_UPDATED, user.user.name.to_string(), Outcome::Success)
                    .meta("user_id", user.user.id.to_string())
                    .meta("scim_user_name", record.user_name.clone())
                    .meta("department", department.clone())
                    .meta("job_role", job_role.clone()),
            )
            .await?;
    }

    if record_changed {
        service.store.upsert_scim_user(&record).await?;
    }
    if attributes_changed {
        service
            .store
            .set_user_attributes(user.user.id, department.as_deref(), job_role.as_deref())
            .await?;
    }
    match changes.active {
        Some(false) if !user.user.disabled => deprovision(service, &user.user, "deactivated over SCIM").await?,
        Some(true) if user.user.disabled => reactivate(service, &user.user).await?,
        _ => {}
    }
    Ok(())
}

/// Disables the user and revokes the user's tokens and grants, which ends the user's
/// live sessions through the gateway's revocation watcher.
pub(crate) async fn deprovision(service: &ScimService, user: &User, reason: &str) -> Result<(), ScimError> {
    service
        .record(
            AuditEvent::new(event_types::USER_DISABLED, user.name.to_string(), Outcome::Success)
                .meta("user_id", user.id.to_string())
                .meta("reason", reason),
        )
        .await?;
    let revoked = service.accounts.disable_user(user.id).await.map_err(|error| {
        tracing::error!(%error, user = %user.name, "disabling a user over SCIM failed");
        ScimError::internal()
    })?;
    let now = OffsetDateTime::now_utc();
    let mut revoked_grants = 0;
    for grant in service.store.list_active_grants(user.id, now).await? {
        if service.store.revoke_grant(grant.id, service.actor.id, now).await? {
            revoked_grants += 1;
        }
    }
    tracing::info!(user = %user.name, tokens = revoked, grants = revoked_grants, "user deprovisioned over SCIM");
    Ok(())
}

async fn reactivate(service: &ScimService, user: &User) -> Result<(), ScimError> {
    service
        .record(
            AuditEvent::new(event_types::USER_ENABLED, user.name.to_string(), Outcome::Success)
                .meta("user_id", user.id.to_string()),
        )
        .await?;
    service.accounts.enable_user(user.id).await.map_err(|error| {
        tracing::error!(%error, user = %user.name, "enabling a user over SCIM failed");
        ScimError::internal()
    })
}

/// Human users other than the provisioning account, without those deleted over SCIM.
pub(crate) async fn visible_users(service: &ScimService) -> Result<Vec<ScimUser>, ScimError> {
    let mut records: std::collections::HashMap<UserId, ScimUserRecord> = service
        .store
        .list_scim_users()
        .await?
        .into_iter()
        .map(|record| (record.user_id, record))
        .collect();
    let users = service.store.list_users().await?;
    Ok(users
        .into_iter()
        .filter(|user| matches!(user.kind, AccountKind::Human) && user.id != service.actor.id)
        .map(|user| {
            let record = records.remove(&user.id);
            ScimUser { user, record }
        })
        .filter(|user| user.record.as_ref().is_none_or(|record| record.deleted_at.is_none()))
        .collect())
}

pub(crate) async fn load_user(service: &ScimService, id: &str) -> Result<ScimUser, ScimError> {
    let user_id = UserId(parse_id("User", id)?);
    let user = service.store.get_user(user_id).await?.ok_or_else(|| ScimError::not_found("User", id))?;
    let record = service.store.get_scim_user(user_id).await?;
    let hidden = !matches!(user.kind, AccountKind::Human)
        || user.id == service.actor.id
        || record.as_ref().is_some_and(|record| record.deleted_at.is_some());
    if hidden {
        return Err(ScimError::not_found("User", id));
    }
    Ok(ScimUser { user, record })
}

async fn find_by_user_name(service: &ScimService, user_name: &str) -> Result<Option<ScimUser>, ScimError> {
    Ok(visible_users(service)
        .await?
        .into_iter()
        .find(|user| user.user_name().eq_ignore_ascii_case(user_name)))
}

async fn user_json(service: &ScimService, user: &ScimUser) -> Result<Value, ScimError> {
    let groups: Vec<ScimGroup> = service.store.list_user_scim_groups(user.user.id).await?;
    let groups: Vec<Value> = groups
        .iter()
        .map(|group| json!({"value": group.id.to_string(), "display": group.display_name, "$ref": format!("/scim/v2/Groups/{}", group.id)}))
        .collect();
    let id = user.user.id.to_string();
    let mut body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": id,
        "userName": user.user_name(),
        "displayName": user.user.display_name,
        "name": {"formatted": user.user.display_name},
        "active": !user.user.disabled,
        "groups": groups,
        ENTERPRISE_USER_SCHEMA: {"department": user.user.department},
        "meta": {
            "resourceType": "User",
            "created": user.user.created_at.format(&Rfc3339).unwrap_or_default(),
            "location": format!("/scim/v2/Users/{id}"),
        },
    });
    if let Some(external_id) = user.record.as_ref().and_then(|record| record.external_id.clone()) {
        body["externalId"] = external_id.into();
    }
    if let Some(title) = &user.user.job_role {
        body["title"] = title.clone().into();
    }
    Ok(body)
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ScimError::bad_request("invalidSyntax", "the body must be a JSON object")),
        Err(error) => Err(ScimError::bad_request("invalidSyntax", format!("invalid JSON body: {error}"))),
    }
}

fn display_name(object: &Map<String, Value>) -> Option<String> {
    let display = object.get("displayName").and_then(Value::as_str).map(str::to_owned);
    let formatted = object
        .get("name")
        .and_then(|name| name.get("formatted"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let parts = object.get("name").map(|name| {
        let part = |key: &str| name.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        format!("{} {}", part("givenName"), part("familyName")).trim().to_owned()
    });
    display.or(formatted).or(parts).filter(|name| !name.is_empty())
}

/// Derives a Portcullis user name from a SCIM `userName`: lowercase, `@` becomes `.`,
/// other characters outside `[a-z0-9_.-]` become `-`, and a name that does not start with
/// a letter gets the prefix `u-`.
fn portcullis_name(user_name: &str) -> Result<UserName, ScimError> {
    let mut name: String = user_name
        .to_lowercase()
        .chars()
        .map(|character| match character {
            'a'..='z' | '0'..='9' | '_' | '.' | '-' => character,
            '@' => '.',
            _ => '-',
        })
        .collect();
    if !name.starts_with(|character: char| character.is_ascii_lowercase()) {
        name = format!("u-{name}");
    }
    name.truncate(portcullis_core::names::MAX_NAME_LEN);
    UserName::new(&name).map_err(|error| ScimError::bad_request("invalidValue", format!("userName {user_name:?} cannot become a Portcullis name: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_names_from_emails() {
        assert_eq!(portcullis_name("Alice.Smith@Example.com").unwrap().as_str(), "alice.smith.example.com");
        assert_eq!(portcullis_name("1bob").unwrap().as_str(), "u-1bob");
        assert_eq!(portcullis_name("Jörg Müller").unwrap().as_str(), "j-rg-m-ller");
    }
}
