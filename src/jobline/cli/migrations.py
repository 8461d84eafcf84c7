"""`jobline migrate --status | --sql`: what each database has and lacks, changing nothing."""

from __future__ import annotations

from rich.table import Table

from jobline.cli.common import out, print_json, run
from jobline.config import Settings
from jobline.ops.migrations import MigrationStatus, migration_status


def _status_table(statuses: list[MigrationStatus]) -> Table:
    table = Table("database", "schema", "version", "name", "state", "applied_at")
    for s in statuses:
        for m in s.applied:
            applied_at = m.applied_at.isoformat(timespec="seconds")
            table.add_row(s.database, s.schema, f"{m.version:04d}", m.name, "applied", applied_at)
        for p in s.pending:
            table.add_row(s.database, s.schema, f"{p.version:04d}", p.name, "pending", "")
    return table


def migrate_report(settings: Settings, *, show_sql: bool, as_json: bool) -> None:
    statuses = run(migration_status(settings))
    if show_sql:
        for s in statuses:
            if s.pending:
                out.print(f"-- the {s.database}: the migrations run in schema {s.schema}")
                out.print(f'SET search_path TO "{s.schema}";\n', markup=False, highlight=False)
            for p in s.pending:
                out.print(
                    f"-- {s.database} ({s.schema}): {p.version:04d}_{p.name}.sql", markup=False
                )
                out.print(p.sql.rstrip() + "\n", markup=False, highlight=False)
        if not any(s.pending for s in statuses):
            out.print("-- nothing pending: both databases are up to date")
        return
    if as_json:
        print_json(
            [
                {
                    "database": s.database,
                    "schema": s.schema,
                    "current": s.current,
                    "applied": s.applied,
                    "pending": [{"version": p.version, "name": p.name} for p in s.pending],
                }
                for s in statuses
            ]
        )
        return
    out.print(_status_table(statuses))
    for s in statuses:
        state = "up to date" if s.current else f"{len(s.pending)} pending (`jobline migrate`)"
        out.print(f"{s.database}: {state}")
