//! The filters identity providers send (`attribute eq "value"`) and list paging.

use serde::Deserialize;

use super::error::ScimError;

/// Largest page a list returns, announced as `filter.maxResults`.
pub const MAX_RESULTS: usize = 200;

/// Query parameters of a list request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub excluded_attributes: Option<String>,
}

/// An equality filter on one attribute; attribute names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EqFilter {
    pub attribute: String,
    pub value: String,
}

/// Parses `ATTRIBUTE eq "VALUE"`, the only filter form Okta and Entra send for lookups.
/// Other operators or compound filters fail with `invalidFilter`.
pub fn parse_filter(text: &str) -> Result<EqFilter, ScimError> {
    let invalid = || ScimError::bad_request("invalidFilter", format!("unsupported filter {text:?}; use ATTRIBUTE eq \"VALUE\""));
    let text = text.trim();
    let (attribute, rest) = text.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let rest = rest.trim_start();
    let (operator, value) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
    if !operator.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let value = value.trim();
    let inner = value.strip_prefix('"').and_then(|value| value.strip_suffix('"')).ok_or_else(invalid)?;
    let value = serde_json::from_str::<String>(&format!("\"{inner}\"")).map_err(|_| invalid())?;
    Ok(EqFilter {
        attribute: attribute.to_ascii_lowercase(),
        value,
    })
}

/// Returns the 1-based start index and the page size of a list request.
pub fn page_bounds(query: &ListQuery) -> (usize, usize) {
    let start = query.start_index.unwrap_or(1).max(1) as usize;
    let count = query.count.unwrap_or(MAX_RESULTS as i64).clamp(0, MAX_RESULTS as i64) as usize;
    (start, count)
}

/// Returns whether `attribute` is listed in the comma-separated `excludedAttributes`.
pub fn excludes(query: &ListQuery, attribute: &str) -> bool {
    query
        .excluded_attributes
        .as_deref()
        .is_some_and(|list| list.split(',').any(|item| item.trim().eq_ignore_ascii_case(attribute)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_name_filter() {
        let filter = parse_filter("userName eq \"alice@example.com\"").unwrap();
        assert_eq!(filter.attribute, "username");
        assert_eq!(filter.value, "alice@example.com");
    }

    #[test]
    fn parses_escaped_quote() {
        let filter = parse_filter("displayName EQ \"Team \\\"A\\\"\"").unwrap();
        assert_eq!(filter.value, "Team \"A\"");
    }

    #[test]
    fn rejects_other_operators() {
        for text in ["userName co \"a\"", "userName eq alice", "userName", "userName eq \"a\" and active eq true"] {
            let error = parse_filter(text).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{text}");
        }
    }
}
