"""Runs the probe queries of crates/portcullis/tests/gateway_clients.rs with asyncpg,
which transfers every type of the demo schema in binary format, and prints each value
as PostgreSQL's text output would show it.

Input on stdin: one `name<TAB>sql` line per query. Output: `ROW<TAB>name<TAB>value...`
per row, with `\\N` for NULL, or `ERROR<TAB>name<TAB>sqlstate<TAB>message` for a
statement that failed. The connection comes from the libpq variables (PGHOST, ...).
"""

import asyncio
import datetime
import decimal
import sys
import uuid

import asyncpg


def text_form(value):
    """Formats a decoded value the way PostgreSQL's text output does (TimeZone UTC)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        suffix = ""
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            suffix = "+00"
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += (".%06d" % value.microsecond).rstrip("0")
        return text + suffix
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (int, decimal.Decimal, uuid.UUID, str)):
        return str(value)
    raise TypeError("no text form for %r" % type(value))


async def main():
    connection = await asyncpg.connect()
    for line in sys.stdin.read().splitlines():
        name, sql = line.split("\t", 1)
        try:
            rows = await connection.fetch(sql)
        except asyncpg.PostgresError as error:
            print("ERROR\t%s\t%s\t%s" % (name, error.sqlstate, error))
            continue
        for row in rows:
            print("\t".join(["ROW", name] + [text_form(value) for value in row]))
    await connection.close()


asyncio.run(main())
