//! `/scim/v2/Groups`, and the roles that group memberships grant (`[scim] groups`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_alert::{Alert, AlertKind, Severity};
use portcullis_audit::{event_types, AuditEvent, Outcome};
use portcullis_core::{RoleGrant, RoleName, UserId};
use portcullis_store::ScimGroup;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::ScimError;
use super::filter::{excludes, page_bounds, parse_filter, ListQuery};
use super::patch::{member_filter_id, member_ids, parse_patch, PatchKind};
use super::resources::{list_page, scim_json, GROUP_SCHEMA};
use super::users::load_user;
use super::{parse_id, ScimService};

pub async fn list(State(service): State<Arc<ScimService>>, Query(query): Query<ListQuery>) -> Result<Response, ScimError> {
    let filter = query.filter.as_deref().map(parse_filter).transpose()?;
    let with_members = !excludes(&query, "members");
    let mut resources = Vec::new();
    for group in service.store.list_scim_groups().await? {
        let matches = match &filter {
            None => true,
            Some(filter) => match filter.attribute.as_str() {
                "displayname" => group.display_name == filter.value,
                "externalid" => group.external_id.as_deref() == Some(filter.value.as_str()),
                "id" => group.id.to_string() == filter.value,
                other => return Err(ScimError::bad_request("invalidFilter", format!("filtering groups by {other} is not supported; use displayName, externalId or id"))),
            },
        };
        if matches {
            resources.push(group_json(&service, &group, with_members).await?);
        }
    }
    let (start, count) = page_bounds(&query);
    Ok(list_page(resources, start, count))
}

pub async fn show(State(service): State<Arc<ScimService>>, Path(id): Path<String>, Query(query): Query<ListQuery>) -> Result<Response, ScimError> {
    let group = load_group(&service, &id).await?;
    Ok(scim_json(StatusCode::OK, group_json(&service, &group, !excludes(&query, "members")).await?))
}

pub async fn create(State(service): State<Arc<ScimService>>, body: Bytes) -> Result<Response, ScimError> {
    let object = parse_object(&body)?;
    let display_name = object
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ScimError::bad_request("invalidValue", "displayName is required"))?
        .to_owned();
    let members = match object.get("members") {
        Some(value) => member_ids(value)?,
        None => Vec::new(),
    };
    let group = ScimGroup {
        id: Uuid::new_v4(),
        display_name,
        external_id: object.get("externalId").and_then(Value::as_str).map(str::to_owned),
        created_at: portcullis_core::clock::truncate_to_micros(OffsetDateTime::now_utc()),
    };
    service
        .record(
            AuditEvent::new("group.created", group.display_name.clone(), Outcome::Success)
                .meta("group_id", group.id.to_string())
                .meta("role", service.group_roles.get(&group.display_name).cloned()),
        )
        .await?;
    service.store.create_scim_group(&group).await?;
    set_members(&service, &group, &members).await?;
    Ok(scim_json(StatusCode::CREATED, group_json(&service, &group, true).await?))
}

pub async fn replace(State(service): State<Arc<ScimService>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ScimError> {
    let mut group = load_group(&service, &id).await?;
    let object = parse_object(&body)?;
    if let Some(name) = object.get("displayName").and_then(Value::as_str) {
        rename(&service, &mut group, name).await?;
    }
    let members = match object.get("members") {
        Some(value) => member_ids(value)?,
        None => Vec::new(),
    };
    set_members(&service, &group, &members).await?;
    Ok(scim_json(StatusCode::OK, group_json(&service, &group, true).await?))
}

pub async fn patch(State(service): State<Arc<ScimService>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ScimError> {
    let mut group = load_group(&service, &id).await?;
    for operation in parse_patch(&body)? {
        let path = operation.path.as_deref().map(str::trim);
        let value = operation.value.as_ref();
        match (operation.kind, path) {
            (PatchKind::Add, Some(path)) if path.eq_ignore_ascii_case("members") => {
                let ids = member_ids(value.unwrap_or(&Value::Null))?;
                add_members(&service, &group, &ids).await?;
            }
            (PatchKind::Remove, Some(path)) if path.eq_ignore_ascii_case("members") => match value {
                Some(value) => remove_members(&service, &group, &member_ids(value)?).await?,
                None => set_members(&service, &group, &[]).await?,
            },
            (PatchKind::Remove, Some(path)) if member_filter_id(path).is_some() => {
                let id = member_filter_id(path).unwrap_or_default();
                remove_members(&service, &group, &[id]).await?;
            }
            (PatchKind::Replace, Some(path)) if path.eq_ignore_ascii_case("members") => {
                set_members(&service, &group, &member_ids(value.unwrap_or(&Value::Null))?).await?;
            }
            (PatchKind::Replace | PatchKind::Add, Some(path)) if path.eq_ignore_ascii_case("displayName") => {
                let name = value.and_then(Value::as_str).ok_or_else(|| ScimError::bad_request("invalidValue", "displayName must be a string"))?;
                rename(&service, &mut group, name).await?;
            }
            (PatchKind::Replace | PatchKind::Add, Some(path)) if path.eq_ignore_ascii_case("externalId") => {
                group.external_id = value.and_then(Value::as_str).map(str::to_owned);
                service.store.update_scim_group(&group).await?;
            }
            (PatchKind::Replace | PatchKind::Add, None) => {
                let Some(Value::Object(object)) = value else {
                    return Err(ScimError::bad_request("noTarget", "a PATCH operation without path needs an object value"));
                };
                if let Some(name) = object.get("displayName").and_then(Value::as_str) {
                    rename(&service, &mut group, name).await?;
                }
                if let Some(members) = object.get("members") {
                    let ids = member_ids(members)?;
                    if operation.kind == PatchKind::Add {
                        add_members(&service, &group, &ids).await?;
                    } else {
                        set_members(&service, &group, &ids).await?;
                    }
                }
            }
            (_, path) => {
                return Err(ScimError::bad_request(
                    "invalidPath",
                    format!("unsupported PATCH path {path:?} on a group; use members, members[value eq \"ID\"], displayName or externalId"),
                ))
            }
        }
    }
    Ok(scim_json(StatusCode::OK, group_json(&service, &group, true).await?))
}

pub async fn delete(State(service): State<Arc<ScimService>>, Path(id): Path<String>) -> Result<Response, ScimError> {
    let group = load_group(&service, &id).await?;
    let members = service.store.list_scim_group_members(group.id).await?;
    service
        .record(
            AuditEvent::new("group.deleted", group.display_name.clone(), Outcome::Success)
                .meta("group_id", group.id.to_string())
                .meta("members", members.len()),
        )
        .await?;
    service.store.delete_scim_group(group.id).await?;
    for member in members {
        sync_roles(&service, member).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rename(service: &ScimService, group: &mut ScimGroup, name: &str) -> Result<(), ScimError> {
    if name.is_empty() || name == group.display_name {
        return Ok(());
    }
    service
        .record(
            AuditEvent::new("group.renamed", name.to_owned(), Outcome::Success)
                .meta("group_id", group.id.to_string())
                .meta("previous_name", group.display_name.clone()),
        )
        .await?;
    group.display_name = name.to_owned();
    service.store.update_scim_group(group).await?;
    // The new name may map to another role.
    for member in service.store.list_scim_group_members(group.id).await? {
        sync_roles(service, member).await?;
    }
    Ok(())
}

/// Makes `ids` the group's exact member list.
async fn set_members(service: &ScimService, group: &ScimGroup, ids: &[String]) -> Result<(), ScimError> {
    let current: BTreeSet<String> = service
        .store
        .list_scim_group_members(group.id)
        .await?
        .iter()
        .map(|id| id.to_string())
        .collect();
    let wanted: BTreeSet<String> = ids.iter().cloned().collect();
    let removed: Vec<String> = current.difference(&wanted).cloned().collect();
    let added: Vec<String> = wanted.difference(&current).cloned().collect();
    remove_members(service, group, &removed).await?;
    add_members(service, group, &added).await
}

async fn add_members(service: &ScimService, group: &ScimGroup, ids: &[String]) -> Result<(), ScimError> {
    for id in ids {
        let user = load_user(service, id)
            .await
            .map_err(|_| ScimError::bad_request("invalidValue", format!("member {id} is not a user")))?;
        service
            .record(
                AuditEvent::new("group.member_added", user.user.name.to_string(), Outcome::Success)
                    .meta("group_id", group.id.to_string())
                    .meta("group", group.display_name.clone())
                    .meta("user_id", user.user.id.to_string()),
            )
            .await?;
        if service.store.add_scim_group_member(group.id, user.user.id).await? {
            sync_roles(service, user.user.id).await?;
        }
    }
    Ok(())
}

async fn remove_members(service: &ScimService, group: &ScimGroup, ids: &[String]) -> Result<(), ScimError> {
    for id in ids {
        let Ok(user_id) = Uuid::parse_str(id).map(UserId) else {
            continue;
        };
        service
            .record(
                AuditEvent::new("group.member_removed", id.clone(), Outcome::Success)
                    .meta("group_id", group.id.to_string())
                    .meta("group", group.display_name.clone())
                    .meta("user_id", id.clone()),
            )
            .await?;
        if service.store.remove_scim_group_member(group.id, user_id).await? {
            sync_roles(service, user_id).await?;
        }
    }
    Ok(())
}

/// Grants the roles the user's groups map to and revokes the group roles the user no
/// longer has a group for. Only memberships granted by the provisioning account are
/// revoked, so a role an administrator granted stays.
pub(crate) async fn sync_roles(service: &ScimService, user_id: UserId) -> Result<(), ScimError> {
    let Some(user) = service.store.get_user(user_id).await? else {
        return Ok(());
    };
    let groups = service.store.list_user_scim_groups(user_id).await?;
    let wanted: BTreeSet<String> = groups
        .iter()
        .filter_map(|group| service.group_roles.get(&group.display_name).cloned())
        .collect();
    let memberships = service.store.list_user_roles(user_id).await?;
    let held: BTreeSet<String> = memberships.iter().map(|membership| membership.role.name.to_string()).collect();
    for role_name in wanted.difference(&held) {
        let Some(role) = find_role(service, role_name).await? else {
            tracing::error!(role = %role_name, user = %user.name, "scim.groups names a role that does not exist; the group grants nothing");
            continue;
        };
        service
            .record(
                AuditEvent::new(event_types::ROLE_GRANTED, format!("{} to {}", role.name, user.name), Outcome::Success)
                    .meta("user_id", user.id.to_string())
                    .meta("role", role.name.to_string())
                    .meta("reason", "SCIM group membership"),
            )
            .await?;
        let grant = RoleGrant {
            user_id,
            role_id: role.id,
            granted_by: service.actor.id,
            granted_at: portcullis_core::clock::truncate_to_micros(OffsetDateTime::now_utc()),
        };
        if service.store.grant_role(&grant).await? {
            raise_grant_alert(service, &user.name.to_string(), role.name.as_str()).await;
        }
    }
    for membership in &memberships {
        let from_group = membership.grant.granted_by == service.actor.id;
        if !from_group || wanted.contains(membership.role.name.as_str()) {
            continue;
        }
        service
            .record(
                AuditEvent::new(event_types::ROLE_REVOKED, format!("{} from {}", membership.role.name, user.name), Outcome::Success)
                    .meta("user_id", user.id.to_string())
                    .meta("role", membership.role.name.to_string())
                    .meta("reason", "SCIM group membership ended"),
            )
            .await?;
        service.store.revoke_role(user_id, membership.role.id).await?;
    }
    Ok(())
}

async fn find_role(service: &ScimService, name: &str) -> Result<Option<portcullis_core::Role>, ScimError> {
    let Ok(name) = RoleName::new(name) else {
        return Ok(None);
    };
    Ok(service.store.get_role_by_name(&name).await?)
}

async fn raise_grant_alert(service: &ScimService, user: &str, role: &str) {
    let Some(alerts) = &service.alerts else { return };
    let (kind, severity) = if service.admin_roles.iter().any(|admin| admin == role) {
        (AlertKind::AdminRoleGranted, Severity::Critical)
    } else {
        (AlertKind::RoleGranted, Severity::Warning)
    };
    let alert = Alert::new(kind, severity, user).detail("role", role).detail("granted_by", "scim");
    if let Err(error) = alerts.raise(alert).await {
        tracing::error!(%error, "raising the alert of a SCIM role grant failed");
    }
}

async fn load_group(service: &ScimService, id: &str) -> Result<ScimGroup, ScimError> {
    let group_id = parse_id("Group", id)?;
    service.store.get_scim_group(group_id).await?.ok_or_else(|| ScimError::not_found("Group", id))
}

async fn group_json(service: &ScimService, group: &ScimGroup, with_members: bool) -> Result<Value, ScimError> {
    let id = group.id.to_string();
    let mut body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.format(&Rfc3339).unwrap_or_default(),
            "location": format!("/scim/v2/Groups/{id}"),
        },
    });
    if let Some(external_id) = &group.external_id {
        body["externalId"] = external_id.clone().into();
    }
    if with_members {
        let mut members = Vec::new();
        for member in service.store.list_scim_group_members(group.id).await? {
            let display = service.store.get_user(member).await?.map(|user| user.name.to_string());
            members.push(json!({"value": member.to_string(), "display": display, "$ref": format!("/scim/v2/Users/{member}")}));
        }
        body["members"] = Value::Array(members);
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
