//! Table-driven decisions of the demo policy set on the demo EHR catalog.
//!
//! Each case is a user, a query message and the expected decision. Users (see
//! `common::principal`): alice (clinician: SSN masked partial:4), bob
//! (billing), carol (researcher: Safe Harbor masks), dave (dba, `+jit` for a
//! just-in-time grant), erin (security officer), frank (emergency, `+glass` for
//! break-glass), mallory (no role). The cases cover every way a statement can
//! use a masked or denied column, the guarded functions and statement kinds,
//! and the guardrails. Every case also checks that `explain` reaches the
//! decision `decide` returns.

mod common;

use portcullis_policy::{MessageDecision, Outcome};

#[path = "corpus/cases.rs"]
mod cases;

use cases::{Allow, Deny, Expect, CASES};

fn mask_strings(decision: &MessageDecision) -> Vec<String> {
    let Some(last) = decision.statements.last() else {
        return Vec::new();
    };
    let plan = &last.mask_plan;
    plan.columns
        .iter()
        .map(|mask| mask.map_or_else(|| "-".to_owned(), |method| method.to_string()))
        .collect()
}

/// Runs one case; returns a description of the mismatch, if any.
fn run_case(
    engine: &portcullis_policy::PolicyEngine,
    name: &str,
    user: &str,
    sql: &str,
    expect: &Expect,
) -> Option<String> {
    let (mut session, request) = common::session(engine, user);
    let analysis = common::analysis_context();
    let decision = session.decide(sql, &analysis, &request);
    let explanation = session.explain(sql, &analysis, &request);

    // explain and decide run the same evaluation.
    let explained: Vec<_> = explanation
        .statements
        .iter()
        .map(|statement| &statement.decision)
        .collect();
    let decided: Vec<_> = decision.statements.iter().collect();
    if explained != decided || explanation.reason != decision.reason {
        return Some(format!("{name}: explain disagrees with decide"));
    }

    match expect {
        Allow(plan) => {
            if decision.outcome != Outcome::Allow {
                let reason = decision
                    .reason
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                return Some(format!(
                    "{name}: expected allow, denied: {reason}\n{explanation}"
                ));
            }
            let found = mask_strings(&decision);
            if found != *plan {
                return Some(format!(
                    "{name}: mask plan {found:?}, expected {plan:?}\n{explanation}"
                ));
            }
        }
        Deny(text) => {
            let Some(reason) = &decision.reason else {
                return Some(format!(
                    "{name}: expected a denial containing {text:?}, allowed\n{explanation}"
                ));
            };
            if decision.outcome != Outcome::Deny || !reason.to_string().contains(text) {
                return Some(format!(
                    "{name}: denial {:?} lacks {text:?}",
                    reason.to_string()
                ));
            }
            if decision
                .statements
                .iter()
                .any(|statement| statement.mask_plan.has_masks() && !statement.is_allowed())
            {
                return Some(format!("{name}: a denied statement carries a mask plan"));
            }
        }
    }
    None
}

#[test]
fn corpus_decisions() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    let (engine, _dir) = common::demo_engine();
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(name, user, sql, expect)| run_case(&engine, name, user, sql, expect))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|(name, _, _, _)| *name).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(count, names.len(), "duplicate case names");
}
