"""Conformance script for psycopg 3, run once directly against PostgreSQL and once
through the gateway; the two transcripts it prints must be byte-identical.

Connection parameters come from the libpq environment variables (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT), which psycopg reads
through libpq. Every table is temporary, so both runs start from the same state.

Normalized: backend PIDs. The transcript shows whether a notification came from the
session's own backend (pg_backend_pid()) or another one, and that
conn.info.backend_pid is positive, never the numbers themselves.

The script exits with status 1 when a step raised an error that the step did not
expect. The error is also printed in the transcript.
"""

import hashlib
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from datetime import date, datetime, time as clock_time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

LINES = []
UNEXPECTED = []


def out(*parts):
    LINES.append(" ".join(str(part) for part in parts))


@contextmanager
def step(name, conn=None):
    """Runs one step of the script. An unexpected error is recorded, `conn` is rolled
    back, and the script goes on with the next step."""
    out(f"== {name}")
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every failure belongs in the transcript
        out(f"!! unexpected {type(error).__name__}: {error}")
        UNEXPECTED.append(name)
        traceback.print_exc()
        if conn is not None and not conn.closed:
            conn.rollback()


def describe_error(error):
    diag = error.diag
    return (
        f"{type(error).__name__} sqlstate={error.sqlstate} severity={diag.severity_nonlocalized} "
        f"message={diag.message_primary!r} detail={diag.message_detail!r} hint={diag.message_hint!r} "
        f"position={diag.statement_position!r} context={diag.context!r} "
        f"table={diag.table_name!r} column={diag.column_name!r} constraint={diag.constraint_name!r}"
    )


def expect_error(action):
    try:
        action()
    except psycopg.Error as error:
        out("error:", describe_error(error))
    else:
        out("error: none raised")


def describe_columns(cursor):
    return [
        (column.name, column.type_code, column.internal_size, column.precision, column.scale)
        for column in cursor.description
    ]


def connect(**kwargs):
    connection = psycopg.connect("", **kwargs)
    connection.add_notice_handler(
        lambda diag: out(
            f"notice: {diag.severity_nonlocalized} {diag.sqlstate} {diag.message_primary!r} "
            f"detail={diag.message_detail!r} hint={diag.message_hint!r}"
        )
    )
    return connection


def session_facts(conn):
    out("backend_pid positive:", conn.info.backend_pid > 0)
    out("server_version:", conn.info.server_version)
    out("encoding:", conn.info.encoding)
    out("transaction_status:", conn.info.transaction_status.name)
    # application_name is left out: the gateway sends its own upstream.
    for name in [
        "server_version",
        "server_encoding",
        "client_encoding",
        "DateStyle",
        "IntervalStyle",
        "integer_datetimes",
        "standard_conforming_strings",
        "is_superuser",
        "session_authorization",
        "default_transaction_read_only",
        "in_hot_standby",
    ]:
        out(f"parameter {name}:", conn.info.parameter_status(name))
    conn.execute("SET TimeZone = 'America/New_York'")
    out("TimeZone after SET:", conn.info.parameter_status("TimeZone"), conn.info.timezone)
    row = conn.execute("SELECT current_user, session_user, current_database()").fetchone()
    out("identity:", row)
    conn.commit()


VALUES_QUERY = """
    SELECT NULL::text, 'Zoë – Ünïcödé 東京 🙂'::text,
           12345678901234567890.123456789::numeric, 'NaN'::numeric, 1.5::float8 / 3,
           (-9223372036854775808)::int8, true,
           '2024-02-29 23:59:59.123456+00'::timestamptz, '2024-03-10 02:30:00'::timestamp,
           '2024-03-10'::date, '13:45:00'::time, '1 day 25:00:00.5'::interval,
           '\\xdeadbeef00ff'::bytea, ARRAY[1, NULL, 3]::int[],
           ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[],
           ARRAY[[1.5, 2.5], [3.5, NULL]]::numeric[],
           '{"b": [1, 2, null], "a": "ü"}'::jsonb,
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid
"""


def types_text_and_binary(conn):
    for binary in (False, True):
        cursor = conn.cursor(binary=binary)
        cursor.execute(VALUES_QUERY)
        out(f"binary={binary} columns:", describe_columns(cursor))
        out(f"binary={binary} formats:", [cursor.pgresult.fformat(i) for i in range(cursor.pgresult.nfields)])
        for value in cursor.fetchone():
            out(f"  {type(value).__name__}: {value!r}")
    conn.commit()


def parameters_round_trip(conn):
    parameters = [
        None,
        "Zoë – Ünïcödé 東京 🙂",
        Decimal("12345678901234567890.123456789"),
        Decimal("NaN"),
        datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone.utc),
        datetime(2024, 7, 4, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
        date(1815, 12, 10),
        clock_time(13, 45, 0, 500),
        timedelta(days=1, hours=1, microseconds=5),
        b"\x00\x01\xfe\xff",
        [1, None, 3],
        ["ä", None, "with \"quotes\""],
        Jsonb({"a": [1, None, "ü"]}),
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        True,
        2**62,
        0.1,
    ]
    placeholders = ", ".join(["%s"] * len(parameters))
    for binary in (False, True):
        cursor = conn.cursor(binary=binary)
        cursor.execute(f"SELECT {placeholders}", parameters)
        out(f"binary={binary} echoed:", list(cursor.fetchone()))
        cursor.execute("SELECT pg_typeof(%s)::text, pg_typeof(%b)::text, pg_typeof(%t)::text", [Decimal("1.5"), 7, date(2024, 1, 1)])
        out(f"binary={binary} parameter types:", cursor.fetchone())
    conn.commit()


def table_and_dml(conn):
    with conn.cursor() as cursor:
        cursor.execute(
            """CREATE TEMP TABLE patients (
                   id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                   name text NOT NULL,
                   born date,
                   balance numeric(12, 2),
                   photo bytea,
                   tags text[],
                   seen_at timestamptz)"""
        )
        out("create:", cursor.statusmessage)
        cursor.executemany(
            "INSERT INTO patients (name, born, balance, photo, tags, seen_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                ("Ada Lovelace", date(1815, 12, 10), Decimal("100.50"), b"\x01\x02", ["vip", "ünï"],
                 datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
                ("Zoë 東京", None, Decimal("-3.25"), None, [], None),
                ("Nobody", date(2000, 1, 1), None, b"", None,
                 datetime(2024, 6, 30, 12, 0, tzinfo=timezone(timedelta(hours=-7)))),
            ],
        )
        out("executemany rowcount:", cursor.rowcount)
        cursor.executemany(
            "INSERT INTO patients (name) VALUES (%s) RETURNING id, name",
            [("returning 1",), ("returning 2",)],
            returning=True,
        )
        results = []
        while True:
            results.append(cursor.fetchall())
            if not cursor.nextset():
                break
        out("executemany returning:", results)
        cursor.execute("UPDATE patients SET balance = balance * 2 WHERE balance IS NOT NULL RETURNING id, balance")
        out("update:", cursor.statusmessage, cursor.rowcount, cursor.fetchall())
        cursor.execute("DELETE FROM patients WHERE name = %s", ["Nobody"])
        out("delete:", cursor.statusmessage, cursor.rowcount)
        cursor.execute("SELECT * FROM patients ORDER BY id")
        out("columns:", describe_columns(cursor))
        for row in cursor:
            out("  row:", row)
    conn.commit()


def multiple_statements(conn):
    cursor = conn.cursor()
    cursor.execute("SELECT 1 AS first; SELECT 'two' AS second, 2.0 AS number; UPDATE patients SET name = name WHERE false")
    while True:
        out("result:", cursor.statusmessage, cursor.description and [c.name for c in cursor.description],
            cursor.fetchall() if cursor.description else None)
        if not cursor.nextset():
            break
    conn.commit()
    expect_error(lambda: cursor.execute("INSERT INTO patients (name) VALUES ('rolled back'); SELECT 1 / 0; SELECT 3"))
    conn.rollback()
    out("after failed multi:", conn.execute("SELECT count(*) FROM patients WHERE name = 'rolled back'").fetchone())
    client_cursor = psycopg.ClientCursor(conn)
    client_cursor.execute("SELECT %s, %s, %s", ["it's", None, Decimal("1.10")])
    out("client-side binding:", client_cursor.fetchone())
    conn.commit()


def errors_and_notices(conn):
    expect_error(lambda: conn.execute("SELECT * FROM no_such_table"))
    conn.rollback()
    expect_error(lambda: conn.execute("INSERT INTO patients (id, name) VALUES (1, 'duplicate')"))
    conn.rollback()
    expect_error(lambda: conn.execute("INSERT INTO patients (name) VALUES (NULL)"))
    conn.rollback()
    expect_error(lambda: conn.execute("SELECT %s::integer", ["not a number"]))
    conn.rollback()
    expect_error(lambda: conn.execute("SELECT 1 +"))
    conn.rollback()
    conn.execute(
        "DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', HINT = 'the hint'; END $$"
    )
    conn.execute("DO $$ BEGIN RAISE WARNING 'a warning'; END $$")
    expect_error(lambda: conn.execute(
        "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$"
    ))
    conn.rollback()
    conn.execute("SET statement_timeout = '200ms'")
    expect_error(lambda: conn.execute("SELECT pg_sleep(5)"))
    conn.rollback()
    out("still usable:", conn.execute("SELECT 'yes'").fetchone())
    conn.commit()


def transactions(conn):
    conn.execute("INSERT INTO patients (name) VALUES ('in transaction')")
    expect_error(lambda: conn.execute("SELECT 1 / 0"))
    out("status after error:", conn.info.transaction_status.name)
    expect_error(lambda: conn.execute("SELECT 'ignored'"))
    conn.rollback()
    out("after rollback:", conn.execute("SELECT count(*) FROM patients WHERE name = 'in transaction'").fetchone())
    conn.commit()

    with conn.transaction():
        conn.execute("INSERT INTO patients (name) VALUES ('kept')")
        try:
            with conn.transaction():
                conn.execute("INSERT INTO patients (name) VALUES ('undone')")
                conn.execute("SELECT no_such_column FROM patients")
        except psycopg.errors.UndefinedColumn as error:
            out("savepoint rolled back:", describe_error(error))
        conn.execute("INSERT INTO patients (name) VALUES ('after savepoint')")
    out(
        "names:",
        conn.execute(
            "SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint') ORDER BY id"
        ).fetchall(),
    )
    conn.commit()

    conn.autocommit = True
    conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY")
    out("isolation:", conn.execute("SHOW transaction_isolation").fetchone())
    expect_error(lambda: conn.execute("CREATE TABLE read_only_probe (id integer)"))
    out("commit of failed transaction:", conn.execute("COMMIT").statusmessage)
    conn.autocommit = False


def prepared_statements(conn):
    out("prepare_threshold:", conn.prepare_threshold)
    cursor = conn.cursor()
    for name in ["Ada Lovelace", "Zoë 東京", "missing", "Ada Lovelace", "kept", "Zoë 東京", "after savepoint"]:
        cursor.execute("SELECT id, name, balance FROM patients WHERE name = %s", [name])
        out("automatic:", name, cursor.fetchall())
    cursor.execute("SELECT %s::int * 2", [21], prepare=True)
    out("explicit prepare:", cursor.fetchone())
    cursor.execute("SELECT %s::int * 2", [50], prepare=True)
    out("explicit prepare again:", cursor.fetchone())
    out(
        "server statements:",
        conn.execute(
            "SELECT statement, parameter_types::text FROM pg_prepared_statements WHERE NOT from_sql ORDER BY statement"
        ).fetchall(),
    )
    conn.commit()


def pipeline_mode(conn):
    out("pipeline supported:", psycopg.Pipeline.is_supported())
    cursor = conn.cursor()
    with conn.pipeline() as pipeline:
        cursor.execute("INSERT INTO patients (name) VALUES (%s) RETURNING id", ["pipeline 1"])
        second = conn.cursor()
        second.execute("SELECT name FROM patients WHERE name LIKE %s ORDER BY id", ["pipeline%"])
        third = conn.cursor()
        third.execute("SELECT %s::text, %s::numeric", ["ü", Decimal("2.50")])
        pipeline.sync()
        out("pipeline results:", cursor.fetchall(), second.fetchall(), third.fetchall())
    conn.commit()

    try:
        with conn.pipeline():
            ok = conn.cursor()
            ok.execute("INSERT INTO patients (name) VALUES ('pipeline before error')")
            bad = conn.cursor()
            bad.execute("SELECT 1 / %s", [0])
            skipped = conn.cursor()
            skipped.execute("INSERT INTO patients (name) VALUES ('pipeline after error')")
    except psycopg.Error as error:
        out("pipeline error:", describe_error(error))
    conn.rollback()
    out(
        "after failed pipeline:",
        conn.execute("SELECT count(*) FROM patients WHERE name LIKE 'pipeline %error'").fetchone(),
    )
    conn.commit()

    conn.autocommit = True
    with conn.pipeline() as pipeline:
        first = conn.execute("SELECT 1")
        failed = conn.cursor()
        try:
            failed.execute("SELECT 1 / 0")
            pipeline.sync()
        except psycopg.Error as error:
            out("autocommit pipeline error:", describe_error(error))
        after = conn.execute("SELECT 'after sync'")
        out("autocommit pipeline:", first.fetchall(), after.fetchall())
    conn.autocommit = False


def copy_operations(conn):
    cursor = conn.cursor()
    cursor.execute("CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric)")
    with cursor.copy("COPY visits FROM STDIN") as copy:
        copy.write_row(["Ada Lovelace", date(2024, 1, 1), "first visit", Decimal("10.5")])
        copy.write_row(["Zoë 東京", date(2024, 1, 2), None, 0])
        copy.write_row(["tab\there", date(2024, 1, 3), "back\\slash\nnewline", -1])
    out("copy in rows:", cursor.rowcount, cursor.statusmessage)
    with cursor.copy("COPY visits FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write('"Quoted, comma",2024-02-01,"multi\nline",7\nEmpty,2024-02-02,,\n')
    out("copy in csv:", cursor.rowcount)
    with cursor.copy("COPY visits (patient, visited, amount) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.set_types(["text", "date", "numeric"])
        copy.write_row(["binary row", date(2024, 3, 1), Decimal("-0.001")])
        copy.write_row(["binary null", None, None])
    out("copy in binary:", cursor.rowcount)

    with cursor.copy("COPY (SELECT * FROM visits ORDER BY visited NULLS LAST, patient) TO STDOUT") as copy:
        copy.set_types(["text", "date", "text", "numeric"])
        for row in copy.rows():
            out("  copy out row:", row)
    out("copy out:", cursor.rowcount, cursor.statusmessage)
    with cursor.copy("COPY (SELECT * FROM visits ORDER BY visited NULLS LAST, patient) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        data = b"".join(bytes(block) for block in copy)
    out("copy out csv:", data)
    with cursor.copy("COPY (SELECT patient, visited, amount FROM visits ORDER BY patient) TO STDOUT WITH (FORMAT binary)") as copy:
        data = b"".join(bytes(block) for block in copy)
    out("copy out binary:", data.hex())
    conn.commit()

    try:
        with cursor.copy("COPY visits FROM STDIN") as copy:
            copy.write_row(["aborted", date(2024, 4, 1), None, 1])
            raise RuntimeError("client gave up")
    except psycopg.Error as error:
        out("copy aborted by client:", describe_error(error))
    except RuntimeError as error:
        out("copy aborted by client, error passed through:", error)
    conn.rollback()
    try:
        with cursor.copy("COPY visits FROM STDIN") as copy:
            copy.write("bad row\tnot a date\tx\t1\n")
    except psycopg.Error as error:
        out("copy rejected by server:", describe_error(error))
    conn.rollback()
    out("visits after failed copies:", conn.execute("SELECT count(*) FROM visits").fetchone())
    conn.commit()


def large_results(conn):
    query = """SELECT g, md5(g::text), repeat('x', g % 17),
                      CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END
               FROM generate_series(1, 5000) AS g"""
    for binary in (False, True):
        rows = conn.cursor(binary=binary).execute(query).fetchall()
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        out(f"binary={binary} rows:", len(rows), "first:", rows[0], "last:", rows[-1], "sha256:", digest)
    conn.commit()

    with conn.cursor(name="large_server_cursor") as cursor:
        cursor.itersize = 700
        cursor.execute(query)
        count = 0
        hasher = hashlib.sha256()
        for row in cursor:
            count += 1
            hasher.update(repr(row).encode())
        out("server-side cursor rows:", count, "sha256:", hasher.hexdigest())
    conn.commit()

    value = conn.execute("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g").fetchone()[0]
    out("one 96 kB value:", len(value), hashlib.sha256(value.encode()).hexdigest())
    conn.commit()


def listen_notify():
    listener = connect(autocommit=True)
    sender = connect(autocommit=True)
    try:
        own_pid = listener.execute("SELECT pg_backend_pid()").fetchone()[0]
        sender_pid = sender.execute("SELECT pg_backend_pid()").fetchone()[0]

        def origin(pid):
            return {own_pid: "own backend", sender_pid: "sender backend"}.get(pid, "unknown backend")

        listener.execute("LISTEN conformance_psycopg")
        listener.execute("NOTIFY conformance_psycopg, 'from self'")
        sender.execute("NOTIFY conformance_psycopg, 'from sender'")
        sender.execute("SELECT pg_notify('conformance_psycopg', 'Ünïcödé payload 🙂')")
        with sender.transaction():
            sender.execute("NOTIFY conformance_psycopg, 'delivered at commit'")
            sender.execute("NOTIFY conformance_psycopg, 'delivered at commit'")
        for notify in listener.notifies(timeout=10, stop_after=4):
            out("notification:", notify.channel, repr(notify.payload), origin(notify.pid))
        listener.execute("UNLISTEN conformance_psycopg")
        sender.execute("NOTIFY conformance_psycopg, 'not delivered'")
        late = list(listener.notifies(timeout=0.5))
        out("after UNLISTEN:", [(n.channel, n.payload) for n in late])
    finally:
        listener.close()
        sender.close()


def wait_until_active(observer, pid):
    """Waits until backend `pid` runs a statement, so that a cancel cannot come early."""
    for _ in range(200):
        row = observer.execute(
            "SELECT state = 'active' FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        if row and row[0]:
            return True
        time.sleep(0.05)
    return False


def cancel_running_query():
    conn = connect(autocommit=True)
    observer = connect(autocommit=True)
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        result = {}

        def run():
            try:
                conn.execute("SELECT pg_sleep(30)")
                result["outcome"] = "completed"
            except psycopg.Error as error:
                result["outcome"] = f"{type(error).__name__} {error.sqlstate} {error.diag.message_primary}"

        worker = threading.Thread(target=run)
        worker.start()
        out("query running before cancel:", wait_until_active(observer, pid))
        conn.cancel_safe(timeout=10)
        worker.join(20)
        out("cancelled query:", result.get("outcome", "still running"))
        out("after cancel:", conn.execute("SELECT 'usable'").fetchone())
    finally:
        conn.close()
        observer.close()


def main():
    conn = connect()
    try:
        with step("session", conn):
            session_facts(conn)
        with step("types in text and binary format", conn):
            types_text_and_binary(conn)
        with step("parameters", conn):
            parameters_round_trip(conn)
        with step("table, DML and executemany", conn):
            table_and_dml(conn)
        with step("multiple statements and client-side binding", conn):
            multiple_statements(conn)
        with step("errors and notices", conn):
            errors_and_notices(conn)
        with step("transactions", conn):
            transactions(conn)
        with step("prepared statements", conn):
            prepared_statements(conn)
        with step("pipeline mode", conn):
            pipeline_mode(conn)
        with step("COPY", conn):
            copy_operations(conn)
        with step("large results", conn):
            large_results(conn)
    finally:
        conn.close()
    with step("LISTEN and NOTIFY"):
        listen_notify()
    with step("cancel"):
        cancel_running_query()
    out("== end")
    sys.stdout.write("\n".join(LINES) + "\n")
    if UNEXPECTED:
        sys.stderr.write(f"unexpected errors in steps: {', '.join(UNEXPECTED)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
