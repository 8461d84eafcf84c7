"""Capabilities: mode presets, explicit lists, and the errors for bad values."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobline.errors import ConfigError
from jobline.server.capabilities import MODES, START_ORDER, Capability, resolve_capabilities

ALL = frozenset(Capability)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("all", ALL),
        ("jobs", {Capability.INTAKE, Capability.RUNNER, Capability.HTTP}),
        ("scheduler", {Capability.SCHEDULER, Capability.HTTP}),
        ("api", {Capability.HTTP}),
    ],
)
def test_each_mode_resolves_to_its_preset(mode: str, expected: set[Capability]) -> None:
    assert resolve_capabilities(mode, "") == expected


@pytest.mark.parametrize("mode", ["ALL", " jobs ", "Api"])
def test_the_mode_is_read_ignoring_case_and_spaces(mode: str) -> None:
    assert resolve_capabilities(mode, "") == MODES[mode.strip().lower()]


def test_every_mode_includes_http() -> None:
    assert all(Capability.HTTP in caps for caps in MODES.values())


def test_an_explicit_list_wins_over_the_mode() -> None:
    assert resolve_capabilities("api", "runner,intake") == {Capability.RUNNER, Capability.INTAKE}


def test_an_explicit_list_wins_even_over_an_unknown_mode() -> None:
    assert resolve_capabilities("nonsense", "http") == {Capability.HTTP}


def test_a_blank_list_falls_back_to_the_mode() -> None:
    assert resolve_capabilities("api", "   ") == {Capability.HTTP}


def test_an_explicit_list_ignores_empty_items_spaces_and_case() -> None:
    assert resolve_capabilities("all", " Runner, ,HTTP,,") == {Capability.RUNNER, Capability.HTTP}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(list(Capability)), min_size=1, max_size=6),
    st.sampled_from(["", " ", "  "]),
    st.booleans(),
)
def test_any_list_of_known_capabilities_resolves_to_that_set(
    caps: list[Capability], pad: str, upper: bool
) -> None:
    text = ",".join(f"{pad}{c.value.upper() if upper else c.value}{pad}" for c in caps)
    assert resolve_capabilities("api", text) == set(caps)


def test_an_unknown_capability_raises_config_error_naming_variable_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_capabilities("all", "runner,teleport")
    message = str(info.value)
    assert "JOBLINE_CAPABILITIES" in message
    assert "teleport" in message


def test_an_unknown_mode_raises_config_error_naming_variable_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_capabilities("everything", "")
    message = str(info.value)
    assert "JOBLINE_MODE" in message
    assert "everything" in message


def test_the_unknown_mode_error_lists_the_known_modes() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_capabilities("everything", "")
    assert all(mode in str(info.value) for mode in MODES)


def test_start_order_names_every_capability_once_with_http_first_and_intake_last() -> None:
    assert sorted(START_ORDER) == sorted(Capability)
    assert START_ORDER[0] is Capability.HTTP
    assert START_ORDER[-1] is Capability.INTAKE
