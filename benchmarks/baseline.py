"""Baseline throughput of jobline on this machine (a benchmark, not a test; nothing tuned).

    .venv/bin/python benchmarks/baseline.py [--jobs 100000] [--repeat 3]

Two scenarios, each run --repeat times, every run with its own jobs-DB/main-DB schema
(JOBLINE_SCHEMA=bench_<random>), its own Kafka topics (8 partitions) and intake group,
all removed afterwards:

  queued      N trivial jobs are inserted into the jobs DB (JobsDB.insert_jobs, batches of
              --chunk) while no server runs; then one `jobline serve --mode jobs` starts
              and runs them. Reported: first job run -> jobs table empty (the runner's
              throughput), and server spawn -> jobs table empty (including start-up).
  end to end  One `jobline serve --mode jobs` runs, ready and with its intake partitions
              assigned; the benchmark sends N jobs through Kafka with Jobs.send (chunks of
              --chunk). Reported: producer side (first send -> last send acknowledged),
              intake (first send -> all N persisted in the jobs DB) and end to end
              (first send -> all N ran, jobs table empty).

The job is `noop` of benchmarks/noop_plugin.py. Completion is detected by polling
`SELECT count(*) FROM <schema>.jobs` every 0.2 s, so an end time is late by up to ~0.2 s.
The PostgreSQL and Kafka of `scripts/services up` are used (.local/services.env; real
JOBLINE_* environment variables win, so e.g. JOBLINE_RUNNER_CONCURRENCY=50 changes the
server under test: the effective settings are printed).

Modules by job: environment.py (services, machine facts, code state), isolated.py (one
run's schema, topics, group, plugin config), server.py (the server under test),
measuring.py (CPU accounting, a run's result), scenario_queued.py, scenario_e2e.py,
report.py; this file parses the arguments and runs the scenarios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.environment import describe_setup, services_env
from benchmarks.isolated import RunContext, isolated_run
from benchmarks.measuring import RunResult
from benchmarks.report import print_results, print_run, print_settings
from benchmarks.scenario_e2e import run_end_to_end
from benchmarks.scenario_queued import run_queued
from jobline.logs import configure_logging

Scenario = Callable[[RunContext, int, int, float], RunResult]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario")
    parser.add_argument("--chunk", type=int, default=10_000, help="insert/send batch size")
    parser.add_argument(
        "--scenario",
        choices=("all", "queued", "e2e"),
        default="all",
        help="which scenario(s) to run",
    )
    parser.add_argument("--timeout", type=float, default=0, help="per run, s (0: auto)")
    return parser.parse_args()


def chosen_scenarios(which: str) -> list[tuple[str, Scenario]]:
    scenarios: list[tuple[str, Scenario]] = []
    if which in ("all", "queued"):
        scenarios.append(("queued", run_queued))
    if which in ("all", "e2e"):
        scenarios.append(("e2e", run_end_to_end))
    return scenarios


def run_all(args: argparse.Namespace, base_env: dict[str, str], workdir: Path) -> list[RunResult]:
    n, chunk = args.jobs, args.chunk
    timeout_s = args.timeout or max(120.0, n / 100)
    results: list[RunResult] = []
    settings_printed = False
    # Interleaved (queued, e2e, queued, e2e, ...) so that slow drifts of a shared machine
    # spread over both scenarios.
    for rep in range(1, args.repeat + 1):
        for label, fn in chosen_scenarios(args.scenario):
            with isolated_run(base_env, workdir, label) as ctx:
                if not settings_printed:
                    print_settings(ctx, workdir)
                    settings_printed = True
                print(f"\n[{rep}/{args.repeat}] {label}: {n:,} jobs, schema {ctx.schema} ...")
                sys.stdout.flush()
                result = fn(ctx, n, chunk, timeout_s)
                results.append(result)
                print_run(result)
    return results


def main() -> int:
    args = parse_args()
    configure_logging("console", "warning")
    base_env = {**services_env(), **os.environ}
    info, src_hash = describe_setup(base_env)
    workdir = Path(tempfile.mkdtemp(prefix="jobline-bench-"))
    print("jobline baseline benchmark")
    print(f"  command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for key, value in info.items():
        print(f"  {key}: {value}")
    results = run_all(args, base_env, workdir)
    ok = print_results(results, info, src_hash)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
