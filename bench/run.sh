#!/usr/bin/env bash
# Measures the throughput and memory of the Portcullis PostgreSQL front end against
# a direct connection and against PgBouncer, all on this machine over loopback.
#
#   bench/run.sh
#
# What it does, in order:
#   1. builds the release binary (`cargo build --release --bin portcullis`);
#   2. initializes a gateway (`portcullis init`) and reuses its TLS certificate for
#      PostgreSQL and PgBouncer, so that all three paths use TLS with the same key;
#   3. starts a throwaway PostgreSQL cluster (initdb, pg_ctl) in a temporary
#      directory on a free 127.0.0.1 port, running as the `postgres` system user
#      when this script runs as root, and loads the pgbench tables (`pgbench -i`);
#   4. starts PgBouncer (session mode, SCRAM against a userlist file, TLS required
#      from clients, plain TCP to the cluster) and the gateway (a target with
#      `tls = "disable"` upstream, one user with TOTP, logged in for a token).
#      With BENCH_POLICY=1 it starts a second gateway on the same store, with its
#      own ports and audit directory and `[policy] dir` set to bench/policy, whose
#      Cedar policies permit pgbench's statements and mask one column of
#      pgbench_accounts. The path names are `portcullis` (no policy: every
#      statement of an allowed role is forwarded unanalyzed) and
#      `portcullis-policy` (each statement parsed, decided and masked);
#   5. runs pgbench: select-only (-S) and TPC-B-like, each with -M simple and
#      -M extended, with 1 client (-c 1 -j 1) and 8 clients (-c 8 -j 2), each for
#      BENCH_DURATION seconds, in BENCH_ROUNDS rounds. Within a round every
#      configuration runs direct, then through PgBouncer, then through Portcullis,
#      then through Portcullis with policies;
#   6. restarts the gateway and measures wall time and the gateway's peak RSS for a
#      1 GiB result, read with `psql -o /dev/null` (SELECT) and with COPY TO STDOUT,
#      direct and through the gateway;
#   7. restarts the gateway and measures its resident memory (VmRSS, VmHWM in
#      /proc/PID/status) with BENCH_IDLE_CONNECTIONS idle TLS sessions opened by
#      bench/idle_connections.py (asyncpg in target/bench/venv), opened and
#      closed BENCH_IDLE_CYCLES times;
#   8. writes everything to BENCH_OUT and prints bench/report.py's summary.
#
# Every client connects with sslmode=require. Before each pgbench run the script
# vacuums pgbench_branches and pgbench_tellers and truncates pgbench_history over a
# direct connection, as pgbench itself does without -n, so that maintenance never
# runs through a proxy. The cluster runs with fsync, synchronous_commit and
# full_page_writes off, as the test clusters of crates/portcullis-cluster do: the
# figures compare proxies, not disks.
#
# Environment (defaults in brackets):
#   BENCH_DURATION          seconds per pgbench run [15]
#   BENCH_ROUNDS            rounds of every configuration [3]
#   BENCH_SCALE             pgbench scale factor [10]
#   BENCH_IDLE_CONNECTIONS  idle sessions for the memory figure, 0 to skip [1000]
#   BENCH_IDLE_CYCLES       times those sessions are opened and closed [2]
#   BENCH_LARGE_ROUNDS      rounds of the 1 GiB result measurements, 0 to skip [3]
#   BENCH_WORKLOADS         space-separated pgbench workloads to run, from
#                           select-only, tpcb and select-masked (bench/select-masked.sql:
#                           -S plus the column that bench/policy masks), or none
#                           ["select-only tpcb"]
#   BENCH_AUDIT_DIR         puts the gateway's audit log in this new directory
#                           instead of its working directory, for example on
#                           tmpfs to see what the per-statement fdatasync costs
#                           [unset: the working directory, on the same disk as /tmp]
#   BENCH_CLIENTS           space-separated client counts to run, from 1 and 8
#                           ["1 8"]
#   BENCH_POLICY            1 adds the policy-on gateway as the path
#                           portcullis-policy, 0 leaves it out [1]
#   BENCH_PROFILE           1 adds `perf record` and `perf trace -s` of each gateway
#                           during one extra select-only run with 8 clients [0]
#   BENCH_BUILD             0 skips step 1 and runs target/release/portcullis as it is,
#                           for example to keep one binary across several runs [1]
#   BENCH_OUT               results directory [target/bench/UTC-TIMESTAMP]
#   BENCH_KEEP              1 keeps the temporary directory with every log [0]
#
# Needs: cargo, PostgreSQL server binaries, psql, pgbench, pgbouncer, python3 with
# venv and pip (scripts/install-deps.sh --test installs them), and, when run as
# root, the `postgres` system user.
#
# Duration: the pgbench part takes BENCH_ROUNDS x 32 x (BENCH_DURATION + about 0.5)
# seconds, about 25 minutes with the defaults (24 runs a round with BENCH_POLICY=0). Setup, warm-up and the memory
# measurements add about 3 minutes once the binary is built (1,318 s in all for
# the run recorded in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

duration="${BENCH_DURATION:-15}"
rounds="${BENCH_ROUNDS:-3}"
scale="${BENCH_SCALE:-10}"
idle_connections="${BENCH_IDLE_CONNECTIONS:-1000}"
idle_cycles="${BENCH_IDLE_CYCLES:-2}"
large_rounds="${BENCH_LARGE_ROUNDS:-3}"
workloads="${BENCH_WORKLOADS:-select-only tpcb}"
client_counts="${BENCH_CLIENTS:-1 8}"
policy="${BENCH_POLICY:-1}"
audit_dir="${BENCH_AUDIT_DIR:-}"
profile="${BENCH_PROFILE:-0}"
build="${BENCH_BUILD:-1}"
out="${BENCH_OUT:-$repo/target/bench/$(date -u +%Y%m%dT%H%M%SZ)}"
keep="${BENCH_KEEP:-0}"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { log "error: $*" >&2; exit 1; }

for command in cargo psql pgbench pgbouncer python3 setpriv; do
    command -v "$command" >/dev/null || die "$command not found; run scripts/install-deps.sh --test"
done
if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    pg_bin="$(dirname "$(readlink -f "$(command -v initdb)")")"
else
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -x "$pg_bin/initdb" ]] || die "PostgreSQL server binaries not found; run scripts/install-deps.sh"
fi

mkdir -p "$out/runs"
started_at=$SECONDS

# asyncpg opens the idle sessions, so that one process keeps them all open. The
# version is the one the conformance tests pin.
venv="$repo/target/bench/venv"
if ((idle_connections > 0)); then
    asyncpg_pin="$(grep -m 1 '^asyncpg==' "$repo/tests/conformance/requirements.txt")"
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import asyncpg' 2>/dev/null; then
        log "installing $asyncpg_pin into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$asyncpg_pin"
    fi
fi

# ---------------------------------------------------------------------------
# Processes this script starts, stopped on exit by their own PIDs.

work=""
audit_created=""
cluster_data=""
pgbouncer_pid=""
gateway_pid=""
policy_gateway_pid=""

stop_pid() {
    local pid="$1" name="$2"
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "warning: $name (PID $pid) did not stop within 15 s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT
    stop_pid "$gateway_pid" "portcullis serve"
    stop_pid "$policy_gateway_pid" "portcullis serve (policies)"
    stop_pid "$pgbouncer_pid" "pgbouncer"
    if [[ -n "$cluster_data" && -f "$cluster_data/postmaster.pid" ]]; then
        as_server_user "$pg_bin/pg_ctl" stop -D "$cluster_data" -m fast -w -t 30 >/dev/null 2>&1 \
            || log "warning: pg_ctl stop failed; the postmaster PID is in $cluster_data/postmaster.pid"
    fi
    if [[ -n "$work" ]]; then
        if [[ "$keep" == 1 || $status -ne 0 ]]; then
            log "logs and configuration kept in $work${audit_created:+ and $audit_dir}"
        else
            rm -rf "$work"
            [[ -n "$audit_created" ]] && rm -rf "$audit_dir"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL and PgBouncer exit when started as root, so root runs them as the
# `postgres` system user that Debian's postgresql package creates.
# The prefix is an array, not a function, so that a background job started with it
# is the server process itself and $! is the server's PID.
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres system user (apt-get install postgresql)"
    server_user=(setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/tmp)
    hand_over() { chown -R postgres:postgres "$@"; }
else
    server_user=()
    hand_over() { :; }
fi
as_server_user() { "${server_user[@]}" "$@"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
    local port="$1" name="$2" pid="${3:-}"
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited before listening on port $port"
        fi
        sleep 0.1
    done
    die "$name did not listen on port $port within 30 s"
}

# ---------------------------------------------------------------------------
if [[ "$build" == 1 ]]; then
    log "building the release binary"
    cargo build --release --bin portcullis
fi
portcullis="$repo/target/release/portcullis"

work="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
chmod 755 "$work"
log "temporary directory $work, results in $out"

# ---------------------------------------------------------------------------
log "initializing the gateway"
gateway_dir="$work/gateway"
api_port="$(free_port)"
"$portcullis" init --dir "$gateway_dir" --admin admin --api-port "$api_port" >"$work/init.log"

# PostgreSQL and PgBouncer present the gateway's certificate, so every path
# negotiates TLS with the same key type.
mkdir -p "$work/tls"
cp "$gateway_dir/tls/server.crt" "$gateway_dir/tls/server.key" "$work/tls/"
chmod 600 "$work/tls/server.key"
hand_over "$work/tls"

# ---------------------------------------------------------------------------
log "starting PostgreSQL from $pg_bin"
pg_port="$(free_port)"
db_password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
mkdir -p "$work/pg/socket"
printf '%s' "$db_password" >"$work/pg/superuser-password"
hand_over "$work/pg"
cluster_data="$work/pg/data"
as_server_user "$pg_bin/initdb" -D "$cluster_data" -U postgres -E UTF8 --locale=C --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$work/pg/superuser-password" >"$work/pg/initdb.log"
# max_connections leaves room for the idle sessions, each of which the gateway
# relays to its own server connection.
cat >>"$cluster_data/postgresql.conf" <<EOF

listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work/pg/socket'
max_connections = $((idle_connections + 100))
shared_buffers = '256MB'
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$work/tls/server.crt'
ssl_key_file = '$work/tls/server.key'
EOF
as_server_user "$pg_bin/pg_ctl" start -D "$cluster_data" -l "$work/pg/server.log" -w -t 60 >/dev/null
wait_for_port "$pg_port" "PostgreSQL"
log "PostgreSQL on 127.0.0.1:$pg_port (PID $(head -n 1 "$cluster_data/postmaster.pid"))"

superuser_sql() {
    psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg/socket" -p "$pg_port" -U postgres "$@"
}
superuser_sql -d postgres -c "CREATE ROLE bench LOGIN PASSWORD '$db_password'" -c "CREATE DATABASE bench OWNER bench"

# Connection settings of the three paths, as libpq environment variables.
direct_env=(PGHOST=127.0.0.1 "PGPORT=$pg_port" PGUSER=bench "PGPASSWORD=$db_password" PGDATABASE=bench PGSSLMODE=require)

log "loading pgbench tables at scale $scale"
env "${direct_env[@]}" pgbench -i -q -s "$scale" >"$work/pgbench-init.log" 2>&1 \
    || die "pgbench -i failed; see $work/pgbench-init.log"

# ---------------------------------------------------------------------------
log "starting PgBouncer"
pgbouncer_port="$(free_port)"
mkdir -p "$work/pgbouncer"
printf '"bench" "%s"\n' "$db_password" >"$work/pgbouncer/userlist.txt"
chmod 600 "$work/pgbouncer/userlist.txt"
cat >"$work/pgbouncer/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$pg_port dbname=bench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgbouncer_port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $work/pgbouncer/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 20
client_tls_sslmode = require
client_tls_cert_file = $work/tls/server.crt
client_tls_key_file = $work/tls/server.key
server_tls_sslmode = disable
logfile = $work/pgbouncer/pgbouncer.log
EOF
hand_over "$work/pgbouncer"
"${server_user[@]}" pgbouncer "$work/pgbouncer/pgbouncer.ini" >"$work/pgbouncer/stdout.log" 2>&1 &
pgbouncer_pid=$!
wait_for_port "$pgbouncer_port" "pgbouncer" "$pgbouncer_pid"
log "PgBouncer on 127.0.0.1:$pgbouncer_port (PID $pgbouncer_pid)"
pgbouncer_env=(PGHOST=127.0.0.1 "PGPORT=$pgbouncer_port" PGUSER=bench "PGPASSWORD=$db_password" PGDATABASE=bench PGSSLMODE=require)

# ---------------------------------------------------------------------------
log "configuring and starting the gateway"
gateway_port="$(free_port)"
config="$gateway_dir/portcullis.toml"
# Drop the [postgres] table that `init` writes, because the one appended below
# replaces it.
python3 - "$config" <<'PYTHON'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r"(?ms)^\[postgres\]\n.*?(?=^\[|\Z)", "", text)
open(path, "w").write(text)
PYTHON
cat >>"$config" <<EOF

[postgres]
listen = "127.0.0.1:$gateway_port"
plaintext = "reject"
# Raised for the idle-connection measurement. The defaults are 1000 and 50.
max_connections = $((idle_connections + 100))
max_connections_per_user = $((idle_connections + 100))

[targets.bench]
host = "127.0.0.1"
port = $pg_port
database = "bench"
user = "bench"
password_env = "PORTCULLIS_BENCH_PASSWORD"
# The cluster runs on this host. As with PgBouncer, TLS covers only the client's
# side of the gateway.
tls = "disable"
allowed_roles = ["benchmark"]
EOF
if [[ -n "$audit_dir" ]]; then
    [[ -e "$audit_dir" ]] && die "BENCH_AUDIT_DIR $audit_dir already exists; name a new directory"
    mkdir -p "$audit_dir"
    audit_created=1
    python3 - "$config" "$audit_dir" <<'PYTHON'
import re, sys
path, directory = sys.argv[1], sys.argv[2]
text = open(path).read()
text, count = re.subn(r'(?m)^dir = "audit"$', f'dir = "{directory}"', text)
if count != 1:
    sys.exit("bench: cannot find `dir = \"audit\"` in the [audit] table of " + path)
open(path, "w").write(text)
PYTHON
fi

# Starts `portcullis serve` with configuration $1, appending its output to $2, waits
# for its API port $3 and PostgreSQL port $4, and sets serve_pid.
serve_pid=""
launch_gateway() {
    local config_file="$1" log_file="$2" api="$3" postgres="$4"
    PORTCULLIS_BENCH_PASSWORD="$db_password" "$portcullis" -c "$config_file" serve >>"$log_file" 2>&1 &
    serve_pid=$!
    wait_for_port "$api" "portcullis serve ($config_file)" "$serve_pid"
    wait_for_port "$postgres" "portcullis serve ($config_file)" "$serve_pid"
    log "gateway ($config_file) on 127.0.0.1:$postgres, API on $api (PID $serve_pid)"
}

start_gateway() {
    launch_gateway "$config" "$work/gateway-serve.log" "$api_port" "$gateway_port"
    gateway_pid="$serve_pid"
}
start_gateway

"$portcullis" -c "$config" role add benchmark --description "pgbench client" >/dev/null
"$portcullis" -c "$config" --output json user add bench-client --department bench >"$work/user.json"
"$portcullis" -c "$config" role grant benchmark bench-client --by admin >/dev/null
user_password="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["one_time_password"])' <"$work/user.json")"
totp_code="$(python3 "$repo/bench/totp.py" <"$work/user.json")"
token="$(PORTCULLIS_PASSWORD="$user_password" "$portcullis" -c "$config" --output json login --user bench-client --totp "$totp_code" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
gateway_env=(PGHOST=127.0.0.1 "PGPORT=$gateway_port" PGUSER=bench-client "PGPASSWORD=$token" PGDATABASE=bench PGSSLMODE=require)
paths=(direct pgbouncer portcullis)

# ---------------------------------------------------------------------------
# The policy-on gateway: a copy of the configuration with its own ports, instance
# name and audit directory, and `[policy] dir` set. It shares the state store, so
# the same user and token log in through it.
policy_dir="$repo/bench/policy"
if [[ "$policy" == 1 ]]; then
    log "configuring and starting the gateway with the policies in $policy_dir"
    policy_config="$gateway_dir/portcullis-policy.toml"
    policy_api_port="$(free_port)"
    policy_gateway_port="$(free_port)"
    policy_audit_dir="${audit_dir:+$audit_dir/policy}"
    policy_audit_dir="${policy_audit_dir:-audit-policy}"
    python3 - "$config" "$policy_config" "$api_port" "$policy_api_port" "$gateway_port" "$policy_gateway_port" \
        "$policy_audit_dir" "$policy_dir" <<'PYTHON'
import re, sys
source, target, api, policy_api, postgres, policy_postgres, audit, policies = sys.argv[1:]
text = open(source).read()
replacements = [
    (r'(?m)^listen = "127\.0\.0\.1:' + api + '"$', f'listen = "127.0.0.1:{policy_api}"'),
    (r'(?m)^listen = "127\.0\.0\.1:' + postgres + '"$', f'listen = "127.0.0.1:{policy_postgres}"'),
    (r'(?m)^instance_name = "portcullis"$', 'instance_name = "portcullis-policy"'),
    (r'(?m)^dir = "[^"]*"$', f'dir = "{audit}"'),
]
for pattern, replacement in replacements:
    text, count = re.subn(pattern, replacement, text)
    if count != 1:
        sys.exit(f"bench: expected one line matching {pattern} in {source}, found {count}")
open(target, "w").write(text + f'\n[policy]\ndir = "{policies}"\n')
PYTHON
    PORTCULLIS_BENCH_PASSWORD="$db_password" "$portcullis" -c "$policy_config" policy check >"$out/policy-check.txt" 2>&1 \
        || die "portcullis policy check rejected $policy_dir: $(cat "$out/policy-check.txt")"
    # The decisions for pgbench's statements, as evidence of what the runs exercise.
    for statement in "SELECT abalance FROM pgbench_accounts WHERE aid = 1" \
        "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1" \
        "UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 1" \
        "UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1" \
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, CURRENT_TIMESTAMP)" \
        "SELECT aid, filler FROM pgbench_accounts WHERE aid = 1"; do
        echo "\$ portcullis policy explain --user bench-client --target bench \"$statement\""
        PORTCULLIS_BENCH_PASSWORD="$db_password" "$portcullis" -c "$policy_config" policy explain --user bench-client \
            --target bench "$statement"
        echo
    done >"$out/policy-explain.txt" 2>&1 || die "portcullis policy explain failed; see $out/policy-explain.txt"
    launch_gateway "$policy_config" "$work/gateway-policy-serve.log" "$policy_api_port" "$policy_gateway_port"
    policy_gateway_pid="$serve_pid"
    policy_env=(PGHOST=127.0.0.1 "PGPORT=$policy_gateway_port" PGUSER=bench-client "PGPASSWORD=$token" PGDATABASE=bench
        PGSSLMODE=require)
    paths+=(portcullis-policy)
fi

# ---------------------------------------------------------------------------
# Machine and load facts for the report.
{
    echo "date_utc	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc	$(nproc)"
    echo "cpu_model	$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory	$(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2 / 1048576}')"
    echo "kernel	$(uname -r)"
    echo "postgresql	$("$pg_bin/postgres" --version)"
    echo "pgbouncer	$(pgbouncer --version | head -n 1)"
    echo "pgbench	$(pgbench --version)"
    echo "rustc	$(rustc --version)"
    echo "git_commit	$(git rev-parse HEAD)"
    echo "git_changed_files	$(git status --porcelain --untracked-files=no | wc -l)"
    echo "duration	$duration"
    echo "rounds	$rounds"
    echo "scale	$scale"
    echo "audit_dir	${audit_dir:-gateway working directory under /tmp}"
    echo "paths	${paths[*]}"
    [[ "$policy" == 1 ]] && echo "policy	$(sed -n 's/.*policy set SHA-256 //p' "$out/policy-check.txt") ($policy_dir)"
    # Mean time to append one 300-byte line and fdatasync it, 200 times, on the file
    # system of the audit log, which is what the audit writer does once per batch.
    echo "append_fdatasync_ms	$(python3 - "${audit_dir:-$gateway_dir}/fdatasync-probe" <<'PYTHON'
import os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
started = time.perf_counter()
for _ in range(200):
    os.write(fd, b"x" * 299 + b"\n")
    os.fdatasync(fd)
print(f"{(time.perf_counter() - started) * 1000 / 200:.2f}")
os.close(fd)
os.unlink(path)
PYTHON
)"
    echo "loadavg_before	$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.tsv"

# ---------------------------------------------------------------------------
# pgbench runs.

# Prints utime + stime of a process in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

reset_pgbench_tables() {
    superuser_sql -d bench -c "VACUUM pgbench_branches" -c "VACUUM pgbench_tellers" -c "TRUNCATE pgbench_history" \
        >/dev/null
}

printf 'round\tworkload\tmode\tclients\tpath\ttps\tfailed\ttransactions\tlatency_ms\tproxy_cpu_s\texit_status\tloadavg_1m\n' \
    >"$out/results.tsv"

run_pgbench() {
    local round="$1" workload="$2" mode="$3" clients="$4" path="$5"
    local threads=1 script env_vars proxy_pid="" file
    ((clients > 1)) && threads=2
    case "$workload" in
        select-only) script=(-S) ;;
        select-masked) script=(-f "$repo/bench/select-masked.sql" -s "$scale") ;;
        tpcb) script=() ;;
    esac
    case "$path" in
        direct) env_vars=("${direct_env[@]}") ;;
        pgbouncer) env_vars=("${pgbouncer_env[@]}"); proxy_pid="$pgbouncer_pid" ;;
        portcullis) env_vars=("${gateway_env[@]}"); proxy_pid="$gateway_pid" ;;
        portcullis-policy) env_vars=("${policy_env[@]}"); proxy_pid="$policy_gateway_pid" ;;
    esac
    file="$out/runs/r${round}-${workload}-${mode}-c${clients}-${path}.txt"
    reset_pgbench_tables

    local cpu_before=0 cpu_after=0 status=0
    [[ -n "$proxy_pid" ]] && cpu_before="$(cpu_ticks "$proxy_pid")"
    env "${env_vars[@]}" pgbench -n "${script[@]}" -M "$mode" -c "$clients" -j "$threads" -T "$duration" \
        >"$file" 2>&1 || status=$?
    [[ -n "$proxy_pid" ]] && cpu_after="$(cpu_ticks "$proxy_pid")"

    local tps failed transactions latency proxy_cpu
    tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$file")"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$file")"
    transactions="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$file")"
    latency="$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$file")"
    proxy_cpu="NA"
    [[ -n "$proxy_pid" ]] && proxy_cpu="$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$workload" "$mode" "$clients" "$path" \
        "${tps:-NA}" "${failed:-NA}" "${transactions:-NA}" "${latency:-NA}" "$proxy_cpu" "$status" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$out/results.tsv"
    log "round $round $workload -M $mode -c $clients $path: tps ${tps:-NA}, failed ${failed:-NA}, exit $status"
}

log "warming up each path (5 s select-only each, not recorded)"
warmup_envs=(direct_env pgbouncer_env gateway_env)
[[ "$policy" == 1 ]] && warmup_envs+=(policy_env)
for env_name in "${warmup_envs[@]}"; do
    declare -n env_ref="$env_name"
    env "${env_ref[@]}" pgbench -n -S -c 2 -j 1 -T 5 >"$work/warmup-$env_name.log" 2>&1 \
        || die "warm-up through $env_name failed; see $work/warmup-$env_name.log"
    unset -n env_ref
done

for round in $(seq 1 "$rounds"); do
    ps -eo pid,pcpu,etimes,comm --sort=-pcpu | head -n 8 >"$out/runs/r${round}-top-processes.txt"
    for workload in ${workloads/none/}; do
        for mode in simple extended; do
            for clients in $client_counts; do
                for path in "${paths[@]}"; do
                    run_pgbench "$round" "$workload" "$mode" "$clients" "$path"
                done
            done
        done
    done
done

# Profiles one gateway, path $1 with process $2, during a select-only -M simple run
# with 8 clients through the libpq environment named $3.
profile_gateway() {
    local path="$1" pid="$2" pgbench_pid
    declare -n profile_env="$3"
    log "profiling $path during one select-only -M simple -c 8 run"
    env "${profile_env[@]}" pgbench -n -S -M simple -c 8 -j 2 -T "$duration" >"$out/profile-$path-pgbench.txt" 2>&1 &
    pgbench_pid=$!
    sleep 2
    perf record -F 999 -p "$pid" -o "$work/perf-$path.data" -- sleep 5 >/dev/null 2>&1 \
        || log "warning: perf record of $path failed"
    # Time spent waiting in system calls (fdatasync of the audit log among them),
    # which a CPU profile does not show.
    perf trace -s -p "$pid" -- sleep 3 >"$out/profile-$path-syscalls.txt" 2>&1 \
        || log "warning: perf trace of $path failed"
    wait "$pgbench_pid" || true
    {
        perf report -i "$work/perf-$path.data" --stdio --no-children --sort dso 2>/dev/null
        perf report -i "$work/perf-$path.data" --stdio --no-children --percent-limit 0.3 -F overhead,dso,sym 2>/dev/null
    } | grep -v -e '^#' -e '^$' | sed 's/ *$//' | head -n 90 >"$out/profile-$path.txt" || true
}

if [[ "$profile" == 1 ]]; then
    if command -v perf >/dev/null; then
        profile_gateway portcullis "$gateway_pid" gateway_env
        [[ "$policy" == 1 ]] && profile_gateway portcullis-policy "$policy_gateway_pid" policy_env
    else
        log "warning: perf not found; no profile"
    fi
fi

# The memory measurements below concern the gateway without policies.
stop_pid "$policy_gateway_pid" "portcullis serve (policies)"
policy_gateway_pid=""

# ---------------------------------------------------------------------------
# Memory. Each measurement starts from a freshly started gateway, because memory
# freed by earlier sessions stays in the process and would inflate later figures.

restart_gateway() {
    log "restarting the gateway for $1"
    stop_pid "$gateway_pid" "portcullis serve"
    gateway_pid=""
    start_gateway
}

# Prints one field of /proc/PID/status in KiB.
status_kib() {
    awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"
}

large_select="SELECT repeat('x', 1024) FROM generate_series(1, 1048576)"
large_copy="COPY ($large_select) TO STDOUT"
printf 'round\tquery\tpath\tseconds\tgateway_peak_rss_kib\tgateway_rss_before_kib\texit_status\n' >"$out/large-result.tsv"

run_large() {
    local round="$1" query="$2" path="$3" sql env_vars status=0 rss_before="NA" peak="NA"
    [[ "$query" == select ]] && sql="$large_select" || sql="$large_copy"
    [[ "$path" == direct ]] && env_vars=("${direct_env[@]}") || env_vars=("${gateway_env[@]}")
    if [[ "$path" == portcullis ]]; then
        # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
        echo 5 >"/proc/$gateway_pid/clear_refs"
        rss_before="$(status_kib "$gateway_pid" VmRSS)"
    fi
    local start=$EPOCHREALTIME
    if [[ "$query" == select ]]; then
        env "${env_vars[@]}" psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -c "$sql" 2>>"$work/large.log" || status=$?
    else
        env "${env_vars[@]}" psql -X -q -v ON_ERROR_STOP=1 -c "$sql" >/dev/null 2>>"$work/large.log" || status=$?
    fi
    local seconds
    seconds="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')"
    [[ "$path" == portcullis ]] && peak="$(status_kib "$gateway_pid" VmHWM)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$query" "$path" "$seconds" "$peak" "$rss_before" "$status" \
        >>"$out/large-result.tsv"
    log "round $round 1 GiB $query $path: ${seconds} s, gateway peak RSS ${peak} KiB, exit $status"
}

if ((large_rounds > 0)); then
    restart_gateway "the 1 GiB results"
    for round in $(seq 1 "$large_rounds"); do
        for query in select copy; do
            for path in direct portcullis; do
                run_large "$round" "$query" "$path"
            done
        done
    done
fi

if ((idle_connections > 0)); then
    restart_gateway "the idle sessions"
    log "opening $idle_connections idle sessions through the gateway, $idle_cycles times"
    PGPASSWORD="$token" "$venv/bin/python" "$repo/bench/idle_connections.py" --pid "$gateway_pid" \
        --port "$gateway_port" --user bench-client --database bench --count "$idle_connections" --cycles "$idle_cycles" \
        >"$out/idle-memory.json"
fi

echo "loadavg_after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.tsv"
echo "elapsed_seconds	$((SECONDS - started_at))" >>"$out/machine.tsv"
python3 "$repo/bench/report.py" "$out" | tee "$out/summary.md"
log "done in $((SECONDS - started_at)) s; results in $out"
