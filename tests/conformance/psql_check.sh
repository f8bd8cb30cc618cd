#!/usr/bin/env bash
# Runs psql.sql with psql (the `psql` on PATH, or $PSQL) and prints the transcript:
# psql's exit status, standard output and standard error, in that order.
#
# Connection parameters come from the libpq environment variables (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, ...). The script runs in
# a scratch directory, where `\copy ... TO 'visits.csv'` writes its file.
#
# Normalized: the backend PID, which differs from run to run. The script prints
# pg_backend_pid() as "backend pid: N"; N becomes <pid>, and the PID in psql's
# "Asynchronous notification ... from server process with PID N" lines becomes
# <own backend pid> when it is N and <other backend pid> otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
psql="${PSQL:-psql}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$here/psql.sql" "$scratch/psql.sql"
cd "$scratch"

status=0
"$psql" -X --no-password -f psql.sql >stdout 2>stderr || status=$?

pid="$(sed -n 's/^backend pid: \([0-9][0-9]*\)$/\1/p' stdout | head -n 1)"
normalize() {
    sed -e "s/^backend pid: [0-9][0-9]*\$/backend pid: <pid>/" \
        -e "s/from server process with PID ${pid:-none}\\./from server process with PID <own backend pid>./" \
        -e "s/from server process with PID [0-9][0-9]*\\./from server process with PID <other backend pid>./" \
        "$1"
}

echo "== psql exit status: $status"
echo "== standard output"
normalize stdout
echo "== standard error"
normalize stderr
