"""`make demo`: the pipeline on the real services, with the example plugin.

Starts `jobline serve` (all capabilities) and `jobline dashboard` (its URL is printed),
triggers a handful of jobs from the CLI (some due now, some in a few seconds, one that
fails and retries), lets the scheduler fire the plugin's scheduled task, shows the
plugin's log, and leaves the server and the dashboard running until Ctrl-C. DEMO_ONCE=1
stops them once the show is over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from jobline.config import load_settings
from jobline.plugins.configs import MainDB
from tests.devenv import ROOT, ServicesNotStarted, read_services_env, run_jobline


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    try:
        services = read_services_env()
    except ServicesNotStarted as exc:
        sys.exit(str(exc))
    for key, value in services.items():
        env.setdefault(key, value)
    env.update(
        {
            "JOBLINE_PLUGINS": "examples.hello:plugin",
            "JOBLINE_RETRY_BASE_S": env.get("JOBLINE_RETRY_BASE_S", "1"),
            "JOBLINE_LOG_FORMAT": env.get("JOBLINE_LOG_FORMAT", "console"),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def jobline(env: dict[str, str], *args: str) -> str:
    result = run_jobline(env, *args, check=False)
    if result.returncode != 0:
        sys.exit(f"`jobline {' '.join(args)}` failed:\n{result.stderr}")
    return result.stdout.strip()


async def hello_config_id() -> int:
    settings = load_settings()
    db = MainDB(settings.database_url, settings.schema_name)
    await db.migrate()
    await db.open()
    try:
        for config in await db.list_configs():
            if config.plugin == "hello" and config.team_id == 1:
                return config.id
        return (await db.add_config("hello", 1, {"greeting": "hello"})).id
    finally:
        await db.close()


def queue_is_empty(env: dict[str, str]) -> bool:
    schema = env.get("JOBLINE_SCHEMA", "jobline")
    with psycopg.connect(env["JOBLINE_JOBS_DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.jobs").fetchone()
    return row is not None and row[0] == 0


def main() -> int:
    env = demo_env()
    os.environ.update(env)
    config_id = str(asyncio.run(hello_config_id()))
    print(
        f"demo: plugin config {config_id} (plugin hello, team 1); starting jobline serve",
        flush=True,
    )
    server = subprocess.Popen([sys.executable, "-m", "jobline.cli", "serve"], env=env, cwd=ROOT)
    port = env.get("DEMO_DASHBOARD_PORT", "6739")
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "jobline.cli", "dashboard", "--port", port], env=env, cwd=ROOT
    )
    print(f"demo: the dashboard is at http://127.0.0.1:{port}/", flush=True)
    try:
        time.sleep(4)  # let the intake join its group: the triggers below go through Kafka
        shows = [
            ("greet", '{"name": "Ada"}', "0"),
            ("greet", '{"name": "Grace, 3 s later"}', "3"),
            ("countdown", '{"from": 3}', "0"),
            ("flaky", '{"succeed_on_attempt": 3}', "1"),
            ("flaky", '{"succeed_on_attempt": 99}', "0"),
        ]
        for job_type, payload, run_in in shows:
            print(
                "demo:",
                jobline(
                    env,
                    "enqueue",
                    "--plugin-config",
                    config_id,
                    "--type",
                    job_type,
                    "--payload",
                    payload,
                    "--run-in",
                    run_in,
                ),
                flush=True,
            )
        deadline = time.monotonic() + 60
        time.sleep(2)
        while time.monotonic() < deadline and not queue_is_empty(env):
            time.sleep(0.5)
        print(
            "demo: every job ran (the second flaky one ends in failed_jobs after 3 attempts)",
            flush=True,
        )
        time.sleep(6)  # at least one 5-second tick of the scheduled task `tick`
        print(f"demo: `jobline logs --config {config_id}` (what the plugin logged):", flush=True)
        print(jobline(env, "logs", "--config", config_id, "--lines", "8"), flush=True)
        if os.environ.get("DEMO_ONCE") == "1":
            server.send_signal(signal.SIGTERM)
            return server.wait(60)
        print(
            "demo: the server keeps running; trigger more with `.venv/bin/jobline enqueue "
            f'--plugin-config {config_id} --type greet --payload \'{{"name": "you"}}\'` '
            "(after `set -a; . .local/services.env; set +a`); Ctrl-C stops it",
            flush=True,
        )
        return server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGTERM)
        return server.wait(60)
    finally:
        dashboard.send_signal(signal.SIGTERM)
        dashboard.wait(30)
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(60)


if __name__ == "__main__":
    sys.exit(main())
