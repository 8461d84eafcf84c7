"""A measured subprocess: its output in a file, its peak RSS, a clean stop."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from benchmarks.measuring import peak_rss_mib


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.env = env
        self._out: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited early with code {code}:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def peak_rss_mib(self) -> float:
        """VmHWM of the live process (the kernel's own peak resident set), in MiB."""
        return peak_rss_mib(self.popen.pid)

    def stop(self, timeout_s: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._out.close()
        return self.popen.returncode


def wait_until(
    what: str, cond: object, procs: list[Proc], timeout_s: float, every_s: float = 0.01
) -> float:
    """Poll cond() every every_s until true; returns the time it became true."""
    assert callable(cond)
    deadline = time.perf_counter() + timeout_s
    while not cond():
        for proc in procs:
            proc.check_alive()
        if time.perf_counter() > deadline:
            tails = "\n".join(f"--- {p.name}:\n{p.tail()}" for p in procs)
            raise TimeoutError(f"{what} not reached within {timeout_s:g} s\n{tails}")
        time.sleep(every_s)
    return time.perf_counter()
