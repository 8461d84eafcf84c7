"""Find plugins: the `jobline.plugins` entry point group and JOBLINE_PLUGINS."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

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
    def discover(cls, plugins_setting: str, *, use_entry_points: bool = True) -> PluginRegistry:
        registry = cls()
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = ep.load()
                except Exception as exc:
                    raise PluginLoadError(
                        f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} "
                        f"failed to load: {exc}"
                    ) from exc
                registry.add(_as_plugin(loaded, f"entry point {ep.name!r}"))
        for spec in plugins_setting.split(","):
            if spec.strip():
                registry.add(_load_spec(spec.strip()))
        return registry
