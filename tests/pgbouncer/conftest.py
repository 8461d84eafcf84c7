"""jobline through a real PgBouncer in transaction mode (`scripts/pgbouncer up`).

Each test gets its own login role, whose search_path (set by `jobline migrate`, with
JOBLINE_DB_SCHEMA_FROM=role) names the test's own schema, so that tests stay isolated
without the `options` startup parameter PgBouncer refuses.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from jobline.config import Settings, load_settings
from tests.devenv import ROOT
from tests.integration.conftest import kafka_topics, services_env, test_id

__all__ = ["kafka_topics", "services_env", "test_id"]

DATABASES = ("jobline_jobs", "jobline_main")


def _pgbouncer(*args: str) -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / "pgbouncer"), *args], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/pgbouncer {' '.join(args)} failed:\n{done.stderr}", pytrace=False)
    return done.stdout


def pgbouncer_clients(address: str, user: str) -> list[tuple[str, str]]:
    """(database, application_name) of each client of `user` connected to PgBouncer now,
    from its admin console (SHOW CLIENTS; psql, as the console speaks only the simple
    query protocol)."""
    console = f"postgresql://postgres@{address}/pgbouncer"
    out = subprocess.run(
        ["psql", "-X", "-At", "-F", "|", console, "-c", "SHOW CLIENTS"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return [(r[2], r[-1]) for r in rows if len(r) > 3 and r[1] == user]


@pytest.fixture(scope="session")
def pgbouncer_address() -> str:
    """host:port of the running PgBouncer (started here if `make test` did not)."""
    _pgbouncer("up")
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".local" / "pgbouncer" / "pgbouncer.env").read_text().split()
    )
    return f"{values['JOBLINE_PGBOUNCER_HOST']}:{values['JOBLINE_PGBOUNCER_PORT']}"


def _with_user_and_host(url: str, user: str, address: str | None = None) -> str:
    """`postgresql://postgres@h:p/db` as `user`, at `address` if given."""
    scheme, _, rest = url.partition("://")
    hostpart, _, database = rest.partition("/")
    host = address or hostpart.rpartition("@")[2]
    return f"{scheme}://{user}@{host}/{database}"


@pytest.fixture
def role(services_env: dict[str, str], test_id: str) -> Iterator[str]:
    """A login role of this test, allowed to create its schema in both databases."""
    name = f"jl_{test_id}"
    admin_url = services_env["JOBLINE_JOBS_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        for database in DATABASES:
            conn.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(name)
                )
            )
    _pgbouncer("add-user", name)
    yield name
    _pgbouncer("remove-user", name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # PgBouncer's server connections of this role: it opens new ones when asked.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
        )
    for key in ("JOBLINE_JOBS_DATABASE_URL", "JOBLINE_DATABASE_URL"):
        with psycopg.connect(services_env[key], autocommit=True) as conn:
            # The role's schema, its objects and its database privileges, then the role.
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def env(
    services_env: dict[str, str],
    test_id: str,
    kafka_topics: tuple[str, str],
    role: str,
    pgbouncer_address: str,
) -> dict[str, str]:
    """A `jobline` environment whose pooled URLs go through PgBouncer as the test's role,
    with the settings PgBouncer in transaction mode needs."""
    jobs_topic, dlq_topic = kafka_topics
    main, jobs = services_env["JOBLINE_DATABASE_URL"], services_env["JOBLINE_JOBS_DATABASE_URL"]
    return {
        **services_env,
        "JOBLINE_DATABASE_URL": _with_user_and_host(main, role, pgbouncer_address),
        "JOBLINE_JOBS_DATABASE_URL": _with_user_and_host(jobs, role, pgbouncer_address),
        "JOBLINE_DATABASE_DIRECT_URL": _with_user_and_host(main, role),
        "JOBLINE_JOBS_DATABASE_DIRECT_URL": _with_user_and_host(jobs, role),
        "JOBLINE_DB_PREPARED_STATEMENTS": "false",
        "JOBLINE_DB_SCHEMA_FROM": "role",
        "JOBLINE_SCHEMA": f"t_{test_id}",
        "JOBLINE_JOBS_TOPIC": jobs_topic,
        "JOBLINE_DLQ_TOPIC": dlq_topic,
        "JOBLINE_INTAKE_GROUP": f"jobs-inserter-{test_id}",
        "JOBLINE_PLUGINS": "tests.plugins.recorder:plugin",
        "JOBLINE_LOG_FORMAT": "json",
        # The test plugin records its runs directly, as the superuser: not under test here.
        "RECORDER_DATABASE_URL": main,
        "RECORDER_TABLE": f"test_runs_{test_id}",
    }


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def runs_table(env: dict[str, str], role: str) -> Iterator[str]:
    """Where the recorder plugin writes its runs (main DB, public schema, as superuser);
    the test's role may read it, through PgBouncer, as the pipeline's checks do."""
    table = env["RECORDER_TABLE"]
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (job_id bigint, job_type text, n integer, attempt integer, "
            "outcome text, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        conn.execute(f"GRANT SELECT ON {table} TO {role}")
    yield table
    with psycopg.connect(env["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
