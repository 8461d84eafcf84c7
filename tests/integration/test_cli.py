"""The `jobline` command as a user meets it: outcomes, and clear errors for bad input."""

from __future__ import annotations

import subprocess
import time

import pytest

from jobline import IntakeUnavailable, Jobs
from jobline.config import IntakeKind, Settings
from tests.devenv import run_jobline

from .helpers import ServeProcess, add_config, scalar, wait_until


def jobline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # wide enough that rich never wraps a table row the assertions read
    return run_jobline({**env, "COLUMNS": "200"}, *args, check=False, timeout_s=60)


def test_enqueue_prints_the_outcome_and_the_job_runs(env: dict[str, str], runs_table: str) -> None:
    config_id = add_config(env, team=5)
    server = ServeProcess(env, "--mode", "jobs")
    try:
        server.wait_ready()
        result = jobline(
            env,
            "enqueue",
            "--plugin-config",
            str(config_id),
            "--type",
            "record",
            "--payload",
            '{"n": 7}',
        )
        assert result.returncode == 0, result.stderr
        assert f"queued 'record' for plugin config {config_id} (team 5)" in result.stdout
        url = env["JOBLINE_DATABASE_URL"]
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table} WHERE n = 7") == 1,
            30,
            "the enqueued job did not run",
        )
    finally:
        assert server.stop() == 0


def test_enqueue_names_an_unknown_plugin_config_and_bad_json(env: dict[str, str]) -> None:
    add_config(env)  # the main DB schema exists
    unknown = jobline(env, "enqueue", "--plugin-config", "999999", "--type", "record")
    assert unknown.returncode == 5  # not found
    assert "plugin config 999999 does not exist" in unknown.stderr
    bad_json = jobline(
        env, "enqueue", "--plugin-config", "1", "--type", "record", "--payload", "{n: 1}"
    )
    assert bad_json.returncode == 2  # usage
    assert "--payload '{n: 1}' is not valid JSON" in bad_json.stderr


def test_bad_configuration_stops_serve_with_the_variable_and_value_named(
    env: dict[str, str],
) -> None:
    result = jobline(
        {**env, "JOBLINE_RUNNER_CONCURRENCY": "0", "JOBLINE_INTAKE": "pigeon"}, "serve"
    )
    assert result.returncode == 3  # configuration
    assert "JOBLINE_RUNNER_CONCURRENCY='0'" in result.stderr
    assert "JOBLINE_INTAKE='pigeon'" in result.stderr


def test_configs_add_list_disable_enable(env: dict[str, str]) -> None:
    config_id = add_config(env, plugin="recorder", team=9)
    listed = jobline(env, "configs", "list")
    assert listed.returncode == 0 and "recorder" in listed.stdout
    assert jobline(env, "configs", "disable", str(config_id)).returncode == 0
    assert (
        f"plugin config {config_id} disabled"
        in jobline(env, "configs", "disable", str(config_id)).stdout
    )
    missing = jobline(env, "configs", "enable", "424242")
    assert missing.returncode == 5 and "424242 does not exist" in missing.stderr


def test_jobs_of_a_disabled_config_wait_and_run_once_it_is_enabled(
    env: dict[str, str],
    runs_table: str,
    settings: Settings,
) -> None:
    env = {**env, "JOBLINE_DISABLED_CONFIG_DELAY_S": "1"}
    config_id = add_config(env)
    assert jobline(env, "configs", "disable", str(config_id)).returncode == 0
    server = ServeProcess(env, "--mode", "jobs")
    url = env["JOBLINE_DATABASE_URL"]
    try:
        server.wait_ready()
        with Jobs.from_settings(settings) as jobs:
            jobs.for_config(config_id, team_id=42).record({"n": 1}).run_now()
        wait_until(lambda: bool(server.events("job.postponed")), 30, "job not postponed")
        assert scalar(url, f"SELECT count(*) FROM {runs_table}") == 0
        assert jobline(env, "configs", "enable", str(config_id)).returncode == 0
        # the runner's config cache lives 10 s
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 1,
            40,
            "the job did not run after enabling its config",
        )
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("intake", ["kafka", "direct"])
def test_an_unreachable_intake_raises_intake_unavailable_within_the_bound(
    settings: Settings,
    intake: str,
) -> None:
    dead = settings.model_copy(
        update={
            "intake": IntakeKind(intake),
            "produce_timeout_s": 2.0,
            "kafka_hosts": "127.0.0.1:1",
            "jobs_database_url": "postgresql://postgres@127.0.0.1:1/nothing",
        }
    )
    started = time.monotonic()
    with Jobs.from_settings(dead) as jobs, pytest.raises(IntakeUnavailable) as caught:
        jobs.for_config(1, team_id=1).record({"n": 1}).run_now()
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert ("127.0.0.1:1" in message) and ("not queued" in message), message
