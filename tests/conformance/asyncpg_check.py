"""Conformance script for asyncpg, run once directly against PostgreSQL and once
through the gateway; the two transcripts it prints must be byte-identical.

Connection parameters come from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
PGSSLMODE=verify-full makes the script verify the server certificate against
PGSSLROOTCERT and the host name; any other value connects without TLS. Every table
is temporary, so both runs start from the same state.

asyncpg requests results in binary format and runs every query with parameters as
a named prepared statement from its statement cache, so this script covers the
binary encodings and the extended protocol with named statements and portals.

Normalized: backend PIDs. The transcript shows whether a notification came from the
session's own backend (pg_backend_pid()) or another one, and that
get_server_pid() is positive, never the numbers themselves.

The script exits with status 1 when a step raised an error that the step did not
expect; the error is also printed in the transcript.
"""

import asyncio
import hashlib
import io
import os
import ssl
import sys
import traceback
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime, time as clock_time, timedelta, timezone
from decimal import Decimal

import asyncpg

LINES = []
UNEXPECTED = []
CHANNEL = "conformance_asyncpg"


def out(*parts):
    LINES.append(" ".join(str(part) for part in parts))


@asynccontextmanager
async def step(name):
    """Runs one step of the script; an unexpected error is recorded and the script
    goes on with the next step."""
    out(f"== {name}")
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every failure belongs in the transcript
        out(f"!! unexpected {type(error).__name__}: {error}")
        UNEXPECTED.append(name)
        traceback.print_exc()


def describe_error(error):
    if not isinstance(error, asyncpg.PostgresError) or error.sqlstate is None or error.message is None:
        # asyncpg raises some errors itself, such as DataError for an argument it cannot
        # encode; those carry no server fields.
        return f"{type(error).__name__} (client side): {error}"
    return (
        f"{type(error).__name__} sqlstate={error.sqlstate} severity={error.severity_en} "
        f"message={error.message!r} detail={error.detail!r} hint={error.hint!r} "
        f"position={error.position!r} context={error.context!r} "
        f"table={error.table_name!r} column={error.column_name!r} constraint={error.constraint_name!r}"
    )


async def expect_error(awaitable):
    try:
        await awaitable
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        out("error:", describe_error(error))
    else:
        out("error: none raised")


def record(row):
    return [(key, value) for key, value in row.items()]


def ssl_context():
    if os.environ.get("PGSSLMODE") != "verify-full":
        return False
    context = ssl.create_default_context(cafile=os.environ["PGSSLROOTCERT"])
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def connect():
    conn = await asyncpg.connect(
        host=os.environ["PGHOST"],
        port=int(os.environ["PGPORT"]),
        user=os.environ["PGUSER"],
        password=os.environ["PGPASSWORD"],
        database=os.environ["PGDATABASE"],
        ssl=ssl_context(),
    )

    def on_log(_conn, message):
        out(
            f"notice: {message.severity_en} {message.sqlstate} {message.message!r} "
            f"detail={message.detail!r} hint={message.hint!r}"
        )

    conn.add_log_listener(on_log)
    return conn


async def session_facts(conn):
    out("server pid positive:", conn.get_server_pid() > 0)
    out("server version:", tuple(conn.get_server_version()))
    settings = conn.get_settings()
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
    ]:
        out(f"setting {name}:", getattr(settings, name, "<not reported>"))
    await conn.execute("SET TimeZone = 'America/New_York'")
    out("TimeZone after SET:", conn.get_settings().TimeZone)
    out("identity:", record(await conn.fetchrow("SELECT current_user, session_user, current_database()")))


VALUES_QUERY = """
    SELECT NULL::text AS null_text, 'Zoë – Ünïcödé 東京 🙂'::text AS unicode,
           12345678901234567890.123456789::numeric AS big, 'NaN'::numeric AS nan,
           1.5::float8 / 3 AS float8, (-9223372036854775808)::int8 AS int8_min, true AS yes,
           '2024-02-29 23:59:59.123456+00'::timestamptz AS timestamptz,
           '2024-03-10 02:30:00'::timestamp AS timestamp, '2024-03-10'::date AS date,
           '13:45:00+02'::timetz AS timetz, '1 day 25:00:00.5'::interval AS interval,
           '\\xdeadbeef00ff'::bytea AS bytea, ARRAY[1, NULL, 3]::int[] AS ints,
           ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[] AS texts,
           ARRAY[[1.5, 2.5], [3.5, NULL]]::numeric[] AS matrix,
           '{"b": [1, 2, null], "a": "ü"}'::jsonb AS jsonb,
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
           '192.168.0.1/24'::inet AS inet, ROW(1, 'x', NULL) AS record
"""


async def binary_types(conn):
    for key, value in (await conn.fetchrow(VALUES_QUERY)).items():
        out(f"  {key}: {type(value).__name__}: {value!r}")
    parameters = [
        None,
        "Zoë – Ünïcödé 東京 🙂",
        Decimal("12345678901234567890.123456789"),
        Decimal("NaN"),
        datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone.utc),
        datetime(2024, 7, 4, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        date(1815, 12, 10),
        clock_time(13, 45, 0, 500),
        timedelta(days=1, hours=1, microseconds=5),
        b"\x00\x01\xfe\xff",
        [1, None, 3],
        ["ä", None, 'with "quotes"'],
        '{"a": [1, null, "ü"]}',
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        True,
        2**62,
        0.1,
    ]
    types = [
        "text", "text", "numeric", "numeric", "timestamptz", "timestamptz", "date", "time",
        "interval", "bytea", "int4[]", "text[]", "jsonb", "uuid", "bool", "int8", "float8",
    ]
    query = "SELECT " + ", ".join(f"${i}::{kind}" for i, kind in enumerate(types, start=1))
    out("echoed:", list(await conn.fetchrow(query, *parameters)))


async def prepared_statements(conn):
    statement = await conn.prepare("SELECT $1::int AS doubled_input, $1::int * 2 AS doubled, $2::text AS label")
    out("parameters:", [(t.name, t.kind, t.schema) for t in statement.get_parameters()])
    out("attributes:", [(a.name, a.type.name) for a in statement.get_attributes()])
    out("fetch:", [record(r) for r in await statement.fetch(21, "ü")])
    out("fetchrow:", record(await statement.fetchrow(-1, None)))
    out("fetchval:", await statement.fetchval(5, "x", column=1))
    out("executemany through prepared statement:", await statement.executemany([(1, "a"), (2, "b")]))
    out("status:", statement.get_statusmsg())
    unnamed = await conn.prepare("SELECT $1::numeric + 1", name=None)
    out("second statement:", await unnamed.fetchval(Decimal("1.5")))
    named = await conn.prepare("SELECT $1::text || '!'", name="conformance_named")
    out("named statement:", await named.fetchval("hi"))
    out(
        "server statements:",
        await conn.fetchval("SELECT count(*) FROM pg_prepared_statements WHERE name = 'conformance_named'"),
    )
    await expect_error(conn.prepare("SELECT * FROM no_such_table WHERE id = $1"))
    await expect_error(statement.fetch("not a number", "x"))


async def table_and_dml(conn):
    out("create:", await conn.execute(
        """CREATE TEMP TABLE patients (
               id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               name text NOT NULL,
               born date,
               balance numeric(12, 2),
               photo bytea,
               tags text[],
               seen_at timestamptz)"""
    ))
    await conn.executemany(
        "INSERT INTO patients (name, born, balance, photo, tags, seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
        [
            ("Ada Lovelace", date(1815, 12, 10), Decimal("100.50"), b"\x01\x02", ["vip", "ünï"],
             datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
            ("Zoë 東京", None, Decimal("-3.25"), None, [], None),
            ("Nobody", date(2000, 1, 1), None, b"", None,
             datetime(2024, 6, 30, 12, 0, tzinfo=timezone(timedelta(hours=-7)))),
        ],
    )
    out("update:", [record(r) for r in await conn.fetch(
        "UPDATE patients SET balance = balance * 2 WHERE balance IS NOT NULL RETURNING id, balance"
    )])
    out("delete:", await conn.execute("DELETE FROM patients WHERE name = $1", "Nobody"))
    for row in await conn.fetch("SELECT * FROM patients ORDER BY id"):
        out("  row:", record(row))


async def multiple_statements(conn):
    # Without arguments, execute() sends one simple Query with every statement.
    out("script:", await conn.execute(
        "INSERT INTO patients (name) VALUES ('multi 1'); INSERT INTO patients (name) VALUES ('multi 2'); SELECT 1"
    ))
    await expect_error(conn.execute(
        "INSERT INTO patients (name) VALUES ('rolled back'); SELECT 1 / 0; SELECT 3"
    ))
    out("after failed script:", await conn.fetchval("SELECT count(*) FROM patients WHERE name LIKE 'multi %' OR name = 'rolled back'"))


async def errors_and_notices(conn):
    await expect_error(conn.fetch("SELECT * FROM no_such_table"))
    await expect_error(conn.execute("INSERT INTO patients (id, name) VALUES (1, 'duplicate')"))
    await expect_error(conn.execute("INSERT INTO patients (name) VALUES (NULL)"))
    await expect_error(conn.fetch("SELECT $1::integer", "not a number"))
    await expect_error(conn.fetch("SELECT 1 +"))
    await conn.execute(
        "DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', HINT = 'the hint'; END $$"
    )
    await conn.execute("DO $$ BEGIN RAISE WARNING 'a warning'; END $$")
    # Log listeners run as callbacks on the event loop; let them run before going on.
    await asyncio.sleep(0)
    await expect_error(conn.execute(
        "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$"
    ))
    await conn.execute("SET statement_timeout = '200ms'")
    await expect_error(conn.fetch("SELECT pg_sleep(5)"))
    await conn.execute("RESET statement_timeout")
    out("still usable:", await conn.fetchval("SELECT 'yes'"))


async def transactions(conn):
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO patients (name) VALUES ('in transaction')")
            await conn.fetch("SELECT 1 / 0")
    except asyncpg.DivisionByZeroError as error:
        out("transaction rolled back:", describe_error(error))
    out("after rollback:", await conn.fetchval("SELECT count(*) FROM patients WHERE name = 'in transaction'"))

    transaction = conn.transaction()
    await transaction.start()
    await expect_error(conn.fetch("SELECT 1 / 0"))
    out("in failed transaction:", conn.is_in_transaction())
    await expect_error(conn.fetch("SELECT 'ignored'"))
    await transaction.rollback()

    async with conn.transaction():
        await conn.execute("INSERT INTO patients (name) VALUES ('kept')")
        try:
            async with conn.transaction():
                await conn.execute("INSERT INTO patients (name) VALUES ('undone')")
                await conn.fetch("SELECT no_such_column FROM patients")
        except asyncpg.UndefinedColumnError as error:
            out("savepoint rolled back:", describe_error(error))
        await conn.execute("INSERT INTO patients (name) VALUES ('after savepoint')")
    out("names:", [r["name"] for r in await conn.fetch(
        "SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint') ORDER BY id"
    )])

    async with conn.transaction(isolation="serializable", readonly=True):
        out("isolation:", await conn.fetchval("SHOW transaction_isolation"))
        await expect_error(conn.execute("CREATE TABLE read_only_probe (id integer)"))
    out("after read-only transaction:", conn.is_in_transaction())


async def copy_operations(conn):
    await conn.execute("CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric)")
    out("copy records (binary):", await conn.copy_records_to_table(
        "visits",
        records=[
            ("Ada Lovelace", date(2024, 1, 1), "first visit", Decimal("10.5")),
            ("Zoë 東京", date(2024, 1, 2), None, Decimal(0)),
            ("tab\there", date(2024, 1, 3), "back\\slash\nnewline", Decimal(-1)),
        ],
    ))
    csv = '"Quoted, comma",2024-02-01,"multi\nline",7\nEmpty,2024-02-02,,\n'
    out("copy to table (csv):", await conn.copy_to_table(
        "visits", source=io.BytesIO(csv.encode()), format="csv"
    ))

    async def chunks():
        yield "text row\t2024-03-01\t\\N\t".encode()
        yield "1.25\n".encode()

    out("copy to table (text, streamed):", await conn.copy_to_table("visits", source=chunks()))
    for format_name in ("text", "csv", "binary"):
        buffer = io.BytesIO()
        status = await conn.copy_from_query(
            "SELECT * FROM visits ORDER BY visited, patient", output=buffer, format=format_name
        )
        data = buffer.getvalue()
        out(f"copy from query ({format_name}):", status, data.hex() if format_name == "binary" else data)
    buffer = io.BytesIO()
    out("copy from table:", await conn.copy_from_table("visits", columns=["patient"], output=buffer), buffer.getvalue())
    await expect_error(conn.copy_to_table(
        "visits", source=io.BytesIO(b"bad row\tnot a date\tx\t1\n")
    ))
    out("visits after failed copy:", await conn.fetchval("SELECT count(*) FROM visits"))


async def large_results(conn):
    query = """SELECT g, md5(g::text), repeat('x', g % 17),
                      CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END
               FROM generate_series(1, 5000) AS g"""
    rows = [tuple(r) for r in await conn.fetch(query)]
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    out("rows:", len(rows), "first:", rows[0], "last:", rows[-1], "sha256:", digest)

    async with conn.transaction():
        hasher = hashlib.sha256()
        count = 0
        async for row in conn.cursor(query, prefetch=700):
            count += 1
            hasher.update(repr(tuple(row)).encode())
        out("cursor rows:", count, "sha256:", hasher.hexdigest())
        cursor = await conn.cursor("SELECT g FROM generate_series(1, 100) AS g")
        out("cursor fetch 3:", [r[0] for r in await cursor.fetch(3)])
        await cursor.forward(90)
        out("cursor after forward 90:", [r[0] for r in await cursor.fetch(10)])

    value = await conn.fetchval("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g")
    out("one 96 kB value:", len(value), hashlib.sha256(value.encode()).hexdigest())


async def listen_notify():
    listener = await connect()
    sender = await connect()
    try:
        own_pid = await listener.fetchval("SELECT pg_backend_pid()")
        sender_pid = await sender.fetchval("SELECT pg_backend_pid()")
        received = []
        done = asyncio.Event()

        def on_notify(_conn, pid, channel, payload):
            origin = {own_pid: "own backend", sender_pid: "sender backend"}.get(pid, "unknown backend")
            received.append((channel, payload, origin))
            if len(received) == 4:
                done.set()

        await listener.add_listener(CHANNEL, on_notify)
        await listener.execute(f"NOTIFY {CHANNEL}, 'from self'")
        await sender.execute(f"NOTIFY {CHANNEL}, 'from sender'")
        await sender.execute("SELECT pg_notify($1, $2)", CHANNEL, "Ünïcödé payload 🙂")
        async with sender.transaction():
            await sender.execute(f"NOTIFY {CHANNEL}, 'delivered at commit'")
            await sender.execute(f"NOTIFY {CHANNEL}, 'delivered at commit'")
        await asyncio.wait_for(done.wait(), timeout=10)
        for notification in received:
            out("notification:", *notification)
        await listener.remove_listener(CHANNEL, on_notify)
        await sender.execute(f"NOTIFY {CHANNEL}, 'not delivered'")
        await listener.fetchval("SELECT 1")
        await asyncio.sleep(0.3)
        out("after remove_listener:", received[4:])
    finally:
        await listener.close()
        await sender.close()


async def cancel_by_timeout():
    conn = await connect()
    try:
        # On a timeout asyncpg sends a CancelRequest on a new connection and waits
        # for the server to end the query.
        try:
            await conn.fetch("SELECT pg_sleep(30)", timeout=1)
            out("timeout: query completed")
        except asyncio.TimeoutError:
            out("timeout: TimeoutError")
        out("after cancel:", await conn.fetchval("SELECT 'usable'"))
    finally:
        await conn.close()


async def main():
    conn = await connect()
    try:
        for name, action in [
            ("session", session_facts),
            ("binary types and parameters", binary_types),
            ("prepared statements", prepared_statements),
            ("table, DML and executemany", table_and_dml),
            ("multiple statements", multiple_statements),
            ("errors and notices", errors_and_notices),
            ("transactions", transactions),
            ("COPY", copy_operations),
            ("large results", large_results),
        ]:
            async with step(name):
                await action(conn)
    finally:
        await conn.close()
    async with step("LISTEN and NOTIFY"):
        await listen_notify()
    async with step("cancel"):
        await cancel_by_timeout()
    out("== end")
    sys.stdout.write("\n".join(LINES) + "\n")
    if UNEXPECTED:
        sys.stderr.write(f"unexpected errors in steps: {', '.join(UNEXPECTED)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
