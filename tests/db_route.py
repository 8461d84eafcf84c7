"""Which way jobline's database connections go in the tests: directly, or through PgBouncer.

`JOBLINE_TEST_DB_ROUTE=pgbouncer` (`make test-pgbouncer`) runs tests/integration,
tests/conformance and tests/dashboard with jobline's own URLs through the PgBouncer of
`scripts/pgbouncer` (transaction pooling), as PostHog deploys its databases; tests/pgbouncer
always goes that way. The default, `direct`, is the PostgreSQL of `scripts/services`.

Through PgBouncer each test gets a login role of its own: the role's search_path (set by
`jobline migrate` with JOBLINE_DB_SCHEMA_FROM=role) names the test's schema, so tests stay
isolated without the `options` startup parameter PgBouncer refuses. The pooled URLs go
through PgBouncer as that role, the direct URLs (LISTEN, migrations) to PostgreSQL as that
role, with JOBLINE_DB_PREPARED_STATEMENTS=false. The tests' own set-up and checks may keep
the superuser URLs of `scripts/services` (RECORDER_DATABASE_URL, `services_env`): they are
not under test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

import psycopg
import pytest
from psycopg import sql

from tests.devenv import ROOT

ROUTE_VARIABLE = "JOBLINE_TEST_DB_ROUTE"
DIRECT, PGBOUNCER = "direct", "pgbouncer"
DATABASES = ("jobline_jobs", "jobline_main")
URL_KEYS = {"JOBLINE_DATABASE_URL": "main", "JOBLINE_JOBS_DATABASE_URL": "jobs"}


class RouteUnavailable(RuntimeError):
    """The route asked for cannot be set up (a bad JOBLINE_TEST_DB_ROUTE, no PgBouncer)."""


def selected_route() -> str:
    """The route JOBLINE_TEST_DB_ROUTE names: `direct` (default) or `pgbouncer`."""
    route = os.environ.get(ROUTE_VARIABLE, "").strip() or DIRECT
    if route not in (DIRECT, PGBOUNCER):
        raise RouteUnavailable(
            f"{ROUTE_VARIABLE}={route!r} is not a route: use {DIRECT!r} (default) or "
            f"{PGBOUNCER!r} (`make test-pgbouncer`)"
        )
    return route


@dataclass(frozen=True)
class DbRoute:
    """How one test's jobline reaches its databases: `env` goes over the services' env."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    #: the test's login role through PgBouncer; None directly (the superuser of services)
    role: str | None = None
    #: host:port of PgBouncer; None directly
    address: str | None = None


def run_pgbouncer_script(*args: str) -> str:
    """`scripts/pgbouncer ARGS`; its stdout, or RouteUnavailable with its stderr."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "pgbouncer"), *args], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RouteUnavailable(f"scripts/pgbouncer {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@cache
def pgbouncer_address() -> str:
    """host:port of the running PgBouncer (started here, once, if `make` did not)."""
    run_pgbouncer_script("up")
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".local" / "pgbouncer" / "pgbouncer.env").read_text().split()
    )
    return f"{values['JOBLINE_PGBOUNCER_HOST']}:{values['JOBLINE_PGBOUNCER_PORT']}"


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


def with_user_and_host(url: str, user: str, address: str | None = None) -> str:
    """`postgresql://postgres@h:p/db` as `user`, at `address` if given."""
    scheme, _, rest = url.partition("://")
    hostpart, _, database = rest.partition("/")
    host = address or hostpart.rpartition("@")[2]
    return f"{scheme}://{user}@{host}/{database}"


@contextmanager
def pgbouncer_role(admin_urls: Mapping[str, str], name: str) -> Iterator[str]:
    """A login role `name`, allowed to create its schema in both databases and to log in
    through PgBouncer; dropped afterwards with everything it owns. `admin_urls`: the
    services' env (superuser URLs)."""
    admin_url = admin_urls["JOBLINE_JOBS_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        for database in DATABASES:
            conn.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(name)
                )
            )
    run_pgbouncer_script("add-user", name)
    try:
        yield name
    finally:
        _drop_role(admin_urls, name)


def _drop_role(admin_urls: Mapping[str, str], name: str) -> None:
    run_pgbouncer_script("remove-user", name)
    admin_url = admin_urls["JOBLINE_JOBS_DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # PgBouncer's server connections of this role: it opens new ones when asked.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
        )
    for key in URL_KEYS:
        with psycopg.connect(admin_urls[key], autocommit=True) as conn:
            # The role's schema, its objects and its database privileges, then the role.
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def pgbouncer_env(admin_urls: Mapping[str, str], role: str, address: str) -> dict[str, str]:
    """jobline's database settings through PgBouncer as `role`: pooled URLs through it,
    direct URLs beside it, and the two settings transaction pooling needs."""
    env = {
        "JOBLINE_DB_PREPARED_STATEMENTS": "false",
        "JOBLINE_DB_SCHEMA_FROM": "role",
    }
    for key in URL_KEYS:
        env[key] = with_user_and_host(admin_urls[key], role, address)
        env[key.replace("_URL", "_DIRECT_URL")] = with_user_and_host(admin_urls[key], role)
    return env


@contextmanager
def db_route(admin_urls: Mapping[str, str], test_id: str, route: str) -> Iterator[DbRoute]:
    """The route `route` for the test `test_id`, set up for the block."""
    if route == DIRECT:
        yield DbRoute(DIRECT)
        return
    address = pgbouncer_address()
    with pgbouncer_role(admin_urls, f"jl_{test_id}") as role:
        yield DbRoute(PGBOUNCER, pgbouncer_env(admin_urls, role, address), role, address)


def not_through_pgbouncer(reason: str) -> pytest.MarkDecorator:
    """Skip a test on the PgBouncer route, for `reason`: why it cannot go through PgBouncer
    (not a jobline failure there; say which test covers the behaviour behind PgBouncer)."""
    return pytest.mark.skipif(
        selected_route() == PGBOUNCER, reason=f"not through PgBouncer: {reason}"
    )


def direct_url_of(env: Mapping[str, str], key: str) -> str:
    """For a test's own connection that must reach PostgreSQL itself (its backend pid, a
    held lock seen by pid): the direct URL beside `key`'s URL on the PgBouncer route, the
    URL itself otherwise. jobline's own code finds the direct URL in its settings."""
    return env.get(key.replace("_URL", "_DIRECT_URL")) or env[key]
