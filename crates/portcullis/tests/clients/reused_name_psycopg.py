"""Prepares a statement with a Parse message, then sends a second Parse with the
same name, which the server rejects (42P05) while keeping the first statement, and
finally executes the name. Driven by crates/portcullis/tests/gateway_clients.rs, which
checks that the rows come back with the first statement's masks. The connection comes
from the libpq variables.

Output lines: `first <status>`, `second <status> [<SQLSTATE>]`, then
`executed <status> <rows> <third column of the first row>`.
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
    print("first %s" % status(connection.prepare(b"s1", sys.argv[1].encode())))
    print("second %s" % status(connection.prepare(b"s1", sys.argv[2].encode())))
    result = connection.exec_prepared(b"s1", [])
    if result.ntuples > 0:
        print("executed %s %d %s" % (status(result), result.ntuples, result.get_value(0, 2).decode()))
    else:
        print("executed %s" % status(result))
    connection.finish()


main()
