"""Prepares a harmless statement with a Parse message, drops it with SQL DEALLOCATE,
prepares the same name with SQL PREPARE over a masked column, sends (but never runs)
a Parse of another DEALLOCATE, and executes the name with Bind and Execute. The
server runs the SQL statement, which the gateway's masks for the Parse do not
describe, so the gateway must deny the Execute. Driven by
crates/portcullis/tests/gateway_clients.rs; the connection comes from the libpq
variables.

Output lines: one `<step> <status> [<SQLSTATE>]` per step, the last being
`executed ...` with the row count and the second column of the first row on success.
"""

import sys

from psycopg import pq


def status(result):
    name = pq.ExecStatus(result.status).name
    if name == "FATAL_ERROR":
        return "%s %s" % (name, result.error_field(pq.DiagnosticField.SQLSTATE).decode())
    return name


def main():
    connection = pq.PGconn.connect(b"")
    if connection.status != pq.ConnStatus.OK:
        sys.exit("connection failed: %s" % connection.error_message.decode())
    print("parse %s" % status(connection.prepare(b"s1", sys.argv[1].encode())))
    print("deallocate %s" % status(connection.exec_(b"DEALLOCATE s1")))
    print("prepare %s" % status(connection.exec_(("PREPARE s1 AS %s" % sys.argv[2]).encode())))
    print("parse-only %s" % status(connection.prepare(b"x", b"DEALLOCATE s1")))
    result = connection.exec_prepared(b"s1", [])
    if result.ntuples > 0:
        print("executed %s %d %s" % (status(result), result.ntuples, result.get_value(0, 1).decode()))
    else:
        print("executed %s" % status(result))
    connection.finish()


main()
