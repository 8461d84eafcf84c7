"""Loading named queries and numbered migrations from .sql files in packages."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from jobline.sqlfiles import load_migrations, load_queries

JOBS_QUERIES = {
    "insert_jobs",
    "fetch_due",
    "next_run_at",
    "complete",
    "retry",
    "fail_permanently",
    "release",
    "postpone",
    "heartbeat",
    "remove_runner",
    "rescue_dead_runners",
    "move_to_failed",
    "lock_offsets",
    "load_offsets",
    "save_offsets",
    "queue_counts",
    "ensure_offsets",
}
PLUGIN_QUERIES = {"add_config", "get_config", "get_configs", "list_configs", "set_enabled"}

_counter = itertools.count()


def make_package(root: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> str:
    """A throwaway importable package holding `files`; returns its name."""
    name = f"sqlfiles_fixture_{next(_counter)}"
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for filename, text in files.items():
        (pkg / filename).write_text(text)
    monkeypatch.syspath_prepend(str(root))
    return name


# subset checks: adding a query must not break these tests, losing one must


def test_the_jobs_queries_include_the_expected_names() -> None:
    assert set(load_queries("jobline.store.sql", "queries.sql")) >= JOBS_QUERIES


def test_the_plugin_queries_include_the_expected_names() -> None:
    assert set(load_queries("jobline.plugins.sql", "queries.sql")) >= PLUGIN_QUERIES


@pytest.mark.parametrize("package", ["jobline.store.sql", "jobline.plugins.sql"])
def test_every_query_has_non_empty_sql_without_surrounding_space(package: str) -> None:
    for name, sql in load_queries(package, "queries.sql").items():
        assert sql, name
        assert sql == sql.strip(), name
        assert "-- name:" not in sql, name


@pytest.mark.parametrize("package", ["jobline.store.migrations", "jobline.plugins.migrations"])
def test_migrations_are_numbered_from_one_in_ascending_order(package: str) -> None:
    migrations = load_migrations(package)
    versions = [m.version for m in migrations]
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.sql.strip() and m.name for m in migrations)


def test_load_queries_splits_sections_by_name_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(
        tmp_path,
        monkeypatch,
        {"q.sql": "-- header comment\n-- name: one\nSELECT 1;\n\n-- name: two\nSELECT\n  2;\n"},
    )
    assert load_queries(pkg, "q.sql") == {"one": "SELECT 1;", "two": "SELECT\n  2;"}


def test_a_query_name_defined_twice_raises_value_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(
        tmp_path, monkeypatch, {"q.sql": "-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;\n"}
    )
    with pytest.raises(ValueError, match="'one'"):
        load_queries(pkg, "q.sql")


def test_migrations_are_sorted_by_version_whatever_the_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(
        tmp_path,
        monkeypatch,
        {
            "0010_ten.sql": "SELECT 10;",
            "0002_two.sql": "SELECT 2;",
            "0001_one.sql": "SELECT 1;",
            "notes.txt": "not a migration",
            "1_short.sql": "not a migration",
        },
    )
    migrations = load_migrations(pkg)
    assert [(m.version, m.name, m.sql) for m in migrations] == [
        (1, "one", "SELECT 1;"),
        (2, "two", "SELECT 2;"),
        (10, "ten", "SELECT 10;"),
    ]


def test_two_migrations_with_the_same_version_raise_value_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(
        tmp_path, monkeypatch, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"}
    )
    with pytest.raises(ValueError, match="share a version"):
        load_migrations(pkg)
