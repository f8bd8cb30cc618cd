//! PATCH requests (RFC 7644, section 3.5.2) in the shapes Okta and Entra ID send.

use serde::Deserialize;
use serde_json::Value;

use super::error::ScimError;


/// `add`, `replace` or `remove`; Entra ID capitalizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct PatchOperation {
    pub kind: PatchKind,
    /// Attribute path as sent, or `None` when `value` is an object of attributes.
    pub path: Option<String>,
    pub value: Option<Value>,
}

#[derive(Deserialize)]
struct RawPatch {
    #[serde(rename = "Operations", alias = "operations")]
    operations: Vec<RawOperation>,
}

#[derive(Deserialize)]
struct RawOperation {
    op: String,
    path: Option<String>,
    value: Option<Value>,
}

/// Parses a PatchOp body.
pub fn parse_patch(body: &[u8]) -> Result<Vec<PatchOperation>, ScimError> {
    let raw: RawPatch = serde_json::from_slice(body)
        .map_err(|error| ScimError::bad_request("invalidSyntax", format!("invalid PatchOp body: {error}")))?;
    raw.operations
        .into_iter()
        .map(|operation| {
            let kind = match operation.op.to_ascii_lowercase().as_str() {
                "add" => PatchKind::Add,
                "replace" => PatchKind::Replace,
                "remove" => PatchKind::Remove,
                other => {
                    return Err(ScimError::bad_request(
                        "invalidSyntax",
                        format!("unknown PATCH op {other:?}; use add, replace or remove"),
                    ))
                }
            };
            Ok(PatchOperation {
                kind,
                path: operation.path.filter(|path| !path.trim().is_empty()),
                value: operation.value,
            })
        })
        .collect()
}

/// Reads a boolean sent as JSON `true`/`false` or, as Entra ID does, as `"True"`/`"False"`.
pub fn bool_value(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::bad_request("invalidValue", format!("expected a boolean, found {other}"))),
    }
}

/// Reads the member ids of a `members` value: `[{"value": "ID"}, ...]`.
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let invalid = || ScimError::bad_request("invalidValue", "members must be a list of {\"value\": \"USER_ID\"}");
    let list = match value {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![value.clone()],
        _ => return Err(invalid()),
    };
    list.iter()
        .map(|member| member.get("value").and_then(Value::as_str).map(str::to_owned).ok_or_else(invalid))
        .collect()
}

/// Reads the id from a member filter path: `members[value eq "ID"]`.
pub fn member_filter_id(path: &str) -> Option<String> {
    let inner = path.trim().strip_prefix("members[")?.strip_suffix(']')?;
    let filter = super::filter::parse_filter(inner).ok()?;
    (filter.attribute == "value").then_some(filter.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entra_shape() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#;
        let operations = parse_patch(body).unwrap();
        assert_eq!(operations[0].kind, PatchKind::Replace);
        assert_eq!(operations[0].path.as_deref(), Some("active"));
        assert!(!bool_value(operations[0].value.as_ref().unwrap()).unwrap());
    }

    #[test]
    fn reads_member_filter() {
        assert_eq!(member_filter_id("members[value eq \"abc\"]").as_deref(), Some("abc"));
        assert_eq!(member_filter_id("members"), None);
    }

    #[test]
    fn rejects_unknown_op() {
        let error = parse_patch(br#"{"Operations":[{"op":"move","path":"active"}]}"#).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidSyntax"));
    }
}
