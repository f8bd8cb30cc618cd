//! Table-driven statement analysis tests on a small healthcare catalog.
//!
//! Each case names one statement and the facts expected for it. The cases cover
//! every way a statement can reveal or use a masked column (`patients.ssn`):
//! filters, joins, ordering, grouping, windows, functions, expressions,
//! aliases, subqueries, CTEs, views, set operations, RETURNING, whole-row
//! references, COPY, and the statements that escape analysis altogether.

mod common;

use common::{analyze_all, column_key, function_names, kind_tag, outputs, relations, usages};
use portcullis_sql::ColumnUsage::{
    self, Expression, Filter, FunctionArgument, GroupBy, Having, JoinCondition, OrderBy, Output,
    Returning, Window, WriteSource, WriteTarget,
};

/// One expectation about a statement's facts.
enum Check {
    /// The kind's `type` tag.
    Kind(&'static str),
    /// The column has at least these usages.
    Uses(&'static str, &'static [ColumnUsage]),
    /// The column has exactly these usages.
    Exact(&'static str, &'static [ColumnUsage]),
    /// The column is not used at all.
    Unused(&'static str),
    /// The output columns, in the compact form of `common::outputs`.
    Out(&'static [&'static str]),
    /// The relation list, in the compact form of `common::relations`.
    Rels(&'static [&'static str]),
    /// The function is listed.
    Func(&'static str),
    /// Columns of an unlisted relation are used.
    Unlisted,
    /// Analysis fails with a message containing this text.
    Fails(&'static str),
}

use Check::{Exact, Fails, Func, Kind, Out, Rels, Unlisted, Unused, Uses};

const PATIENT_STAR: &[&str] = &[
    "id=patients.id",
    "mrn=patients.mrn",
    "first_name=patients.first_name",
    "last_name=patients.last_name",
    "dob=patients.dob",
    "ssn=patients.ssn",
    "zip=patients.zip",
    "department_id=patients.department_id",
];

const WHOLE_PATIENT: &str = "patients.id+patients.mrn+patients.first_name+patients.last_name+patients.dob+patients.ssn+patients.zip+patients.department_id";

#[rustfmt::skip]
const CASES: &[(&str, &str, &[Check])] = &[
    // Plain statements, including the pgbench ones on the hot path.
    ("plain select", "SELECT mrn, ssn FROM patients",
        &[Kind("select"), Exact("patients.ssn", &[Output]), Out(&["mrn=patients.mrn", "ssn=patients.ssn"]), Rels(&["public.patients:read"])]),
    ("pgbench select", "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        &[Exact("pgbench_accounts.abalance", &[Output]), Exact("pgbench_accounts.aid", &[Filter, FunctionArgument]), Out(&["abalance=pgbench_accounts.abalance"])]),
    ("pgbench update", "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        &[Kind("update"), Exact("pgbench_accounts.abalance", &[FunctionArgument, Expression, WriteTarget, WriteSource]),
          Exact("pgbench_accounts.aid", &[Filter, FunctionArgument]), Out(&[]), Rels(&["public.pgbench_accounts:update"])]),
    ("table statement", "TABLE patients", &[Out(PATIENT_STAR)]),

    // Masked column used outside the select list.
    ("where equality", "SELECT id FROM patients WHERE ssn = '123-45-6789'",
        &[Exact("patients.ssn", &[Filter, FunctionArgument]), Exact("patients.id", &[Output])]),
    ("where like", "SELECT id FROM patients WHERE ssn LIKE '9%'", &[Uses("patients.ssn", &[Filter])]),
    ("where is null", "SELECT id FROM patients WHERE ssn IS NULL", &[Exact("patients.ssn", &[Filter])]),
    ("join on", "SELECT e.id FROM encounters e JOIN patients p ON p.ssn = e.reason",
        &[Uses("patients.ssn", &[JoinCondition]), Uses("encounters.reason", &[JoinCondition])]),
    ("join using", "SELECT patient_id FROM encounters JOIN claims USING (patient_id)",
        &[Exact("encounters.patient_id", &[Output, JoinCondition]), Exact("claims.patient_id", &[Output, JoinCondition]),
          Out(&["patient_id=encounters.patient_id+claims.patient_id"])]),
    ("natural join", "SELECT note_type FROM clinical_notes NATURAL JOIN claims",
        &[Uses("clinical_notes.id", &[JoinCondition]), Uses("claims.patient_id", &[JoinCondition])]),
    ("join using alias", "SELECT j.patient_id FROM encounters JOIN claims USING (patient_id) AS j",
        &[Out(&["patient_id=encounters.patient_id+claims.patient_id"])]),
    ("order by column", "SELECT id FROM patients ORDER BY ssn", &[Exact("patients.ssn", &[OrderBy])]),
    ("order by alias", "SELECT ssn AS x FROM patients ORDER BY x", &[Exact("patients.ssn", &[Output, OrderBy])]),
    ("order by position", "SELECT id, dob FROM patients ORDER BY 2", &[Exact("patients.dob", &[Output, OrderBy])]),
    ("order by expression", "SELECT id FROM patients ORDER BY substr(ssn, 6)",
        &[Exact("patients.ssn", &[OrderBy, FunctionArgument])]),
    ("group by", "SELECT zip, count(*) FROM patients GROUP BY ssn, zip",
        &[Exact("patients.ssn", &[GroupBy]), Out(&["zip=patients.zip", "count~"])]),
    ("group by position", "SELECT lower(ssn) AS s, count(*) FROM patients GROUP BY 1",
        &[Uses("patients.ssn", &[GroupBy, Output, Expression])]),
    ("grouping sets", "SELECT zip FROM patients GROUP BY GROUPING SETS ((zip, ssn), ())", &[Uses("patients.ssn", &[GroupBy])]),
    ("distinct on", "SELECT DISTINCT ON (ssn) id FROM patients", &[Exact("patients.ssn", &[GroupBy])]),
    ("plain distinct", "SELECT DISTINCT dob, mrn FROM patients",
        &[Exact("patients.dob", &[Output, GroupBy]), Exact("patients.mrn", &[Output, GroupBy])]),
    ("distinct computed", "SELECT DISTINCT lower(ssn) FROM patients", &[Uses("patients.ssn", &[GroupBy, Expression])]),
    ("select all not distinct", "SELECT ALL ssn FROM patients", &[Exact("patients.ssn", &[Output])]),
    ("union dedups", "SELECT ssn FROM patients UNION SELECT ssn FROM patients", &[Exact("patients.ssn", &[Output, GroupBy])]),
    ("intersect dedups", "SELECT dob FROM patients INTERSECT SELECT dob FROM patients", &[Exact("patients.dob", &[Output, GroupBy])]),
    ("except dedups", "SELECT dob FROM patients EXCEPT SELECT dob FROM patients", &[Exact("patients.dob", &[Output, GroupBy])]),
    ("union all keeps rows", "SELECT ssn FROM patients UNION ALL SELECT ssn FROM patients", &[Exact("patients.ssn", &[Output])]),
    ("recursive union dedups", "WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM patients UNION SELECT n + 1, s FROM r WHERE n < 3) SELECT s FROM r",
        &[Uses("patients.ssn", &[GroupBy])]),
    ("having", "SELECT zip FROM patients GROUP BY zip HAVING max(ssn) > '5'",
        &[Exact("patients.ssn", &[Having, FunctionArgument])]),
    ("window partition", "SELECT id, rank() OVER (PARTITION BY ssn ORDER BY dob) FROM patients",
        &[Exact("patients.ssn", &[Window]), Exact("patients.dob", &[Window]), Out(&["id=patients.id", "rank~"])]),
    ("named window", "SELECT id, row_number() OVER w FROM patients WINDOW w AS (ORDER BY ssn)", &[Exact("patients.ssn", &[Window])]),
    ("aggregate order and filter", "SELECT string_agg(mrn, ',' ORDER BY ssn) FILTER (WHERE dob > '2000-01-01') FROM patients",
        &[Exact("patients.ssn", &[OrderBy]), Uses("patients.dob", &[Filter]), Exact("patients.mrn", &[Output, FunctionArgument, Expression])]),
    ("limit subquery", "SELECT id FROM patients LIMIT (SELECT count(*) FROM encounters)",
        &[Rels(&["public.patients:read", "public.encounters:read"])]),

    // Masked column reaching the result through a computation.
    ("lower", "SELECT lower(ssn) FROM patients",
        &[Exact("patients.ssn", &[Output, FunctionArgument, Expression]), Out(&["lower~patients.ssn"]), Func("lower")]),
    ("substr", "SELECT substr(ssn, 1, 3) AS prefix FROM patients", &[Out(&["prefix~patients.ssn"]), Func("substr")]),
    ("concatenation", "SELECT ssn || '' FROM patients",
        &[Exact("patients.ssn", &[Output, FunctionArgument, Expression]), Out(&["?column?~patients.ssn"])]),
    ("cast", "SELECT ssn::text FROM patients", &[Exact("patients.ssn", &[Output, Expression]), Out(&["ssn~patients.ssn"])]),
    ("case", "SELECT CASE WHEN ssn LIKE '9%' THEN 'x' ELSE 'y' END FROM patients",
        &[Uses("patients.ssn", &[Output, Expression, FunctionArgument]), Out(&["case~patients.ssn"])]),
    ("coalesce", "SELECT coalesce(ssn, 'none') FROM patients", &[Out(&["coalesce~patients.ssn"])]),
    ("greatest", "SELECT greatest(ssn, mrn) FROM patients", &[Out(&["greatest~patients.ssn+patients.mrn"])]),
    ("collate keeps value", "SELECT ssn COLLATE \"C\" FROM patients", &[Out(&["ssn=patients.ssn"])]),
    ("aggregate", "SELECT max(ssn) FROM patients", &[Out(&["max~patients.ssn"])]),
    ("array subquery", "SELECT ARRAY(SELECT ssn FROM patients)", &[Out(&["array~patients.ssn"])]),
    ("json_value", "SELECT JSON_VALUE(jsonb_build_object('s', ssn), '$.s') FROM patients",
        &[Uses("patients.ssn", &[FunctionArgument, Output, Expression]), Func("jsonb_build_object")]),
    ("json_arrayagg", "SELECT JSON_ARRAYAGG(ssn ORDER BY dob) FROM patients",
        &[Uses("patients.ssn", &[FunctionArgument, Output]), Exact("patients.dob", &[OrderBy])]),
    ("sql/json object", "SELECT json_object('s': ssn) FROM patients",
        &[Uses("patients.ssn", &[FunctionArgument, Expression]), Out(&["json_object~patients.ssn"])]),

    // Aliases, subqueries and CTEs pass columns through.
    ("alias", "SELECT ssn AS x FROM patients", &[Exact("patients.ssn", &[Output]), Out(&["x=patients.ssn"])]),
    ("subquery passthrough", "SELECT x FROM (SELECT ssn x FROM patients) s",
        &[Exact("patients.ssn", &[Output]), Out(&["x=patients.ssn"])]),
    ("subquery computed", "SELECT x FROM (SELECT lower(ssn) x FROM patients) s",
        &[Exact("patients.ssn", &[Output, FunctionArgument, Expression]), Out(&["x~patients.ssn"])]),
    ("subquery column unused", "SELECT count(*) FROM (SELECT ssn FROM patients) s",
        &[Unused("patients.ssn"), Rels(&["public.patients:read"])]),
    ("subquery column aliases", "SELECT a FROM (SELECT ssn, mrn FROM patients) s(a, b)", &[Out(&["a=patients.ssn"])]),
    ("subquery filter outside", "SELECT id FROM (SELECT id, ssn FROM patients) s WHERE s.ssn > '5'",
        &[Exact("patients.ssn", &[Filter, FunctionArgument])]),
    ("scalar subquery", "SELECT (SELECT ssn FROM patients p WHERE p.id = e.patient_id) FROM encounters e",
        &[Out(&["ssn=patients.ssn"]), Uses("encounters.patient_id", &[Filter])]),
    ("cte", "WITH s AS (SELECT ssn FROM patients) SELECT ssn FROM s", &[Out(&["ssn=patients.ssn"])]),
    ("cte column names", "WITH s(x) AS (SELECT ssn FROM patients) SELECT x FROM s WHERE x <> ''",
        &[Exact("patients.ssn", &[Output, Filter, FunctionArgument])]),
    ("cte shadows table", "WITH patients AS (SELECT id, zip FROM research.patients) SELECT zip FROM patients",
        &[Out(&["zip=research.patients.zip"])]),
    ("recursive cte", "WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM patients UNION ALL SELECT n + 1, s FROM r WHERE n < 3) SELECT s FROM r",
        &[Out(&["s=patients.ssn"])]),
    ("recursive cte reaches fixpoint", "WITH RECURSIVE r(v) AS (SELECT mrn FROM patients UNION ALL SELECT p.ssn FROM r JOIN patients p ON p.mrn = r.v) SELECT v FROM r",
        &[Out(&["v=patients.mrn+patients.ssn"]), Uses("patients.ssn", &[JoinCondition, Output])]),
    ("data-modifying cte", "WITH d AS (DELETE FROM claims WHERE status = 'void' RETURNING patient_id) SELECT p.ssn FROM patients p JOIN d ON d.patient_id = p.id",
        &[Kind("select"), Uses("claims.status", &[Filter]), Uses("claims.patient_id", &[JoinCondition]),
          Rels(&["public.claims:delete", "public.patients:read"])]),
    ("lateral subquery", "SELECT p.id, n.body FROM patients p, LATERAL (SELECT body FROM clinical_notes c WHERE c.patient_id = p.id AND p.ssn > '5') n",
        &[Uses("patients.ssn", &[Filter]), Out(&["id=patients.id", "body=clinical_notes.body"])]),
    ("non-lateral subquery cannot see siblings", "SELECT 1 FROM patients p, (SELECT p.ssn) s", &[Fails("p.ssn")]),

    // Views expand to their base columns.
    ("view columns", "SELECT full_name, zip FROM patient_directory",
        &[Out(&["full_name~patients.first_name+patients.last_name", "zip=patients.zip"]), Unused("patients.ssn"),
          Rels(&["public.patient_directory:read", "public.patients:read@public.patient_directory"])]),
    ("view star", "SELECT * FROM patient_directory",
        &[Out(&["id=patients.id", "mrn=patients.mrn", "full_name~patients.first_name+patients.last_name", "zip=patients.zip"])]),
    ("view filter", "SELECT id FROM patient_directory WHERE full_name LIKE 'A%'", &[Uses("patients.first_name", &[Filter])]),
    ("view of a view", "SELECT mrn FROM directory_by_zip",
        &[Out(&["mrn=patients.mrn"]), Rels(&["public.directory_by_zip:read", "public.patient_directory:read@public.directory_by_zip", "public.patients:read@public.directory_by_zip"])]),

    // Set operations: column i depends on column i of every branch.
    ("union", "SELECT mrn FROM patients UNION SELECT ssn FROM patients",
        &[Out(&["mrn=patients.mrn+patients.ssn"]), Exact("patients.ssn", &[Output, GroupBy])]),
    ("union computed branch", "SELECT ssn FROM patients UNION ALL SELECT lower(mrn) FROM patients", &[Out(&["ssn~patients.ssn+patients.mrn"])]),
    ("except", "SELECT zip FROM patients EXCEPT SELECT zip FROM research.patients", &[Out(&["zip=patients.zip+research.patients.zip"])]),
    ("union order by", "SELECT mrn AS k FROM patients UNION SELECT ssn FROM patients ORDER BY k", &[Uses("patients.ssn", &[OrderBy])]),
    ("values", "VALUES (1, 'a'), (2, 'b')", &[Out(&["column1~", "column2~"])]),

    // Subqueries in conditions.
    ("exists", "SELECT 1 FROM departments d WHERE EXISTS (SELECT 1 FROM patients WHERE ssn LIKE '9%')",
        &[Exact("patients.ssn", &[Filter, FunctionArgument]), Out(&["?column?~"])]),
    ("correlated exists", "SELECT d.name FROM departments d WHERE EXISTS (SELECT 1 FROM patients p WHERE p.department_id = d.id AND p.ssn > '5')",
        &[Uses("patients.ssn", &[Filter]), Uses("departments.id", &[Filter])]),
    ("in subquery", "SELECT id FROM encounters WHERE patient_id IN (SELECT id FROM patients WHERE zip = '1')",
        &[Exact("patients.id", &[Filter, FunctionArgument]), Uses("encounters.patient_id", &[Filter]), Uses("patients.zip", &[Filter])]),
    ("unlisted relation does not hide an outer column", "SELECT id FROM patients WHERE EXISTS (SELECT 1 FROM pg_class WHERE ssn LIKE '9%')",
        &[Uses("patients.ssn", &[Filter]), Unlisted]),

    // Stars and whole-row references.
    ("select star", "SELECT * FROM patients", &[Out(PATIENT_STAR), Exact("patients.ssn", &[Output])]),
    ("qualified star", "SELECT p.* FROM patients p", &[Out(PATIENT_STAR)]),
    ("star over join", "SELECT * FROM departments d JOIN encounters e ON e.department_id = d.id",
        &[Out(&["id=departments.id", "name=departments.name", "id=encounters.id", "patient_id=encounters.patient_id",
                "department_id=encounters.department_id", "admitted_at=encounters.admitted_at", "reason=encounters.reason"])]),
    ("whole row", "SELECT p FROM patients p",
        &[Exact("patients.ssn", &[Output, Expression]), Out(&[concat!("p~", "patients.id+patients.mrn+patients.first_name+patients.last_name+patients.dob+patients.ssn+patients.zip+patients.department_id")])]),
    ("row_to_json", "SELECT row_to_json(p) FROM patients p", &[Exact("patients.ssn", &[Output, FunctionArgument, Expression])]),
    ("row_to_json star", "SELECT row_to_json(p.*) FROM patients p", &[Exact("patients.ssn", &[Output, FunctionArgument, Expression])]),
    ("row constructor", "SELECT ROW(p.mrn, p.ssn) FROM patients p", &[Out(&["row~patients.mrn+patients.ssn"])]),
    ("whole row in filter", "SELECT id FROM patients p WHERE to_jsonb(p)::text LIKE '%9%'",
        &[Exact("patients.ssn", &[Filter, FunctionArgument])]),
    ("system column", "SELECT ctid FROM patients", &[Exact("patients.ctid", &[Output])]),
    ("three-part name", "SELECT public.patients.ssn FROM public.patients", &[Out(&["ssn=patients.ssn"])]),

    // RETURNING and writes.
    ("delete returning", "DELETE FROM patients WHERE id = 1 RETURNING ssn",
        &[Kind("delete"), Exact("patients.ssn", &[Output, Returning]), Unused("patients.mrn"), Out(&["ssn=patients.ssn"])]),
    ("update returning star", "UPDATE patients SET zip = '02139' WHERE id = 7 RETURNING *",
        &[Out(PATIENT_STAR), Exact("patients.zip", &[Output, WriteTarget, Returning])]),
    ("returning old and new", "UPDATE patients SET zip = '1' WHERE id = 2 RETURNING old.zip, new.zip",
        &[Out(&["zip=patients.zip", "zip=patients.zip"])]),
    ("insert values", "INSERT INTO patients (mrn, ssn) VALUES ('m1', '123')",
        &[Kind("insert"), Exact("patients.ssn", &[WriteTarget]), Out(&[]), Rels(&["public.patients:insert"])]),
    ("insert select", "INSERT INTO clinical_notes (patient_id, body) SELECT id, ssn FROM patients",
        &[Exact("patients.ssn", &[WriteSource]), Exact("clinical_notes.body", &[WriteTarget]),
          Rels(&["public.clinical_notes:insert", "public.patients:read"])]),
    ("insert without column list", "INSERT INTO departments VALUES (1, 'x')",
        &[Exact("departments.id", &[WriteTarget]), Exact("departments.name", &[WriteTarget])]),
    ("insert too many values", "INSERT INTO departments VALUES (1, 'x', 3)", &[Fails("more expressions than target columns")]),
    ("on conflict", "INSERT INTO patients (id, ssn) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET ssn = excluded.ssn WHERE patients.zip = '1'",
        &[Rels(&["public.patients:insert,update"]), Uses("patients.zip", &[Filter]), Uses("patients.id", &[Filter, WriteTarget])]),
    ("on conflict excluded", "INSERT INTO claims (id, status) SELECT id, ssn FROM patients ON CONFLICT (id) DO UPDATE SET status = excluded.status",
        &[Exact("patients.ssn", &[WriteSource])]),
    ("update from", "UPDATE encounters e SET reason = p.ssn FROM patients p WHERE p.id = e.patient_id",
        &[Exact("patients.ssn", &[WriteSource]), Rels(&["public.encounters:update", "public.patients:read"])]),
    ("update multiple columns", "UPDATE encounters SET (reason, department_id) = (SELECT ssn, department_id FROM patients WHERE patients.id = encounters.patient_id)",
        &[Exact("patients.ssn", &[WriteSource]), Uses("patients.id", &[Filter]), Exact("encounters.reason", &[WriteTarget])]),
    ("update subscript", "UPDATE encounters SET reason[1] = 'x' WHERE id = 1", &[Exact("encounters.reason", &[WriteTarget])]),
    ("delete using", "DELETE FROM encounters e USING patients p WHERE p.id = e.patient_id AND p.ssn LIKE '9%'",
        &[Uses("patients.ssn", &[Filter]), Rels(&["public.encounters:delete", "public.patients:read"])]),
    ("merge", "MERGE INTO claims c USING patients p ON c.patient_id = p.id WHEN MATCHED AND p.ssn LIKE '9%' THEN UPDATE SET status = p.zip WHEN NOT MATCHED THEN INSERT (patient_id, status) VALUES (p.id, p.ssn)",
        &[Kind("merge"), Exact("patients.ssn", &[Filter, FunctionArgument, WriteSource]), Exact("patients.zip", &[WriteSource]),
          Uses("claims.status", &[WriteTarget]), Uses("patients.id", &[JoinCondition]), Rels(&["public.claims:read,insert,update", "public.patients:read"])]),
    ("merge delete", "MERGE INTO claims c USING (SELECT id FROM patients) p ON c.patient_id = p.id WHEN MATCHED THEN DELETE",
        &[Rels(&["public.claims:read,delete", "public.patients:read"])]),
    ("insert into view", "INSERT INTO patient_directory (mrn) VALUES ('x')", &[Fails("on a view")]),
    ("for update", "SELECT id FROM patients WHERE id = 1 FOR UPDATE", &[Rels(&["public.patients:read,lock"])]),

    // COPY.
    ("copy to stdout", "COPY patients TO STDOUT", &[Kind("copy_to"), Out(PATIENT_STAR), Exact("patients.ssn", &[Output])]),
    ("copy columns", "COPY patients (mrn, ssn) TO STDOUT", &[Out(&["mrn=patients.mrn", "ssn=patients.ssn"])]),
    ("copy query", "COPY (SELECT ssn FROM patients WHERE zip = '1') TO STDOUT WITH (FORMAT csv)",
        &[Kind("copy_to"), Out(&["ssn=patients.ssn"]), Uses("patients.zip", &[Filter])]),
    ("copy from stdin", "COPY patients (mrn, zip) FROM STDIN",
        &[Kind("copy_from"), Exact("patients.mrn", &[WriteTarget]), Out(&[]), Rels(&["public.patients:insert"])]),
    ("copy from program", "COPY patients FROM PROGRAM 'curl http://example.invalid'", &[Kind("copy_program")]),
    ("copy to file", "COPY patients TO '/tmp/patients.csv'", &[Kind("copy_file"), Uses("patients.ssn", &[Output])]),

    // Functions that reach outside the database.
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')", &[Func("pg_read_file"), Out(&["pg_read_file~"])]),
    ("qualified pg_read_file", "SELECT pg_catalog.pg_read_file('/etc/passwd')", &[Func("pg_catalog.pg_read_file")]),
    ("lo_import", "SELECT lo_import('/etc/passwd')", &[Func("lo_import")]),
    ("dblink in from", "SELECT * FROM dblink('dbname=other', 'SELECT ssn FROM patients') AS t(ssn text)",
        &[Func("dblink"), Out(&["ssn~"])]),
    ("function in from", "SELECT u FROM patients p, unnest(ARRAY[p.ssn]) AS u",
        &[Out(&["u~patients.ssn"]), Uses("patients.ssn", &[Output, FunctionArgument]), Unlisted]),
    ("function column aliases", "SELECT g.x FROM generate_series(1, 3) AS g(x)", &[Out(&["x~"])]),
    ("call", "CALL refresh_stats(1)", &[Kind("call"), Func("refresh_stats")]),

    // Session and server commands.
    ("set role", "SET ROLE admin", &[Kind("set_role")]),
    ("reset role", "RESET ROLE", &[Kind("set_role")]),
    ("set session authorization", "SET SESSION AUTHORIZATION postgres", &[Kind("set_session_authorization")]),
    ("alter system", "ALTER SYSTEM SET log_statement = 'none'", &[Kind("alter_system")]),
    ("load", "LOAD 'auto_explain'", &[Kind("load")]),
    ("create extension", "CREATE EXTENSION dblink", &[Kind("create_extension")]),
    ("do block", "DO $$ BEGIN RAISE NOTICE 'x'; END $$", &[Kind("do_block")]),
    ("set parameter", "SET work_mem = '64MB'", &[Kind("session_setting")]),
    ("show", "SHOW search_path", &[Kind("session_setting"), Out(&["search_path~"])]),
    ("begin", "BEGIN", &[Kind("transaction_control")]),
    ("savepoint", "SAVEPOINT s1", &[Kind("transaction_control")]),
    ("set transaction", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[Kind("transaction_control")]),
    ("listen", "LISTEN alerts", &[Kind("listen")]),
    ("notify", "NOTIFY alerts, 'x'", &[Kind("notify")]),
    ("unlisten", "UNLISTEN *", &[Kind("unlisten")]),
    ("truncate", "TRUNCATE claims", &[Kind("truncate"), Rels(&["public.claims:truncate"])]),
    ("lock", "LOCK TABLE patients IN ACCESS EXCLUSIVE MODE", &[Kind("lock"), Rels(&["public.patients:lock"])]),
    ("vacuum", "VACUUM ANALYZE patients", &[Kind("vacuum"), Rels(&["public.patients:maintain"])]),
    ("analyze", "ANALYZE patients", &[Kind("analyze")]),
    ("checkpoint", "CHECKPOINT", &[Kind("utility")]),
    ("grant", "GRANT SELECT ON patients TO analyst", &[Kind("grant"), Rels(&["public.patients:grant"])]),
    ("revoke", "REVOKE ALL ON patients FROM analyst", &[Kind("revoke")]),
    ("grant role", "GRANT admin TO alice", &[Kind("grant")]),

    // Wrapped statements.
    ("prepare", "PREPARE q(int) AS SELECT ssn FROM patients WHERE id = $1",
        &[Kind("prepare"), Out(&["ssn=patients.ssn"]), Exact("patients.ssn", &[Output])]),
    ("execute unknown", "EXECUTE nope", &[Fails("prepared statement \"nope\" does not exist")]),
    ("declare cursor", "DECLARE c CURSOR FOR SELECT ssn FROM patients", &[Kind("declare_cursor"), Exact("patients.ssn", &[Output])]),
    ("fetch unknown cursor", "FETCH 10 FROM nope", &[Fails("cursor \"nope\"")]),
    ("explain", "EXPLAIN SELECT ssn FROM patients WHERE zip = '1'",
        &[Kind("explain"), Uses("patients.zip", &[Filter]), Unused("patients.ssn"), Out(&["QUERY PLAN~"])]),
    ("explain analyze delete", "EXPLAIN ANALYZE DELETE FROM patients WHERE ssn = 'x'",
        &[Kind("explain"), Rels(&["public.patients:delete"]), Uses("patients.ssn", &[Filter])]),

    // DDL.
    ("create table", "CREATE TABLE exports (id int)", &[Kind("ddl"), Rels(&["public.exports:ddl"])]),
    ("create table as", "CREATE TABLE ssn_copy AS SELECT ssn FROM patients",
        &[Kind("ddl"), Exact("patients.ssn", &[WriteSource]), Rels(&["public.ssn_copy:ddl", "public.patients:read"])]),
    ("select into", "SELECT ssn INTO ssn_copy FROM patients", &[Kind("ddl"), Uses("patients.ssn", &[WriteSource])]),
    ("create view", "CREATE VIEW v AS SELECT ssn FROM patients", &[Kind("ddl"), Uses("patients.ssn", &[WriteSource])]),
    ("drop table", "DROP TABLE claims", &[Kind("ddl"), Rels(&["public.claims:ddl"])]),
    ("alter table", "ALTER TABLE patients ADD COLUMN email text", &[Kind("ddl"), Rels(&["public.patients:ddl"])]),
    ("create function", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", &[Kind("ddl")]),
    ("create schema with elements", "CREATE SCHEMA s CREATE TABLE t (id int)", &[Fails("CREATE SCHEMA with schema elements")]),

    // Name resolution.
    ("system catalog", "SELECT relname FROM pg_class", &[Rels(&["pg_catalog.pg_class:read"]), Unlisted, Out(&["relname?"])]),
    ("system catalog star", "SELECT * FROM pg_catalog.pg_stats", &[Out(&["*?pg_catalog.pg_stats"]), Unlisted]),
    ("information schema", "SELECT column_name FROM information_schema.columns WHERE table_name = 'patients'",
        &[Rels(&["information_schema.columns:read"]), Unlisted]),
    ("schema-qualified table", "SELECT cohort FROM research.patients", &[Exact("research.patients.cohort", &[Output])]),
    ("table outside search path", "SELECT name FROM cohorts", &[Fails("relation \"cohorts\" was not found")]),
    ("ambiguous column", "SELECT id FROM patients, encounters", &[Fails("column reference \"id\" is ambiguous")]),
    ("ambiguous column across join", "SELECT id FROM patients p JOIN encounters e ON e.patient_id = p.id", &[Fails("is ambiguous")]),
    ("unknown table", "SELECT * FROM nope", &[Fails("relation \"nope\"")]),
    ("unknown column", "SELECT nope FROM patients", &[Fails("column \"nope\" does not exist")]),
    ("unknown qualified column", "SELECT p.nope FROM patients p", &[Fails("p.nope")]),
    ("alias hides table name", "SELECT patients.ssn FROM patients p", &[Fails("patients.ssn")]),
    ("quoted name is case-sensitive", "SELECT \"SSN\" FROM patients", &[Fails("SSN")]),

    // Constructs that are denied as unsupported.
    ("xmltable", "SELECT * FROM XMLTABLE('/a' PASSING '<a/>' COLUMNS x int PATH 'x')", &[Fails("RangeTableFunc")]),
    ("json_table", "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x int PATH '$')) j", &[Fails("JsonTable")]),
    ("composite star of a table", "SELECT (p).* FROM patients p", &[Out(PATIENT_STAR)]),
    ("composite star of a column", "SELECT (ROW(1, 2)).*", &[Fails("(expression).*")]),
    ("parse error", "SELECT FROM WHERE", &[Fails("at character")]),
];

fn check(name: &str, sql: &str, expectation: &Check) {
    let result = analyze_all(sql);
    if let Fails(text) = expectation {
        match result {
            Err(error) => assert!(
                error.to_string().contains(text),
                "{name}: error {error:?} lacks {text:?}"
            ),
            Ok(facts) => panic!("{name}: expected an error containing {text:?}, got {facts:#?}"),
        }
        return;
    }
    let facts = match result {
        Ok(mut all) if all.len() == 1 => all.remove(0),
        Ok(all) => panic!("{name}: expected one statement, got {}", all.len()),
        Err(error) => panic!("{name}: analysis of {sql:?} failed: {error}"),
    };
    let columns: Vec<String> = facts
        .columns
        .iter()
        .map(|column| column_key(&column.column))
        .collect();
    match expectation {
        Kind(tag) => assert_eq!(kind_tag(&facts), *tag, "{name}: kind"),
        Uses(column, expected) => {
            let found = usages(&facts, column);
            for usage in *expected {
                assert!(
                    found.contains(usage),
                    "{name}: {column} lacks {usage:?}; has {found:?} (columns {columns:?})"
                );
            }
        }
        Exact(column, expected) => {
            let mut found = usages(&facts, column);
            let mut expected = expected.to_vec();
            found.sort_by_key(|usage| *usage as u8);
            expected.sort_by_key(|usage| *usage as u8);
            assert_eq!(found, expected, "{name}: usages of {column}");
        }
        Unused(column) => assert!(
            usages(&facts, column).is_empty(),
            "{name}: {column} should be unused"
        ),
        Out(expected) => assert_eq!(outputs(&facts), *expected, "{name}: output columns"),
        Rels(expected) => assert_eq!(relations(&facts), *expected, "{name}: relations"),
        Func(function) => assert!(
            function_names(&facts).iter().any(|found| found == function),
            "{name}: no {function}"
        ),
        Unlisted => assert!(facts.unlisted_columns, "{name}: unlisted_columns not set"),
        Fails(_) => {}
    }
}

#[test]
fn statement_cases() {
    assert!(CASES.len() >= 80, "only {} cases", CASES.len());
    let mut failures = Vec::new();
    for (name, sql, expectations) in CASES {
        for expectation in *expectations {
            if std::panic::catch_unwind(|| check(name, sql, expectation)).is_err() {
                failures.push(*name);
            }
        }
    }
    assert!(failures.is_empty(), "failed cases: {failures:?}");
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|(name, _, _)| *name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn whole_row_lists_every_column() {
    let facts = common::facts("SELECT p FROM patients p");
    assert_eq!(outputs(&facts), vec![format!("p~{WHOLE_PATIENT}")]);
}
