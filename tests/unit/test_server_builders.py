"""The services each capability builds, for capabilities that need no database."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from jobline.config import load_settings
from jobline.server.builders import (
    ServiceBuilder,
    application_name,
    intake_settings,
    runner_settings,
)
from jobline.server.capabilities import MODES, Capability


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No JOBLINE_* variable from the outside, and a working directory without .env."""
    for name in list(os.environ):
        if name.upper().startswith("JOBLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


async def build(*capabilities: Capability) -> list[str]:
    settings = load_settings(intake="direct")  # a direct producer connects on first send
    async with AsyncExitStack() as stack:
        builder = ServiceBuilder(settings, frozenset(capabilities), stack, dict)
        return [service.name for service in await builder.build()]


async def test_the_api_mode_builds_only_the_http_service() -> None:
    assert await build(Capability.HTTP) == ["http"]


def test_the_runner_and_intake_settings_come_from_the_server_settings() -> None:
    settings = load_settings(runner_concurrency=7, intake_batch_size=33, runner_dead_after_s=20)
    assert runner_settings(settings).concurrency == 7
    assert runner_settings(settings).max_beat_age_s == 10
    assert intake_settings(settings).batch_size == 33


def test_the_runner_prefetch_is_adaptive_unless_told() -> None:
    assert runner_settings(load_settings(runner_concurrency=7)).prefetch is None
    assert runner_settings(load_settings(runner_concurrency=7, runner_prefetch=0)).prefetch == 0
    assert runner_settings(load_settings(runner_prefetch=500)).prefetch == 500


def test_the_application_name_names_the_mode_or_the_capabilities() -> None:
    assert application_name(MODES["jobs"]) == "jobline-jobs"
    assert application_name(MODES["all"]) == "jobline-all"
    assert application_name(frozenset({Capability.RUNNER})) == "jobline-runner"
    custom = frozenset({Capability.RUNNER, Capability.SCHEDULER})
    assert application_name(custom) == "jobline-runner+scheduler"
