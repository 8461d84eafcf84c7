"""setup/teardown per plugin config: retried, errored, redone after a change. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jobline.plugins.configs import PluginConfig
from jobline.plugins.lifecycle import PluginLifecycle, SetupPolicy
from jobline.plugins.plugin import Plugin

CONFIG = PluginConfig(id=7, team_id=1, plugin="p", enabled=True, settings={"a": 1})
FAST = SetupPolicy(attempts=3, base_delay_s=0.001, timeout_s=5, errored_retry_s=3600)


class RecordedErrors:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None]] = []

    async def set_setup_error(self, config_id: int, error: str | None) -> None:
        self.calls.append((config_id, error))


def _meta(plugin: Plugin, config: PluginConfig, global_: dict[str, Any]) -> dict[str, Any]:
    return {"config": config.settings, "global": global_}


async def test_setup_runs_once_per_config_and_fills_global() -> None:
    calls: list[str] = []

    async def setup(meta: dict[str, Any]) -> None:
        calls.append("setup")
        meta["global"]["client"] = "ready"

    plugin = Plugin(name="p", setup=setup)
    lifecycle = PluginLifecycle(RecordedErrors(), _meta, FAST)
    first = await lifecycle.prepare(plugin, CONFIG)
    second = await lifecycle.prepare(plugin, CONFIG)
    assert calls == ["setup"] and first is second
    assert lifecycle.global_of(CONFIG.id) == {"client": "ready"}


async def test_a_flaky_setup_is_retried_until_it_works() -> None:
    failures = [RuntimeError("db down"), RuntimeError("db down")]

    def setup(meta: dict[str, Any]) -> None:  # sync: runs in a thread
        if failures:
            raise failures.pop()

    errors = RecordedErrors()
    state = await PluginLifecycle(errors, _meta, FAST).prepare(
        Plugin(name="p", setup=setup), CONFIG
    )
    assert state.error is None
    assert errors.calls == [(7, None)]


async def test_a_setup_that_keeps_failing_marks_the_config_errored() -> None:
    async def setup(meta: dict[str, Any]) -> None:
        raise ValueError("bad api key")

    errors = RecordedErrors()
    lifecycle = PluginLifecycle(errors, _meta, FAST)
    state = await lifecycle.prepare(Plugin(name="p", setup=setup), CONFIG)
    assert state.error == "ValueError: bad api key"
    assert errors.calls == [(7, "ValueError: bad api key")]
    # Until errored_retry_s passes or the config changes, no new attempt.
    assert (await lifecycle.prepare(state.plugin, CONFIG)).error == state.error
    assert len(errors.calls) == 1


async def test_a_changed_config_is_torn_down_and_set_up_again() -> None:
    calls: list[tuple[str, Any]] = []

    async def setup(meta: dict[str, Any]) -> None:
        calls.append(("setup", meta["config"]))

    async def teardown(meta: dict[str, Any]) -> None:
        calls.append(("teardown", meta["config"]))

    plugin = Plugin(name="p", setup=setup, teardown=teardown)
    lifecycle = PluginLifecycle(RecordedErrors(), _meta, FAST)
    await lifecycle.prepare(plugin, CONFIG)
    await lifecycle.prepare(plugin, replace(CONFIG, settings={"a": 2}))
    await lifecycle.teardown_all()
    assert calls == [
        ("setup", {"a": 1}),
        ("teardown", {"a": 1}),
        ("setup", {"a": 2}),
        ("teardown", {"a": 2}),
    ]
