"""Plugin config changes reach running servers through LISTEN/NOTIFY, without a restart."""

from __future__ import annotations

import asyncio
import time

import psycopg

from jobline import Jobs
from jobline.config import Settings, load_settings
from jobline.plugins.config_watcher import ConfigWatcher
from jobline.plugins.configs import MainDB

from .helpers import ServeProcess, add_config, scalar, wait_until


async def test_the_watcher_hears_a_plain_sql_update(settings: Settings, main_db: MainDB) -> None:
    config = await main_db.add_config("recorder", 1, {})
    heard: list[int | None] = []
    watcher = ConfigWatcher(
        main_db.direct_url, settings.schema_name, [heard.append], main_db.limits
    )
    await watcher.start()
    try:
        for _ in range(50):
            if watcher.status().detail.startswith("listening"):
                break
            await asyncio.sleep(0.1)
        heard.clear()
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await conn.execute(
                f"UPDATE {settings.schema_name}.plugin_configs SET enabled = false WHERE id = %s",
                (config.id,),
            )
            await conn.commit()
        for _ in range(50):
            if config.id in heard:
                break
            await asyncio.sleep(0.1)
        assert config.id in heard
    finally:
        await watcher.stop(5)


def test_a_config_disabled_by_sql_stops_getting_jobs_within_seconds(
    env: dict[str, str], runs_table: str, settings: Settings
) -> None:
    config_id = add_config(env)
    server = ServeProcess(
        {**env, "JOBLINE_INTAKE": "direct", "JOBLINE_DISABLED_CONFIG_DELAY_S": "1"},
        "--mode",
        "jobs",
    )
    url, schema = settings.database_url, settings.schema_name
    runs = f"SELECT count(*) FROM {runs_table}"
    set_enabled = (
        f"UPDATE {schema}.plugin_configs SET enabled = %s WHERE id = {config_id} RETURNING id"
    )
    try:
        server.wait_ready()
        with Jobs.from_settings(load_settings(intake="direct")) as jobs:
            trigger = jobs.for_config(config_id, team_id=42)
            trigger.record({"n": 1}).run_now()
            wait_until(lambda: scalar(url, runs) == 1, 20, "the first job did not run")
            scalar(url, set_enabled % "false")
            time.sleep(1.0)  # well within the 5 s the issue allows
            trigger.record({"n": 2}).run_now()
            time.sleep(3.0)
            assert scalar(url, runs) == 1, "a disabled config's job ran"
            scalar(url, set_enabled % "true")
            wait_until(lambda: scalar(url, runs) == 2, 15, "the job did not run once re-enabled")
    finally:
        assert server.stop() == 0
