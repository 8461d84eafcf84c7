"""setup(meta) once per plugin config before its first job; teardown(meta) when it goes.

The runner asks `prepare(plugin, config)` before each job. The first time for a config
(and again after the config changed) the plugin's `setup` runs, retried with backoff. A
setup that keeps failing marks the config errored in the main DB, with the error; its
jobs are postponed (not failed) and setup is tried again after `errored_retry_s` or at
the config's next change. `teardown` runs when a config changes and on shutdown.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobline.logs import get_logger
from jobline.metrics import PLUGIN_SETUPS
from jobline.plugins.configs import PluginConfig
from jobline.plugins.plugin import Plugin
from jobline.retry import Backoff

log = get_logger("jobline.plugins.lifecycle")

#: builds what setup/teardown receive: (plugin, config, the config's global dict) -> meta
MetaFactory = Callable[[Plugin, PluginConfig, dict[str, Any]], Any]


class SetupErrors(Protocol):
    async def set_setup_error(self, config_id: int, error: str | None) -> None: ...


@dataclass(frozen=True)
class SetupPolicy:
    attempts: int = 3
    base_delay_s: float = 1.0
    timeout_s: float = 60.0
    errored_retry_s: float = 300.0


@dataclass
class ConfigState:
    plugin: Plugin
    config: PluginConfig
    global_: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retry_setup_at: float = 0.0  # monotonic; for an errored config

    def current(self, plugin: Plugin, config: PluginConfig) -> bool:
        if self.plugin is not plugin or self.config != config:
            return False
        return self.error is None or time.monotonic() < self.retry_setup_at


async def call_hook(hook: Callable[[Any], Any], meta: Any, timeout_s: float) -> None:
    """Run a sync or async plugin hook with a deadline (sync ones in a thread)."""
    if inspect.iscoroutinefunction(hook):
        await asyncio.wait_for(hook(meta), timeout_s)
    else:
        await asyncio.wait_for(asyncio.to_thread(hook, meta), timeout_s)


class PluginLifecycle:
    def __init__(self, errors: SetupErrors, make_meta: MetaFactory, policy: SetupPolicy) -> None:
        self._errors = errors
        self._make_meta = make_meta
        self._policy = policy
        self._states: dict[int, ConfigState] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def prepare(self, plugin: Plugin, config: PluginConfig) -> ConfigState:
        """The config's state, set up first if needed. `state.error`: postpone its jobs."""
        state = self._states.get(config.id)
        if state is not None and state.current(plugin, config):
            return state
        async with self._locks.setdefault(config.id, asyncio.Lock()):
            state = self._states.get(config.id)
            if state is not None and state.current(plugin, config):
                return state  # another job of this config set it up meanwhile
            if state is not None and state.error is None:
                await self._teardown(state)
            state = await self._setup(plugin, config)
            self._states[config.id] = state
            return state

    async def _setup(self, plugin: Plugin, config: PluginConfig) -> ConfigState:
        state = ConfigState(plugin, config)
        if plugin.setup is None:
            return state
        error = ""
        # Jittered: after a deploy every runner sets its configs up at once.
        backoff = Backoff(self._policy.base_delay_s, self._policy.base_delay_s * 2**4)
        for attempt in range(1, self._policy.attempts + 1):
            try:
                meta = self._make_meta(plugin, config, state.global_)
                await call_hook(plugin.setup, meta, self._policy.timeout_s)
            except Exception as exc:  # a plugin's setup may raise anything
                error = f"{type(exc).__name__}: {exc}"
                PLUGIN_SETUPS.labels("retry").inc()
                log.warning(
                    "plugins.setup_failed", plugin_config_id=config.id, attempt=attempt, error=error
                )
                await asyncio.sleep(backoff.next() if attempt < self._policy.attempts else 0)
                continue
            PLUGIN_SETUPS.labels("ok").inc()
            await self._errors.set_setup_error(config.id, None)
            return state
        return await self._mark_errored(state, error)

    async def _mark_errored(self, state: ConfigState, error: str) -> ConfigState:
        PLUGIN_SETUPS.labels("errored").inc()
        state.error = error[:4000]
        state.retry_setup_at = time.monotonic() + self._policy.errored_retry_s
        log.error("plugins.config_errored", plugin_config_id=state.config.id, error=state.error)
        await self._errors.set_setup_error(state.config.id, state.error)
        return state

    async def _teardown(self, state: ConfigState) -> None:
        if state.plugin.teardown is None:
            return
        try:
            meta = self._make_meta(state.plugin, state.config, state.global_)
            await call_hook(state.plugin.teardown, meta, self._policy.timeout_s)
        except Exception as exc:  # a failing teardown must not keep a config from changing
            log.warning("plugins.teardown_failed", plugin_config_id=state.config.id, error=str(exc))

    def global_of(self, config_id: int) -> dict[str, Any]:
        state = self._states.get(config_id)
        return state.global_ if state is not None else {}

    async def teardown_all(self) -> None:
        """Shutdown: every config that was set up gets its teardown."""
        states, self._states = list(self._states.values()), {}
        for state in states:
            if state.error is None:
                await self._teardown(state)
