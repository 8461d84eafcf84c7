"""Driving `jobline serve` from outside, as an operator would, and waiting on results."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tests.devenv import ROOT, free_port, run_jobline, subprocess_env

__all__ = ["ROOT", "ServeProcess", "add_config", "free_port", "scalar", "wait_until"]


class ServeProcess:
    """`jobline serve` as a subprocess with its own HTTP port and log file."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.log_file = Path(tempfile.mkstemp(prefix="jobline-serve-", suffix=".log")[1])
        full_env = {**subprocess_env(env), "JOBLINE_HTTP_PORT": str(self.port)}
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobline.cli", "serve", *args],
                env=full_env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_ready", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float = 60) -> None:
        wait_until(
            lambda: self.ready() or self.proc.poll() is not None,
            timeout_s,
            f"serve did not become ready; log:\n{self.logs()[-4000:]}",
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.logs().splitlines():
            if line.startswith("{") and f'"{name}"' in line:
                event = json.loads(line)
                if event.get("event") == name:
                    found.append(event)
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 40) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(
                f"serve did not stop within {timeout_s} s:\n{self.logs()}"
            ) from None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, message: str, interval_s: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s: {message}")


def scalar(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None


def add_config(env: dict[str, str], plugin: str = "recorder", team: int = 42) -> int:
    out = run_jobline(env, "configs", "add", "--plugin", plugin, "--team", str(team), check=True)
    return int(out.stdout.strip())
