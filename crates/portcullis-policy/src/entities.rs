//! Cedar entities: resources built once per policy load, principals once per
//! session.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};

use crate::action::Action;
use crate::catalog::{phi_category_name, PhiCatalog};
use crate::function::{FunctionGroup, GUARDED_FUNCTIONS};
use crate::tables::TargetTables;

/// Schemas that every target has, so policies can name them before any of
/// their relations appears in a statement.
const SYSTEM_SCHEMAS: [&str; 2] = ["pg_catalog", "information_schema"];

/// The entity type names of the schema.
#[derive(Clone, Debug)]
pub(crate) struct EntityTypes {
    pub target: EntityTypeName,
    pub schema: EntityTypeName,
    pub table: EntityTypeName,
    pub column: EntityTypeName,
    pub function: EntityTypeName,
    pub user: EntityTypeName,
    pub role: EntityTypeName,
    pub action: EntityTypeName,
}

impl EntityTypes {
    pub(crate) fn new() -> Result<Self, String> {
        let name = |name: &str| EntityTypeName::from_str(name).map_err(|error| error.to_string());
        Ok(Self {
            target: name("Portcullis::Target")?,
            schema: name("Portcullis::Schema")?,
            table: name("Portcullis::Table")?,
            column: name("Portcullis::Column")?,
            function: name("Portcullis::Function")?,
            user: name("Portcullis::User")?,
            role: name("Portcullis::Role")?,
            action: name("Portcullis::Action")?,
        })
    }

    pub(crate) fn uid(&self, kind: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
    }

    pub(crate) fn action(&self, action: Action) -> EntityUid {
        self.uid(&self.action, action.as_str())
    }
}

/// The entity uids of one relation and its columns.
#[derive(Clone, Debug)]
pub(crate) struct TableResource {
    pub uid: EntityUid,
    pub columns: HashMap<String, EntityUid>,
}

/// The entity uids of one target, its schemas and relations.
#[derive(Clone, Debug)]
pub(crate) struct TargetResource {
    pub uid: EntityUid,
    /// Schemas with a Schema entity.
    pub schemas: HashSet<String>,
    /// Relations by schema, then by name.
    pub tables: HashMap<String, HashMap<String, TableResource>>,
    /// Names of the target's user-defined functions and procedures, in any
    /// schema. Their Function entities are added per session, on first call.
    pub functions: HashSet<String>,
}

impl TargetResource {
    pub(crate) fn table(&self, schema: &str, name: &str) -> Option<&TableResource> {
        self.tables.get(schema)?.get(name)
    }
}

/// Every resource entity of a policy set, and the uids to find them by.
pub(crate) struct Resources {
    pub types: EntityTypes,
    /// Action uids, indexed by `Action as usize`.
    pub actions: Vec<EntityUid>,
    pub targets: HashMap<String, TargetResource>,
    pub functions: HashMap<&'static str, EntityUid>,
    /// Resource and action entities, without principals.
    pub entities: Entities,
}

/// Builds the resource entities of every target: the union of the relations
/// the caller listed and those its PHI catalog names. Returns the resources and
/// one warning per catalog entry the table list lacks.
pub(crate) fn build_resources(
    schema: &Schema,
    targets: &[TargetTables],
    catalogs: &HashMap<String, PhiCatalog>,
) -> Result<(Resources, Vec<String>), String> {
    let types = EntityTypes::new()?;
    let actions = Action::ALL
        .iter()
        .map(|action| types.action(*action))
        .collect();
    let mut entities = Vec::new();
    let mut warnings = Vec::new();
    let mut target_resources = HashMap::new();

    let empty_tables = TargetTables::new("");
    let mut names: BTreeSet<&str> = targets
        .iter()
        .map(|target| target.target.as_str())
        .collect();
    names.extend(catalogs.keys().map(String::as_str));
    for name in names {
        let tables = targets
            .iter()
            .find(|target| target.target == name)
            .unwrap_or(&empty_tables);
        let empty_catalog = PhiCatalog::default();
        let catalog = catalogs.get(name).unwrap_or(&empty_catalog);
        let resource = build_target(&types, name, tables, catalog, &mut entities, &mut warnings)?;
        target_resources.insert(name.to_owned(), resource);
    }

    let mut functions = HashMap::new();
    for (name, group) in GUARDED_FUNCTIONS {
        let (uid, entity) = function_entity(&types, name, *group)?;
        entities.push(entity);
        functions.insert(*name, uid);
    }

    let entities =
        Entities::from_entities(entities, Some(schema)).map_err(|error| error.to_string())?;
    Ok((
        Resources {
            types,
            actions,
            targets: target_resources,
            functions,
            entities,
        },
        warnings,
    ))
}

fn build_target(
    types: &EntityTypes,
    target: &str,
    tables: &TargetTables,
    catalog: &PhiCatalog,
    entities: &mut Vec<Entity>,
    warnings: &mut Vec<String>,
) -> Result<TargetResource, String> {
    let target_uid = types.uid(&types.target, target);
    entities.push(Entity::new_no_attrs(target_uid.clone(), HashSet::new()));

    // Relations in table order, then catalog entries the table list lacks.
    let mut relations: Vec<(String, String, Vec<String>)> = Vec::new();
    for table in &tables.tables {
        relations.push((
            table.schema.clone(),
            table.name.clone(),
            table.columns.clone(),
        ));
    }
    for ((schema, table), columns) in &catalog.tables {
        let listed = relations
            .iter_mut()
            .find(|(s, t, _)| s == schema && t == table);
        match listed {
            Some((_, _, listed_columns)) => {
                let missing: Vec<&String> = columns
                    .keys()
                    .filter(|column| !listed_columns.contains(column))
                    .collect();
                for column in missing {
                    warnings.push(format!(
                        "target {target}: the PHI catalog lists column {column} of {schema}.{table}, which the database does not have"
                    ));
                    listed_columns.push(column.clone());
                }
            }
            None => {
                if !tables.tables.is_empty() {
                    warnings.push(format!(
                        "target {target}: the PHI catalog lists table {schema}.{table}, which the database does not have"
                    ));
                }
                relations.push((
                    schema.clone(),
                    table.clone(),
                    columns.keys().cloned().collect(),
                ));
            }
        }
    }

    let mut schemas: BTreeSet<&str> = SYSTEM_SCHEMAS.into_iter().collect();
    schemas.extend(relations.iter().map(|(schema, _, _)| schema.as_str()));
    for schema in &schemas {
        entities.push(schema_entity(types, target, schema)?);
    }

    let schemas = schemas.into_iter().map(str::to_owned).collect();
    let mut resource = TargetResource {
        uid: target_uid,
        schemas,
        tables: HashMap::new(),
        functions: tables
            .functions
            .iter()
            .map(|function| function.name.clone())
            .collect(),
    };
    for (schema, table, columns) in &relations {
        let phi = catalog
            .table_categories(schema, table)
            .into_iter()
            .map(phi_category_name)
            .collect();
        let (table_uid, entity) = table_entity(types, target, schema, table, phi)?;
        entities.push(entity);
        let mut column_uids = HashMap::with_capacity(columns.len());
        for column in columns {
            let phi = catalog
                .column_categories(schema, table, column)
                .iter()
                .map(|c| phi_category_name(*c))
                .collect();
            let (uid, entity) =
                column_entity(types, &table_uid, target, schema, table, column, phi)?;
            entities.push(entity);
            column_uids.insert(column.clone(), uid);
        }
        let tables = resource.tables.entry(schema.clone()).or_default();
        tables.insert(
            table.clone(),
            TableResource {
                uid: table_uid,
                columns: column_uids,
            },
        );
    }
    Ok(resource)
}

fn strings(values: impl IntoIterator<Item = String>) -> RestrictedExpression {
    RestrictedExpression::new_set(values.into_iter().map(RestrictedExpression::new_string))
}

fn entity(
    uid: EntityUid,
    attrs: Vec<(&str, RestrictedExpression)>,
    parents: Vec<EntityUid>,
) -> Result<Entity, String> {
    let attrs = attrs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    Entity::new(uid, attrs, parents.into_iter().collect()).map_err(|error| error.to_string())
}

/// Builds the Schema entity `target/schema`.
pub(crate) fn schema_entity(
    types: &EntityTypes,
    target: &str,
    schema: &str,
) -> Result<Entity, String> {
    let uid = types.uid(&types.schema, &format!("{target}/{schema}"));
    let parent = types.uid(&types.target, target);
    entity(
        uid,
        vec![("name", RestrictedExpression::new_string(schema.to_owned()))],
        vec![parent],
    )
}

/// Builds the Table entity `target/schema.table` with its PHI categories.
pub(crate) fn table_entity(
    types: &EntityTypes,
    target: &str,
    schema: &str,
    table: &str,
    phi: Vec<String>,
) -> Result<(EntityUid, Entity), String> {
    let uid = types.uid(&types.table, &format!("{target}/{schema}.{table}"));
    let parent = types.uid(&types.schema, &format!("{target}/{schema}"));
    let attrs = vec![
        ("name", RestrictedExpression::new_string(table.to_owned())),
        (
            "schema",
            RestrictedExpression::new_string(schema.to_owned()),
        ),
        ("phi", strings(phi)),
    ];
    Ok((uid.clone(), entity(uid, attrs, vec![parent])?))
}

/// Builds the Column entity `target/schema.table.column` with its PHI categories.
pub(crate) fn column_entity(
    types: &EntityTypes,
    table_uid: &EntityUid,
    target: &str,
    schema: &str,
    table: &str,
    column: &str,
    phi: Vec<String>,
) -> Result<(EntityUid, Entity), String> {
    let uid = types.uid(
        &types.column,
        &format!("{target}/{schema}.{table}.{column}"),
    );
    let attrs = vec![
        ("name", RestrictedExpression::new_string(column.to_owned())),
        ("table", RestrictedExpression::new_string(table.to_owned())),
        (
            "schema",
            RestrictedExpression::new_string(schema.to_owned()),
        ),
        ("phi", strings(phi)),
    ];
    Ok((uid.clone(), entity(uid, attrs, vec![table_uid.clone()])?))
}

/// Builds the Function entity of a function that needs a `call_function` permit.
pub(crate) fn function_entity(
    types: &EntityTypes,
    name: &str,
    group: FunctionGroup,
) -> Result<(EntityUid, Entity), String> {
    let uid = types.uid(&types.function, name);
    let attrs = vec![
        ("name", RestrictedExpression::new_string(name.to_owned())),
        (
            "group",
            RestrictedExpression::new_string(group.as_str().to_owned()),
        ),
    ];
    Ok((uid.clone(), entity(uid, attrs, Vec::new())?))
}

/// The identity a session acts for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Principal {
    /// The Portcullis user name; the User entity id.
    pub user: String,
    /// The user's department, or empty.
    pub department: String,
    /// The user's job role, or empty.
    pub job_role: String,
    /// The user's Portcullis roles.
    pub roles: Vec<String>,
}

impl Principal {
    /// Creates a principal with no department or job role.
    pub fn new(user: &str, roles: &[&str]) -> Self {
        Self {
            user: user.to_owned(),
            department: String::new(),
            job_role: String::new(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }
    }
}

/// Adds the principal's User entity and its Role entities (with the parents
/// from `role_parents`, transitively) to a copy of the resource entities.
pub(crate) fn session_entities(
    schema: &Schema,
    resources: &Resources,
    role_parents: &HashMap<String, Vec<String>>,
    principal: &Principal,
) -> Result<(EntityUid, Entities), String> {
    let types = &resources.types;
    let mut roles: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> = principal.roles.iter().map(String::as_str).collect();
    while let Some(role) = pending.pop() {
        if roles.insert(role) {
            pending.extend(
                role_parents
                    .get(role)
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
        }
    }

    let mut added = Vec::with_capacity(roles.len() + 1);
    for role in &roles {
        let parents = role_parents
            .get(*role)
            .into_iter()
            .flatten()
            .map(|parent| types.uid(&types.role, parent));
        added.push(Entity::new_no_attrs(
            types.uid(&types.role, role),
            parents.collect(),
        ));
    }
    let user = types.uid(&types.user, &principal.user);
    let attrs = vec![
        (
            "name",
            RestrictedExpression::new_string(principal.user.clone()),
        ),
        (
            "department",
            RestrictedExpression::new_string(principal.department.clone()),
        ),
        (
            "job_role",
            RestrictedExpression::new_string(principal.job_role.clone()),
        ),
    ];
    let direct = principal
        .roles
        .iter()
        .map(|role| types.uid(&types.role, role))
        .collect();
    added.push(entity(user.clone(), attrs, direct)?);

    let entities = resources
        .entities
        .clone()
        .add_entities(added, Some(schema))
        .map_err(|error| error.to_string())?;
    Ok((user, entities))
}
