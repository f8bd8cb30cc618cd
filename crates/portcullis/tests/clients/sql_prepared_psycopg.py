"""Prepares a statement with SQL PREPARE, then executes it with protocol Bind and
Execute messages (libpq's PQexecPrepared), and prints what comes back: the gateway
never saw a Parse for it, so it must not pass its rows unmasked. Driven by
crates/portcullis/tests/gateway_clients.rs. The connection comes from the libpq
variables.

Output lines: `prepare <status>`, then `bound <status> <SQLSTATE or rows> [<message>]`,
then `sql-execute <status> <rows> <first value>` for SQL EXECUTE of the same
statement, and `after <value>` from a query run last.
"""

import sys

from psycopg import pq


def describe(label, result):
    status = pq.ExecStatus(result.status).name
    if status == "FATAL_ERROR":
        sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE).decode()
        message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY).decode()
        print("%s %s %s %s" % (label, status, sqlstate, message))
    elif result.ntuples > 0:
        print("%s %s %d %s" % (label, status, result.ntuples, result.get_value(0, 1).decode()))
    else:
        print("%s %s" % (label, status))


def main():
    connection = pq.PGconn.connect(b"")
    if connection.status != pq.ConnStatus.OK:
        sys.exit("connection failed: %s" % connection.error_message.decode())
    statement = sys.argv[1]
    describe("prepare", connection.exec_(("PREPARE p AS %s" % statement).encode()))
    describe("bound", connection.exec_prepared(b"p", []))
    describe("sql-execute", connection.exec_(b"EXECUTE p"))
    result = connection.exec_(b"SELECT 41 + 1")
    print("after %s" % result.get_value(0, 0).decode())
    connection.finish()


main()
