"""Plugins and the registry that discovers them from `module:attribute` specs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jobline.errors import PluginLoadError
from jobline.plugins.plugin import JobDefinition, Plugin
from jobline.plugins.registry import PluginRegistry
from tests.unit import fixture_plugins

FIXTURES = "tests.unit.fixture_plugins"


def handler(payload: Any, meta: Any) -> None:
    return None


def discover(setting: str) -> PluginRegistry:
    return PluginRegistry.discover(setting, use_entry_points=False)


def test_discover_loads_a_plugin_from_its_spec() -> None:
    registry = discover(f"{FIXTURES}:plugin")
    assert registry.names() == ["fixture"]
    assert registry.get("fixture") is fixture_plugins.plugin


def test_discover_loads_a_comma_list_ignoring_spaces_and_empty_items() -> None:
    registry = discover(f" {FIXTURES}:plugin , ,{FIXTURES}:other ,")
    assert registry.names() == ["fixture", "other-plugin"]


def test_discover_with_an_empty_setting_finds_no_plugin() -> None:
    assert discover("").names() == []


def test_the_same_plugin_listed_twice_is_loaded_once() -> None:
    assert discover(f"{FIXTURES}:plugin,{FIXTURES}:plugin").names() == ["fixture"]


def test_get_returns_none_for_an_unknown_plugin() -> None:
    assert discover(f"{FIXTURES}:plugin").get("nope") is None


@pytest.mark.parametrize(
    "spec",
    [
        "nocolon",
        ":plugin",
        f"{FIXTURES}:",
        "no.such.module:x",
        f"{FIXTURES}:missing",
        f"{FIXTURES}:not_a_plugin",
    ],
)
def test_a_bad_spec_raises_plugin_load_error_naming_the_spec(spec: str) -> None:
    with pytest.raises(PluginLoadError) as info:
        discover(spec)
    assert spec in str(info.value)


def test_an_unimportable_module_error_names_the_module() -> None:
    with pytest.raises(PluginLoadError, match=re.escape("'no.such.module'")):
        discover("no.such.module:x")


def test_a_missing_attribute_error_names_the_attribute() -> None:
    with pytest.raises(PluginLoadError, match="'missing'"):
        discover(f"{FIXTURES}:missing")


def test_an_attribute_that_is_not_a_plugin_error_names_its_type() -> None:
    with pytest.raises(PluginLoadError, match="dict"):
        discover(f"{FIXTURES}:not_a_plugin")


def test_two_plugins_with_the_same_name_raise_plugin_load_error() -> None:
    with pytest.raises(PluginLoadError, match="'fixture'"):
        discover(f"{FIXTURES}:plugin,{FIXTURES}:same_name")


def test_the_registry_constructor_refuses_two_plugins_with_the_same_name() -> None:
    with pytest.raises(PluginLoadError):
        PluginRegistry([Plugin(name="twin"), Plugin(name="twin")])


def test_adding_the_same_plugin_object_twice_is_allowed() -> None:
    plugin = Plugin(name="once")
    registry = PluginRegistry([plugin, plugin])
    assert registry.names() == ["once"]


@pytest.mark.parametrize("name", ["", "has space", "1starts_with_digit", "dot.ted", "a/b"])
def test_a_plugin_with_an_invalid_name_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="plugin name"):
        Plugin(name=name)


@pytest.mark.parametrize("name", ["hello", "hello-world", "hello_world", "h2"])
def test_a_plugin_name_may_hold_letters_digits_underscores_and_dashes(name: str) -> None:
    assert Plugin(name=name).name == name


def test_a_job_with_a_non_callable_handler_raises_value_error() -> None:
    with pytest.raises(ValueError, match="'greet'"):
        Plugin(name="hello", jobs={"greet": "not callable"})  # type: ignore[dict-item]


def test_a_job_definition_with_a_non_callable_handler_raises_value_error() -> None:
    with pytest.raises(ValueError, match="'greet'"):
        Plugin(name="hello", jobs={"greet": JobDefinition(handler=42)})  # type: ignore[arg-type]


def test_job_wraps_a_bare_handler_in_a_job_definition_with_default_limits() -> None:
    definition = Plugin(name="hello", jobs={"greet": handler}).job("greet")
    assert definition == JobDefinition(handler)
    assert definition is not None
    assert definition.max_attempts is None
    assert definition.timeout_s is None


def test_job_returns_a_job_definition_as_given() -> None:
    definition = JobDefinition(handler, max_attempts=5, timeout_s=1.5)
    assert Plugin(name="hello", jobs={"slow": definition}).job("slow") is definition


def test_job_returns_none_for_an_unknown_job_type() -> None:
    assert Plugin(name="hello", jobs={"greet": handler}).job("wave") is None


def _install_fake_distribution(root: Path, entry_point: str) -> None:
    """A distribution on sys.path that declares a `jobline.plugins` entry point."""
    (root / "ep_plugin_module.py").write_text(
        "from jobline import Plugin\n"
        "plugin = Plugin(name='from-entry-point', jobs={'noop': lambda payload, meta: None})\n"
    )
    dist = root / "ep_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[jobline.plugins]\nhello = {entry_point}\n")


def test_discover_finds_plugins_of_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(tmp_path, "ep_plugin_module:plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = PluginRegistry.discover("")
    plugin = registry.get("from-entry-point")
    assert plugin is not None and plugin.job("noop") is not None


def test_a_broken_entry_point_names_itself_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(tmp_path, "ep_plugin_module:missing")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginLoadError, match="entry point 'hello'"):
        PluginRegistry.discover("")


def test_scheduled_tasks_become_job_types_with_posthog_attempts() -> None:
    from jobline.plugins import CronTask

    def tick(payload: object, meta: object) -> None:
        return None

    plugin = Plugin(
        name="ticker",
        run_every_minute=tick,
        run_every_day=JobDefinition(tick, max_attempts=3),
        cron={"nightly": CronTask("0 3 * * *", tick)},
    )
    tasks = {t.name: t for t in plugin.scheduled_tasks}
    assert set(tasks) == {"run_every_minute", "run_every_day", "nightly"}
    assert tasks["run_every_minute"].definition.max_attempts == 1
    assert tasks["run_every_day"].definition.max_attempts == 3  # overridden
    assert tasks["nightly"].cron == "0 3 * * *"
    minute = plugin.job("@run_every_minute")
    assert minute is not None and minute.handler is tick


def test_a_job_name_may_not_take_the_scheduled_prefix() -> None:
    with pytest.raises(ValueError, match="kept for scheduled tasks"):
        Plugin(name="p", jobs={"@sneaky": lambda p, m: None})


def test_a_cron_task_with_a_bad_spec_fails_at_definition() -> None:
    from jobline.plugins import CronTask

    with pytest.raises(ValueError, match="invalid spec"):
        Plugin(name="p", cron={"bad": CronTask("61 * * * *", lambda p, m: None)})


def test_discover_with_a_failures_list_keeps_the_plugins_that_load() -> None:
    failures: list[PluginLoadError] = []
    registry = PluginRegistry.discover(
        f"no.such.module:plugin,{FIXTURES}:plugin,{FIXTURES}:not_a_plugin",
        use_entry_points=False,
        failures=failures,
    )
    assert registry.names() == ["fixture"]
    assert len(failures) == 2
    assert "no.such.module" in str(failures[0])
