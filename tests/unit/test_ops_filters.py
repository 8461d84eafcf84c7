"""The operations layer's pure parts: durations, --since, filters, targets, spread times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobline.cli.common import ExitCode, exit_code_for
from jobline.errors import (
    ConfigError,
    IntakeUnavailable,
    NotFound,
    UnknownPluginConfig,
    UsageError,
)
from jobline.ops.changes import Target
from jobline.ops.failed import spread_run_ats
from jobline.ops.filters import JobFilter, JobState, parse_duration, parse_since

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172_800), ("250ms", 0.25)],
)
def test_durations_parse_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text, "--spread") == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "10 minutes", "5x", "m10"])
def test_a_bad_duration_is_a_usage_error_naming_the_option_and_value(text: str) -> None:
    with pytest.raises(UsageError, match=f"--spread {text!r} is not a duration"):
        parse_duration(text, "--spread")


def test_since_takes_a_duration_ago_or_an_iso_time_utc_if_naive() -> None:
    assert parse_since("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_since("2026-11-29T10:00:00") == datetime(2026, 11, 29, 10, tzinfo=UTC)
    with pytest.raises(UsageError, match="neither a duration"):
        parse_since("yesterday")


def test_a_filter_reports_only_the_fields_set() -> None:
    where = JobFilter(config=3, state=JobState.DUE, since=NOW, error_like="timeout")
    assert where.as_json() == {
        "config": 3,
        "state": "due",
        "since": NOW.isoformat(),
        "error_like": "timeout",
    }
    assert where.ilike_pattern() == "%timeout%"
    assert JobFilter(error_like="a%b").ilike_pattern() == "a%b"
    assert JobFilter().is_empty()


def test_a_change_needs_ids_a_filter_or_all_but_not_ids_and_a_filter() -> None:
    with pytest.raises(UsageError, match="--all"):
        Target().check("jobs cancel")
    with pytest.raises(UsageError, match="not both"):
        Target(ids=(1,), where=JobFilter(type="x")).check("jobs cancel")
    Target(everything=True).check("jobs cancel")
    assert Target(everything=True).as_json() == {"all": True}


@given(st.integers(1, 5000), st.integers(1, 1000), st.integers(0, 86_400))
def test_spread_run_ats_are_even_ordered_and_inside_the_window(
    total: int, batch: int, window_s: int
) -> None:
    window = timedelta(seconds=window_s)
    times: list[datetime] = []
    for first in range(0, total, batch):
        times += spread_run_ats(NOW, first, min(batch, total - first), total, window)
    assert len(times) == total
    assert times == sorted(times)
    assert times[0] == NOW and times[-1] <= NOW + window


def test_exit_codes_by_error_kind() -> None:
    assert exit_code_for(UsageError("x")) is ExitCode.USAGE
    assert exit_code_for(ConfigError("x")) is ExitCode.CONFIGURATION
    assert exit_code_for(IntakeUnavailable("x")) is ExitCode.UNREACHABLE
    assert exit_code_for(UnknownPluginConfig(1)) is ExitCode.NOT_FOUND
    assert exit_code_for(NotFound("x")) is ExitCode.NOT_FOUND
    assert exit_code_for(RuntimeError("x")) is ExitCode.FAILURE
