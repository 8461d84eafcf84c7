"""Plugins (and non-plugins) that the registry tests load by `module:attribute` spec."""

from __future__ import annotations

from typing import Any

from jobline.plugins.plugin import JobDefinition, Plugin


def greet(payload: Any, meta: Any) -> None:
    return None


plugin = Plugin(
    name="fixture",
    jobs={"greet": greet, "slow": JobDefinition(greet, max_attempts=5, timeout_s=1.5)},
)

#: another plugin with a name of its own
other = Plugin(name="other-plugin", jobs={"greet": greet})

#: a different object that reuses the name of `plugin`
same_name = Plugin(name="fixture")

#: an attribute that is not a Plugin
not_a_plugin = {"name": "fixture"}
