"""Which fetched jobs a runner may run, and what becomes of the others (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobline import JobDefinition, Plugin
from jobline.plugins.configs import PluginConfig
from jobline.plugins.registry import PluginRegistry
from jobline.retry import RetryPolicy
from jobline.runner.admission import Admission
from jobline.runner.outcome import Outcome, Result
from jobline.runner.policies import UNKNOWN_TYPE_LABEL, ExecutionPolicy, JobPolicies
from jobline.store import FetchedJob


def _noop(payload: object, meta: object) -> None:
    return None


REGISTRY = PluginRegistry([Plugin(name="p", jobs={"a": _noop, "b": JobDefinition(_noop, 1)})])
POLICIES = JobPolicies(REGISTRY, ExecutionPolicy(60, RetryPolicy(max_attempts=4), 60, 3600))
CONFIG = PluginConfig(id=1, team_id=42, plugin="p", enabled=True, settings={})


def _job(job_type: str = "a", team_id: int = 42, unrunnable_for_s: float | None = None):
    since = None
    if unrunnable_for_s is not None:
        since = datetime.now(UTC) - timedelta(seconds=unrunnable_for_s)
    return FetchedJob(1, job_type, 1, team_id, {}, datetime.now(UTC), 0, None, None, 0, since)


def _decide(job: FetchedJob, config: PluginConfig | None = CONFIG) -> object:
    return Admission(REGISTRY, POLICIES).decide(job, config)


def test_a_known_job_of_its_configs_team_runs() -> None:
    assert isinstance(_decide(_job()), JobDefinition)


def test_a_job_of_another_team_than_its_config_is_refused_for_good() -> None:
    outcome = _decide(_job(team_id=7))
    assert isinstance(outcome, Outcome) and outcome.result is Result.FAILED
    assert outcome.error is not None and outcome.error.startswith("team_mismatch: ")


def test_an_unknown_type_is_postponed_and_starts_its_give_up_clock() -> None:
    outcome = _decide(_job("new_type"))
    assert isinstance(outcome, Outcome) and outcome.result is Result.POSTPONED
    assert outcome.unrunnable and outcome.retry_at is not None
    assert outcome.retry_at > datetime.now(UTC) + timedelta(seconds=2)


def test_an_unknown_config_past_the_give_up_time_fails_with_its_reason() -> None:
    outcome = _decide(_job(unrunnable_for_s=3601), config=None)
    assert isinstance(outcome, Outcome) and outcome.result is Result.FAILED
    assert outcome.error is not None and outcome.error.startswith("unknown_config: ")


def test_a_disabled_configs_job_is_postponed_without_a_give_up_clock() -> None:
    disabled = PluginConfig(id=1, team_id=42, plugin="p", enabled=False, settings={})
    outcome = _decide(_job(), disabled)
    assert isinstance(outcome, Outcome) and outcome.result is Result.POSTPONED
    assert not outcome.unrunnable


def test_policies_give_a_types_own_attempts_and_one_label_for_unknown_types() -> None:
    assert POLICIES.max_attempts_of_type("b") == 1
    assert POLICIES.max_attempts_of_type("a") == 4
    assert POLICIES.max_attempts_of_type("gone") == 4
    assert POLICIES.label("a") == "a" and POLICIES.label("gone") == UNKNOWN_TYPE_LABEL
