"""Summarize a bench/run.sh results directory as Markdown.

    python3 bench/report.py target/bench/20260101T000000Z

Reads machine.tsv, results.tsv (one line per pgbench run), idle-memory.json and
large-result.tsv. Prints the median TPS of every configuration over its rounds and the
ratios of each Portcullis path (without policies, and with policies when the run has
them) to PgBouncer and to direct, of those medians. Then prints the memory figures,
and each goal as met or missed with its margin.
"""

import csv
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

PATHS = ("direct", "pgbouncer", "portcullis", "portcullis-policy")
PATH_TITLES = {"direct": "direct", "pgbouncer": "PgBouncer", "portcullis": "Portcullis",
               "portcullis-policy": "Portcullis with policies"}
GATEWAY_PATHS = ("portcullis", "portcullis-policy")
WORKLOADS = {"select-only": "select-only (`pgbench -S`)", "tpcb": "TPC-B-like (pgbench default script)",
             "select-masked": "select-only plus a masked column (bench/select-masked.sql)"}

# Goals that the report marks as met or missed: select-only TPS at 8 clients relative
# to PgBouncer, both protocol modes, without and with policies (masking and audit on).
MIN_RATIO_TO_PGBOUNCER = {"portcullis": 0.9, "portcullis-policy": 0.8}
MAX_IDLE_SESSION_KIB = 64
MAX_LARGE_RESULT_PEAK_MIB = 64


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def read_tsv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def machine_section(out, lines):
    facts = dict(line.rstrip("\n").split("\t", 1) for line in open(out / "machine.tsv") if "\t" in line)
    lines.append("## Machine and run\n")
    lines.append("| fact | value |\n|---|---|")
    for key in ("date_utc", "nproc", "cpu_model", "memory", "kernel", "postgresql", "pgbouncer",
                "pgbench", "rustc", "git_commit", "git_changed_files", "duration", "rounds", "scale",
                "audit_dir", "paths", "policy", "append_fdatasync_ms", "loadavg_before", "loadavg_after", "elapsed_seconds"):
        if key in facts:
            lines.append(f"| {key} | {facts[key]} |")
    lines.append("")


def throughput_section(runs, lines, goals):
    by_config = defaultdict(list)
    for run in runs:
        by_config[(run["workload"], run["mode"], int(run["clients"]), run["path"])].append(run)
    paths = [path for path in PATHS if any(run["path"] == path for run in runs)]
    gateways = [path for path in GATEWAY_PATHS if path in paths]
    clients_run = sorted({int(run["clients"]) for run in runs})

    for workload, title in WORKLOADS.items():
        if not any(run["workload"] == workload for run in runs):
            continue
        lines.append(f"## {title}\n")
        lines.append("Median TPS over the rounds; ratios are of the medians. Failed: failed "
                     f"transactions summed over the rounds ({' / '.join(PATH_TITLES[p] for p in paths)}). "
                     "Proxy CPU: CPU time of the proxy process per transaction, median over rounds.\n")
        ratio_titles = [f"{PATH_TITLES[g]} / {other}" for g in gateways for other in ("PgBouncer", "direct")]
        proxies = [path for path in paths if path != "direct"]
        lines.append(f"| mode | clients | {' | '.join(PATH_TITLES[p] for p in paths)} | {' | '.join(ratio_titles)} "
                     f"| failed | proxy CPU µs/txn ({' / '.join(PATH_TITLES[p] for p in proxies)}) |")
        lines.append("|---|---|" + "---|" * (len(paths) + len(ratio_titles) + 2))
        for mode in ("simple", "extended"):
            for clients in clients_run:
                medians, failed, cpu = {}, [], {}
                for path in paths:
                    config_runs = by_config.get((workload, mode, clients, path), [])
                    medians[path] = median([number(run["tps"]) for run in config_runs])
                    failures = [number(run["failed"]) for run in config_runs]
                    aborted = sum(1 for run in config_runs if run["exit_status"] != "0")
                    total = sum(value for value in failures if value is not None)
                    failed.append(f"{total:.0f}" + (f" ({aborted} aborted)" if aborted else ""))
                    per_transaction = []
                    for run in config_runs:
                        seconds, transactions = number(run["proxy_cpu_s"]), number(run["transactions"])
                        if seconds is not None and transactions:
                            per_transaction.append(seconds * 1e6 / transactions)
                    cpu[path] = median(per_transaction)
                ratios = []
                for gateway in gateways:
                    to_pgbouncer = ratio(medians[gateway], medians.get("pgbouncer"))
                    ratios += [fmt(to_pgbouncer, 2), fmt(ratio(medians[gateway], medians.get("direct")), 2)]
                    if workload == "select-only" and clients == 8:
                        limit = MIN_RATIO_TO_PGBOUNCER[gateway]
                        goals.append(goal_line(
                            f"select-only, -M {mode}, 8 clients: {PATH_TITLES[gateway]} at least "
                            f"{limit}x PgBouncer TPS", to_pgbouncer, limit, higher_is_better=True, unit="x", digits=2))
                lines.append(
                    f"| {mode} | {clients} | {' | '.join(fmt(medians[p]) for p in paths)} | {' | '.join(ratios)} "
                    f"| {' / '.join(failed)} | {' / '.join(fmt(cpu[p]) for p in proxies)} |"
                )
        lines.append("")

    if not runs:
        return
    lines.append("## Every run\n")
    lines.append("TPS of each round, in round order; a run whose pgbench exited non-zero is marked with !.\n")
    lines.append(f"| workload | mode | clients | {' | '.join(PATH_TITLES[p] for p in paths)} |")
    lines.append("|---|---|---|" + "---|" * len(paths))
    for workload in WORKLOADS:
        for mode in ("simple", "extended"):
            for clients in clients_run:
                cells = []
                for path in paths:
                    config_runs = sorted(by_config.get((workload, mode, clients, path), []),
                                         key=lambda run: int(run["round"]))
                    cells.append(", ".join(fmt(number(run["tps"])) + ("!" if run["exit_status"] != "0" else "")
                                           for run in config_runs))
                if any(cells):
                    lines.append(f"| {workload} | {mode} | {clients} | {' | '.join(cells)} |")
    loads = [number(run["loadavg_1m"]) for run in runs if number(run["loadavg_1m"]) is not None]
    if loads:
        lines.append(f"\n1-minute load average at the end of the runs: median {statistics.median(loads):.2f}, "
                     f"min {min(loads):.2f}, max {max(loads):.2f}. It counts this benchmark's own client, "
                     f"proxy and server processes too.\n")


def goal_line(name, value, limit, higher_is_better, unit, digits):
    if value is None:
        return f"- {name}: no figure (the runs failed)"
    met = value >= limit if higher_is_better else value <= limit
    margin = value - limit if higher_is_better else limit - value
    verdict = "met" if met else "missed"
    return (f"- {name}: {value:.{digits}f}{unit} against {limit}{unit}, {verdict} "
            f"by {abs(margin):.{digits}f}{unit}")


def memory_section(out, lines, goals):
    idle_file = out / "idle-memory.json"
    if idle_file.exists():
        idle = json.loads(idle_file.read_text())
        cycles = idle["cycles"]
        first = cycles[0]
        lines.append("## Memory with idle sessions\n")
        lines.append(f"{idle['count']} idle TLS sessions through a freshly started gateway, opened "
                     f"and closed {len(cycles)} times (opened in "
                     f"{', '.join(str(cycle['open_seconds']) for cycle in cycles)} s). "
                     f"VmRSS and VmHWM from /proc/PID/status, KiB.\n")
        lines.append("| moment | VmRSS | VmHWM |\n|---|---|---|")
        moments = [("started, before any session", idle["start"]),
                   ("after one session opened and closed (baseline)", idle["baseline"])]
        for index, cycle in enumerate(cycles, start=1):
            moments.append((f"cycle {index}: {idle['count']} sessions open and idle", cycle["open"]))
            moments.append((f"cycle {index}: after closing them", cycle["closed"]))
        for label, memory in moments:
            lines.append(f"| {label} | {memory['VmRSS']:,} | {memory['VmHWM']:,} |")
        per_session = idle["rss_per_session_kib"]
        lines.append(f"\nRSS per idle session, from cycle 1: ({first['open']['VmRSS']:,} - "
                     f"{idle['baseline']['VmRSS']:,}) / {idle['count']} = {per_session:.1f} KiB.\n")
        goals.append(goal_line(f"RSS per idle session at most {MAX_IDLE_SESSION_KIB} KiB", per_session,
                               MAX_IDLE_SESSION_KIB, higher_is_better=False, unit=" KiB", digits=1))

    large_file = out / "large-result.tsv"
    rows = read_tsv(large_file) if large_file.exists() else []
    if rows:
        lines.append("## 1 GiB result\n")
        lines.append("`SELECT repeat('x', 1024) FROM generate_series(1, 1048576)` read by "
                     "`psql -o /dev/null`, and the same query as `COPY (...) TO STDOUT` with "
                     "standard output to /dev/null. Wall time is the median over the rounds; the "
                     "gateway's peak RSS is VmHWM after resetting it before each run.\n")
        lines.append("| query | direct s | Portcullis s | Portcullis / direct | gateway RSS before, MiB "
                     "| gateway peak RSS, MiB (max over rounds) | failed runs |")
        lines.append("|---|---|---|---|---|---|---|")
        worst_peak = None
        for query in ("select", "copy"):
            direct = [row for row in rows if row["query"] == query and row["path"] == "direct"]
            gateway = [row for row in rows if row["query"] == query and row["path"] == "portcullis"]
            direct_s = median([number(row["seconds"]) for row in direct])
            gateway_s = median([number(row["seconds"]) for row in gateway])
            peaks = [number(row["gateway_peak_rss_kib"]) for row in gateway]
            peaks = [peak for peak in peaks if peak is not None]
            before = median([number(row["gateway_rss_before_kib"]) for row in gateway])
            peak = max(peaks) / 1024 if peaks else None
            if peak is not None:
                worst_peak = peak if worst_peak is None else max(worst_peak, peak)
            failures = sum(1 for row in direct + gateway if row["exit_status"] != "0")
            lines.append(f"| {query} | {fmt(direct_s, 2)} | {fmt(gateway_s, 2)} "
                         f"| {fmt(ratio(gateway_s, direct_s), 2)} "
                         f"| {fmt(before / 1024 if before else None, 1)} | {fmt(peak, 1)} | {failures} |")
        lines.append("")
        goals.append(goal_line(f"peak gateway RSS for a 1 GiB result at most {MAX_LARGE_RESULT_PEAK_MIB} MiB",
                               worst_peak, MAX_LARGE_RESULT_PEAK_MIB, higher_is_better=False,
                               unit=" MiB", digits=1))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    out = Path(sys.argv[1])
    lines, goals = [], []
    machine_section(out, lines)
    throughput_section(read_tsv(out / "results.tsv"), lines, goals)
    memory_section(out, lines, goals)
    lines.append("## Goals\n")
    lines.extend(goals)
    for path in GATEWAY_PATHS:
        profile = out / f"profile-{path}.txt"
        if profile.exists():
            lines.append(f"\nA flat `perf` profile of {PATH_TITLES[path]} is in {profile}, and its system "
                         f"call times in {out / f'profile-{path}-syscalls.txt'}.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
