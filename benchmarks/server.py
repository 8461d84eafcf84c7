"""The server under test: `jobline serve --mode jobs` as a subprocess, its metrics and log."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from benchmarks.environment import FAST_POLL_S
from benchmarks.isolated import RunContext
from tests.devenv import ROOT


class ServerProcess:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.spawned_at = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ctx.http_port}"

    def start(self) -> float:
        env = dict(self.ctx.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.ctx.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobline.cli", "serve", "--mode", "jobs"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self.spawned_at

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def check_alive(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise RuntimeError(
                f"jobline serve exited early with code {code}; log {self.ctx.log_path}:\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.ctx.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return 0, ""

    def ready(self) -> bool:
        return self.get("/_ready", timeout=1.0)[0] == 200

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = self.get("/metrics", timeout=5.0)
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}")
        out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for line in body.splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$", line)
            if not m or line.startswith("#"):
                continue
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
        return out

    def stop(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM, wait; returns (exit code or None if it had to be killed, seconds)."""
        assert self.proc is not None
        started = time.perf_counter()
        code: int | None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                code = None
        else:
            code = self.proc.returncode
        if self._log is not None:
            self._log.close()
        return code, time.perf_counter() - started

    def stop_after_failure(self) -> None:
        """Stop the server of a failed run; the run's own error is the one to report."""
        try:
            if self.proc is not None:
                self.stop(5)
        except Exception as exc:
            print(f"  warning: could not stop jobline serve after the failure: {exc!r}")

    def log_findings(self) -> tuple[Counter[str], list[str]]:
        """Counts of warning/error events by (level, event), and lines that are not JSON."""
        counts: Counter[str] = Counter()
        other: list[str] = []
        try:
            lines = self.ctx.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return counts, ["(log unreadable)"]
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                other.append(line)
                continue
            level = str(event.get("level", "?"))
            if level not in ("debug", "info"):
                counts[f"{level} {event.get('event', '?')}"] += 1
        return counts, other


def metric(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in values.items() if n == name and want <= set(ls))


def wait_for(what: str, cond: Callable[[], bool], server: ServerProcess, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not cond():
        server.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g} s")
        time.sleep(FAST_POLL_S)


def finish(
    server: ServerProcess, ctx: RunContext, n: int, grace_s: float
) -> tuple[int, float, list[str], int | None, float]:
    """Read the server's counters, check failed_jobs, stop it (SIGTERM)."""
    notes: list[str] = []
    values = server.metrics()
    ran = metric(values, "jobline_jobs_run_total", type="noop", result="success")
    not_success = sum(
        v
        for (name, labels), v in values.items()
        if name == "jobline_jobs_run_total" and ("result", "success") not in labels
    )
    if int(ran) != n:
        notes.append(f"server counted {int(ran)} successful noop runs, expected {n}")
    if not_success:
        notes.append(f"server counted {int(not_success)} runs that were not successes")
    with psycopg.connect(ctx.jobs_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {ctx.schema}.failed_jobs").fetchone()
    failed = int(row[0]) if row else -1
    code, stop_s = server.stop(grace_s + 15)
    if code != 0:
        notes.append(f"jobline serve exit code after SIGTERM: {code} (expected 0)")
    return failed, ran, notes, code, stop_s
