"""JOBLINE_EVENT_LOOP: uvloop when installed (auto), asyncio's own when asked."""

from __future__ import annotations

import asyncio
import sys

import pytest

from jobline import event_loop
from jobline.errors import ConfigError


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    name, factory = event_loop.loop_factory("auto")
    assert name == "uvloop"  # the dev extra installs it (jobline[fast])
    assert event_loop.run(_loop_module(), factory).startswith("uvloop")


def test_asyncio_runs_on_asyncios_own_loop() -> None:
    name, factory = event_loop.loop_factory("asyncio")
    assert (name, factory) == ("asyncio", None)
    assert event_loop.run(_loop_module(), factory).startswith("asyncio")


def test_uvloop_asked_for_but_missing_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # None in sys.modules: ImportError
    assert event_loop.loop_factory("auto") == ("asyncio", None)
    with pytest.raises(ConfigError, match=r"jobline\[fast\]"):
        event_loop.loop_factory("uvloop")
