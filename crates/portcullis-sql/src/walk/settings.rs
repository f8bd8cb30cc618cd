//! SET, RESET and SHOW of run-time parameters.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{Node, VariableSetKind, VariableSetStmt};

use crate::error::AnalysisError;
use crate::kind::{SettingAction, StatementKind, TransactionAction};
use crate::session::SessionEffect;
use crate::walk::utility::with_effect;
use crate::walk::{Analyzed, Lineage, OutCol};

pub(super) fn variable_show(name: &str) -> Analyzed {
    let name = name.to_ascii_lowercase();
    let column = if name == "all" { "name" } else { name.as_str() };
    let rows = vec![OutCol::new(column, Lineage::constant())];
    let setting = (name != "all").then(|| name.clone());
    let kind = StatementKind::SessionSetting {
        action: SettingAction::Show,
        name: setting,
        local: false,
    };
    Analyzed {
        rows,
        ..Analyzed::new(kind)
    }
}

/// SET and RESET. `SET SCHEMA 'x'` arrives as `search_path`.
pub(super) fn variable_set(set: &VariableSetStmt) -> Result<Analyzed, AnalysisError> {
    let kind = VariableSetKind::try_from(set.kind).unwrap_or(VariableSetKind::Undefined);
    let name = set.name.to_ascii_lowercase();
    let local = set.is_local;
    let action = match kind {
        VariableSetKind::VarSetValue | VariableSetKind::VarSetCurrent => SettingAction::Set,
        VariableSetKind::VarSetDefault
        | VariableSetKind::VarReset
        | VariableSetKind::VarResetAll => SettingAction::Reset,
        VariableSetKind::VarSetMulti => {
            return Ok(Analyzed::new(StatementKind::TransactionControl {
                action: TransactionAction::SetCharacteristics,
            }))
        }
        VariableSetKind::Undefined => {
            return Err(AnalysisError::unsupported("an unknown SET form"))
        }
    };
    if kind == VariableSetKind::VarResetAll {
        let kind = StatementKind::SessionSetting {
            action,
            name: None,
            local,
        };
        return Ok(with_effect(kind, SessionEffect::ResetAll));
    }
    let statement = match name.as_str() {
        "role" => StatementKind::SetRole,
        "session_authorization" => StatementKind::SetSessionAuthorization,
        _ => StatementKind::SessionSetting {
            action,
            name: Some(name.clone()),
            local,
        },
    };
    let effect = match (name.as_str(), kind) {
        ("search_path", VariableSetKind::VarSetValue) => Some(SessionEffect::SetSearchPath {
            schemas: setting_values(&set.args)?,
            local,
        }),
        ("search_path", VariableSetKind::VarSetDefault | VariableSetKind::VarReset) => {
            Some(SessionEffect::ResetSearchPath { local })
        }
        ("standard_conforming_strings", VariableSetKind::VarSetValue) => {
            Some(SessionEffect::SetStandardConformingStrings {
                on: boolean_setting(&set.args)?,
                local,
            })
        }
        (
            "standard_conforming_strings",
            VariableSetKind::VarSetDefault | VariableSetKind::VarReset,
        ) => Some(SessionEffect::SetStandardConformingStrings { on: true, local }),
        _ => None,
    };
    Ok(Analyzed {
        effect,
        ..Analyzed::new(statement)
    })
}

/// Returns the values of `SET name TO a, b`. Identifiers and strings both arrive as string constants.
fn setting_values(args: &[Node]) -> Result<Vec<String>, AnalysisError> {
    args.iter()
        .map(|arg| match arg.node.as_ref() {
            Some(NodeEnum::AConst(constant)) => match &constant.val {
                Some(pg_query::protobuf::a_const::Val::Sval(text)) => Ok(text.sval.clone()),
                _ => Err(AnalysisError::unsupported(
                    "a search_path entry that is not a name",
                )),
            },
            _ => Err(AnalysisError::unsupported(
                "a search_path entry that is not a name",
            )),
        })
        .collect()
}

/// Reads a boolean parameter value as PostgreSQL's `parse_bool` does.
fn boolean_setting(args: &[Node]) -> Result<bool, AnalysisError> {
    let values = setting_values(args).unwrap_or_default();
    let value = match values.as_slice() {
        [value] => value.to_ascii_lowercase(),
        _ => match args.first().and_then(|arg| arg.node.as_ref()) {
            Some(NodeEnum::AConst(constant)) => match &constant.val {
                Some(pg_query::protobuf::a_const::Val::Ival(number)) => number.ival.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        },
    };
    match value.as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok(false),
        _ => Err(AnalysisError::invalid(
            "standard_conforming_strings requires a Boolean value",
        )),
    }
}
