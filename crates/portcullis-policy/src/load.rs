//! Loading a policy directory into an immutable [`PolicySnapshot`].
//!
//! Layout of a policy directory:
//!
//! ```text
//! policies/
//!   *.cedar             Cedar policies, validated in strict mode
//!   catalogs/*.toml     one PHI catalog per target (see `PhiCatalog`)
//!   guardrails.toml     optional guardrails (see `GuardrailSet`)
//! ```
//!
//! The Cedar schema is compiled into the gateway, because the gateway builds
//! every entity and request it describes; other files in the directory are
//! ignored.
//!
//! Every policy needs an `@id("...")` annotation, unique across files: audit
//! records name the determining policies by id, so ids must not shift when a
//! file changes. Errors about a policy without one name it `file.cedar#N`, the
//! N-th policy of the file (from 1).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Effect, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};
use portcullis_mask::MaskMethod;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::PhiCatalog;
use crate::entities::{build_resources, Resources};
use crate::error::{LoadError, PolicyIssue};
use crate::guardrail::GuardrailSet;
use crate::tables::TargetTables;

/// The Cedar schema, as shipped in `schema/portcullis.cedarschema`.
pub const CEDAR_SCHEMA: &str = include_str!("../schema/portcullis.cedarschema");

/// Context attributes that change from one second to the next.
const VOLATILE_CONTEXT: [&str; 2] = ["now", "mfa_age_seconds"];

/// The sources of a policy set.
#[derive(Clone, Debug, Default)]
pub struct PolicySources {
    /// The policy directory.
    pub dir: PathBuf,
    /// The relations of each target, read from the databases.
    pub targets: Vec<TargetTables>,
    /// Parent roles of each role (the `Role in [Role]` hierarchy).
    pub role_parents: HashMap<String, Vec<String>>,
}

impl PolicySources {
    /// Sources with a directory and targets, and no role hierarchy.
    pub fn new(dir: impl Into<PathBuf>, targets: Vec<TargetTables>) -> Self {
        Self {
            dir: dir.into(),
            targets,
            role_parents: HashMap::new(),
        }
    }
}

/// A loaded, validated policy set with its resource entities. Immutable: a
/// reload builds a new snapshot.
pub struct PolicySnapshot {
    pub(crate) schema: Schema,
    pub(crate) policies: PolicySet,
    /// The `@mask` method of each permit that has one.
    pub(crate) masks: HashMap<String, MaskMethod>,
    pub(crate) resources: Resources,
    pub(crate) role_parents: HashMap<String, Vec<String>>,
    pub(crate) guardrails: GuardrailSet,
    pub(crate) catalogs: HashMap<String, PhiCatalog>,
    /// True when a policy reads `context.now` or `context.mfa_age_seconds`, so
    /// a decision may change from one second to the next.
    pub(crate) volatile_context: bool,
    pub(crate) hash: Arc<str>,
    files: Vec<String>,
    policy_files: BTreeMap<String, String>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for PolicySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySnapshot")
            .field("hash", &self.hash)
            .field("files", &self.files)
            .field("policies", &self.policy_files.len())
            .finish_non_exhaustive()
    }
}

impl PolicySnapshot {
    /// Loads and validates a policy directory. This is `policy check`.
    pub fn load(sources: &PolicySources) -> Result<Self, LoadError> {
        let files = read_directory(&sources.dir)?;
        let (schema, _) =
            Schema::from_cedarschema_str(CEDAR_SCHEMA).map_err(|error| LoadError::Schema {
                message: error.to_string(),
            })?;

        let mut policies = PolicySet::new();
        let mut masks = HashMap::new();
        let mut policy_files = BTreeMap::new();
        let mut issues = Vec::new();
        for file in files.iter().filter(|file| file.name.ends_with(".cedar")) {
            add_policy_file(
                file,
                &mut policies,
                &mut masks,
                &mut policy_files,
                &mut issues,
            )?;
        }
        if policy_files.is_empty() {
            return Err(LoadError::NoPolicies {
                dir: sources.dir.clone(),
            });
        }
        let mut warnings = Vec::new();
        validate(
            &schema,
            &policies,
            &policy_files,
            &mut issues,
            &mut warnings,
        );
        if !issues.is_empty() {
            return Err(LoadError::Validation(issues));
        }

        let mut catalogs = HashMap::new();
        for file in files
            .iter()
            .filter(|file| file.name.starts_with("catalogs/"))
        {
            let catalog = PhiCatalog::parse(&file.text, &file.name)?;
            if catalogs.contains_key(&catalog.target) {
                let message = format!(
                    "another catalog already describes target \"{}\"",
                    catalog.target
                );
                return Err(LoadError::Catalog {
                    file: file.name.clone(),
                    message,
                });
            }
            catalogs.insert(catalog.target.clone(), catalog);
        }
        let guardrails = match files.iter().find(|file| file.name == GUARDRAILS_FILE) {
            Some(file) => GuardrailSet::parse(&file.text, &file.name)?,
            None => GuardrailSet::default(),
        };

        let (resources, entity_warnings) = build_resources(&schema, &sources.targets, &catalogs)
            .map_err(|message| LoadError::Entities { message })?;
        warnings.extend(entity_warnings);
        let volatile_context = policies.policies().any(reads_volatile_context);

        Ok(Self {
            schema,
            policies,
            masks,
            resources,
            role_parents: sources.role_parents.clone(),
            guardrails,
            catalogs,
            volatile_context,
            hash: policy_set_hash(&files).into(),
            files: files.into_iter().map(|file| file.name).collect(),
            policy_files,
            warnings,
        })
    }

    /// SHA-256 (hex) of the built-in schema and every loaded file: names in
    /// sorted order, each with its length and contents.
    pub fn policy_hash(&self) -> &str {
        &self.hash
    }

    /// Returns the loaded files, relative to the policy directory, sorted.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Returns every policy id with the file it comes from.
    pub fn policy_ids(&self) -> &BTreeMap<String, String> {
        &self.policy_files
    }

    /// Returns the problems that do not stop the load: Cedar validation warnings and PHI
    /// catalog entries the database lacks.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Returns the targets the policy set has entities for.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.resources.targets.keys().map(String::as_str)
    }

    /// Returns the PHI catalog of a target, if one was loaded.
    pub fn catalog(&self, target: &str) -> Option<&PhiCatalog> {
        self.catalogs.get(target)
    }

    /// Returns the guardrails file.
    pub fn guardrails(&self) -> &GuardrailSet {
        &self.guardrails
    }
}

const GUARDRAILS_FILE: &str = "guardrails.toml";

struct SourceFile {
    /// Path relative to the policy directory, with `/` separators.
    name: String,
    text: String,
}

/// Reads `*.cedar`, `catalogs/*.toml` and `guardrails.toml`, sorted by name.
fn read_directory(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let mut files = Vec::new();
    read_matching(
        dir,
        "",
        |name| name.ends_with(".cedar") || name == GUARDRAILS_FILE,
        &mut files,
    )?;
    let catalogs = dir.join("catalogs");
    if catalogs.is_dir() {
        read_matching(
            &catalogs,
            "catalogs/",
            |name| name.ends_with(".toml"),
            &mut files,
        )?;
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn read_matching(
    dir: &Path,
    prefix: &str,
    include: impl Fn(&str) -> bool,
    files: &mut Vec<SourceFile>,
) -> Result<(), LoadError> {
    let io = |path: &Path, source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(|error| io(dir, error))? {
        let entry = entry.map_err(|error| io(dir, error))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if !include(name) || !path.is_file() {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|error| io(&path, error))?;
        files.push(SourceFile {
            name: format!("{prefix}{name}"),
            text,
        });
    }
    Ok(())
}

/// Parses one policy file, renames its policies and records their masks.
fn add_policy_file(
    file: &SourceFile,
    policies: &mut PolicySet,
    masks: &mut HashMap<String, MaskMethod>,
    policy_files: &mut BTreeMap<String, String>,
    issues: &mut Vec<PolicyIssue>,
) -> Result<(), LoadError> {
    let parsed = PolicySet::from_str(&file.text).map_err(|errors| LoadError::Parse {
        file: file.name.clone(),
        message: errors.to_string(),
    })?;
    if parsed.templates().next().is_some() {
        let message = "policy templates are not supported; write static policies".to_owned();
        return Err(LoadError::Parse {
            file: file.name.clone(),
            message,
        });
    }

    // The parser numbers policies policy0, policy1, ... in file order.
    let mut in_order: Vec<&Policy> = parsed.policies().collect();
    in_order.sort_by_key(|policy| parser_ordinal(policy.id()));
    for (index, policy) in in_order.into_iter().enumerate() {
        let (id, has_id) = match policy.annotation("id") {
            Some(id) if !id.is_empty() => (id.to_owned(), true),
            _ => (format!("{}#{}", file.name, index + 1), false),
        };
        let issue = |message: String| PolicyIssue {
            file: file.name.clone(),
            policy_id: id.clone(),
            message,
        };
        if !has_id {
            issues.push(issue(
                "the policy has no @id(\"...\") annotation; add one, so that audit records name it the same way \
                 after the file changes"
                    .to_owned(),
            ));
        }
        if let Some(other) = policy_files.get(&id) {
            issues.push(issue(format!(
                "the id is already used by a policy in {other}"
            )));
            continue;
        }
        if let Some(text) = policy.annotation("mask") {
            match check_mask(policy, text) {
                Ok(method) => {
                    masks.insert(id.clone(), method);
                }
                Err(message) => issues.push(issue(message)),
            }
        }
        let renamed = policy.new_id(PolicyId::new(&id));
        if let Err(error) = policies.add(renamed) {
            issues.push(issue(error.to_string()));
            continue;
        }
        policy_files.insert(id, file.name.clone());
    }
    Ok(())
}

fn parser_ordinal(id: &PolicyId) -> (usize, String) {
    let text = id.to_string();
    let ordinal = text
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    (ordinal, text)
}

/// Checks a `@mask` annotation: a valid method, on a permit that can apply
/// to the `read` action.
fn check_mask(policy: &Policy, text: &str) -> Result<MaskMethod, String> {
    let method = MaskMethod::from_str(text).map_err(|error| error.to_string())?;
    if policy.effect() == Effect::Forbid {
        return Err("@mask applies only to permit policies; a forbid denies the column".to_owned());
    }
    let names_read = |uid: &cedar_policy::EntityUid| uid.id().unescaped() == "read";
    let applies_to_read = match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => names_read(&uid),
        ActionConstraint::In(uids) => uids.iter().any(names_read),
    };
    if !applies_to_read {
        return Err("@mask has an effect only on the read action; add `action == Portcullis::Action::\"read\"`".to_owned());
    }
    Ok(method)
}

/// Validates the policy set against the schema in strict mode.
fn validate(
    schema: &Schema,
    policies: &PolicySet,
    policy_files: &BTreeMap<String, String>,
    issues: &mut Vec<PolicyIssue>,
    warnings: &mut Vec<String>,
) {
    let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    let file_of = |id: &PolicyId| {
        policy_files
            .get(&id.to_string())
            .cloned()
            .unwrap_or_default()
    };
    for error in result.validation_errors() {
        let id = error.policy_id();
        issues.push(PolicyIssue {
            file: file_of(id),
            policy_id: id.to_string(),
            message: error.to_string(),
        });
    }
    for warning in result.validation_warnings() {
        let id = warning.policy_id();
        warnings.push(format!("{}, policy {id}: {warning}", file_of(id)));
    }
    issues.sort_by(|a, b| (&a.file, &a.policy_id).cmp(&(&b.file, &b.policy_id)));
}

/// SHA-256 of the built-in schema and the files, in a framing that keeps file
/// boundaries unambiguous.
fn policy_set_hash(files: &[SourceFile]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"portcullis-policy-set-v1\n");
    let mut frame = |name: &str, text: &str| {
        hasher.update(format!("{name}\n{}\n", text.len()).as_bytes());
        hasher.update(text.as_bytes());
    };
    frame("<built-in schema>", CEDAR_SCHEMA);
    for file in files {
        frame(&file.name, &file.text);
    }
    hex::encode(hasher.finalize())
}

/// Returns whether the policy reads a context attribute that changes every second, or
/// uses the context record in a way this check cannot follow.
fn reads_volatile_context(policy: &Policy) -> bool {
    match policy.to_json() {
        Ok(json) => uses_volatile_context(&json),
        Err(_) => true,
    }
}

/// Walks the JSON form of a policy. `context.now` and `context has now` appear
/// as `{".": {"left": {"Var": "context"}, "attr": "now"}}` (or `"has"`); any
/// other appearance of the `context` variable counts as volatile.
fn uses_volatile_context(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            if map.get("Var").and_then(Value::as_str) == Some("context") {
                return true;
            }
            for (key, inner) in map {
                if key == "." || key == "has" {
                    let left_is_context = inner
                        .get("left")
                        .and_then(|left| left.get("Var"))
                        .and_then(Value::as_str)
                        == Some("context");
                    if left_is_context {
                        let attr = inner
                            .get("attr")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        if VOLATILE_CONTEXT.contains(&attr) {
                            return true;
                        }
                        continue;
                    }
                }
                if uses_volatile_context(inner) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => items.iter().any(uses_volatile_context),
        _ => false,
    }
}
