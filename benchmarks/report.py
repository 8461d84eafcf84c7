"""The report: a table of medians per scenario, and the checks of every run."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from benchmarks.environment import PARTITIONS, PLUGIN_SPEC, code_state
from benchmarks.isolated import RunContext
from benchmarks.measuring import RunResult

ROWS: dict[str, list[tuple[str, str, str]]] = {
    # scenario -> (figure key, label, unit)
    "queued": [
        ("run_rate", "queued: first job run -> jobs table empty", "jobs/s"),
        ("wall_rate", "queued: server spawn -> jobs table empty (incl. start)", "jobs/s"),
        ("run_s", "  time, first job run -> empty", "s"),
        ("wall_s", "  time, server spawn -> empty", "s"),
        ("spawn_to_first_run_s", "  server spawn -> first job run", "s"),
        ("spawn_to_ready_s", "  server spawn -> /_ready 200", "s"),
        ("q1_rate", "  1st quarter of the queue", "jobs/s"),
        ("q2_rate", "  2nd quarter of the queue", "jobs/s"),
        ("q3_rate", "  3rd quarter of the queue", "jobs/s"),
        ("q4_rate", "  4th quarter of the queue", "jobs/s"),
        ("server_us_per_job", "  server CPU per job (first run -> empty)", "µs"),
        ("postgres_us_per_job", "  PostgreSQL CPU per job (all backends!)", "µs"),
        ("count_poll_ms", "  (bench) mean count(*) poll query", "ms"),
        ("insert_rate", "  (setup) JobsDB.insert_jobs, no server running", "jobs/s"),
    ],
    "end to end": [
        ("e2e_rate", "end to end: first send -> all ran, table empty", "jobs/s"),
        ("send_rate", "  producer: first send -> last send acked", "jobs/s"),
        ("persist_rate", "  intake: first send -> all persisted in jobs DB", "jobs/s"),
        ("e2e_s", "  time, first send -> all ran", "s"),
        ("send_s", "  time, first send -> last send acked", "s"),
        ("persist_s", "  time, first send -> all persisted", "s"),
        ("max_backlog", "  max jobs waiting in the table (0.2 s samples)", "jobs"),
        ("server_us_per_job", "  server CPU per job (intake + runner)", "µs"),
        ("postgres_us_per_job", "  PostgreSQL CPU per job (all backends!)", "µs"),
        ("spawn_to_ready_s", "  server spawn -> /_ready 200", "s"),
        ("spawn_to_assigned_s", "  server spawn -> intake partitions assigned", "s"),
        ("count_poll_ms", "  (bench) mean count(*) + offsets poll query", "ms"),
    ],
}


def fmt(value: float, unit: str) -> str:
    if unit == "jobs/s":
        return f"{value:,.0f}"
    if unit == "jobs":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.1f}"
    if unit == "µs":
        return f"{value:.0f}"
    return f"{value:.2f}"


def print_table(results: list[RunResult]) -> None:
    for scenario, rows in ROWS.items():
        runs = [r for r in results if r.scenario == scenario]
        if not runs:
            continue
        n = runs[0].n
        print(f"\n{scenario} ({n:,} jobs, {len(runs)} run{'s' if len(runs) > 1 else ''})")
        width = max(len(label) for _, label, _ in rows)
        print(f"  {'figure':<{width}}  {'median':>10}  {'unit':<6}  runs")
        for key, label, unit in rows:
            values = [r.figures[key] for r in runs]
            med = statistics.median(values)
            all_runs = ", ".join(fmt(v, unit) for v in values)
            print(f"  {label:<{width}}  {fmt(med, unit):>10}  {unit:<6}  {all_runs}")
        for phase in runs[0].cpu:
            parts = []
            for who in ("server", "postgres", "kafka", "bench", "other", "machine"):
                med = statistics.median(r.cpu[phase][who] for r in runs)
                parts.append(f"{who} {med:.2f}")
            print(f"  CPU during '{phase}' (cores busy, median): " + ", ".join(parts))


def print_checks(results: list[RunResult]) -> bool:
    ok = True
    print("\nchecks")
    for i, r in enumerate(results, 1):
        status = "ok" if r.failed_jobs == 0 and r.exit_code == 0 and not r.notes else "PROBLEM"
        ok = ok and status == "ok"
        print(
            f"  run {i} ({r.scenario}): failed_jobs={r.failed_jobs}, "
            f"exit code after SIGTERM={r.exit_code} (stopped in {r.stop_s:.2f} s) -> {status}"
        )
        for note in r.notes:
            print(f"    ! {note}")
        for phase, share in r.cpu.items():
            print(
                f"    CPU '{phase}' (cores): "
                + ", ".join(f"{who} {v:.2f}" for who, v in share.items())
            )
        if r.log_counts or r.log_other:
            print(f"    server log {r.log_path}:")
            for key, count in sorted(r.log_counts.items()):
                print(f"      {count:>6} x {key}")
            for line in r.log_other[:5]:
                print(f"      (not JSON) {line[:200]}")
            if len(r.log_other) > 5:
                print(f"      ... {len(r.log_other) - 5} more non-JSON lines")
        else:
            print("    server log: no warnings or errors")
    return ok


def print_settings(ctx: RunContext, workdir: Path) -> None:
    s = ctx.settings()
    print(
        "  server settings: "
        f"runner_concurrency={s.runner_concurrency}, "
        f"intake_batch_size={s.intake_batch_size}, "
        f"intake_batch_ms={s.intake_batch_ms}, "
        f"runner_poll_interval_s={s.runner_poll_interval_s:g}, "
        f"{PARTITIONS} partitions, job = {PLUGIN_SPEC} noop"
    )
    print(f"  server logs: {workdir}")


def print_run(result: RunResult) -> None:
    """One line as soon as a run ends."""
    f = result.figures
    if result.scenario == "queued":
        print(
            f"  first run -> empty {f['run_s']:.2f} s = {f['run_rate']:,.0f} jobs/s;"
            f" spawn -> empty {f['wall_s']:.2f} s = {f['wall_rate']:,.0f} jobs/s"
        )
    else:
        print(
            f"  send {f['send_s']:.2f} s = {f['send_rate']:,.0f} jobs/s; "
            f"all persisted {f['persist_s']:.2f} s; "
            f"all ran {f['e2e_s']:.2f} s = {f['e2e_rate']:,.0f} jobs/s"
        )
    sys.stdout.flush()


def print_results(results: list[RunResult], info: dict[str, str], src_hash: str) -> bool:
    """The table, the checks and the notes; False if any check failed."""
    print("\n" + "=" * 78)
    print(f"results ({info['nproc']} CPUs: {info['cpu']}; {info['date']})")
    print_table(results)
    ok = print_checks(results)
    head_end, src_hash_end = code_state()
    if src_hash_end != src_hash:
        ok = False
        print(
            f"\n! src/jobline changed during this run (sha256 {src_hash} -> {src_hash_end}, "
            f"git {head_end}): the runs measured different code; run again"
        )
    print(
        "\nnotes: end times come from polling count(*) every 0.2 s (late by <= ~0.2 s);"
        " CPU figures are in cores (this machine has "
        f"{info['nproc']}); PostgreSQL, Kafka, the server and this process share them."
    )
    print("peers: none measured in this run (see docs/benchmarks.md)")
    return ok
