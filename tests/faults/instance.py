"""The fault suite's own PostgreSQL, Kafka and Toxiproxy.

The suite kills and restarts these, so they are a private instance (`scripts/services` with
its own dir and ports), never the shared one other test sessions use.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.helpers import ROOT

INSTANCE_ENV = {
    "JOBLINE_SERVICES_DIR": os.environ.get("JOBLINE_FAULTS_DIR", str(ROOT / ".local" / "faults")),
    "JOBLINE_PG_PORT": "25432",
    "JOBLINE_KAFKA_PORT": "29092",
    "JOBLINE_KAFKA_CONTROLLER_PORT": "29093",
    # clients that bootstrap through Toxiproxy (29095) are told to stay on it
    "JOBLINE_KAFKA_PROXIED_PORT": "29094",
    "JOBLINE_KAFKA_PROXIED_ADVERTISED_PORT": "29095",
    "JOBLINE_TOXIPROXY_PORT": "28474",
}
PG_VIA_PROXY = "127.0.0.1:25433"
KAFKA_VIA_PROXY = "127.0.0.1:29095"


def services(command: str, timeout_s: float = 240) -> None:
    """`scripts/services COMMAND` on the private instance."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "services"), command],
        env={**os.environ, **INSTANCE_ENV},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise AssertionError(f"scripts/services {command} failed:\n{done.stdout}{done.stderr}")


def _port_open(port: str) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", int(port))) == 0


def services_back() -> None:
    """Start again what a scenario left down (`up` costs seconds even when nothing is)."""
    if not all(_port_open(INSTANCE_ENV[p]) for p in ("JOBLINE_PG_PORT", "JOBLINE_KAFKA_PORT")):
        services("up")


def toxiproxy_up() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "toxiproxy"), "up"],
        env={**os.environ, **INSTANCE_ENV},
        capture_output=True,
        text=True,
        timeout=600,  # the first run builds it
    )
    if done.returncode != 0:
        raise AssertionError(f"scripts/toxiproxy up failed:\n{done.stdout}{done.stderr}")


def services_env() -> dict[str, str]:
    path = Path(INSTANCE_ENV["JOBLINE_SERVICES_DIR"]) / "services.env"
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


class Toxiproxy:
    """Toxiproxy's HTTP API: one proxy per faulted link, toxics added and removed."""

    def __init__(self) -> None:
        self.base = f"http://127.0.0.1:{INSTANCE_ENV['JOBLINE_TOXIPROXY_PORT']}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text.strip() else None

    def proxy(self, name: str, listen: str, upstream: str) -> None:
        """(Re)create a clean proxy `name`: listen -> upstream, no toxics."""
        if name in self._call("GET", "/proxies"):
            self._call("DELETE", f"/proxies/{name}")
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream})

    def half_open(self, name: str) -> None:
        """Data stops both ways; connections stay open (the `timeout` toxic, timeout 0)."""
        for stream in ("upstream", "downstream"):
            self._call(
                "POST",
                f"/proxies/{name}/toxics",
                {
                    "name": f"half_open_{stream}",
                    "type": "timeout",
                    "stream": stream,
                    "toxicity": 1.0,
                    "attributes": {"timeout": 0},
                },
            )

    def heal(self, name: str) -> None:
        for stream in ("upstream", "downstream"):
            self._call("DELETE", f"/proxies/{name}/toxics/half_open_{stream}")

    def remove(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")
