//! Protocol state the relay keeps per session: prepared statements,
//! portals, and the queue of responses expected from upstream, in the order
//! the messages were forwarded ("Extended Query" and "Pipelining" in the
//! protocol chapter of the PostgreSQL 18 documentation).
//!
//! The queue identifies the statement a CommandComplete or ErrorResponse
//! belongs to, the ErrorResponse that responds to a message the gateway put
//! in place of a denied one, and the restriction that applies to the rows
//! arriving now. The head of the queue owns the active [`RowFilter`].
//!
//! When a restricted result does not fit its restriction, the relay
//! withholds it: the head is marked, and everything the upstream sends for
//! it, except ParameterStatus and NotificationResponse, is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use crate::codec::{SqlState, Target, TransactionStatus};
use crate::authority::Evidence;
use crate::events::{Completion, StatementNumber};
use crate::filter::{RowFilter, RowMode};
use crate::restriction::Restrictions;

/// The ErrorResponse sent in place of the upstream's response to a substitute message.
#[derive(Clone, Debug)]
pub(crate) struct Rewrite {
    pub(crate) code: SqlState,
    pub(crate) message: String,
}

/// A response the relay waits for, one per forwarded message that has one.
pub(crate) enum Expect {
    /// A simple Query: any number of results, then ReadyForQuery.
    Query {
        statement: Option<StatementNumber>,
        /// Sent in place of the first ErrorResponse (a substitute for a denied message).
        rewrite: Option<Rewrite>,
        /// Drop the ErrorResponse: the query is the substitute sent after a withheld result.
        drop_error: bool,
        /// Conditions on the results of the query's statements.
        restrictions: Option<Arc<Restrictions>>,
        /// Position of the statement whose results arrive now.
        position: usize,
        /// The client already got an error for this query; drop the rest of its responses.
        withheld: bool,
        /// Client messages wait until this query ends.
        holds_client: bool,
    },
    /// ParseComplete or an error.
    Parse,
    /// BindComplete or an error.
    Bind,
    /// ParameterDescription then RowDescription/NoData (statement), or
    /// RowDescription/NoData (portal).
    Describe {
        /// The restricted portal whose result columns the reply describes.
        portal: Option<SharedPortal>,
        /// Whether the client sent the Describe; the reply to the gateway's own is dropped.
        forward: bool,
    },
    /// Rows, then CommandComplete, EmptyQueryResponse, PortalSuspended or an error.
    Execute {
        statement: Option<StatementNumber>,
        /// The portal's restriction, when it has one.
        portal: Option<SharedPortal>,
        /// The client already got an error for this Execute; drop the rest of its responses.
        withheld: bool,
        /// Client messages wait until this Execute ends.
        holds_client: bool,
    },
    /// The ErrorResponse to a substitute Parse that stands for a denied message.
    Denied { rewrite: Rewrite },
    /// The ErrorResponse to a substitute Parse sent after a withheld Execute,
    /// which makes the server skip to Sync. The client does not see it.
    Abort,
    /// CloseComplete.
    Close,
    /// ReadyForQuery.
    Sync,
}

impl Expect {
    /// Expects the response to a client's Query.
    pub(crate) fn query(
        statement: Option<StatementNumber>,
        restrictions: Option<Arc<Restrictions>>,
        holds_client: bool,
    ) -> Expect {
        Expect::Query {
            statement,
            rewrite: None,
            drop_error: false,
            restrictions,
            position: 0,
            withheld: false,
            holds_client,
        }
    }

    /// Expects the response to a substitute Query: its error is replaced
    /// with `rewrite`, or dropped when `rewrite` is `None`.
    pub(crate) fn substitute_query(
        statement: Option<StatementNumber>,
        rewrite: Option<Rewrite>,
    ) -> Expect {
        Expect::Query {
            statement,
            drop_error: rewrite.is_none(),
            rewrite,
            restrictions: None,
            position: 0,
            withheld: false,
            holds_client: false,
        }
    }

    /// Expects the response to an Execute.
    pub(crate) fn execute(
        statement: Option<StatementNumber>,
        portal: Option<SharedPortal>,
        holds_client: bool,
    ) -> Expect {
        Expect::Execute {
            statement,
            portal,
            withheld: false,
            holds_client,
        }
    }
}

/// A prepared statement as the gateway saw its Parse.
#[derive(Clone)]
pub(crate) struct Statement {
    pub(crate) text: Arc<str>,
    /// Conditions from the Parse's verdict, for every portal bound from it.
    pub(crate) restrictions: Option<Arc<Restrictions>>,
    /// Evidence of the Parse's verdict, recorded with each Execute.
    pub(crate) evidence: Option<Arc<Evidence>>,
}

/// A portal created by Bind, with what the audit record of its Execute needs.
#[derive(Clone)]
pub(crate) struct Portal {
    pub(crate) text: Arc<str>,
    pub(crate) parameters: Vec<Option<Bytes>>,
    pub(crate) formats: Vec<i16>,
    /// Set by the first Execute; later Executes fetch more rows of the same statement.
    pub(crate) executed: bool,
    /// Restriction state, for a portal of a restricted statement.
    pub(crate) result: Option<SharedPortal>,
    /// Evidence of the statement's Parse.
    pub(crate) evidence: Option<Arc<Evidence>>,
    /// Whether the gateway saw the Parse and Bind that made the portal. A portal
    /// bound from a statement made by SQL PREPARE, or a cursor made by SQL DECLARE,
    /// was never restricted, so its Execute must be decided as such.
    pub(crate) checked: bool,
    /// Name of the prepared statement the portal was bound from.
    pub(crate) statement: Arc<str>,
}

/// The previous value of a name that a Parse, Bind or Close changed.
enum Undo {
    Statement(String, Option<Statement>),
    Portal(String, Option<Portal>),
}

/// The restriction state of one portal, shared by the portal map and the
/// queued responses, so a reply arriving after the portal's name was reused
/// still reaches the right portal.
pub(crate) type SharedPortal = Arc<Mutex<PortalResult>>;

/// Restriction and result columns of a restricted portal.
pub(crate) struct PortalResult {
    pub(crate) restrictions: Arc<Restrictions>,
    /// A Describe of this portal was forwarded, by the client or the gateway.
    pub(crate) describe_sent: bool,
    /// The result columns, from the reply to that Describe.
    pub(crate) description: Option<Description>,
    /// The filter of an Execute that ended at its row limit (PortalSuspended),
    /// which the next Execute of the portal continues.
    pub(crate) suspended: Option<RowFilter>,
}

/// The reply to Describe of a portal.
pub(crate) enum Description {
    /// RowDescription: (type OID, format code) per column.
    Rows(Vec<(u32, i16)>),
    /// NoData: the portal returns no rows.
    NoData,
}

/// Creates the restriction state of a portal.
pub(crate) fn shared_portal(restrictions: Arc<Restrictions>) -> SharedPortal {
    Arc::new(Mutex::new(PortalResult {
        restrictions,
        describe_sent: false,
        description: None,
        suspended: None,
    }))
}

/// Locks a portal's state. A panic while it was held left nothing half
/// written that later readers could misread, so a poisoned lock is used as is.
pub(crate) fn lock(portal: &SharedPortal) -> MutexGuard<'_, PortalResult> {
    portal.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Delivery of a backend message to the client.
#[derive(Debug, Default)]
pub(crate) enum Delivery {
    /// Forward it as received.
    #[default]
    Forward,
    /// Send this ErrorResponse instead.
    Replace(Rewrite),
    /// Send nothing.
    Drop,
}

/// Effect of one backend message on the relay.
#[derive(Debug, Default)]
pub(crate) struct BackendEffect {
    pub(crate) delivery: Delivery,
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

/// The head of the queue after [`ProtocolState::withhold_head`].
pub(crate) enum Withheld {
    /// A simple Query; its statement number, if recorded.
    Query(Option<StatementNumber>),
    /// An Execute.
    Execute(Option<StatementNumber>),
}

/// Statement and portal maps plus the expectation queue.
pub(crate) struct ProtocolState {
    statements: HashMap<String, Statement>,
    portals: HashMap<String, Portal>,
    expected: VecDeque<Expect>,
    /// How to take back the map change of each queued client Parse, Bind or
    /// Close, oldest first, one per such expectation. The maps change when the
    /// message is forwarded. The server may reject the message (a Parse of a name
    /// in use) or skip it after an earlier error, and then the change is undone.
    journal: VecDeque<Undo>,
    /// Changes of messages that failed or were skipped, undone newest first.
    rejected: Vec<Undo>,
    /// Filter of the result arriving now, owned by the head of the queue;
    /// `None` until one is set up for the current head.
    rows: Option<RowFilter>,
    /// The upstream skips every message until the next Sync it reads,
    /// because an extended-protocol message failed after the last Sync the
    /// gateway forwarded, or a substitute Parse will fail.
    skipping: bool,
    max_named: usize,
    next_statement: StatementNumber,
}

impl ProtocolState {
    pub(crate) fn new(max_named: usize) -> Self {
        Self {
            statements: HashMap::new(),
            portals: HashMap::new(),
            expected: VecDeque::new(),
            journal: VecDeque::new(),
            rejected: Vec::new(),
            rows: None,
            skipping: false,
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

    /// Stores a prepared statement; `false` when the per-session maximum of
    /// named statements and portals is reached.
    pub(crate) fn store_statement(&mut self, name: &str, statement: Statement) -> bool {
        if !name.is_empty()
            && !self.statements.contains_key(name)
            && self.named_count() >= self.max_named
        {
            return false;
        }
        let previous = self.statements.insert(name.to_owned(), statement);
        self.journal.push_back(Undo::Statement(name.to_owned(), previous));
        true
    }

    pub(crate) fn statement(&self, name: &str) -> Option<Statement> {
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
        let previous = self.portals.insert(name.to_owned(), portal);
        self.journal.push_back(Undo::Portal(name.to_owned(), previous));
        true
    }

    pub(crate) fn portal_mut(&mut self, name: &str) -> Option<&mut Portal> {
        self.portals.get_mut(name)
    }

    pub(crate) fn close(&mut self, target: Target, name: &str) {
        let undo = match target {
            Target::Statement => Undo::Statement(name.to_owned(), self.statements.remove(name)),
            Target::Portal => Undo::Portal(name.to_owned(), self.portals.remove(name)),
        };
        self.journal.push_back(undo);
    }

    /// Settles the journal entry of a popped expectation: kept when the server
    /// confirmed the message, set aside for undoing otherwise.
    fn settle(&mut self, expect: &Expect, confirmed: bool) {
        if !matches!(expect, Expect::Parse | Expect::Bind | Expect::Close) {
            return;
        }
        if let Some(undo) = self.journal.pop_front() {
            if !confirmed {
                self.rejected.push(undo);
            }
        }
    }

    /// Undoes the changes of rejected and skipped messages, newest first.
    fn undo_rejected(&mut self) {
        while let Some(undo) = self.rejected.pop() {
            match undo {
                Undo::Statement(name, Some(statement)) => {
                    self.statements.insert(name, statement);
                }
                Undo::Statement(name, None) => {
                    self.statements.remove(&name);
                }
                Undo::Portal(name, Some(portal)) => {
                    self.portals.insert(name, portal);
                }
                Undo::Portal(name, None) => {
                    self.portals.remove(&name);
                }
            }
        }
    }

    fn named_count(&self) -> usize {
        self.statements.len() + self.portals.len()
    }

    /// Returns whether the upstream will skip messages forwarded now.
    pub(crate) fn upstream_skipping(&self) -> bool {
        self.skipping
    }

    /// Notes a substitute Parse on its way upstream, which will fail.
    pub(crate) fn substitute_parse_sent(&mut self) {
        self.skipping = true;
    }

    /// Notes a Sync on its way upstream, which ends any skipping.
    pub(crate) fn sync_sent(&mut self) {
        self.skipping = false;
    }

    /// Returns whether client messages must wait: the last forwarded message
    /// is a restricted Query or Execute whose result may still be withheld.
    pub(crate) fn holds_client(&self) -> bool {
        matches!(
            self.expected.back(),
            Some(
                Expect::Query {
                    holds_client: true,
                    ..
                } | Expect::Execute {
                    holds_client: true,
                    ..
                }
            )
        )
    }

    /// Lets client messages through while an Execute at the head receives
    /// COPY data from the client. The server ignores a Flush during COPY IN,
    /// so it would not send the end of the Execute until the client's Sync.
    pub(crate) fn release_for_copy_in(&mut self) {
        if let Some(Expect::Execute { holds_client, .. }) = self.expected.front_mut() {
            *holds_client = false;
        }
    }

    /// Returns whether the client already got an error for the head's result.
    pub(crate) fn head_withheld(&self) -> bool {
        matches!(
            self.expected.front(),
            Some(Expect::Query { withheld: true, .. } | Expect::Execute { withheld: true, .. })
        )
    }

    /// Returns how the receive pipe handles rows now. Every row of a
    /// withheld result is dropped, including rows of later statements of a
    /// simple Query that the cancel did not stop in time.
    pub(crate) fn row_mode(&self) -> RowMode {
        if self.head_withheld() {
            return RowMode::Skip;
        }
        self.rows.as_ref().map_or(RowMode::Pass, RowFilter::mode)
    }

    /// Returns the filter of the result arriving now, if one is set up.
    pub(crate) fn rows_mut(&mut self) -> Option<&mut RowFilter> {
        self.rows.as_mut()
    }

    /// Sets the filter of the head's current result.
    pub(crate) fn set_rows(&mut self, filter: RowFilter) {
        self.rows = Some(filter);
    }

    /// Returns the restrictions that apply to the head's current result and
    /// the statement's position in them, or `None` when it is unrestricted.
    pub(crate) fn head_restrictions(&self) -> Option<(Arc<Restrictions>, usize)> {
        match self.expected.front()? {
            Expect::Query {
                restrictions: Some(restrictions),
                position,
                ..
            } => Some((Arc::clone(restrictions), *position)),
            Expect::Execute {
                portal: Some(portal),
                ..
            } => Some((Arc::clone(&lock(portal).restrictions), 0)),
            _ => None,
        }
    }

    /// Returns the restricted portal whose Describe reply is expected next.
    pub(crate) fn head_describe(&self) -> Option<SharedPortal> {
        match self.expected.front()? {
            Expect::Describe {
                portal: Some(portal),
                ..
            } => Some(Arc::clone(portal)),
            _ => None,
        }
    }

    /// Returns whether the head is a Describe sent by the gateway itself.
    pub(crate) fn head_is_own_describe(&self) -> bool {
        matches!(
            self.expected.front(),
            Some(Expect::Describe { forward: false, .. })
        )
    }

    /// Sets up the filter of an Execute that became the head of the queue.
    /// Its portal's Describe reply came before it, so the columns are known.
    /// Returns the error to send instead of the rows when the result does
    /// not fit the restriction.
    pub(crate) fn start_execute(&mut self) -> Result<(), Rewrite> {
        if self.rows.is_some() {
            return Ok(());
        }
        let Some(Expect::Execute {
            portal,
            withheld: false,
            ..
        }) = self.expected.front()
        else {
            return Ok(());
        };
        let Some(portal) = portal else {
            self.rows = Some(RowFilter::Pass);
            return Ok(());
        };

        let mut result = lock(portal);
        let filter = match (result.suspended.take(), &result.description) {
            (Some(suspended), _) => Ok(suspended),
            (None, Some(Description::Rows(columns))) => {
                RowFilter::for_rows(result.restrictions.statement(0), columns)
            }
            // NoData or no reply: the portal should return no rows, and a
            // CopyOutResponse sets up a filter of its own.
            (None, _) => Ok(RowFilter::Unexpected),
        };
        drop(result);
        match filter {
            Ok(filter) => {
                self.rows = Some(filter);
                Ok(())
            }
            Err(rewrite) => {
                self.rows = Some(RowFilter::Discard);
                Err(rewrite)
            }
        }
    }

    /// Marks the head's result as withheld, so the rest of it is dropped.
    /// Returns `None` when the head is not a Query or Execute.
    pub(crate) fn withhold_head(&mut self) -> Option<Withheld> {
        self.rows = Some(RowFilter::Discard);
        match self.expected.front_mut()? {
            Expect::Query {
                statement,
                withheld,
                holds_client,
                ..
            } => {
                *withheld = true;
                *holds_client = false;
                Some(Withheld::Query(*statement))
            }
            Expect::Execute {
                statement,
                withheld,
                holds_client,
                ..
            } => {
                *withheld = true;
                *holds_client = false;
                Some(Withheld::Execute(*statement))
            }
            _ => None,
        }
    }

    fn pop(&mut self) -> Option<Expect> {
        self.rows = None;
        self.expected.pop_front()
    }

    /// Updates the queue for one backend message. Messages that may come at
    /// any time (notices, notifications, parameter status), COPY messages and
    /// row data are not passed here.
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
                let own = self.head_is_own_describe();
                let mut effect = self.pop_if(|e| matches!(e, Expect::Describe { .. }));
                if own {
                    effect.delivery = Delivery::Drop;
                }
                effect
            }
        }
    }

    fn pop_if(&mut self, matches: impl Fn(&Expect) -> bool) -> BackendEffect {
        if self.expected.front().is_some_and(matches) {
            if let Some(expect) = self.pop() {
                self.settle(&expect, true);
            }
        }
        BackendEffect::default()
    }

    /// CommandComplete, EmptyQueryResponse or PortalSuspended: ends an
    /// Execute; inside a simple Query it ends one of its statements.
    fn on_result(&mut self, completion: Completion, complete: bool) -> BackendEffect {
        match self.expected.front_mut() {
            Some(Expect::Query {
                statement,
                position,
                ..
            }) => {
                *position += 1;
                let statement = *statement;
                self.rows = None;
                BackendEffect {
                    delivery: Delivery::Forward,
                    completion: statement.map(|number| (number, completion)),
                }
            }
            Some(Expect::Execute {
                statement,
                portal,
                withheld,
                ..
            }) => {
                let statement = *statement;
                if !complete && !*withheld {
                    // The next Execute of the portal continues this result.
                    if let Some(portal) = portal.clone() {
                        lock(&portal).suspended = self.rows.take();
                    }
                }
                self.pop();
                BackendEffect {
                    delivery: Delivery::Forward,
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
            Some(Expect::Query {
                statement,
                rewrite,
                drop_error,
                ..
            }) => {
                let effect = match (rewrite.take(), *drop_error) {
                    (Some(rewrite), _) => BackendEffect {
                        delivery: Delivery::Replace(rewrite),
                        completion: None,
                    },
                    (None, true) => BackendEffect {
                        delivery: Delivery::Drop,
                        completion: None,
                    },
                    (None, false) => BackendEffect {
                        delivery: Delivery::Forward,
                        completion: error(*statement),
                    },
                };
                self.rows = None;
                effect
            }
            Some(_) => {
                let effect = self.on_extended_error(error);
                self.undo_rejected();
                effect
            }
        }
    }

    /// Handles an error on an extended-protocol message, after which the server
    /// skips every message up to the next Sync.
    fn on_extended_error(
        &mut self,
        error: impl Fn(Option<StatementNumber>) -> Option<(StatementNumber, Completion)>,
    ) -> BackendEffect {
        let mut head = self.pop();
        if let Some(failed) = &head {
            self.settle(failed, false);
        }
        // An error on the gateway's own Describe, such as an unknown
        // portal, stands for the error of the Execute behind it.
        if matches!(head, Some(Expect::Describe { forward: false, .. }))
            && matches!(self.expected.front(), Some(Expect::Execute { .. }))
        {
            head = self.pop();
        }
        while self
            .expected
            .front()
            .is_some_and(|e| !matches!(e, Expect::Sync))
        {
            if let Some(skipped) = self.pop() {
                self.settle(&skipped, false);
            }
        }
        if self.expected.is_empty() {
            self.skipping = true;
        }
        match head {
            Some(Expect::Denied { rewrite }) => BackendEffect {
                delivery: Delivery::Replace(rewrite),
                completion: None,
            },
            Some(Expect::Abort) => BackendEffect {
                delivery: Delivery::Drop,
                completion: None,
            },
            Some(Expect::Execute { statement, .. }) => BackendEffect {
                delivery: Delivery::Forward,
                completion: error(statement),
            },
            _ => BackendEffect::default(),
        }
    }

    fn on_ready(&mut self, status: TransactionStatus) {
        // Anything still queued before the Sync or Query was skipped by the server.
        while let Some(expect) = self.pop() {
            if matches!(expect, Expect::Sync | Expect::Query { .. }) {
                break;
            }
            self.settle(&expect, false);
        }
        self.undo_rejected();
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
        state.expect(Expect::execute(Some(1), None, false));
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
        assert!(matches!(
            effect.delivery,
            Delivery::Replace(Rewrite {
                code: SqlState::INSUFFICIENT_PRIVILEGE,
                ..
            })
        ));
    }

    #[test]
    fn query_completions_per_statement() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::query(Some(7), None, false));
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
        let statement = |text: &str| Statement {
            text: text.into(),
            restrictions: None,
            evidence: None,
        };
        let mut state = ProtocolState::new(1);
        assert!(state.store_statement("a", statement("SELECT 1")));
        assert!(!state.store_statement("b", statement("SELECT 2")));
        assert!(state.store_statement("", statement("SELECT 3")));
        assert!(state.store_statement("a", statement("SELECT 4")));
    }

    #[test]
    fn own_describe_reply_dropped() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Describe {
            portal: None,
            forward: false,
        });
        state.expect(Expect::Describe {
            portal: None,
            forward: true,
        });
        let own = state.on_backend(Backend::RowDescription);
        let client = state.on_backend(Backend::NoData);
        assert!(matches!(own.delivery, Delivery::Drop));
        assert!(matches!(client.delivery, Delivery::Forward));
        assert!(state.is_settled());
    }

    #[test]
    fn withheld_execute_abort_error_dropped() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::execute(Some(3), None, true));
        assert!(state.holds_client());
        assert!(matches!(
            state.withhold_head(),
            Some(Withheld::Execute(Some(3)))
        ));
        state.expect(Expect::Abort);
        assert!(state.head_withheld());
        assert!(!state.holds_client());

        state.on_backend(Backend::CommandComplete {
            tag: "SELECT 9",
            rows: Some(9),
        });
        assert!(!state.head_withheld());
        let effect = state.on_backend(Backend::Error { sqlstate: "42601" });
        assert!(matches!(effect.delivery, Delivery::Drop));
        assert!(state.is_settled());
        assert!(state.upstream_skipping());
        state.sync_sent();
        assert!(!state.upstream_skipping());
    }

    #[test]
    fn withheld_query_skips_later_rows() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::query(Some(1), None, true));
        state.set_rows(RowFilter::Count { cap: 1, sent: 1 });
        state.withhold_head();
        state.on_backend(Backend::CommandComplete {
            tag: "SELECT 5",
            rows: Some(5),
        });
        assert_eq!(
            state.row_mode(),
            RowMode::Skip,
            "rows of the next statement"
        );
        state.on_backend(Backend::Ready(TransactionStatus::Idle));
        assert_eq!(state.row_mode(), RowMode::Pass);
    }

    #[test]
    fn own_describe_error_completes_execute() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Describe {
            portal: None,
            forward: false,
        });
        state.expect(Expect::execute(Some(4), None, true));
        state.expect(Expect::Sync);
        let effect = state.on_backend(Backend::Error { sqlstate: "34000" });
        assert!(matches!(effect.delivery, Delivery::Forward));
        assert!(matches!(
            effect.completion,
            Some((4, Completion::Error { .. }))
        ));
        assert_eq!(state.pending(), 1);
    }

    #[test]
    fn error_without_queued_sync_marks_skipping() {
        let mut state = ProtocolState::new(10);
        state.expect(Expect::Bind);
        state.expect(Expect::Sync);
        state.on_backend(Backend::Error { sqlstate: "22P02" });
        assert!(
            !state.upstream_skipping(),
            "the queued Sync ends the skipping"
        );

        state.on_backend(Backend::Ready(TransactionStatus::Idle));
        state.expect(Expect::Bind);
        state.on_backend(Backend::Error { sqlstate: "22P02" });
        assert!(state.upstream_skipping());
    }

    fn statement(text: &str) -> Statement {
        Statement {
            text: text.into(),
            restrictions: None,
            evidence: None,
        }
    }

    fn text_of(state: &ProtocolState, name: &str) -> Option<String> {
        state.statement(name).map(|statement| statement.text.to_string())
    }

    #[test]
    fn rejected_parse_keeps_old_statement() {
        let mut state = ProtocolState::new(10);
        assert!(state.store_statement("s1", statement("SELECT ssn FROM patients")));
        state.expect(Expect::Parse);
        state.expect(Expect::Sync);
        state.on_backend(Backend::ParseComplete);
        state.on_backend(Backend::Ready(TransactionStatus::Idle));

        // The server rejects a second Parse of the name (42P05) and keeps the first.
        assert!(state.store_statement("s1", statement("SELECT city FROM patients")));
        state.expect(Expect::Parse);
        state.expect(Expect::Sync);
        state.on_backend(Backend::Error { sqlstate: "42P05" });
        state.on_backend(Backend::Ready(TransactionStatus::Idle));

        assert_eq!(text_of(&state, "s1").as_deref(), Some("SELECT ssn FROM patients"));
        assert!(state.is_settled());
    }

    #[test]
    fn skipped_close_and_parse_undone() {
        let mut state = ProtocolState::new(10);
        assert!(state.store_statement("s2", statement("SELECT ssn FROM patients")));
        state.expect(Expect::Parse);
        state.expect(Expect::Sync);
        state.on_backend(Backend::ParseComplete);
        state.on_backend(Backend::Ready(TransactionStatus::Idle));

        // Execute of a missing portal fails, so the server skips the Close and
        // the Parse that follow it in the same batch.
        state.expect(Expect::execute(Some(1), None, false));
        state.close(Target::Statement, "s2");
        state.expect(Expect::Close);
        assert!(state.store_statement("s2", statement("SELECT city FROM patients")));
        state.expect(Expect::Parse);
        state.expect(Expect::Sync);
        state.on_backend(Backend::Error { sqlstate: "34000" });
        state.on_backend(Backend::Ready(TransactionStatus::Idle));

        assert_eq!(text_of(&state, "s2").as_deref(), Some("SELECT ssn FROM patients"));
    }

    #[test]
    fn confirmed_changes_survive_later_error() {
        let mut state = ProtocolState::new(10);
        assert!(state.store_statement("s3", statement("SELECT 1")));
        state.expect(Expect::Parse);
        state.expect(Expect::execute(Some(1), None, false));
        state.expect(Expect::Sync);
        state.on_backend(Backend::ParseComplete);
        state.on_backend(Backend::Error { sqlstate: "22012" });
        state.on_backend(Backend::Ready(TransactionStatus::Idle));

        assert_eq!(text_of(&state, "s3").as_deref(), Some("SELECT 1"));
    }
}
