//! DDL, privileges and maintenance commands, reported by kind and target
//! relation. Expressions inside DDL (defaults, CHECK constraints, function
//! bodies, policies) are not analyzed, so policy should keep DDL to
//! administrative roles.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{GrantStmt, GrantTargetType, Node, ObjectType, RangeVar};

use crate::error::AnalysisError;
use crate::facts::{Access, ColumnUsage, RelationKind, RelationName};
use crate::kind::{DdlAction, ObjectKind, StatementKind};
use crate::resolve::{creation_schema, resolve_relation};
use crate::walk::ddl_kinds::{ddl_without_relation, object_kind};
use crate::walk::{inner, inner_opt, split_qualified, string_list, Analyzed, Analyzer};

impl<'c> Analyzer<'c> {
    /// Analyzes VACUUM, ANALYZE, LOCK, TRUNCATE, GRANT, REINDEX, CLUSTER and
    /// REFRESH, and passes any other statement to [`Self::ddl`].
    pub(super) fn maintenance(&mut self, node: &NodeEnum) -> Result<Analyzed, AnalysisError> {
        let kind = match node {
            NodeEnum::VacuumStmt(vacuum) => {
                for relation in &vacuum.rels {
                    let NodeEnum::VacuumRelation(relation) = inner(relation, "VACUUM relation")?
                    else {
                        return Err(AnalysisError::unsupported(
                            "a VACUUM target that is not a relation",
                        ));
                    };
                    self.existing_relation(relation.relation.as_ref(), Access::Maintain)?;
                }
                if vacuum.is_vacuumcmd {
                    StatementKind::Vacuum
                } else {
                    StatementKind::Analyze
                }
            }
            NodeEnum::LockStmt(lock) => {
                self.range_vars(&lock.relations, Access::Lock)?;
                StatementKind::Lock
            }
            NodeEnum::TruncateStmt(truncate) => {
                self.range_vars(&truncate.relations, Access::Truncate)?;
                StatementKind::Truncate
            }
            NodeEnum::GrantStmt(grant) => self.grant(grant)?,
            NodeEnum::GrantRoleStmt(grant) => {
                let object = ObjectKind::RoleMembership;
                if grant.is_grant {
                    StatementKind::Grant { object }
                } else {
                    StatementKind::Revoke { object }
                }
            }
            NodeEnum::AlterDefaultPrivilegesStmt(_) => StatementKind::Grant {
                object: ObjectKind::DefaultPrivileges,
            },
            NodeEnum::ReindexStmt(reindex) => {
                self.maintain_named("REINDEX", reindex.relation.as_ref())?
            }
            NodeEnum::ClusterStmt(cluster) => {
                self.maintain_named("CLUSTER", cluster.relation.as_ref())?
            }
            NodeEnum::RefreshMatViewStmt(refresh) => {
                self.maintain_named("REFRESH MATERIALIZED VIEW", refresh.relation.as_ref())?
            }
            other => return self.ddl(other),
        };
        Ok(Analyzed::new(kind))
    }

    fn maintain_named(
        &mut self,
        name: &str,
        relation: Option<&RangeVar>,
    ) -> Result<StatementKind, AnalysisError> {
        if relation.is_some() {
            self.existing_relation(relation, Access::Maintain)?;
        }
        Ok(StatementKind::Utility {
            name: name.to_owned(),
        })
    }

    fn grant(&mut self, grant: &GrantStmt) -> Result<StatementKind, AnalysisError> {
        let object = object_kind(grant.objtype);
        let on_tables = grant.objtype == ObjectType::ObjectTable as i32;
        if on_tables && grant.targtype == GrantTargetType::AclTargetObject as i32 {
            self.range_vars(&grant.objects, Access::Grant)?;
        }
        Ok(if grant.is_grant {
            StatementKind::Grant { object }
        } else {
            StatementKind::Revoke { object }
        })
    }

    fn range_vars(&mut self, nodes: &[Node], access: Access) -> Result<(), AnalysisError> {
        for node in nodes {
            let NodeEnum::RangeVar(range) = inner(node, "relation")? else {
                return Err(AnalysisError::unsupported(
                    "a target that is not a relation name",
                ));
            };
            self.existing_relation(Some(range), access)?;
        }
        Ok(())
    }

    /// Resolves a relation that must exist and records `access` on it.
    fn existing_relation(
        &mut self,
        range: Option<&RangeVar>,
        access: Access,
    ) -> Result<(), AnalysisError> {
        let Some(range) = range else {
            return Ok(());
        };
        let schema = (!range.schemaname.is_empty()).then_some(range.schemaname.as_str());
        let resolved = resolve_relation(self.catalog, &self.search_path, schema, &range.relname)?;
        let kind = match &resolved {
            crate::resolve::ResolvedRelation::Listed(_, def) => def.kind,
            crate::resolve::ResolvedRelation::Unlisted(_) => RelationKind::Unlisted,
        };
        let via_view = self.via_view().cloned();
        self.facts
            .access(resolved.name(), kind, access, via_view.as_ref());
        Ok(())
    }

    /// Records Ddl access on a relation named by a DDL statement. A relation
    /// that the catalog does not list is reported where CREATE would put it.
    fn ddl_relation(&mut self, schema: Option<&str>, name: &str) -> Result<(), AnalysisError> {
        if let Ok(resolved) = resolve_relation(self.catalog, &self.search_path, schema, name) {
            let kind = match &resolved {
                crate::resolve::ResolvedRelation::Listed(_, def) => def.kind,
                crate::resolve::ResolvedRelation::Unlisted(_) => RelationKind::Unlisted,
            };
            self.facts.access(resolved.name(), kind, Access::Ddl, None);
            return Ok(());
        }
        let schema = match schema {
            Some(schema) => schema.to_owned(),
            None => creation_schema(self.catalog, &self.search_path)
                .or_else(|| self.search_path.first().map(String::as_str))
                .ok_or_else(|| AnalysisError::invalid("no schema has been selected to create in"))?
                .to_owned(),
        };
        let relation = RelationName {
            schema,
            name: name.to_owned(),
        };
        self.facts
            .access(&relation, RelationKind::Unlisted, Access::Ddl, None);
        Ok(())
    }

    fn ddl_range(&mut self, range: Option<&RangeVar>) -> Result<(), AnalysisError> {
        match range {
            Some(range) => {
                let schema = (!range.schemaname.is_empty()).then_some(range.schemaname.as_str());
                self.ddl_relation(schema, &range.relname)
            }
            None => Ok(()),
        }
    }

    /// Analyzes CREATE, ALTER, DROP and the statements that act like them.
    fn ddl(&mut self, node: &NodeEnum) -> Result<Analyzed, AnalysisError> {
        use DdlAction::{Alter, Create, Drop};
        let (action, object) = match node {
            NodeEnum::CreateStmt(create) => {
                self.ddl_range(create.relation.as_ref())?;
                (Create, ObjectKind::Table)
            }
            NodeEnum::CreateTableAsStmt(create) => return self.create_table_as(create),
            NodeEnum::ViewStmt(view) => {
                self.ddl_range(view.view.as_ref())?;
                self.defining_query(view.query.as_deref())?;
                (Create, ObjectKind::View)
            }
            NodeEnum::IndexStmt(index) => {
                self.ddl_range(index.relation.as_ref())?;
                (Create, ObjectKind::Index)
            }
            NodeEnum::AlterTableStmt(alter) => {
                self.ddl_range(alter.relation.as_ref())?;
                (Alter, object_kind(alter.objtype))
            }
            NodeEnum::DropStmt(drop) => {
                self.drop_objects(drop.remove_type, &drop.objects)?;
                (Drop, object_kind(drop.remove_type))
            }
            NodeEnum::RenameStmt(rename) => {
                self.ddl_range(rename.relation.as_ref())?;
                (Alter, object_kind(rename.rename_type))
            }
            NodeEnum::AlterObjectSchemaStmt(alter) => {
                self.ddl_range(alter.relation.as_ref())?;
                (Alter, object_kind(alter.object_type))
            }
            NodeEnum::AlterOwnerStmt(alter) => {
                self.ddl_range(alter.relation.as_ref())?;
                (Alter, object_kind(alter.object_type))
            }
            NodeEnum::CreateSchemaStmt(schema) if !schema.schema_elts.is_empty() => {
                return Err(AnalysisError::unsupported(
                    "CREATE SCHEMA with schema elements",
                ))
            }
            other => ddl_without_relation(other)?,
        };
        Ok(Analyzed::new(StatementKind::Ddl { action, object }))
    }

    fn create_table_as(
        &mut self,
        create: &pg_query::protobuf::CreateTableAsStmt,
    ) -> Result<Analyzed, AnalysisError> {
        let into = create
            .into
            .as_deref()
            .ok_or_else(|| AnalysisError::unsupported("CREATE TABLE AS without a target"))?;
        self.ddl_range(into.rel.as_ref())?;
        self.defining_query(create.query.as_deref())?;
        let object = object_kind(create.objtype);
        Ok(Analyzed::new(StatementKind::Ddl {
            action: DdlAction::Create,
            object,
        }))
    }

    /// Analyzes SELECT INTO, which is CREATE TABLE AS under another spelling.
    pub(super) fn select_into(
        &mut self,
        select: &pg_query::protobuf::SelectStmt,
    ) -> Result<Analyzed, AnalysisError> {
        let into = select
            .into_clause
            .as_deref()
            .ok_or_else(|| AnalysisError::unsupported("SELECT INTO without a target"))?;
        self.ddl_range(into.rel.as_ref())?;
        let mut without_into = select.clone();
        without_into.into_clause = None;
        let rows = self.select(&without_into, None, false)?;
        for row in &rows {
            self.facts
                .record_one(&row.lineage, ColumnUsage::WriteSource);
        }
        Ok(Analyzed::new(StatementKind::Ddl {
            action: DdlAction::Create,
            object: ObjectKind::Table,
        }))
    }

    /// Analyzes the query of CREATE VIEW or CREATE TABLE AS. Its result is
    /// stored or exposed, so its columns are marked WriteSource.
    fn defining_query(&mut self, query: Option<&Node>) -> Result<(), AnalysisError> {
        let inner = self.statement(inner_opt(query, "defining query")?)?;
        for row in &inner.rows {
            self.facts
                .record_one(&row.lineage, ColumnUsage::WriteSource);
        }
        Ok(())
    }

    fn drop_objects(&mut self, remove_type: i32, objects: &[Node]) -> Result<(), AnalysisError> {
        let relation_like = [
            ObjectType::ObjectTable,
            ObjectType::ObjectView,
            ObjectType::ObjectMatview,
            ObjectType::ObjectForeignTable,
            ObjectType::ObjectSequence,
            ObjectType::ObjectIndex,
        ];
        if !relation_like.iter().any(|kind| *kind as i32 == remove_type) {
            return Ok(());
        }
        for object in objects {
            let NodeEnum::List(name) = inner(object, "DROP target")? else {
                return Err(AnalysisError::unsupported(
                    "a DROP target that is not a name",
                ));
            };
            let parts = string_list(&name.items)?;
            let (schema, name) = split_qualified(&parts)?;
            self.ddl_relation(schema, name)?;
        }
        Ok(())
    }
}
