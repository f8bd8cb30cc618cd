//! Per-session policy slices: for each action, only the policies whose
//! principal and action scopes can match the session's user.
//!
//! Cedar evaluates every policy of the set for every request (about 1 µs each
//! in an optimized build). The principal's roles and the action hierarchy do
//! not change during a session. A policy whose scope excludes the user or the
//! action can therefore never be satisfied and never determines a decision.
//! It never errs either, because Cedar evaluates the scope before the
//! conditions. Leaving it out of
//! the session's set changes no decision, reason or error.

use cedar_policy::{ActionConstraint, Entities, EntityUid, Policy, PolicySet, PrincipalConstraint};

/// Returns one policy set per action uid in `actions`, in the same order.
pub(crate) fn slice_policies(
    policies: &PolicySet,
    entities: &Entities,
    principal: &EntityUid,
    actions: &[EntityUid],
) -> Result<Vec<PolicySet>, String> {
    let for_principal: Vec<&Policy> = policies
        .policies()
        .filter(|policy| principal_may_match(policy, entities, principal))
        .collect();
    let mut slices = Vec::with_capacity(actions.len());
    for action in actions {
        let mut slice = PolicySet::new();
        for policy in for_principal
            .iter()
            .filter(|policy| action_may_match(policy, entities, action))
        {
            slice
                .add((*policy).clone())
                .map_err(|error| error.to_string())?;
        }
        slices.push(slice);
    }
    Ok(slices)
}

/// `entity in ancestor`, which Cedar defines as reflexive.
fn is_in(entities: &Entities, entity: &EntityUid, ancestor: &EntityUid) -> bool {
    entity == ancestor || entities.is_ancestor_of(ancestor, entity)
}

fn principal_may_match(policy: &Policy, entities: &Entities, principal: &EntityUid) -> bool {
    match policy.principal_constraint() {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Eq(uid) => &uid == principal,
        PrincipalConstraint::In(uid) => is_in(entities, principal, &uid),
        PrincipalConstraint::Is(kind) => principal.type_name() == &kind,
        PrincipalConstraint::IsIn(kind, uid) => {
            principal.type_name() == &kind && is_in(entities, principal, &uid)
        }
    }
}

fn action_may_match(policy: &Policy, entities: &Entities, action: &EntityUid) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => &uid == action,
        ActionConstraint::In(uids) => uids.iter().any(|uid| is_in(entities, action, uid)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use std::collections::{BTreeSet, HashMap};
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::Path;

    use cedar_policy::{Authorizer, Request};

    use super::slice_policies;
    use crate::entities::{session_entities, Principal};
    use crate::{PolicySnapshot, PolicySources, RequestContext, TableDef, TargetTables};

    fn copy_demo(to: &Path) {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
        std::fs::create_dir_all(to.join("catalogs")).unwrap();
        for name in [
            "common.cedar",
            "clinician.cedar",
            "billing.cedar",
            "researcher.cedar",
            "dba.cedar",
            "security_officer.cedar",
            "emergency.cedar",
            "catalogs/ehr.toml",
        ] {
            std::fs::copy(demo.join(name), to.join(name)).unwrap();
        }
    }

    /// Every decision, determining policy set and error count of the full
    /// policy set matches the session's slice, for every action.
    #[test]
    fn slices_decide_like_the_full_set() {
        let dir = tempfile::tempdir().unwrap();
        copy_demo(dir.path());
        // A policy that errs at run time must err in the slice too.
        std::fs::write(
            dir.path().join("errs.cedar"),
            r#"@id("errs") permit (principal in Portcullis::Role::"clinician", action == Portcullis::Action::"read", resource)
               when { context.now + 9223372036854775807 > 0 };"#,
        )
        .unwrap();
        let mut tables = TargetTables::new("ehr");
        tables.tables.push(TableDef::table(
            "public",
            "patients",
            &["id", "ssn", "first_name", "dob", "zip"],
        ));
        tables
            .tables
            .push(TableDef::table("public", "claims", &["id", "status"]));
        let mut sources = PolicySources::new(dir.path(), vec![tables]);
        sources.role_parents =
            HashMap::from([("attending".to_owned(), vec!["clinician".to_owned()])]);
        let snapshot = PolicySnapshot::load(&sources).unwrap();

        let types = &snapshot.resources.types;
        let target = &snapshot.resources.targets["ehr"];
        let mut resources = vec![
            target.uid.clone(),
            types.uid(&types.table, "ehr/pg_catalog.pg_stats"),
        ];
        for table in target.tables["public"].values() {
            resources.push(table.uid.clone());
            resources.extend(table.columns.values().cloned());
        }
        resources.extend(snapshot.resources.functions.values().cloned());

        let users = [
            Principal::new("alice", &["clinician"]),
            Principal::new("grace", &["attending"]),
            Principal::new("bob", &["billing"]),
            Principal::new("carol", &["researcher"]),
            Principal::new("dave", &["dba"]),
            Principal::new("erin", &["security_officer"]),
            Principal::new("frank", &["emergency"]),
            Principal::new("mallory", &[]),
        ];
        let mut compared = 0;
        for user in &users {
            let (uid, entities) = session_entities(
                &snapshot.schema,
                &snapshot.resources,
                &snapshot.role_parents,
                user,
            )
            .unwrap();
            let slices = slice_policies(
                &snapshot.policies,
                &entities,
                &uid,
                &snapshot.resources.actions,
            )
            .unwrap();
            for (jit, glass) in [(false, false), (true, true)] {
                let request_context = RequestContext {
                    now: 1_750_000_000,
                    client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    session_id: "s".into(),
                    via_jit: jit,
                    via_break_glass: glass,
                    mfa_age_seconds: 10,
                };
                let context = request_context.to_cedar("select").unwrap();
                for (action, slice) in snapshot.resources.actions.iter().zip(&slices) {
                    for resource in &resources {
                        let request = Request::new(
                            uid.clone(),
                            action.clone(),
                            resource.clone(),
                            context.clone(),
                            None,
                        )
                        .unwrap();
                        let full = Authorizer::new().is_authorized(
                            &request,
                            &snapshot.policies,
                            &entities,
                        );
                        let sliced = Authorizer::new().is_authorized(&request, slice, &entities);
                        let reasons = |response: &cedar_policy::Response| {
                            response
                                .diagnostics()
                                .reason()
                                .map(ToString::to_string)
                                .collect::<BTreeSet<_>>()
                        };
                        let label = format!("{} {action} {resource}", user.user);
                        assert_eq!(full.decision(), sliced.decision(), "{label}");
                        assert_eq!(reasons(&full), reasons(&sliced), "{label}");
                        assert_eq!(
                            full.diagnostics().errors().count(),
                            sliced.diagnostics().errors().count(),
                            "{label}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 5_000, "only {compared} requests compared");
    }

    /// Every request form the evaluator builds without a schema conforms to it.
    /// The forms: statement actions and connect on a Target, per-relation
    /// actions on a Table (ddl, grant and maintain also on a Target), read on a
    /// Column and call_function on a Function, each with the context of `to_cedar`.
    #[test]
    fn evaluator_requests_conform_to_schema() {
        use crate::action::Action;

        let dir = tempfile::tempdir().unwrap();
        copy_demo(dir.path());
        let mut tables = TargetTables::new("ehr");
        tables
            .tables
            .push(TableDef::table("public", "patients", &["id", "ssn"]));
        let snapshot = PolicySnapshot::load(&PolicySources::new(dir.path(), vec![tables])).unwrap();
        let (user, _) = session_entities(
            &snapshot.schema,
            &snapshot.resources,
            &snapshot.role_parents,
            &Principal::new("alice", &["clinician"]),
        )
        .unwrap();
        let target = &snapshot.resources.targets["ehr"];
        let table = &target.tables["public"]["patients"];
        let column = &table.columns["ssn"];
        let function = &snapshot.resources.functions["pg_read_file"];
        let request_context = RequestContext {
            now: 1_750_000_000,
            client_ip: "2001:db8::1".parse().unwrap(),
            session_id: "s".into(),
            via_jit: false,
            via_break_glass: false,
            mfa_age_seconds: 10,
        };
        let context = request_context.to_cedar("select").unwrap();

        for action in Action::ALL {
            let resources = match action {
                Action::Select
                | Action::Insert
                | Action::Update
                | Action::Delete
                | Action::Truncate
                | Action::Lock => {
                    vec![&table.uid]
                }
                Action::Ddl | Action::Maintain | Action::Grant => vec![&table.uid, &target.uid],
                Action::Read => vec![column],
                Action::CallFunction => vec![function],
                _ => vec![&target.uid],
            };
            let action_uid = &snapshot.resources.actions[action as usize];
            for resource in resources {
                let checked = Request::new(
                    user.clone(),
                    action_uid.clone(),
                    resource.clone(),
                    context.clone(),
                    Some(&snapshot.schema),
                );
                assert!(
                    checked.is_ok(),
                    "{action} on {resource}: {:?}",
                    checked.err()
                );
            }
        }
    }
}
