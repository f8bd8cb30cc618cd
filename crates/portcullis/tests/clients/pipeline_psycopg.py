"""Sends an allowed, a denied and another allowed statement in one libpq pipeline,
first with one Sync for the three, then with a Sync after each, and prints what the
client saw. Driven by crates/portcullis/tests/gateway_clients.rs, which passes the
statements as arguments (allowed, denied, allowed with `{marker}`) and checks the
output and the side effects. The connection comes from the libpq variables.

Output lines: `<variant> <statement number> ok <rows>`, `<variant> <statement number>
error <sqlstate> <message>`, `<variant> <statement number> aborted`, and finally
`after ok <value>` when the session still runs a query.
"""

import sys

import psycopg
from psycopg import errors


def report(variant, number, cursor):
    try:
        rows = cursor.fetchall() if cursor.description else []
        print("%s %d ok %d" % (variant, number, len(rows)))
    except errors.PipelineAborted:
        print("%s %d aborted" % (variant, number))
    except psycopg.Error as error:
        print("%s %d error %s %s" % (variant, number, error.sqlstate, str(error).splitlines()[0]))


def run(connection, variant, statements, sync_each):
    cursors = []
    try:
        with connection.pipeline() as pipeline:
            for number, sql in enumerate(statements, 1):
                cursor = connection.cursor()
                cursors.append(cursor)
                # Extended protocol: Parse, Bind, Describe, Execute, and no Sync yet.
                cursor.execute(sql.replace("{marker}", variant), prepare=False)
                if sync_each:
                    try:
                        pipeline.sync()
                    except psycopg.Error:
                        pass
            try:
                pipeline.sync()
            except psycopg.Error:
                pass
    except psycopg.Error:
        pass
    for number, cursor in enumerate(cursors, 1):
        report(variant, number, cursor)


def main():
    statements = sys.argv[1:4]
    with psycopg.connect(autocommit=True) as connection:
        run(connection, "one-sync", statements, sync_each=False)
        run(connection, "sync-each", statements, sync_each=True)
        value = connection.execute("SELECT 41 + 1").fetchone()[0]
        print("after ok %s" % value)


main()
