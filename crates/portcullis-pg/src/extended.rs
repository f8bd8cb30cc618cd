//! Protocol state the relay keeps per session: prepared statement texts,
//! portals, and the queue of responses expected from upstream, in the order
//! the messages were forwarded ("Extended Query" and "Pipelining" in the
//! protocol chapter of the PostgreSQL 18 documentation).
//!
//! The queue identifies the statement a CommandComplete or ErrorResponse
//! belongs to, and the ErrorResponse that responds to a message the gateway
//! put in place of a denied one. It never changes what is forwarded, except for
//! that one ErrorResponse.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{SqlState, Target, TransactionStatus};
use crate::events::{Completion, StatementNumber};

/// The ErrorResponse sent in place of the upstream's response to a substitute message.
#[derive(Clone, Debug)]
pub(crate) struct Rewrite {
    pub(crate) code: SqlState,
    pub(crate) message: String,
}

/// A response the relay waits for, one per forwarded message that has one.
#[derive(Debug)]
pub(crate) enum Expect {
    /// A simple Query: any number of results, then ReadyForQuery.
    Query {
        statement: Option<StatementNumber>,
        rewrite: Option<Rewrite>,
    },
    /// ParseComplete or an error.
    Parse,
    /// BindComplete or an error.
    Bind,
    /// ParameterDescription then RowDescription/NoData (statement), or
    /// RowDescription/NoData (portal).
    Describe,
    /// Rows, then CommandComplete, EmptyQueryResponse, PortalSuspended or an error.
    Execute { statement: Option<StatementNumber> },
    /// The ErrorResponse to a substitute Parse that stands for a denied message.
    Denied { rewrite: Rewrite },
    /// CloseComplete.
    Close,
    /// ReadyForQuery.
    Sync,
}

/// A portal created by Bind, with what the audit record of its Execute needs.
#[derive(Clone)]
pub(crate) struct Portal {
    pub(crate) text: Arc<str>,
    pub(crate) parameters: Vec<Option<Bytes>>,
    pub(crate) formats: Vec<i16>,
    /// Set by the first Execute; later Executes fetch more rows of the same statement.
    pub(crate) executed: bool,
}

/// Effect of one backend message on the relay, besides forwarding it.
#[derive(Debug, Default)]
pub(crate) struct BackendEffect {
    /// Send this ErrorResponse instead of the upstream's.
    pub(crate) replace: Option<Rewrite>,
    /// Record this completion.
    pub(crate) completion: Option<(StatementNumber, Completion)>,
}

/// The kinds of backend message the queue reacts to.
pub(crate) enum Backend<'a> {
    CommandComplete { tag: &'a str, rows: Option<u64> },
    EmptyQuery,
    Error { sqlstate: &'a str },
    Ready(TransactionStatus),
    ParseComplete,
    BindComplete,
    CloseComplete,
    PortalSuspended,
    ParameterDescription,
    RowDescription,
    NoData,
}

/// Statement and portal maps plus the expectation queue.
pub(crate) struct ProtocolState {
    statements: HashMap<String, Arc<str>>,
    portals: HashMap<String, Portal>,
    expected: VecDeque<Expect>,
    max_named: usize,
    next_statement: StatementNumber,
}

impl ProtocolState {
    pub(crate) fn new(max_named: usize) -> Self {
        Self {
            statements: HashMap::new(),
            portals: HashMap::new(),
            expected: VecDeque::new(),
            max_named,
            next_statement: 1,
        }
    }

    /// Returns a new statement number for the audit log.
    pub(crate) fn next_statement(&mut self) -> StatementNumber {
        let number = self.next_statement;
        self.next_statement += 1;
        number
    }

    pub(crate) fn expect(&mut self, expect: Expect) {
        self.expected.push_back(expect);
    }

    /// Returns whether every forwarded message got its response.
    pub(crate) fn is_settled(&self) -> bool {
        self.expected.is_empty()
    }

    pub(crate) fn pending(&self) -> usize {
        self.expected.len()
    }

    /// Stores a statement text; `false` when the per-session maximum of
    /// named statements and portals is reached.
    pub(crate) fn store_statement(&mut self, name: &str, text: Arc<str>) -> bool {
        if !name.is_empty()
            && !self.statements.contains_key(name)
            && self.named_count() >= self.max_named
        {
            return false;
        }
        self.statements.insert(name.to_owned(), text);
        true
    }

    pub(crate) fn statement(&self, name: &str) -> Option<Arc<str>> {
        self.statements.get(name).cloned()
    }

    /// Stores a portal; `false` when the maximum is reached.
    pub(crate) fn store_portal(&mut self, name: &str, portal: Portal) -> bool {
        if !name.is_empty()
            && !self.portals.contains_key(name)
            && self.named_count() >= self.max_named
        {
            return false;
        }
        self.portals.insert(name.to_owned(), portal);
        true
    }

    pub(crate) fn portal_mut(&mut self, name: &str) -> Option<&mut Portal> {
        self.portals.get_mut(name)
    }

    pub(crate) fn close(&mut self, target: Target, name: &str) {
        match target {
            Target::Statement => self.statements.remove(name),
            Target::Portal => self.portals.remove(name).map(|portal| portal.text),
        };
    }

    fn named_count(&self) -> usize {
        self.statements.len() + self.portals.len()
    }

    /// Updates the queue for one backend message. Messages that may come at
    /// any time (notices, notifications, parameter status) and row data are
    /// not passed here.
    pub(crate) fn on_backend(&mut self, message: Backend<'_>) -> BackendEffect {
        match message {
            Backend::Ready(status) => {
                self.on_ready(status);
                BackendEffect::default()
            }
            Backend::Error { sqlstate } => self.on_error(sqlstate),
            Backend::CommandComplete { tag, rows } => {
                let completion = Completion::Command {
                    tag: tag.to_owned(),
                    rows,
                };
                self.on_result(completion, true)
            }
            Backend::EmptyQuery => self.on_result(Completion::Empty, true),
            Backend::PortalSuspended => self.on_result(Completion::Empty, false),
            Backend::ParseComplete => {
                self.pop_if(|e| matches!(e, Expect::Parse | Expect::Denied { .. }))
            }
            Backend::BindComplete => self.pop_if(|e| matches!(e, Expect::Bind)),
            Backend::CloseComplete => self.pop_if(|e| matches!(e, Expect::Close)),
            Backend::ParameterDescription => BackendEffect::default(),
            Backend::RowDescription | Backend::NoData => {
                self.pop_if(|e| matches!(e, Expect::Describe))
            }
        }
    }

    fn pop_if(&mut self, matches: impl Fn(&Expect) -> bool) -> BackendEffect {
        if self.expected.front().is_some_and(matches) {
            self.expected.pop_front();
        }
        BackendEffect::default()
    }

    /// CommandComplete, EmptyQueryResponse or PortalSuspended: ends an
    /// Execute; inside a simple Query it ends one of its statements.
    fn on_result(&mut self, completion: Completion, complete: bool) -> BackendEffect {
        match self.expected.front() {
            Some(Expect::Query { statement, .. }) => BackendEffect {
                replace: None,
                completion: statement.map(|number| (number, completion)),
            },
            Some(Expect::Execute { statement }) => {
                let statement = *statement;
                self.expected.pop_front();
                BackendEffect {
                    replace: None,
                    completion: statement
                        .filter(|_| complete)
                        .map(|number| (number, completion)),
                }
            }
            _ => BackendEffect::default(),
        }
    }

    /// Ends the current message on an error. In the extended protocol the
    /// server then skips everything up to Sync, so those expectations go too.
    fn on_error(&mut self, sqlstate: &str) -> BackendEffect {
        let error = |statement: Option<StatementNumber>| {
            statement.map(|number| {
                (
                    number,
                    Completion::Error {
                        sqlstate: sqlstate.to_owned(),
                    },
                )
            })
        };
        match self.expected.front_mut() {
            None => BackendEffect::default(),
            // A denied query was recorded with its verdict; it gets no completion.
            Some(Expect::Query { statement, rewrite }) => match rewrite.take() {
                Some(rewrite) => BackendEffect {
                    replace: Some(rewrite),
                    completion: None,
                },
                None => BackendEffect {
                    replace: None,
                    completion: error(*statement),
                },
            },
            Some(_) => {
                let head = self.expected.pop_front();
                while self
                    .expected
                    .front()
                    .is_some_and(|e| !matches!(e, Expect::Sync))
                {
                    self.expected.pop_front();
                }
                match head {
                    Some(Expect::Denied { rewrite }) => BackendEffect {
                        replace: Some(rewrite),
                        completion: None,
                    },
                    Some(Expect::Execute { statement }) => BackendEffect {
                        replace: None,
                        completion: error(statement),
                    },
                    _ => BackendEffect::default(),
                }
            }
        }
    }

    fn on_ready(&mut self, status: TransactionStatus) {
        // Anything still queued before the Sync or Query was skipped by the server.
        while let Some(expect) = self.expected.pop_front() {
            if matches!(expect, Expect::Sync | Expect::Query { .. }) {
                break;
            }
        }
        // Portals live until the end of their transaction.
        if status == TransactionStatus::Idle {
            self.portals.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny() -> Rewrite {
        Rewrite {
            code: SqlState::INSUFFICIENT_PRIVILEGE,
            message: "denied".into(),
        }
    }

    #[test]
    fn pipeline_error_skips_to_sync() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Parse);
        state.expect(Expect::Bind);
        state.expect(Expect::Execute { statement: Some(1) });
        state.expect(Expect::Parse);
        state.expect(Expect::Sync);
        state.on_backend(Backend::ParseComplete);
        state.on_backend(Backend::BindComplete);
        let effect = state.on_backend(Backend::Error { sqlstate: "22012" });
        assert!(matches!(
            effect.completion,
            Some((1, Completion::Error { .. }))
        ));
        assert_eq!(state.pending(), 1);
        state.on_backend(Backend::Ready(TransactionStatus::Idle));
        assert!(state.is_settled());
    }

    #[test]
    fn denied_message_error_rewritten() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Denied { rewrite: deny() });
        state.expect(Expect::Sync);
        let effect = state.on_backend(Backend::Error { sqlstate: "42601" });
        assert_eq!(
            effect.replace.map(|r| r.code),
            Some(SqlState::INSUFFICIENT_PRIVILEGE)
        );
    }

    #[test]
    fn query_completions_per_statement() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Query {
            statement: Some(7),
            rewrite: None,
        });
        let first = state.on_backend(Backend::CommandComplete {
            tag: "SELECT 1",
            rows: Some(1),
        });
        let second = state.on_backend(Backend::CommandComplete {
            tag: "SELECT 2",
            rows: Some(2),
        });
        assert!(matches!(
            first.completion,
            Some((7, Completion::Command { rows: Some(1), .. }))
        ));
        assert!(matches!(
            second.completion,
            Some((7, Completion::Command { rows: Some(2), .. }))
        ));
        state.on_backend(Backend::Ready(TransactionStatus::Idle));
        assert!(state.is_settled());
    }

    #[test]
    fn named_statement_cap_enforced() {
        let mut state = ProtocolState::new(1);
        assert!(state.store_statement("a", "SELECT 1".into()));
        assert!(!state.store_statement("b", "SELECT 2".into()));
        assert!(state.store_statement("", "SELECT 3".into()));
        assert!(state.store_statement("a", "SELECT 4".into()));
    }
}
