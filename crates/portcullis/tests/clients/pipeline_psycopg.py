"""Sends an allowed, a denied and another allowed statement in one libpq pipeline
(extended protocol: Parse, Bind, Describe, Execute per statement), first with one Sync
for the three, then with a Sync after each, and prints every result libpq reports.
Driven by crates/portcullis/tests/gateway_clients.rs, which passes the statements as
arguments (the third with `{marker}`, replaced by the variant name) and checks the
output and the side effects. Uses psycopg's libpq binding directly, so that the output
shows each protocol-level result. The connection comes from the libpq variables.

Output lines: `<variant> <status> [<rows or SQLSTATE> <message>]` per result, with
status TUPLES_OK, COMMAND_OK, FATAL_ERROR, PIPELINE_ABORTED or PIPELINE_SYNC, and
finally `after <value>` from a query run after both pipelines.
"""

import sys

from psycopg import pq


def run(connection, variant, statements, sync_each):
    connection.enter_pipeline_mode()
    syncs = 0
    for sql in statements:
        connection.send_query_params(sql.replace("{marker}", variant).encode(), None)
        if sync_each:
            connection.pipeline_sync()
            syncs += 1
    if not sync_each:
        connection.pipeline_sync()
        syncs += 1
    while syncs:
        result = connection.get_result()
        if result is None:
            continue
        status = pq.ExecStatus(result.status).name
        if status == "PIPELINE_SYNC":
            syncs -= 1
            print("%s %s" % (variant, status))
        elif status == "FATAL_ERROR":
            sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE).decode()
            message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY).decode()
            print("%s %s %s %s" % (variant, status, sqlstate, message))
        else:
            print("%s %s %d" % (variant, status, result.ntuples))
    connection.exit_pipeline_mode()


def main():
    connection = pq.PGconn.connect(b"")
    if connection.status != pq.ConnStatus.OK:
        sys.exit("connection failed: %s" % connection.error_message.decode())
    statements = sys.argv[1:4]
    run(connection, "one-sync", statements, sync_each=False)
    run(connection, "sync-each", statements, sync_each=True)
    result = connection.exec_(b"SELECT 41 + 1")
    print("after %s" % result.get_value(0, 0).decode())
    connection.finish()


main()
