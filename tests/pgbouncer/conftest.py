"""jobline through a real PgBouncer in transaction mode (`scripts/pgbouncer up`), whatever
JOBLINE_TEST_DB_ROUTE says: the route, its per-test role and its settings come from
tests/db_route.py, as for `make test-pgbouncer`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.db_route import PGBOUNCER, DbRoute, db_route
from tests.integration.conftest import (
    env,
    jobs_db,
    kafka_topics,
    runs_table,
    services_env,
    settings,
    test_id,
)

__all__ = ["env", "jobs_db", "kafka_topics", "runs_table", "services_env", "settings", "test_id"]


@pytest.fixture
def route(services_env: dict[str, str], test_id: str) -> Iterator[DbRoute]:
    """Always through PgBouncer here (the integration suite's `route` follows the variable)."""
    with db_route(services_env, test_id, PGBOUNCER) as chosen:
        yield chosen


@pytest.fixture
def role(route: DbRoute) -> str:
    """The test's login role, whose search_path names its schema."""
    assert route.role is not None
    return route.role


@pytest.fixture
def pgbouncer_address(route: DbRoute) -> str:
    """host:port of the running PgBouncer."""
    assert route.address is not None
    return route.address
