//! The statement and object kinds of DDL statements.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::ObjectType;

use crate::error::AnalysisError;
use crate::kind::{DdlAction, ObjectKind};
use crate::walk::unsupported;

/// DDL statements reported by kind only.
pub(super) fn ddl_without_relation(
    node: &NodeEnum,
) -> Result<(DdlAction, ObjectKind), AnalysisError> {
    use DdlAction::{Alter, Create, Drop};
    let other = |name: &str| ObjectKind::Other(name.to_owned());
    let mapped = match node {
        NodeEnum::CreateSchemaStmt(_) => (Create, ObjectKind::Schema),
        NodeEnum::CreateSeqStmt(_) => (Create, ObjectKind::Sequence),
        NodeEnum::AlterSeqStmt(_) => (Alter, ObjectKind::Sequence),
        NodeEnum::CreateFunctionStmt(function) => (
            Create,
            if function.is_procedure {
                ObjectKind::Procedure
            } else {
                ObjectKind::Function
            },
        ),
        NodeEnum::AlterFunctionStmt(function) => (Alter, object_kind(function.objtype)),
        NodeEnum::CreateRoleStmt(_) => (Create, ObjectKind::Role),
        NodeEnum::AlterRoleStmt(_) | NodeEnum::AlterRoleSetStmt(_) => (Alter, ObjectKind::Role),
        NodeEnum::DropRoleStmt(_) => (Drop, ObjectKind::Role),
        NodeEnum::CreatedbStmt(_) => (Create, ObjectKind::Database),
        NodeEnum::AlterDatabaseStmt(_)
        | NodeEnum::AlterDatabaseSetStmt(_)
        | NodeEnum::AlterDatabaseRefreshCollStmt(_) => (Alter, ObjectKind::Database),
        NodeEnum::DropdbStmt(_) => (Drop, ObjectKind::Database),
        NodeEnum::AlterExtensionStmt(_) | NodeEnum::AlterExtensionContentsStmt(_) => {
            (Alter, ObjectKind::Extension)
        }
        NodeEnum::AlterObjectDependsStmt(_) => (Alter, ObjectKind::Extension),
        NodeEnum::CreateTrigStmt(_) | NodeEnum::CreateEventTrigStmt(_) => {
            (Create, ObjectKind::Trigger)
        }
        NodeEnum::AlterEventTrigStmt(_) => (Alter, ObjectKind::Trigger),
        NodeEnum::CreatePolicyStmt(_) => (Create, ObjectKind::Policy),
        NodeEnum::AlterPolicyStmt(_) => (Alter, ObjectKind::Policy),
        NodeEnum::RuleStmt(_) => (Create, ObjectKind::Rule),
        NodeEnum::DefineStmt(define) => (Create, object_kind(define.kind)),
        NodeEnum::CompositeTypeStmt(_)
        | NodeEnum::CreateEnumStmt(_)
        | NodeEnum::CreateRangeStmt(_) => (Create, ObjectKind::Type),
        NodeEnum::AlterEnumStmt(_) | NodeEnum::AlterTypeStmt(_) => (Alter, ObjectKind::Type),
        NodeEnum::CreateDomainStmt(_) => (Create, ObjectKind::Domain),
        NodeEnum::AlterDomainStmt(_) => (Alter, ObjectKind::Domain),
        NodeEnum::CommentStmt(comment) => (Alter, object_kind(comment.objtype)),
        NodeEnum::SecLabelStmt(label) => (Alter, object_kind(label.objtype)),
        NodeEnum::CreateFdwStmt(_)
        | NodeEnum::CreateForeignServerStmt(_)
        | NodeEnum::CreateUserMappingStmt(_) => (Create, ObjectKind::ForeignServer),
        NodeEnum::AlterFdwStmt(_)
        | NodeEnum::AlterForeignServerStmt(_)
        | NodeEnum::AlterUserMappingStmt(_) => (Alter, ObjectKind::ForeignServer),
        NodeEnum::DropUserMappingStmt(_) => (Drop, ObjectKind::ForeignServer),
        NodeEnum::CreateForeignTableStmt(_) | NodeEnum::ImportForeignSchemaStmt(_) => {
            (Create, ObjectKind::ForeignTable)
        }
        NodeEnum::CreateTableSpaceStmt(_) => (Create, ObjectKind::Tablespace),
        NodeEnum::AlterTableSpaceOptionsStmt(_) | NodeEnum::AlterTableMoveAllStmt(_) => {
            (Alter, ObjectKind::Tablespace)
        }
        NodeEnum::DropTableSpaceStmt(_) => (Drop, ObjectKind::Tablespace),
        NodeEnum::CreatePublicationStmt(_) | NodeEnum::CreateSubscriptionStmt(_) => {
            (Create, ObjectKind::Replication)
        }
        NodeEnum::AlterPublicationStmt(_) | NodeEnum::AlterSubscriptionStmt(_) => {
            (Alter, ObjectKind::Replication)
        }
        NodeEnum::DropSubscriptionStmt(_) => (Drop, ObjectKind::Replication),
        NodeEnum::CreatePlangStmt(_) => (Create, ObjectKind::Language),
        NodeEnum::CreateAmStmt(_) => (Create, other("access_method")),
        NodeEnum::CreateOpClassStmt(_) => (Create, other("opclass")),
        NodeEnum::CreateOpFamilyStmt(_) => (Create, other("opfamily")),
        NodeEnum::AlterOpFamilyStmt(_) => (Alter, other("opfamily")),
        NodeEnum::AlterOperatorStmt(_) => (Alter, other("operator")),
        NodeEnum::CreateConversionStmt(_) => (Create, other("conversion")),
        NodeEnum::CreateCastStmt(_) => (Create, other("cast")),
        NodeEnum::CreateTransformStmt(_) => (Create, other("transform")),
        NodeEnum::CreateStatsStmt(_) => (Create, other("statistic_ext")),
        NodeEnum::AlterStatsStmt(_) => (Alter, other("statistic_ext")),
        NodeEnum::AlterCollationStmt(_) => (Alter, other("collation")),
        NodeEnum::AlterTsdictionaryStmt(_) => (Alter, other("tsdictionary")),
        NodeEnum::AlterTsconfigurationStmt(_) => (Alter, other("tsconfiguration")),
        NodeEnum::DropOwnedStmt(_) => (Drop, ObjectKind::OwnedObjects),
        NodeEnum::ReassignOwnedStmt(_) => (Alter, ObjectKind::OwnedObjects),
        other => return Err(unsupported(other)),
    };
    Ok(mapped)
}

/// Maps PostgreSQL's `ObjectType` to [`ObjectKind`].
pub(super) fn object_kind(object_type: i32) -> ObjectKind {
    let Ok(object_type) = ObjectType::try_from(object_type) else {
        return ObjectKind::Other("unknown".into());
    };
    match object_type {
        ObjectType::ObjectTable => ObjectKind::Table,
        ObjectType::ObjectView => ObjectKind::View,
        ObjectType::ObjectMatview => ObjectKind::MaterializedView,
        ObjectType::ObjectForeignTable => ObjectKind::ForeignTable,
        ObjectType::ObjectIndex => ObjectKind::Index,
        ObjectType::ObjectSequence => ObjectKind::Sequence,
        ObjectType::ObjectColumn => ObjectKind::Column,
        ObjectType::ObjectSchema => ObjectKind::Schema,
        ObjectType::ObjectDatabase => ObjectKind::Database,
        ObjectType::ObjectRole => ObjectKind::Role,
        ObjectType::ObjectFunction | ObjectType::ObjectAggregate | ObjectType::ObjectRoutine => {
            ObjectKind::Function
        }
        ObjectType::ObjectProcedure => ObjectKind::Procedure,
        ObjectType::ObjectTrigger | ObjectType::ObjectEventTrigger => ObjectKind::Trigger,
        ObjectType::ObjectRule => ObjectKind::Rule,
        ObjectType::ObjectPolicy => ObjectKind::Policy,
        ObjectType::ObjectType => ObjectKind::Type,
        ObjectType::ObjectDomain => ObjectKind::Domain,
        ObjectType::ObjectExtension => ObjectKind::Extension,
        ObjectType::ObjectLanguage => ObjectKind::Language,
        ObjectType::ObjectFdw | ObjectType::ObjectForeignServer | ObjectType::ObjectUserMapping => {
            ObjectKind::ForeignServer
        }
        ObjectType::ObjectTablespace => ObjectKind::Tablespace,
        ObjectType::ObjectPublication
        | ObjectType::ObjectPublicationNamespace
        | ObjectType::ObjectPublicationRel
        | ObjectType::ObjectSubscription => ObjectKind::Replication,
        ObjectType::ObjectDefacl => ObjectKind::DefaultPrivileges,
        other => {
            let name = other
                .as_str_name()
                .trim_start_matches("OBJECT_")
                .to_ascii_lowercase();
            ObjectKind::Other(name)
        }
    }
}
