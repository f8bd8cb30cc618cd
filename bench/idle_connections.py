"""Measure a process's resident memory while many idle PostgreSQL sessions are open to it.

Opens COUNT sessions to HOST:PORT with asyncpg over TLS (sslmode=require, no
certificate check), at most CONCURRENCY logins at a time, and runs `SELECT 1` on each
so that every session is relayed to the server. It keeps them open for HOLD seconds,
then closes them, and does all of this CYCLES times. It prints one JSON object with
VmRSS and VmHWM (KiB) of process PID from /proc/PID/status: before any session, after
one session was opened and closed (the baseline), and in each cycle with every
session open and after all were closed. A second cycle shows whether memory that
stays after the first is reused or keeps growing. The password is read from
PGPASSWORD.

    python idle_connections.py --pid 1234 --port 6432 --user alice --database ehr
"""

import argparse
import asyncio
import json
import os
import sys
import time

import asyncpg


def memory_kib(pid: int) -> dict:
    """Return VmRSS and VmHWM of a process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


async def open_session(args, password, limit):
    async with limit:
        connection = await asyncpg.connect(
            host=args.host,
            port=args.port,
            user=args.user,
            password=password,
            database=args.database,
            ssl="require",
            timeout=60,
        )
        await connection.fetchval("SELECT 1")
        return connection


async def run(args) -> dict:
    password = os.environ.get("PGPASSWORD")
    if not password:
        sys.exit("idle_connections: PGPASSWORD is not set")

    result = {"count": args.count, "pid": args.pid, "start": memory_kib(args.pid)}

    # One session first, so that lazily built state (TLS context, pools, caches) is
    # part of the baseline and not charged to the idle sessions.
    warm_up = await open_session(args, password, asyncio.Semaphore(1))
    await warm_up.close()
    await asyncio.sleep(1)
    result["baseline"] = memory_kib(args.pid)

    limit = asyncio.Semaphore(args.concurrency)
    result["cycles"] = []
    for _ in range(args.cycles):
        started = time.monotonic()
        connections = await asyncio.gather(
            *(open_session(args, password, limit) for _ in range(args.count))
        )
        open_seconds = round(time.monotonic() - started, 2)

        await asyncio.sleep(args.hold)
        with_sessions = memory_kib(args.pid)
        await asyncio.gather(*(connection.close() for connection in connections))
        await asyncio.sleep(2)
        result["cycles"].append(
            {"open_seconds": open_seconds, "open": with_sessions, "closed": memory_kib(args.pid)}
        )

    # The first cycle gives the figure; later ones start from memory it left behind.
    delta = result["cycles"][0]["open"]["VmRSS"] - result["baseline"]["VmRSS"]
    result["rss_per_session_kib"] = round(delta / args.count, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="process whose memory is read")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--count", type=int, default=1000, help="idle sessions to open")
    parser.add_argument("--concurrency", type=int, default=25, help="logins in flight at once")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to keep the sessions open before reading memory")
    parser.add_argument("--cycles", type=int, default=1, help="times to open and close all the sessions")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
