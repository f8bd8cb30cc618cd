//! `role grant --by NAME` records who granted a role, so NAME must be an enabled
//! administrator other than the grantee.

mod common;

use common::Workdir;

#[test]
fn grant_checks_the_granting_admin() {
    let workdir = Workdir::init();
    workdir.run(&["role", "add", "clinician"]).success();
    workdir.add_user("dave", &[]);
    workdir.add_user("erin", &[]);
    workdir.add_user("olga", &[]);
    workdir.run(&["role", "grant", "admin", "olga", "--by", "admin"]).success();

    let unknown = workdir.run(&["role", "grant", "clinician", "dave", "--by", "nobody"]).failure();
    assert!(unknown.stderr.contains("no user named nobody"), "{unknown}");

    let not_admin = workdir.run(&["role", "grant", "clinician", "dave", "--by", "erin"]).failure();
    assert!(not_admin.stderr.contains("user erin does not hold role admin"), "{not_admin}");

    let own = workdir.run(&["role", "grant", "clinician", "olga", "--by", "olga"]).failure();
    assert!(own.stderr.contains("cannot grant a role to themselves"), "{own}");

    workdir.run(&["user", "disable", "olga"]).success();
    let disabled = workdir.run(&["role", "grant", "clinician", "dave", "--by", "olga"]).failure();
    assert!(disabled.stderr.contains("user olga is disabled"), "{disabled}");

    let members = workdir.run(&["role", "list", "--output", "json"]).success();
    assert!(!members.stdout.contains("\"dave\""), "a rejected grant changed nothing: {members}");

    workdir.run(&["role", "grant", "clinician", "dave", "--by", "admin"]).success();
    let granted = workdir.audit_records().into_iter().filter(|record| record["type"] == "role.granted").count();
    assert_eq!(granted, 3, "init's admin grant, olga's and dave's");
}
