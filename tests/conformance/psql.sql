-- Conformance script for psql, run by psql_check.sh once directly against PostgreSQL
-- and once through the gateway; the two transcripts must be byte-identical.
-- Every table is a temporary table, so both runs start from the same empty state.

\set ON_ERROR_STOP 0
\pset null '<NULL>'

\echo '== session'
SET TimeZone = 'America/New_York';
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SELECT current_user, session_user, current_database();
SHOW server_encoding;
SHOW client_encoding;
SHOW integer_datetimes;
SHOW standard_conforming_strings;
\echo 'server version from ParameterStatus:' :SERVER_VERSION_NAME :SERVER_VERSION_NUM
\echo 'encoding from ParameterStatus:' :ENCODING

\echo '== scalar types'
SELECT NULL::text AS null_text,
       'Zoë – Ünïcödé 東京 🙂'::text AS unicode_text,
       length('Zoë – Ünïcödé 東京 🙂') AS characters,
       octet_length('Zoë – Ünïcödé 東京 🙂') AS bytes,
       E'tab\there, quote '' and backslash \\' AS escapes;
SELECT 12345678901234567890.123456789::numeric AS big,
       -0.000000000000000000001::numeric AS tiny,
       'NaN'::numeric AS nan,
       1.5::float8 / 3 AS float8,
       2147483647::int4 AS int4_max,
       (-9223372036854775808)::int8 AS int8_min,
       true AS yes, false AS no;
SELECT '2024-02-29 23:59:59.123456+00'::timestamptz AS leap_day,
       '1999-12-31 19:00:00-05'::timestamptz AS millennium,
       '2024-03-10 02:30:00'::timestamp AS naive,
       '2024-03-10'::date AS date,
       '25:00:00.5'::interval AS interval,
       '13:45:00+02'::timetz AS timetz;
SET TimeZone = 'Asia/Kolkata';
SELECT '2024-02-29 23:59:59.123456+00'::timestamptz AS leap_day_in_kolkata;
SET TimeZone = 'UTC';
SELECT '\xdeadbeef00ff'::bytea AS bytea_hex, decode('AAEC/w==', 'base64') AS decoded;
SET bytea_output = 'escape';
SELECT '\xdeadbeef00ff'::bytea AS bytea_escape;
RESET bytea_output;
SELECT ARRAY[1, NULL, 3]::int[] AS ints,
       ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[] AS texts,
       ARRAY[[1.5, 2.5], [3.5, NULL]]::numeric[] AS matrix,
       '{}'::int[] AS empty;
SELECT '{"b": [1, 2, null], "a": "ü"}'::jsonb AS jsonb,
       '{"b": 1,   "a": 2}'::json AS json,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
       '192.168.0.1/24'::inet AS inet,
       ROW(1, 'x', NULL) AS record;

\echo '== table, DML and RETURNING'
CREATE TEMP TABLE patients (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    born date,
    balance numeric(12, 2),
    photo bytea,
    tags text[],
    seen_at timestamptz
);
INSERT INTO patients (name, born, balance, photo, tags, seen_at) VALUES
    ('Ada Lovelace', '1815-12-10', 100.50, '\x0102', ARRAY['vip', 'ünï'], '2024-01-02 03:04:05+00'),
    ('Zoë 東京', NULL, -3.25, NULL, '{}', NULL),
    ('Nobody', '2000-01-01', NULL, '\x', NULL, '2024-06-30 12:00:00-07')
RETURNING id, name;
UPDATE patients SET balance = balance * 2 WHERE balance IS NOT NULL RETURNING id, balance;
DELETE FROM patients WHERE name = 'Nobody';
SELECT * FROM patients ORDER BY id;

\echo '== multi-statement query strings'
SELECT 1 AS first \; SELECT 'two' AS second \; SELECT 3.0 AS third;
INSERT INTO patients (name) VALUES ('multi 1') \; INSERT INTO patients (name) VALUES ('multi 2') \; SELECT count(*) FROM patients;
-- An error in the middle rolls back the whole implicit transaction.
INSERT INTO patients (name) VALUES ('rolled back') \; SELECT 1 / 0 \; SELECT 'never runs';
SELECT count(*) AS after_failed_multi FROM patients;

\echo '== errors and notices'
\set VERBOSITY verbose
SELECT * FROM no_such_table;
INSERT INTO patients (id, name) VALUES (1, 'duplicate');
\set VERBOSITY default
-- The verbose form would name the temporary schema (pg_temp_N), which depends on
-- how many sessions the server has open.
INSERT INTO patients (name) VALUES (NULL);
SELECT 'not a number'::integer;
SELECT 1 +;
DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', HINT = 'the hint'; END $$;
DO $$ BEGIN RAISE WARNING 'a warning'; END $$;
DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$;
SET statement_timeout = '200ms';
SELECT pg_sleep(5);
RESET statement_timeout;
SELECT 'session still usable' AS status;

\echo '== transactions'
BEGIN;
INSERT INTO patients (name) VALUES ('in transaction');
SELECT 1 / 0;
SELECT 'ignored';
ROLLBACK;
SELECT count(*) AS after_rollback FROM patients WHERE name = 'in transaction';
BEGIN;
INSERT INTO patients (name) VALUES ('kept');
SAVEPOINT before_error;
INSERT INTO patients (name) VALUES ('undone');
SELECT no_such_column FROM patients;
ROLLBACK TO SAVEPOINT before_error;
INSERT INTO patients (name) VALUES ('after savepoint');
COMMIT;
SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint') ORDER BY id;
BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY;
SHOW transaction_isolation;
CREATE TABLE read_only_probe (id integer);
-- COMMIT of a failed transaction reports ROLLBACK.
COMMIT;

\echo '== prepared statements'
PREPARE find_patient(text) AS SELECT id, name, balance FROM patients WHERE name = $1;
EXECUTE find_patient('Ada Lovelace');
EXECUTE find_patient('Zoë 東京');
EXECUTE find_patient(NULL);
SELECT name, parameter_types::text FROM pg_prepared_statements;
DEALLOCATE find_patient;
EXECUTE find_patient('gone');
SELECT $1::int + 1 AS described \gdesc
SELECT name, balance FROM patients ORDER BY id \gdesc
SELECT id AS patient_id, name AS patient_name FROM patients WHERE id = 1 \gset
\echo 'gset:' :patient_id :patient_name

\echo '== COPY through psql'
CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric);
\copy visits FROM stdin
Ada Lovelace	2024-01-01	first visit	10.5
Zoë 東京	2024-01-02	\N	0
tab\there	2024-01-03	back\\slash	-1
\.
\copy visits FROM stdin WITH (FORMAT csv, HEADER true)
patient,visited,note,amount
"Quoted, comma",2024-02-01,"multi
line",7
Empty,2024-02-02,,
\.
\copy visits TO stdout
\copy (SELECT * FROM visits ORDER BY visited) TO stdout WITH (FORMAT csv, HEADER true, FORCE_QUOTE *)
\copy visits TO 'visits.csv' WITH (FORMAT csv)
TRUNCATE visits;
\copy visits FROM 'visits.csv' WITH (FORMAT csv)
SELECT count(*) AS reloaded FROM visits;
\copy visits FROM stdin
bad row	not a date	x	1
\.
SELECT count(*) AS after_bad_copy FROM visits;
COPY (SELECT g, g * 2 FROM generate_series(1, 5) g) TO STDOUT;
COPY visits (patient) FROM STDIN;
server-side stdin row
\.
SELECT patient FROM visits WHERE patient LIKE 'server-side%';

\echo '== large result'
SELECT g AS n, md5(g::text) AS hash, repeat('x', g % 17) AS padding,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END AS maybe
FROM generate_series(1, 5000) AS g;
\pset format unaligned
\pset tuples_only on
-- One DataRow of 96 kB, larger than the usual socket buffers.
SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g;
\pset tuples_only off
\pset format aligned

\echo '== LISTEN and NOTIFY'
SELECT pg_backend_pid() AS backend_pid \gset
\echo 'backend pid:' :backend_pid
LISTEN conformance_psql;
NOTIFY conformance_psql, 'plain payload';
SELECT pg_notify('conformance_psql', 'Ünïcödé payload 🙂');
BEGIN;
NOTIFY conformance_psql, 'delivered at commit';
SELECT 'notification not yet delivered' AS inside_transaction;
COMMIT;
UNLISTEN conformance_psql;
NOTIFY conformance_psql, 'not delivered after UNLISTEN';
SELECT 'done' AS listen_notify;

\echo '== end'
