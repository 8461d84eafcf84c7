"""jobline side by side with Graphile Worker and PgQueuer: one run, one PostgreSQL, one table.

    .venv/bin/python -m benchmarks.peers [--jobs 100000] [--rounds 3] [--latency-k 500]
        [--future-jobs 1000000] [--queue-depth 100000] [--skip latency,e2e,...]
    .venv/bin/python -m benchmarks.peers --smoke     # tiny N, 1 round: part of `make test`

Installs the peers first (scripts/install-peers: pinned, from the registries, into
.local/peers; a peer that cannot be installed is left out, and said so). Everything runs in
a database of its own, bench_<pid>, on the project's PostgreSQL (.local/services.env), one
schema per system and round, dropped at the end; jobline's Kafka topics and group are its
own per round too. Rounds are interleaved (each round runs every system) so that the drift
of a shared machine spreads over all of them. Exits non-zero if any scenario fails.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.environment import describe_setup, services_env
from benchmarks.isolated import isolated_run
from benchmarks.peers.database import bench_databases
from benchmarks.peers.intake_alone import run_intake_alone
from benchmarks.peers.jobline_system import Jobline
from benchmarks.peers.scenarios import run_latency, run_throughput
from benchmarks.peers.systems import GraphileWorker, Peers, PgQueuer, System
from benchmarks.peers.table import Results, render, render_costs, render_rounds
from benchmarks.scenario_e2e import run_end_to_end
from jobline.logs import configure_logging
from tests.devenv import ROOT

FAST_PROFILE = {"JOBLINE_RUNNER_CONCURRENCY": "50", "JOBLINE_RUNNER_PREFETCH": "500"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per throughput run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-k", type=int, default=500, help="triggers per latency run")
    parser.add_argument("--gap-ms", type=float, default=20, help="pause between triggers")
    parser.add_argument("--e2e-jobs", type=int, default=0, help="0: same as --jobs")
    parser.add_argument(
        "--future-jobs", type=int, default=1_000_000, help="scenario 4: jobs due tomorrow"
    )
    parser.add_argument(
        "--queue-depth", type=int, default=100_000, help="scenario 4: the named queue's depth"
    )
    parser.add_argument(
        "--systems",
        default="",
        help="comma-separated names to run (default: all), e.g. 'jobline defaults,graphile-worker'",
    )
    parser.add_argument("--smoke", action="store_true", help="300 jobs, 1 round, k=10")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: throughput,latency,e2e,intake,future,deep-queue",
    )
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.rounds, args.latency_k, args.e2e_jobs = 300, 1, 10, 300
        args.future_jobs, args.queue_depth = 3_000, 1_000
    args.e2e_jobs = args.e2e_jobs or args.jobs
    return args


def install_peers() -> Peers:
    out = subprocess.run(
        [str(ROOT / "scripts" / "install-peers")], capture_output=True, text=True, check=False
    )
    sys.stderr.write(out.stderr)
    peers = Peers()
    for line in out.stdout.splitlines():
        name, version, where = line.split(maxsplit=2)
        peers.dirs[name], peers.versions[name] = Path(where), version
    return peers


def systems(
    db_url: str, env: dict[str, str], peers: Peers, logs: Path, smoke: bool
) -> list[System]:
    chosen: list[System] = [Jobline("defaults", {}, db_url, env, peers, logs)]
    if not smoke:
        chosen.append(Jobline("fast", FAST_PROFILE, db_url, env, peers, logs))
    if "graphile-worker" in peers.dirs:
        chosen.append(GraphileWorker(db_url, env, peers, logs))
    if "pgqueuer" in peers.dirs:
        chosen.append(PgQueuer(db_url, env, peers, logs))
    return chosen


def run_rounds(args: argparse.Namespace, chosen: list[System], logs: Path) -> Results:
    results: Results = {}
    skip = set(args.skip.split(","))
    for rnd in range(1, args.rounds + 1):
        for system in chosen:
            tag = f"[{rnd}/{args.rounds}]"
            if "throughput" not in skip:
                print(f"{tag} throughput {system.name}: {args.jobs:,} jobs", flush=True)
                record(results, "throughput", system.name, run_throughput(system, *sized(args)))
            run_scale(args, system, results, skip, tag)
            if "latency" not in skip and system.name != "jobline fast":
                run_latencies(args, system, results, tag)
        jobline = [s for s in chosen if s.name == "jobline defaults"]
        if "e2e" not in skip and jobline:
            record(results, "e2e", "jobline defaults", run_e2e(jobline[0], args.e2e_jobs, logs))
        if "intake" not in skip and jobline:
            print(f"  intake alone: {args.e2e_jobs:,} triggers already in the topic", flush=True)
            figures = run_intake_alone(jobline[0], args.e2e_jobs, logs)
            record(results, "intake_alone", "jobline defaults", figures)
    return results


def record(results: Results, scenario: str, system: str, figures: dict[str, float]) -> None:
    results.setdefault((scenario, system), []).append(figures)


def sized(args: argparse.Namespace) -> tuple[int, float]:
    """A throughput run's jobs and its timeout."""
    return args.jobs, max(120.0, args.jobs / 200)


def run_scale(
    args: argparse.Namespace, system: System, results: Results, skip: set[str], tag: str
) -> None:
    """Scenario 4: scenario 1 again with a million jobs due tomorrow in the table, and with
    a deep named queue whose head runs (systems that have named queues)."""
    if system.name == "jobline fast":
        return
    if "future" not in skip:
        print(f"{tag} throughput {system.name}: {args.jobs:,} jobs"
              f" + {args.future_jobs:,} due tomorrow", flush=True)  # fmt: skip
        future = functools.partial(system.add_future, count=args.future_jobs)
        record(results, "future", system.name, run_throughput(system, *sized(args), future))
    if "deep-queue" not in skip and system.named_queues:
        print(f"{tag} throughput {system.name}: {args.jobs:,} jobs"
              f" + a queue {args.queue_depth:,} deep, its head running", flush=True)  # fmt: skip
        deep = functools.partial(system.add_blocked_queue, depth=args.queue_depth)
        record(results, "deep_queue", system.name, run_throughput(system, *sized(args), deep))


def run_latencies(args: argparse.Namespace, system: System, results: Results, tag: str) -> None:
    intakes = ["direct", "kafka"] if isinstance(system, Jobline) else [""]
    for intake in intakes:
        label = f"{system.name} {intake}".strip()
        print(f"{tag} latency {label}: {args.latency_k} triggers", flush=True)
        r = run_latency(system, args.latency_k, args.gap_ms, 60.0, intake)
        record(results, "latency", label, r)


def run_e2e(jobline: System, n: int, logs: Path) -> dict[str, float]:
    print(f"  end to end jobline defaults: {n:,} triggers through Kafka", flush=True)
    env = {**jobline.base_env, "JOBLINE_JOBS_DATABASE_URL": jobline.db_url}
    with isolated_run(env, logs, "e2e") as ctx:
        result = run_end_to_end(ctx, n, 10_000, max(120.0, n / 200))
    if result.failed_jobs or result.notes:
        raise RuntimeError(f"end to end: {result.failed_jobs} failed jobs; {result.notes}")
    return result.figures


def main() -> int:
    args = parse_args()
    configure_logging("console", "warning")
    base_env = {**services_env(), **os.environ}
    info, _ = describe_setup(base_env)
    peers = install_peers()
    logs = Path(tempfile.mkdtemp(prefix="jobline-bench-peers-"))
    with bench_databases(base_env) as (db_url, env):
        chosen = systems(db_url, env, peers, logs, args.smoke)
        if args.systems:
            chosen = [s for s in chosen if s.name in args.systems.split(",")]
        results = run_rounds(args, chosen, logs)
    print(
        f"\njobline vs peers: {args.jobs:,} jobs, {args.rounds} round(s), "
        f"latency {args.latency_k} triggers {args.gap_ms:g} ms apart; logs in {logs}"
    )
    for key, value in info.items():
        print(f"  {key}: {value}")
    for system in chosen:
        version = peers.versions.get(system.name, "")
        print(f"  {system.name} {version}: {system.settings}")
    print()
    peer_names = [s.name for s in chosen if not isinstance(s, Jobline)]
    print(render(results, peer_names))
    print(f"\nscenario 4, cost against scenario 1 in this run ({args.future_jobs:,} future jobs;"
          f" a queue {args.queue_depth:,} deep):")  # fmt: skip
    print(render_costs(results))
    print("\nper round (in run order):")
    print(render_rounds(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
