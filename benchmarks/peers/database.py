"""The run's own databases on the project's PostgreSQL, dropped when the run ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def bench_databases(base_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL of bench_<pid>, env with jobline's main DB at bench_<pid>_main).

    Two databases because jobline's jobs DB and main DB keep their migrations apart; the
    peers and jobline's jobs DB share bench_<pid>, each system in schemas of its own.
    """
    name = f"bench_{os.getpid()}"
    admin_url = base_env["JOBLINE_JOBS_DATABASE_URL"]
    db_url = admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
        conn.execute(f"CREATE DATABASE {name}_main")
    try:
        yield db_url, {**base_env, "JOBLINE_DATABASE_URL": db_url + "_main"}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for db in (name, f"{name}_main"):
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
