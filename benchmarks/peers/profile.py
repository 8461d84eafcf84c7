"""Where one jobline server spends its CPU in the queued run: py-spy samples, top frames.

    .venv/bin/pip install py-spy          # a profiling tool, not a project dependency
    .venv/bin/python -m benchmarks.peers.profile [--jobs 20000] [--env KEY=VALUE ...]

N jobs are queued, then one `jobline serve --mode jobs` runs them under `py-spy record`
(--nonblocking, on-CPU samples only); prints the top frames by own time and by total time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psycopg

from benchmarks.environment import services_env
from benchmarks.peers.database import bench_databases
from benchmarks.peers.jobline_system import Jobline
from benchmarks.peers.procs import wait_until
from benchmarks.peers.systems import Peers


def _frame(raw: str) -> str:
    """'f (pkg/mod.py:12)' -> 'f (pkg/mod.py)'."""
    name, _, where = raw.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})"


def _package(frame: str) -> str:
    where = frame.rpartition(" (")[2].rstrip(")")
    return where.split("/")[0] if "/" in where else where


def top_frames(raw: Path, top: int) -> str:
    """Own and total share of on-CPU samples per frame and own share per package.

    Start-up (module imports) is left out: it is paid once, not per job.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    samples = skipped = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "_find_and_load" in stack:
            skipped += int(count)
            continue
        frames = [_frame(f) for f in stack.split(";")]
        samples += int(count)
        own[frames[-1]] += int(count)
        packages[_package(frames[-1])] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    lines = [f"{samples} samples after start-up ({skipped} in module imports left out)"]
    for title, counter in (("own time, by package", packages), ("own time", own)):
        lines.append(f"top {top} by {title}:")
        lines += [f"  {100 * c / samples:5.1f} %  {f}" for f, c in counter.most_common(top)]
    lines.append(f"top {top} jobline frames by total time:")
    ours = [(f, c) for f, c in total.most_common() if "jobline/" in f][:top]
    lines += [f"  {100 * c / samples:5.1f} %  {f}" for f, c in ours]
    return "\n".join(lines)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not py_spy:
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    logs = Path(tempfile.mkdtemp(prefix="jobline-profile-"))
    raw = logs / "profile.txt"
    profile_env = dict(kv.split("=", 1) for kv in args.env)
    base_env = {**services_env(), **os.environ}
    with bench_databases(base_env) as (db_url, env):
        jobline = Jobline("profiled", profile_env, db_url, env, Peers(), logs)
        jobline.wrap = [
            py_spy,
            "record",
            "--nonblocking",
            "-r",
            "250",
            "--format",
            "raw",
            "-o",
            str(raw),
            "--",
        ]
        with jobline.round() as rnd, psycopg.connect(db_url, autocommit=True) as conn:
            jobline.queue(rnd, args.jobs)
            [proc] = jobline.workers(rnd, 1, latency=False)

            def left() -> int:
                row = conn.execute(rnd.count_sql).fetchone()
                return int(row[0]) if row else -1

            wait_until("all jobs done", lambda: left() == 0, [proc], 600, 0.05)
            # Stop the server (py-spy's child); py-spy writes its output when its child exits.
            for child in children(proc.popen.pid):
                os.kill(child, signal.SIGTERM)
            proc.popen.wait(60)
            proc.stop()
    print(f"py-spy raw output: {raw}")
    print(top_frames(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
