"""Find plugins: the `jobline.plugins` entry point group and JOBLINE_PLUGINS."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

from jobline.errors import PluginLoadError
from jobline.plugins.plugin import Plugin

ENTRY_POINT_GROUP = "jobline.plugins"


def _load_spec(spec: str) -> Plugin:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PluginLoadError(
            f"JOBLINE_PLUGINS entry {spec!r} is not `module:attribute` "
            "(e.g. `examples.hello:plugin`)"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginLoadError(
            f"JOBLINE_PLUGINS entry {spec!r}: cannot import {module_name!r}: {exc}; "
            "is it installed or on PYTHONPATH?"
        ) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise PluginLoadError(
            f"JOBLINE_PLUGINS entry {spec!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None
    return _as_plugin(obj, spec)


def _as_plugin(obj: object, origin: str) -> Plugin:
    if not isinstance(obj, Plugin):
        raise PluginLoadError(f"{origin} is a {type(obj).__name__}, not a jobline.Plugin")
    return obj


class PluginRegistry:
    """The plugins this process knows, by name."""

    def __init__(self, plugins: Iterable[Plugin] = ()) -> None:
        self._plugins: dict[str, Plugin] = {}
        for plugin in plugins:
            self.add(plugin)

    def add(self, plugin: Plugin) -> None:
        if plugin.name in self._plugins and self._plugins[plugin.name] is not plugin:
            raise PluginLoadError(
                f"two plugins are named {plugin.name!r}: plugin names must be unique"
            )
        self._plugins[plugin.name] = plugin

    def get(self, name: str) -> Plugin | None:
        return self._plugins.get(name)

    def names(self) -> list[str]:
        return sorted(self._plugins)

    @classmethod
    def discover(
        cls,
        plugins_setting: str,
        *,
        use_entry_points: bool = True,
        failures: list[PluginLoadError] | None = None,
    ) -> PluginRegistry:
        """Load every plugin named; the first that fails raises, unless `failures` is given.

        With a `failures` list (what `jobline serve` passes), a plugin that cannot be loaded
        is left out and its error appended: one broken plugin never stops the others.
        """
        registry = cls()
        loaders = [
            *(_entry_point_loaders() if use_entry_points else []),
            *_spec_loaders(plugins_setting),
        ]
        for load in loaders:
            try:
                registry.add(load())
            except PluginLoadError as exc:
                if failures is None:
                    raise
                failures.append(exc)
        return registry


def _entry_point_loaders() -> list[Callable[[], Plugin]]:
    return [
        functools.partial(_load_entry_point, ep) for ep in entry_points(group=ENTRY_POINT_GROUP)
    ]


def _spec_loaders(plugins_setting: str) -> list[Callable[[], Plugin]]:
    specs = [spec.strip() for spec in plugins_setting.split(",") if spec.strip()]
    return [functools.partial(_load_spec, spec) for spec in specs]


def _load_entry_point(ep: EntryPoint) -> Plugin:
    try:
        loaded = ep.load()
    except Exception as exc:
        raise PluginLoadError(
            f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} "
            f"failed to load: {exc}"
        ) from exc
    return _as_plugin(loaded, f"entry point {ep.name!r}")
