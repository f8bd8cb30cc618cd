//! A user-defined function on the target runs statements the gateway cannot
//! see, so calling it through the gateway needs a `call_function` permit: the
//! demo policies give alice none, and `SELECT leak_ssn(id)` must not return
//! the SSN that alice may see only masked.

mod common;
#[path = "support/ehr.rs"]
mod ehr;

use ehr::Ehr;

/// A SQL function and a PL/pgSQL function that return a patient's SSN
/// unmasked. EXECUTE on functions is granted to PUBLIC by default.
const LEAK_FUNCTIONS_SQL: &str = "\
    CREATE FUNCTION public.leak_ssn(patient integer) RETURNS text \
        LANGUAGE sql STABLE AS $$ SELECT ssn FROM public.patients WHERE id = patient $$; \
    CREATE FUNCTION public.leak_ssn_plpgsql(patient integer) RETURNS text \
        LANGUAGE plpgsql STABLE AS $$ BEGIN \
            RETURN (SELECT ssn FROM public.patients WHERE id = patient); \
        END $$;";

/// Returns the id and clear SSN of a patient alice sees, read directly as the
/// gateway's upstream role.
async fn patient_with_ssn(ehr: &Ehr) -> (i32, String) {
    let direct = ehr.connect_direct("alice").await;
    let row = direct
        .query_one(
            "SELECT id, public.leak_ssn(id) FROM patients WHERE ssn IS NOT NULL ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .expect("call leak_ssn directly");
    let ssn: String = row.get(1);
    assert!(ssn.len() >= 9, "leak_ssn returns the clear SSN directly: {ssn:?}");
    (row.get(0), ssn)
}

fn assert_function_denied(error: &tokio_postgres::Error, function: &str, ssn: &str) {
    let db_error = error.as_db_error().unwrap_or_else(|| panic!("expected a database error, got {error}"));
    assert_eq!(db_error.code().code(), "42501", "{db_error}");
    let message = db_error.message();
    assert!(message.contains(&format!("function {function} ")), "the denial names {function}: {message}");
    assert!(message.contains("call_function"), "the denial names the action to permit: {message}");
    assert!(!message.contains(ssn), "the denial reveals no SSN: {message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_defined_function_needs_permit() {
    let ehr = Ehr::start_with_setup(LEAK_FUNCTIONS_SQL).await;
    let (id, ssn) = patient_with_ssn(&ehr).await;
    let client = ehr.connect_gateway("alice").await;

    // Simple protocol, unqualified and qualified.
    for (sql, function) in [
        (format!("SELECT leak_ssn({id})"), "leak_ssn"),
        (format!("SELECT public.leak_ssn({id})"), "public.leak_ssn"),
        (format!("SELECT leak_ssn_plpgsql({id})"), "leak_ssn_plpgsql"),
        (format!("SELECT * FROM leak_ssn({id})"), "leak_ssn"),
    ] {
        let error = client.simple_query(&sql).await.expect_err(&sql);
        assert_function_denied(&error, function, &ssn);
    }

    // Extended protocol, with the id as a parameter.
    let error = client
        .query("SELECT leak_ssn($1)", &[&id])
        .await
        .expect_err("leak_ssn through the extended protocol");
    assert_function_denied(&error, "leak_ssn", &ssn);

    // Statements that call no user-defined function still run, in the same session.
    let row = client
        .query_one("SELECT count(*) FROM patients", &[])
        .await
        .expect("count patients after the denials");
    assert!(row.get::<_, i64>(0) > 0, "alice sees patients");
    let row = client
        .query_one("SELECT ssn FROM patients WHERE id = $1", &[&id])
        .await
        .expect("select the masked SSN");
    let masked: String = row.get(0);
    assert_ne!(masked, ssn, "the SSN column stays masked");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_shows_user_defined_function() {
    let ehr = Ehr::start_with_setup(LEAK_FUNCTIONS_SQL).await;
    let output = ehr
        .workdir
        .run(&[
            "--output",
            "json",
            "policy",
            "explain",
            "--user",
            "alice",
            "--target",
            "ehr",
            "SELECT leak_ssn(1)",
        ])
        .success();
    let explanation = output.json();
    assert_eq!(explanation["reason"]["type"], "function_denied", "{explanation}");
    assert_eq!(explanation["reason"]["entity"], "leak_ssn", "{explanation}");
    let function = &explanation["statements"][0]["functions"][0];
    assert_eq!(function["function"], "leak_ssn", "{explanation}");
    assert_eq!(function["group"], "user_defined", "{explanation}");
    assert_eq!(function["result"]["allowed"], false, "{explanation}");
}
