"""The suites that also run through PgBouncer (JOBLINE_TEST_DB_ROUTE) build jobline's
database objects as servers do (jobline.databases), so that none bypasses the route."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROUTED_SUITES = ("integration", "conformance", "dashboard")
HAND_BUILT = re.compile(r"\b(JobsDB|MainDB)\(")
# Skipped on the PgBouncer route, with the reason in the file: they need connection options.
ALLOWED = {"integration/test_db_limits.py"}


def test_no_routed_test_builds_a_jobs_db_or_main_db_by_hand() -> None:
    found = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for suite in ROUTED_SUITES
        for path in sorted((TESTS / suite).rglob("*.py"))
        if str(path.relative_to(TESTS)) not in ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_BUILT.search(line) and not line.lstrip().startswith(("#", "class ", "def "))
    ]
    assert not found, (
        "build them with jobline.databases.jobs_db_for / main_db_for (as servers do), "
        "so that the PgBouncer route reaches them:\n" + "\n".join(found)
    )
