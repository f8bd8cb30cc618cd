//! Utility statements: COPY, EXPLAIN, PREPARE, cursors, SET/SHOW, transaction
//! control and the other non-DDL commands.

use pg_query::protobuf::node::Node as NodeEnum;
use pg_query::protobuf::{CopyStmt, DiscardMode, ExplainStmt, Node, TransactionStmtKind};

use crate::error::AnalysisError;
use crate::facts::{Access, ColumnUsage};
use crate::kind::{CopyDirection, StatementKind, TransactionAction};
use crate::session::SessionEffect;
use crate::walk::scope::Scope;
use crate::walk::settings::{variable_set, variable_show};
use crate::walk::{inner_opt, string_list, string_value, Analyzed, Analyzer, Lineage, OutCol};

impl<'c> Analyzer<'c> {
    pub fn utility(&mut self, node: &NodeEnum) -> Result<Analyzed, AnalysisError> {
        let kind = match node {
            NodeEnum::CopyStmt(copy) => return self.copy(copy),
            NodeEnum::ExplainStmt(explain) => return self.explain(explain),
            NodeEnum::PrepareStmt(prepare) => {
                let mut inner =
                    self.statement(inner_opt(prepare.query.as_deref(), "PREPARE query")?)?;
                inner.kind = StatementKind::Prepare {
                    name: prepare.name.clone(),
                    statement: Box::new(inner.kind),
                };
                inner.effect = Some(SessionEffect::Prepare {
                    name: prepare.name.clone(),
                });
                return Ok(inner);
            }
            NodeEnum::ExecuteStmt(execute) => return self.execute(execute),
            NodeEnum::DeclareCursorStmt(declare) => {
                let mut inner =
                    self.statement(inner_opt(declare.query.as_deref(), "DECLARE query")?)?;
                inner.kind = StatementKind::DeclareCursor {
                    name: declare.portalname.clone(),
                };
                inner.effect = Some(SessionEffect::DeclareCursor {
                    name: declare.portalname.clone(),
                });
                return Ok(inner);
            }
            NodeEnum::FetchStmt(fetch) => return self.fetch(fetch),
            NodeEnum::ClosePortalStmt(close) => {
                let name = (!close.portalname.is_empty()).then(|| close.portalname.clone());
                let effect = SessionEffect::CloseCursor { name: name.clone() };
                return Ok(with_effect(StatementKind::CloseCursor { name }, effect));
            }
            NodeEnum::DeallocateStmt(deallocate) => {
                let name = (!deallocate.isall).then(|| deallocate.name.clone());
                let effect = SessionEffect::Deallocate { name: name.clone() };
                return Ok(with_effect(StatementKind::Deallocate { name }, effect));
            }
            NodeEnum::VariableSetStmt(set) => return variable_set(set),
            NodeEnum::VariableShowStmt(show) => return Ok(variable_show(&show.name)),
            NodeEnum::TransactionStmt(transaction) => StatementKind::TransactionControl {
                action: transaction_action(transaction.kind)?,
            },
            NodeEnum::ConstraintsSetStmt(_) => StatementKind::TransactionControl {
                action: TransactionAction::SetCharacteristics,
            },
            NodeEnum::ListenStmt(listen) => StatementKind::Listen {
                channel: listen.conditionname.clone(),
            },
            NodeEnum::NotifyStmt(notify) => StatementKind::Notify {
                channel: notify.conditionname.clone(),
            },
            NodeEnum::UnlistenStmt(unlisten) => {
                let channel =
                    (!unlisten.conditionname.is_empty()).then(|| unlisten.conditionname.clone());
                StatementKind::Unlisten { channel }
            }
            NodeEnum::LoadStmt(load) => StatementKind::Load {
                file: load.filename.clone(),
            },
            NodeEnum::DoStmt(block) => StatementKind::DoBlock {
                language: do_language(&block.args),
            },
            NodeEnum::CallStmt(call) => {
                let function = call
                    .funccall
                    .as_deref()
                    .ok_or_else(|| AnalysisError::unsupported("CALL without a procedure"))?;
                let node = Node {
                    node: Some(NodeEnum::FuncCall(Box::new(function.clone()))),
                };
                self.expr(&node, &Scope::new(None, false))?;
                StatementKind::Call
            }
            NodeEnum::AlterSystemStmt(alter) => {
                let set = alter.setstmt.as_ref();
                let name = set
                    .filter(|set| !set.name.is_empty())
                    .map(|set| set.name.clone());
                StatementKind::AlterSystem { name }
            }
            NodeEnum::CreateExtensionStmt(extension) => StatementKind::CreateExtension {
                name: extension.extname.clone(),
            },
            NodeEnum::CheckPointStmt(_) => utility_named("CHECKPOINT"),
            NodeEnum::DiscardStmt(discard) => {
                let kind = utility_named("DISCARD");
                if discard.target == DiscardMode::DiscardAll as i32 {
                    return Ok(with_effect(kind, SessionEffect::DiscardAll));
                }
                kind
            }
            other => return self.maintenance(other),
        };
        Ok(Analyzed::new(kind))
    }

    /// Analyzes COPY. Server-side files and programs are kinds of their own,
    /// and the relation or query is analyzed in every case.
    fn copy(&mut self, copy: &CopyStmt) -> Result<Analyzed, AnalysisError> {
        let direction = if copy.is_from {
            CopyDirection::From
        } else {
            CopyDirection::To
        };
        let kind = if copy.is_program {
            StatementKind::CopyProgram {
                direction,
                command: copy.filename.clone(),
            }
        } else if !copy.filename.is_empty() {
            StatementKind::CopyFile {
                direction,
                path: copy.filename.clone(),
            }
        } else if copy.is_from {
            StatementKind::CopyFrom
        } else {
            StatementKind::CopyTo
        };

        if let Some(query) = copy.query.as_deref() {
            let inner = self.statement(inner_opt(Some(query), "COPY query")?)?;
            return Ok(Analyzed {
                kind,
                rows: inner.rows,
                returning: false,
                effect: None,
            });
        }
        let range = copy
            .relation
            .as_ref()
            .ok_or_else(|| AnalysisError::unsupported("COPY without a table or query"))?;
        let access = if copy.is_from {
            Access::Insert
        } else {
            Access::Read
        };
        let item = self.range_var_item(range, &Scope::new(None, false), access)?;
        let names = string_list(&copy.attlist)?;
        let mut rows = Vec::new();
        let mut scope = Scope::new(None, false);
        scope.items.push(item);
        for name in &names {
            rows.push(OutCol::new(
                *name,
                scope.resolve_name(name, &mut self.facts)?,
            ));
        }
        if names.is_empty() {
            rows = self.target_list(&[star_target()], &scope)?;
        }
        if copy.is_from {
            for row in &rows {
                self.facts
                    .record_one(&row.lineage, ColumnUsage::WriteTarget);
            }
            self.clause(copy.where_clause.as_deref(), &scope, ColumnUsage::Filter)?;
            rows.clear();
        }
        Ok(Analyzed {
            kind,
            rows,
            returning: false,
            effect: None,
        })
    }

    /// Analyzes EXPLAIN: the inner statement's facts without its result, which
    /// EXPLAIN does not send. The result is the plan text.
    fn explain(&mut self, explain: &ExplainStmt) -> Result<Analyzed, AnalysisError> {
        let inner = self.statement(inner_opt(explain.query.as_deref(), "EXPLAIN query")?)?;
        let analyze = explain_analyzes(&explain.options)?;
        Ok(Analyzed {
            kind: StatementKind::Explain {
                analyze,
                statement: Box::new(inner.kind),
            },
            rows: vec![OutCol::new("QUERY PLAN", Lineage::constant())],
            returning: false,
            effect: None,
        })
    }
}

pub(super) fn with_effect(kind: StatementKind, effect: SessionEffect) -> Analyzed {
    Analyzed {
        effect: Some(effect),
        ..Analyzed::new(kind)
    }
}

fn utility_named(name: &str) -> StatementKind {
    StatementKind::Utility {
        name: name.to_owned(),
    }
}

/// Builds a `*` select-list item, for COPY without a column list.
fn star_target() -> Node {
    let star = Node {
        node: Some(NodeEnum::AStar(pg_query::protobuf::AStar {})),
    };
    let column = pg_query::protobuf::ColumnRef {
        fields: vec![star],
        location: 0,
    };
    let value = Node {
        node: Some(NodeEnum::ColumnRef(column)),
    };
    let target = pg_query::protobuf::ResTarget {
        val: Some(Box::new(value)),
        ..Default::default()
    };
    Node {
        node: Some(NodeEnum::ResTarget(Box::new(target))),
    }
}

/// Returns whether EXPLAIN's options turn ANALYZE on. Any value other than an
/// explicit false counts as on, so a misread option errs toward "executes".
fn explain_analyzes(options: &[Node]) -> Result<bool, AnalysisError> {
    let mut analyze = false;
    for option in options {
        let Some(NodeEnum::DefElem(option)) = &option.node else {
            return Err(AnalysisError::unsupported(
                "an EXPLAIN option that is not a name",
            ));
        };
        if option.defname == "analyze" {
            analyze = !option_is_false(option.arg.as_deref());
        }
    }
    Ok(analyze)
}

fn option_is_false(arg: Option<&Node>) -> bool {
    let text = match arg.and_then(|node| node.node.as_ref()) {
        Some(NodeEnum::String(text)) => text.sval.to_ascii_lowercase(),
        Some(NodeEnum::Boolean(value)) => return !value.boolval,
        Some(NodeEnum::Integer(value)) => return value.ival == 0,
        _ => return false,
    };
    matches!(text.as_str(), "false" | "off" | "no" | "0")
}

fn do_language(args: &[Node]) -> String {
    for arg in args {
        if let Some(NodeEnum::DefElem(option)) = &arg.node {
            if option.defname == "language" {
                if let Some(language) = option.arg.as_deref().and_then(string_value) {
                    return language.to_owned();
                }
            }
        }
    }
    "plpgsql".to_owned()
}

fn transaction_action(kind: i32) -> Result<TransactionAction, AnalysisError> {
    let action = match TransactionStmtKind::try_from(kind).unwrap_or(TransactionStmtKind::Undefined)
    {
        TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => {
            TransactionAction::Begin
        }
        TransactionStmtKind::TransStmtCommit => TransactionAction::Commit,
        TransactionStmtKind::TransStmtRollback => TransactionAction::Rollback,
        TransactionStmtKind::TransStmtSavepoint => TransactionAction::Savepoint,
        TransactionStmtKind::TransStmtRelease => TransactionAction::Release,
        TransactionStmtKind::TransStmtRollbackTo => TransactionAction::RollbackTo,
        TransactionStmtKind::TransStmtPrepare => TransactionAction::PrepareTransaction,
        TransactionStmtKind::TransStmtCommitPrepared => TransactionAction::CommitPrepared,
        TransactionStmtKind::TransStmtRollbackPrepared => TransactionAction::RollbackPrepared,
        TransactionStmtKind::Undefined => {
            return Err(AnalysisError::unsupported(
                "an unknown transaction statement",
            ))
        }
    };
    Ok(action)
}
