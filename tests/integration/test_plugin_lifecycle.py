"""setup, storage, global and plugin logs of a running server, on the real main DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobline import Jobs
from jobline.config import Settings, load_settings

from .helpers import ROOT, ServeProcess, add_config, scalar, wait_until


def test_setup_storage_attachments_and_plugin_logs_round_trip(
    env: dict[str, str], runs_table: str, settings: Settings, tmp_path: Path
) -> None:
    good = add_config(env, plugin="lifecycle", team=3)
    motto = tmp_path / "motto.txt"
    motto.write_text("nothing lost")
    subprocess.run(
        [sys.executable, "-m", "jobline.cli", "configs", "attach", str(good), "--file", str(motto)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
    )
    server_env = {
        **env,
        "JOBLINE_PLUGINS": "tests.plugins.lifecycle_plugin:plugin",
        "JOBLINE_INTAKE": "direct",
    }
    server = ServeProcess(server_env, "--mode", "jobs")
    url, schema = settings.database_url, settings.schema_name
    try:
        server.wait_ready()
        with Jobs.from_settings(load_settings(intake="direct")) as jobs:
            jobs.for_config(good, team_id=3).remember({"n": 5}).run_now()
        wait_until(lambda: scalar(url, f"SELECT count(*) FROM {runs_table}") == 1, 20, "no run")
        storage = (
            f"SELECT value FROM {schema}.plugin_storage WHERE plugin_config_id = %s AND key = %s"
        )
        assert scalar(url, storage, (good, "n")) == 5
        assert scalar(url, storage, (good, "setup_ran")) is True
        wait_until(
            lambda: scalar(url, f"SELECT count(*) FROM {schema}.plugin_logs") == 1, 10, "no log"
        )
        shown = subprocess.run(
            [sys.executable, "-m", "jobline.cli", "logs", "--config", str(good), "--json"],
            env={**os.environ, **server_env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        [entry] = [json.loads(line) for line in shown.stdout.splitlines()]
        assert entry["message"] == "remembered"
        assert entry["fields"] == {"n": 5, "greeting": "hi", "motto": "nothing lost"}
    finally:
        assert server.stop() == 0


def test_a_config_whose_setup_keeps_failing_is_marked_and_its_jobs_wait(
    env: dict[str, str], settings: Settings
) -> None:
    subprocess_env = {**env, "JOBLINE_PLUGINS": "tests.plugins.lifecycle_plugin:plugin"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobline.cli",
            "configs",
            "add",
            "--plugin",
            "lifecycle",
            "--team",
            "3",
            "--settings",
            '{"fail_setup": true}',
        ],
        env={**os.environ, **subprocess_env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    bad = int(out.stdout.strip())
    server = ServeProcess({**subprocess_env, "JOBLINE_INTAKE": "direct"}, "--mode", "jobs")
    url, jobs_url, schema = settings.database_url, settings.jobs_database_url, settings.schema_name
    try:
        server.wait_ready()
        with Jobs.from_settings(load_settings(intake="direct")) as jobs:
            jobs.for_config(bad, team_id=3).remember({"n": 1}).run_now()
        error = f"SELECT setup_error FROM {schema}.plugin_configs WHERE id = %s"
        wait_until(lambda: scalar(url, error, (bad,)) is not None, 30, "config not marked")
        assert "API key is wrong" in scalar(url, error, (bad,))
        # Postponed, not failed: the job is still queued, with no attempt counted.
        queued = f"SELECT attempts FROM {schema}.jobs WHERE plugin_config_id = %s"
        assert scalar(jobs_url, queued, (bad,)) == 0
        assert scalar(jobs_url, f"SELECT count(*) FROM {schema}.failed_jobs") == 0
    finally:
        assert server.stop() == 0
