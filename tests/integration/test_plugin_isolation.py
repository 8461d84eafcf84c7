"""A plugin that fails to import leaves the server and the other plugins working."""

from __future__ import annotations

import urllib.request

from jobline import Jobs
from jobline.config import Settings, load_settings

from .helpers import ServeProcess, add_config, scalar, wait_until


def test_a_broken_plugin_is_left_out_and_the_others_run(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    server = ServeProcess(
        {
            **env,
            "JOBLINE_PLUGINS": "tests.plugins.no_such_plugin:plugin,tests.plugins.recorder:plugin",
            "JOBLINE_INTAKE": "direct",
        },
        "--mode",
        "jobs",
    )
    try:
        server.wait_ready()
        failed = server.events("plugin.load_failed")
        assert len(failed) == 1 and "no_such_plugin" in failed[0]["error"]
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            assert "jobline_plugins_failed_to_load 1.0" in r.read().decode()
        with Jobs.from_settings(load_settings(intake="direct")) as jobs:
            jobs.for_config(config_id, team_id=42).record({"n": 3}).run_now()
        wait_until(
            lambda: scalar(env["RECORDER_DATABASE_URL"], f"SELECT count(*) FROM {runs_table}") == 1,
            20,
            "the working plugin's job did not run",
        )
    finally:
        assert server.stop() == 0
